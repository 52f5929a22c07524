"""The step checker: the forms real solutions use, and hostile input."""

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fractions import Fraction

from dataforge.arithmetic import (ACCEPTING_READINGS, Quantity, check_step, check_steps, numbers_match, parse_number,
                                  quantities_agree)
from tests.conftest import read_lines
from tests.mutants import READING_ROWS, all_mutants

# (step, expected verdict). Every example of issue #13 is here; "# was: ..." marks what the checker
# before it said. Verdicts: verified (every equation checked is right), wrong, unverifiable.
V, W, U = "verified", "wrong", "unverifiable"
STEPS = [
    # GSM8K's own forms
    ("Natalia sold 48/2 = 24 clips in May.", V), ("80,000+50,000=$130,000", V), ("$2.50 x 4= $10", V),
    ("4(7) - 10 = 18", V), ("100*.15 = 15", V), ("150% of 80,000 = 120,000", V), ("$50 x 20% = $10", V),
    ("$45/gallon x 8 gallons = $360", V), ("D2 = 644 - 19 = 625", V), ("7 times 38 equals 266", V),
    ("3 × 4 ÷ 2 = 6", V), ("20/80 x 100 = 25%", V), ("12 tubes of lip gloss * 3 people per tube = 36 people", V),
    ("2 + 1 1/2 = 3.5", V), ("5 - 8 = -3", V), ("(-1/6) * 100 = -16.67", V), ("(-1/6) * 100 = -16.6", W),
    ("2^10 = 1024", V), ("2^-2 = 0.25", V), ("(3 + 4) * 2 = 14 = 7 * 2", V),
    ("√(144) = 12", V), ("8x5=40 fishes", V), ("2 + 1 1/2 + 3 1/2 = 7 square feet", V),
    ("The amount she spends on buying ice creams each week is $5*100=$500 dollars every single month.", V),
    ("So the whole team of very busy engineers divided by 4 squads is 20 / 4 = 5 engineers in each squad", V),
    ("5*3 = 16", W), ("$2.50 x 4 = $12", W), ("7 times 38 equals 270", W), ("a = 3 + 4 = 8", W), ("100/3 = 33", W),
    ("3^-4 = 5", W), ("8x5=41 fishes", W),
    # one equality rule: rounding is judged on the written result alone
    ("100/3 ≈ 33.3", V), ("100 / 3 = 33.33", V), ("2/3 = about 0.67", V), ("1/3 = 0.3", V), ("$10 / 3 = $3.33", V),
    ("19.99 * 3 ≈ 60", V), ("19.99 * 3 = 59.97", V), ("100 / 3 ≈ 33", V), ("7 / 2 = 3.5", V),
    ("12.50 + 3 = 15.51", W), ("$19.99 * 3 = $59.98", W), ("2.5 * 4 = 10.1", W), ("100 / 3 = 33.4", W),  # was: verified
    ("2 / 3 = 0.6", W), ("2 / 3 = 0.66", W), ("100 / 3 = 33", W), ("7 / 3 = 2", W), ("19.99 * 3 = 60", W),
    # percent: x100 only where the math is in points
    ("0.5 * 10 = 5%", W), ("(8 / 10) x 100 = 80%", V), ("100 - 40 = 60%", V), ("100% - 40% = 60%", V),  # was: 0.5*10 verified
    ("60% * 40% = 24%", V), ("20% = 0.2", V), ("30\\% of 180 = 0.30 × 180", V), ("25 percent of 80 = 20", V),
    # remainders and rounding words
    ("Remaining money: 50 / 4 = 12", W), ("100 / 3 = 33 stickers each, with 1 remaining", V),  # was: verified
    ("17 / 4 = 5 buses, rounded up", V), ("17 / 4 = 4 full buses, rounding down", V), ("17 / 4 = 4 buses each", W),
    # LaTeX
    ("\\text{Change} = 20 \\text{ dollars} - 10 \\text{ dollars} = 10 \\text{ dollars}", V),
    ("\\frac{60 \\text{ servings}}{15 \\text{ servings/carton}} = 4", V),
    ("20 + \\frac{1}{4} \\times 20 = 20 + 5 = 25", V), ("4 \\, dozen × 12 \\, eggs/dozen = 48 \\, eggs", V),
    ("40 - 14 = \\boxed{26}", V), ("\\[ 3 \\cdot 4 = 12 \\]", V), ("\\( 12 \\div 4 = 3 \\)", V), ("$3 \\times 4 = 12$", V),
    ("\\dfrac{\\frac{1}{2}}{\\frac{1}{4}} = 2", V), ("\\left( 2 + 3 \\right) \\times 4 = 20", V),
    ("5^{2} = 25", V), ("\\mathrm{Total} = 5 + 7 = 12", V), ("10\\% \\text{ of } 50 = 5", V), ("\\$20 - \\$5 = \\$15", V),
    ("40 - 14 = \\boxed{25}", W), ("\\frac{60}{15} = 5", W), ("3 \\times 4 = 13", W),
    # Markdown
    ("- 3 weeks = 3 weeks × 7 days/week = 21 days", V), ("* 5 + 5 = 10", V), ("1. 12 / 4 = 3", V), ("Step 3: 6 * 7 = 42", V),
    ("**Total:** 5 + 7 = **12**", V), ("- 3 weeks = 3 weeks × 7 days/week = 22 days", W), ("**Total:** 5 + 7 = 13", W),
    # Unicode
    ("P_{total} = 3 + 4 = 7", V), ("v_1 = 3 \\times 4 = 12", V), ("4 \\; dozen = 48", V), ("x_{1} + 2 = 5", U),
    ("3~\\text{kg} + 2~\\text{kg} = 5~\\text{kg}", V), ("10\u2009000 + 5\u2009000 = 15\u2009000", V),
    ("5\u00a0kg + 3\u00a0kg = 8\u00a0kg", V), ("\\$5 + \\$3 = \\$9", W),
    ("6 − 2 = 4", V), ("3 · 4 = 12", V), ("5² = 25", V), ("2³ = 8", V), ("4 ＝ 2 + 2", V), ("1\u202f000 + 500 = 1\u202f500", V),
    ("7\u00a0* 3 = 21", V), ("10 ÷ 4 = 2.5", V), ("6 − 2 = 5", W),
    # labels holding numbers before '='
    ("Week 1 + Week 2 = 35 + 35 = 70 hours", V), ("Half of 88 = 88 / 2 = 44", V), ("Commission for the first $1000 = 30% of $1000", U),
    ("Week 1 + Week 2 = 35 + 35 = 71 hours", W), ("Half of 88 = 88 / 2 = 45", W), ("In 2023 100 / 4 = 25", V),  # was: mixed number
    ("The length of the box is 3 x the height of 12 inches = 36 inches.", U),
    # units: glued or spaced, one-letter, squared, multi-word
    ("4 cm * 5 cm = 20 cm^2", V), ("5 ft * 4 ft = 20 ft^2", V), ("3 * 4 = 12 cm^2", V), ("5 ft × 4 ft = 20 ft²", V),  # was: wrong
    ("250g * 4 = 1000g", V), ("3km + 2km = 5km", V), ("10 sq ft * 3 = 30 sq ft", V), ("10 sq.ft. * 3 = 30 sq.ft.", V),
    ("4 m x 4 m = 16 square meters", V), ("2 cubic feet * 3 = 6 cubic feet", V), ("5 m * 4 m = 20 m^2", V),
    ("5 m * 4 m = 24 m^2", W), ("5 g + 3 g = 9 g", W), ("4 m x 4 m = 21 square meters", W), ("3 h + 2 h = 6 h", W),  # was: skipped, passed
    ("24 hours in a day - (10 hours + 8 hours + 1 hour) = 5 hours", V),
    ("24 hours in a day - (10 hours + 8 hours + 1 hour) = 15 hours", W),  # was: verified
    # scale words and grouped thousands
    ("1.2 million + 300,000 = 1.5 million", V), ("1 000 000 + 500 000 = 1 500 000", V), ("10 000 kg / 4 = 2 500 kg", V),
    ("2.5k + 500 = 3,000", V), ("32 / 2 = $16 million", W),  # was: V (#33: only where the text counts 32 million) ("1.2 million + 300,000 = 1.6 million", W),
    ("1 000 000 + 500 000 = 1 600 000", W),
    ("10,000,000 / 3 = 3.33 million", V), ("10,000,000 / 3 ≈ 3 million", V),  # was: wrong (rounded to the written place)
    ("10,000,000 / 3 = 3.34 million", W), ("10,000,000 / 3 = 3 million", W),
    # scientific notation, exactly
    # (was: "1.5e6" read as 1.5 with the unit "e6"; "2e3 + 1 = 2001" called wrong)
    ("1.5e6 * 2 = 3e6", V), ("2e3 + 1 = 2001", V), ("1e6 / 3 = 3.33e5", V), ("1 / 300 = 3.3e-3", V),
    ("1e3 * 2 = 5", W), ("1e6 / 3 = 3e5", W), ("1.5e6 * 2 = 4e6", W), ("5e99 * 2 = 1e100", U),
    # unit changes across '=': converted exactly, or unverifiable, never wrong
    ("20 x 45 cents = $9", V), ("1 hour / 2 = 30 minutes", V), ("2 hours = 120 minutes", V), ("2 dozen = 2 * 12", V),  # was: wrong
    ("3 kg = 3000 g", V), ("1.5 km = 1500 m", V), ("2 l = 2000 ml", V), ("3 feet = 36 inches", V), ("3 feet = 30 inches", U), ("1 hour / 2 = 40 minutes", U),
    # equations inside parentheses and prose around them
    ("Total (5 * 3 = 15) apples", V), ("She pays (4 + 6 = 10) dollars", V), ("He has 41 feet because 8 + 20 + (2 x 3) + 7 = 41", V),
    ("Total (5 * 3 = 16) apples", W),
    # variables and hostile words
    ("Every week the shop sells n + 5 = 10 boxes of very fresh bread", U), ("x + 5 = 10", U), ("10 = 2x", U),
    ("60 = 12W + 12A", U), ("0900-0130 = 0730 hours", U),
    # issue #22: what Llama-3 and Qwen2.5 write (forms from ../shared/data/real-solutions/modern_samples.jsonl);
    # 61 of the 92 rows here and in SOLUTIONS failed on the code before #22 (41 of 61 here, 20 of 31 there)
    # bracketed labels after a quantity (#22): named, not multiplied
    ("5 (Tom) + 4 (Ann) + 2 (Sam) = 11", V), ("$640 (savings) + $180 (gift) = $830", W),
    ("1800 litres (cola) + 450 litres (lemonade) = 2250 litres", V), ("1800 litres (cola) + 450 litres (lemonade) = 2350 litres", W),
    ("240 (total participants) - 80 (Japanese participants) = 160", V), ("160 (Chinese participants) - 60 (boys) = 110", W),
    ("$300 (cost of bike) - $50 (amount Mark already has) = $250", V), ("$250 ÷ $10 (daily earnings) = 25", V),
    ("18 vlogs (first week) + 21 vlogs (second week) + 15 vlogs (third week) = 54 vlogs", V),
    ("72 vlogs (total) - 54 vlogs (already made) = 19 vlogs", W),
    ("So, the number of dahlias is 4 (number of roses) + 7 = 11.", V),
    ("Total hours per week = 1 (Tuesday) + 2 (Thursday) + 2 (Saturday) = 5 hours", V),
    ("Total hours per week = 1 (Tuesday) + 2 (Thursday) + 2 (Saturday) = 6 hours", W),
    ("$150,000 (plane cost) + $5000 (monthly rent) + $10,000 (monthly fuel) = $160,000", W),
    ("12 inches (plant width) + 18 inches (space between plants) = 30 inches", V),
    ("25(the boxes she had) = 57", U),
    # numbers inside a left-hand label (#22): a label, not an equation
    ("Ali has 4 $10 bills = 4 x $10 = $40", V), ("Ali has 6 $20 bills = 6 x $20 = $130", W),
    ("Cost of 2 x 8 boards = 24 / 6 = 4", V), ("Cost of 2 x 8 boards = 24 / 6 = 5", W),
    # the inch mark is a unit (#22)
    ('Anne\'s height = 2 x 36" = 72"', V), ('Jackie\'s height = 72" - 2" = 70"', V), ('Jackie\'s height = 72" - 2" = 71"', W),
    # scale words: a dozen is 12, exactly (#22)
    ("2/3 * 2 dozen cups = 12 measuring cups", W), ("2/3 * 2 dozen cups = 16 measuring cups", V),
    ("2 dozen cups + 10 spoons = 24 utensils", W), ("2 dozen cups + 10 spoons = 34 utensils", V),
    ("3 dozen eggs = 36 eggs", V), ("3 dozen eggs = 38 eggs", W),
    # LaTeX labels (#22)
    ("\\frac{1}{4} \\text{ of the year} = \\frac{1}{4} \\times 364 = 91", V),
    ("\\frac{1}{4} \\text{ of the year} = \\frac{1}{4} \\times 364 = 92", W), ("\\[ 7995 - 5670 = 2325 \\]", V),
    # approximation attaches to the result it qualifies, never to the step (#22)
    ("She walks around the lake: 2.6 + 1.8 = 4 km", W), ("She walks around the lake: 2.6 + 1.8 = 4.4 km", V),
    ("2.6 + 1.8 ≈ 4", V), ("2.6 + 1.8 = about 4", V), ("2.6 + 1.8 is approximately 4", V),
    ("100 / 3 = 33.33, rounded to 33", V), ("100 / 3 = 33.33, rounded to 34", W),
    ("768 / 50 = 15.36 minutes, which rounds down to 15 minutes", V), ("17 / 4 = 4.25, rounded up to 5 buses", V),
    ("17 / 4 = 4.25, rounded up to 6 buses", W), ("17 / 4 = 4.25, rounded up to 4 buses", W),  # was: V (#33)
    ("About 19.99 * 3 = 60 dollars", W),
    ("Roughly speaking, the farm has 12 * 7 = 80 cows", W), ("The cost is nearly 3 * 4.99 = 15 dollars", W),
    ("It takes almost 7 / 3 = 2 hours", W), ("He rounds the corner: 17 + 26 = 40 steps", W),
    # a rounded value written in the chain stands for the exact one (#22)
    ("120 x 2/3 = 120 x 0.67 = 80", V), ("54 seats x 1/3 = 54 x 0.33 = 18 seats", V),
    ("36 x 2/3 = 36 x 0.67 = 24.12 sq ft", V), ("120 x 2/3 = 120 x 0.67 = 81", W),
    # equations in one unknown: identities are verified (#22)
    ("x - 2(3) = x - 6", V), ("x - 6 - 3(4) = x - 6 - 12 = x - 18", V), ("x - (x - 14) = 14", V), ("x - 2(3) = x - 5", U),
    ("10 x 7 = 2 x x", U),
    # percent points (#22)
    ("Probability of both tickets winning = 0.12 x 100 = 12%", V), ("3 x 20% = 60%", V), ("Probability = 20% = 0.20", V),
    ("Probability = 20% = 0.30", W),
    # a bracket that works out the number before it says where it came from; a rate per 10 minutes is not 1/10 (#22)
    ("5 x 3 (30 minutes / 10 minutes) = 15", V), ("5 x 3 (30 minutes / 10 minutes) = 16", W),
    ("2 degrees/10 minutes x 3 (30 minutes / 10 minutes) = 6 degrees", U), ("60 miles / 2 hours = 30 miles per hour", V),
    # a unit letter in a rate is a unit, not a variable (one rule, tokens._is_variable)
    ("30 ml / 2 grams = 15 ml/g", V), ("900 ml / 15 ml/g = 60 g", V), ("30 ml / 2 grams = 16 ml/g", W),
]

# Solutions whose steps read each other: (steps, status of each step)
SOLUTIONS = [
    # continuation lines (#22): a step that begins with '=' continues the one before
    (["Total cost = 36 + 48", "= 84"], [U, V]), (["Total cost = 36 + 48", "= 85"], [U, W]),
    (["\\[ \\text{Total} = \\frac{18,600}{3} \\]", "\\[ = 6,200 \\]"], [U, V]),
    (["Interest for 1 month = Principal x Rate", "= $100 x 2%", "= $100 x 0.02", "= $2"], [U, U, V, V]),
    (["Number of fish sausages = 6 more than chicken sausages", "= 38 + 6", "= 44"], [U, U, V]),
    (["Distance = 42 miles / 3 miles", "= 14", "Time taken = 14 x 10", "= 140 minutes"], [U, V, U, V]),
    (["$85.00 (initial charge) - $15.00 (returned item) = $70.00", "+ $16.00 (frying pan) = $86.00",
      "+ $27.00 (towels) = $113.00"], [V, V, V]),
    (["$85.00 - $15.00 = $70.00", "+ $16.00 = $87.00"], [V, W]),
    # a name used again: a label, not a value, unless it stands alone (#22)
    (["cookies = 15", "Remaining cookies = 15 - 2 = 13"], [U, V]),
    (["Timothy's pens = 3 x George's pens", "Timothy's pens = 3 x 18", "Timothy's pens = 54"], [U, U, V]),
    (["Length of couch = 2 x Width of rug + 2 feet", "Length of couch = 2 x 8 feet + 2 feet",
      "Length of couch = 16 feet + 2 feet", "Length of couch = 18 feet"], [U, U, U, V]),
    (["Value of the shop = Value of the van - $22,800 = $76,000 - $22,800 = $53,200"], [V]),
    (["Value of the shop = Value of the van - $22,800 = $76,000 - $22,800 = $53,100"], [W]),
    (["Probability = 0.20 x 0.60 = 0.12", "Probability = 0.12 x 100 = 12%"], [V, V]),
    # rounded carried values (#22)
    (["25 / 3 = 8.33", "3 * 8.33 = 25"], [V, V]), (["2/3 = 0.67", "0.67 feet x 12 = 8 inches"], [V, V]),
    (["25 / 3 = 8.33", "3 * 8.33 = 26"], [V, W]), (["3 * 8.33 = 25"], [W]),
    # equations being solved (#22): by substitution, or unverifiable, never wrong
    (["2C + D = 304", "C + D = 180", "D = 180 - C", "2C + (180 - C) = 304", "C + 180 = 304", "C = 124"],
     [U, V, V, U, V, V]),
    (["\\frac{1}{2} (10 - 1.5x) = 2", "10 - 1.5x = 4", "1.5x = 6", "x = 4"], [U, U, V, V]),
    (["52 = 25 (Dallas) + x (Darla)", "27 = x (Darla)"], [U, V]),
    (["c + d = 180", "2c + d = 304", "c = 124"], [U, V, U]), (["c + d = 180", "2c + d = 304", "c = 125"], [U, U, U]),
    (["x - 0.45x - 0.1155x = 0.28x", "0.45x + 0.1155x = 0.28x"], [U, U]),  # was: x = 0, so verified
    (["x / 12 = 3 / 4", "x = 9"], [U, V]), (["x / 12 = 3 / 4", "x = 8"], [U, W]), (["3/4 = x/12", "4x = 36", "x = 9"], [U, V, V]),
    (["x = $22 (total cost of admission) + $8 (change)", "x = $30"], [U, V]),
    # a step cannot bind its own unknown (#22)
    (["2x + 8 = 66", "2x = 60, so x = 30"], [U, W]), (["2x + 8 = 66", "2x = 58, so x = 29"], [U, V]),
    # enumerated trials are not bindings (#22)
    (["n = 1: 1 + 2 = 3", "n = 2: 2 + 2 = 4", "n = 3: 3 + 2 = 5"], [V, V, V]),
    (["n = 1: 1 + 2 = 3", "n = 2: 2 + 2 = 5"], [V, W]),
]


@pytest.mark.parametrize("reading,rows", list(zip(ACCEPTING_READINGS, READING_ROWS, strict=True)),
                         ids=[r.name for r in ACCEPTING_READINGS])
def test_each_accepting_reading_verifies_its_form_and_no_more(reading, rows):
    """Each reading's rows (tests/mutants.py): the form it accepts, and the nearest forms it must not."""
    for steps, expected, question in rows:
        assert check_steps(steps, question)[-1].status == expected, (reading.name, steps)


@pytest.mark.parametrize("reading", range(len(ACCEPTING_READINGS)), ids=[r.name for r in ACCEPTING_READINGS])
def test_each_reading_accepts_only_its_form(reading):
    """#33 mutant guard: each verified row of a reading, with its result a little off, a unit swapped, or its trigger
    word moved to another sense ('Floor area:', 'At the round table,', 'About the budget,'), is not verified."""
    checked = [(steps, question) for k, steps, question in all_mutants() if k == reading]
    assert checked, "each reading has mutants"
    for steps, question in checked:
        assert check_steps(steps, question)[-1].status != "verified", (ACCEPTING_READINGS[reading].name, steps)


def test_the_questions_rounding_way_qualifies_the_last_equation_only():
    """'How many cars are needed?' asks the final result rounded up, not any step's (#33)."""
    q = "17 people go on a trip and a car seats 4. How many cars are needed?"
    assert [s.status for s in check_steps(["17 / 4 = 5 cars", "5 * 2 = 10"], q)] == ["wrong", "verified"]
    assert [s.status for s in check_steps(["2 * 2 = 4", "17 / 4 = 5 cars"], q)] == ["verified", "verified"]


@pytest.mark.parametrize("steps,expected", SOLUTIONS)
def test_solution_verdicts(steps, expected):
    assert [s.status for s in check_steps(steps)] == expected, steps


# A wrong step with one prose word put anywhere in its prose: the word never makes it right (#22: "around",
# "round" turned rounding on for the whole step). Each step is wrong by more than its rounding.
WRONG_WITH_PROSE = [("She walks {} the lake: 2.6 + 1.8 = 4 km", "the lake"), ("The farm has {} 12 * 7 = 80 cows", "cows"),
                    ("He pays {} 3 * 4.99 = 15 dollars in all", "in all"), ("It takes {} 7 / 3 = 2 hours", "hours"),
                    ("{} Total: 19.99 * 3 = 60", "Total"), ("The 17 + 26 = 40 steps {} the hill", "the hill")]
PROSE_WORDS = ["around", "about", "nearly", "round", "rounded", "approximately", "roughly", "almost", "approx",
               "rounding", "rounds", "some", "close to", "just under", "more or less", "circa"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(WRONG_WITH_PROSE), st.sampled_from(PROSE_WORDS), st.integers(0, 3))
def test_no_prose_word_makes_a_wrong_step_right(case, word, where):
    template, _ = case
    words = template.split()
    prose = [i for i, w in enumerate(words) if w.isalpha() or w == "{}"]  # positions in the prose, not the math
    step = template.format(word) if where == 0 else " ".join(
        words[:prose[where % len(prose)]] + [word] + words[prose[where % len(prose)]:]).format("")
    assert check_step(step).status == "wrong", step


@settings(max_examples=300, deadline=None)
@given(st.integers(11, 999), st.integers(11, 999), st.sampled_from("+-*"), st.sampled_from(PROSE_WORDS),
       st.lists(st.sampled_from(["she", "walks", "the", "lake", "in", "total", "so", "he", "has", "km", "left"]),
                min_size=1, max_size=6), st.integers(0, 6))
def test_no_prose_word_makes_a_rounded_result_right(a, b, op, word, prose, where):
    """'2.6 + 1.8 = 4': a result rounded to a whole number with no '≈' at it is wrong, whatever the prose says."""
    x, y = a / 10, b / 10
    exact = {"+": x + y, "-": x - y, "*": x * y}[op]
    rounded = round(exact)
    if abs(exact - rounded) < 0.01:  # the whole number is (almost) the exact result: nothing to catch
        return
    words = list(prose)
    words.insert(where % (len(words) + 1), word)
    step = " ".join(words[:2]) + f": {x:g} {op} {y:g} = {rounded} " + " ".join(words[2:])
    assert check_step(step).status == "wrong", step


@pytest.mark.parametrize("step,expected", STEPS)
def test_step_verdicts(step, expected):
    result = check_step(step)
    assert result.status == expected, (step, result)


def test_the_table_covers_enough_forms():
    assert len(STEPS) >= 150 and len(SOLUTIONS) >= 25


@pytest.mark.parametrize("step,message", [
    ("5*3 = 16", "says 5 * 3 = 16, but 5 * 3 = 15"), ("$2.50 x 4 = $12", "but 2.50 * 4 = 10"),
    ("7 times 38 equals 270", "= 266"), ("a = 3 + 4 = 8", "= 7"), ("100/3 = 33", "33.3333"),
    ("3^-4 = 5", "but 3 ^ - 4 = 0.0123457"), ("10,000,000 / 3 = 3.34 million", "= 3,333,333.33"), ("10^300 * 10^10 / 3 = 5", "3.33333e+309"),
    ("2 dozen cups + 10 spoons = 24 utensils", "says 2 dozen + 10 = 24, but 2 dozen + 10 = 34")])  # was: OverflowError
def test_wrong_steps_say_what_they_should_be(step, message):
    result = check_step(step)
    assert result.status == "wrong" and message in result.wrong[0]


def test_algebra_is_checked_by_substitution():
    right = check_steps(["Let x be the price.", "0.75x = 19.50", "x = 19.50 / 0.75", "x = 26"])
    assert [s.status for s in right] == ["unverifiable", "unverifiable", "verified", "verified"]
    wrong = check_steps(["2x + 8 = 66", "x = 30"])  # was: x = 30 passed
    assert wrong[1].wrong == ["says x = 30, but x = 29 (from step 1: 2x + 8 = 66)"]
    # the value put in, and where it comes from (was: "but 3x + 1 = 88", with x unnamed)
    assert check_steps(["2x + 8 = 66", "3x + 1 = 80"])[1].wrong == ["says 3x + 1 = 80, but with x = 29 (step 1) 3x + 1 = 88"]
    two = check_steps(["We know that s + b = 116 and b = 5s - 4.", "s + 5s - 4 = 116", "6s = 120", "s = 20",
                       "b = 20 * 5 - 4 = 96"])
    assert [s.status for s in two][2:] == ["verified", "verified", "verified"]


# Equations stated before the one that solves them are never called wrong (#22: which one is wrong is a guess), but when
# the values the solution reaches make one of them false, the equations contradict each other: the solution holds a
# wrong step, named on the sample (was: kept). Each with its nearest right form, which has no contradiction.
CONTRADICTIONS = [
    (["c + d = 180", "2c + d = 304", "c = 125"], ["c + d = 180", "2c + d = 304", "c = 124"],
     "step 2 says 2c + d = 304, but with c = 125 (step 3) and d = 55 (step 1) 2c + d = 305"),
    (["We know that p + m = 27 and p = 11m.", "8m + m = 27", "9m = 27", "m = 3"],  # bench_verifier's corruption of p = 8m
     ["We know that p + m = 27 and p = 8m.", "8m + m = 27", "9m = 27", "m = 3"], "but with"),
    (["Since the check is 60% of the bill: 0.6x = 0.6(40 + x)", "x = 40 + 0.6x", "0.4x = 40", "x = 100"],  # modern set, i691
     ["Since the check is 60% of the bill: 0.6x = 0.6(x)", "x = 40 + 0.6x", "0.4x = 40", "x = 100"], "but with x = 100"),
]


@pytest.mark.parametrize("wrong,right,message", CONTRADICTIONS)
def test_equations_that_contradict_each_other_are_named_and_no_step_is_blamed(wrong, right, message):
    checked = check_steps(wrong)
    assert "wrong" not in [s.status for s in checked]
    assert any(message in m for s in checked for m in s.contradicts), [s.contradicts for s in checked]
    assert not any(s.contradicts or s.wrong for s in check_steps(right))


def test_a_letter_used_again_for_a_new_unknown_takes_its_new_value():
    """#22: Llama-3 reuses x for each sub-problem (modern set, i1004; was: three steps wrong). A rewrite of an earlier
    equation is not a new unknown: it uses a number the question does not state."""
    q = ("Peter has 4 boxes of chocolate bars, and Martha has 7 boxes. If Peter and Martha have totals of 64 and 56 "
         "chocolate bars, how many more bars does Peter have in each box than Martha?")
    steps = ["4x = 64", "x = 64 / 4", "x = 16", "7x = 56", "x = 56 / 7", "x = 8", "Difference = 16 - 8", "= 8"]
    assert [s.status for s in check_steps(steps, q)] == [U, V, V, U, V, V, U, V]
    assert check_steps(steps[:5] + ["x = 9"] + steps[6:], q)[5].wrong == ["says x = 9, but x = 8 (from step 4: 7x = 56)"]
    assert [s.status for s in check_steps(["2x + 8 = 66", "2x = 60, so x = 30"], "Of 66 pens, 8 are red and 2 ...?")] == [U, W]
    # the same unknown set up wrongly is not a new one: '7x = 64' reuses the 64 that gave x = 16 (was kept)
    wrong = check_steps(["4x = 64", "x = 64 / 4 = 16", "7x = 64", "x = 64 / 7 = 9.14"],
                        "Peter pays 64 dollars for 4 books. How much do 7 books cost?")
    assert [s.status for s in wrong][2] == W
    # a third sub-problem takes x over again (was: 'with x = 8 (step 3) 9x = 72')
    q3 = "Boxes of 4, 7 and 9 hold 64, 56 and 45 bars. What is the sum of the bars per box?"
    three = ["4x = 64", "x = 64 / 4 = 16", "7x = 56", "x = 56 / 7 = 8", "9x = 45", "x = 45 / 9 = 5", "16 + 8 + 5 = 29"]
    assert not any(s.wrong for s in check_steps(three, q3))


def test_a_step_that_solves_its_own_unknown_uses_its_own_value():
    steps = check_steps(["if 200 + 200x = 228 then x = .14", "if 100 + 100x = 120 then x = .2",
                         "if 140 + 140x = 147 then x = .5"])
    assert [s.status for s in steps] == ["verified", "verified", "wrong"]


def test_a_named_value_is_checked_across_steps():
    steps = check_steps(["Volume = 6 ft * 4 ft * 5 ft", "Volume = 120 cubic feet", "Cost = 120 * $0.1", "Cost = $13"])
    assert [s.status for s in steps] == ["unverifiable", "verified", "unverifiable", "wrong"]


def test_numbers_match_is_the_one_rule():
    assert numbers_match(Quantity(Fraction(3333, 100), 2), Fraction(100, 3))
    assert not numbers_match(Quantity(Fraction(334, 10), 1), Fraction(100, 3))
    assert not numbers_match(Quantity(Fraction(33), 0), Fraction(100, 3))
    assert numbers_match(Quantity(Fraction(33), 0), Fraction(100, 3), approx=True)
    assert quantities_agree(parse_number("25%")[0], parse_number("25")[0])
    assert not quantities_agree(parse_number("$2,000")[0], parse_number("20")[0])
    assert quantities_agree(parse_number("$16 million")[0], parse_number("16")[0])


def test_answers_hold_one_number():
    assert parse_number("$1,250")[0].value == 1250 and parse_number("36 clips")[0].value == 36
    assert parse_number("3/4 cup")[0].value == Fraction(3, 4) and parse_number("-4.5")[0].value == Fraction(-9, 2)
    assert parse_number("1.5 million")[0].value == 1_500_000 and parse_number("25%")[0].value == Fraction(1, 4)
    assert parse_number("2 hours 30 minutes")[1] == "holds 2 numbers; expected one"
    assert parse_number("many")[1] == "holds no number"
    assert parse_number("2.5e3 dollars")[0].value == 2500 and parse_number("1e99999999")[1] == "number too large"


@pytest.mark.parametrize("hostile", ["9^9^9 = 1", "(" * 1000 + "1" + ")" * 1000 + " = 1", "1" * 5000 + " = 1",
                                     "2^-99999 = 0", "10**100000 = 5", "٣ + ٣ = ٦", "__import__('os').system('touch pwned') = 0"])
def test_hostile_input_is_refused_fast(hostile, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    started = time.perf_counter()
    result = check_step(hostile)
    assert time.perf_counter() - started < 1.0
    assert result.status in ("unverifiable", "wrong")  # refused, or exact and wrong: never an exception
    assert not (tmp_path / "pwned").exists()


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(list("0123456789+-*/^()=.,%$x× ÷≈ abc٣") + ["**", "9^9", "^-", "((", "))", " of ", "99999"]),
                max_size=150).map("".join))
def test_fuzz_no_exception_escapes(text):
    started = time.perf_counter()
    check_step(text)
    parse_number(text)
    assert time.perf_counter() - started < 1.0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_fuzz_any_unicode(text):
    check_step(text)
    parse_number(text)


# Issue #33: eight ways a wrong step was verified, each an accepting reading applied beyond its form. Each class: the
# wrong form (rejected, with its reason) and its right twin (kept). (id, question, reasoning, answer, reason or None)
_Q_ROOM = "A room is 7.5 meters long and 3 meters wide. What is the floor area of the room in square meters?"
_Q_DESKS = "An office has 38 desks to share equally among its 4 floors. How many whole desks does each floor get?"
_Q_STAFF = "A firm has 90 staff: 1/3 work in the office, and of 60 others 3/10 work remotely. How many work remotely?"
_Q_SPLIT = "Three friends split a bill of 25 dollars equally and each pays the same. How much do they pay together?"
_Q_COINS = "Ann has $5 in notes and 50 cents in coins in her purse. How many dollars does she have in all?"
_Q_WAIT = "A train ride takes 3 hours and the bus after it takes 2 minutes more. How many minutes is the trip?"
_Q_GRANTS = "Two grants give a school 400,000 dollars and 100,000 dollars. How many dollars do they give in total?"
_Q_FIRM = "A firm earned $32 million and split it equally between its 2 owners. How much did each owner get?"
_Q_SALE = "A store has 50 items and 50% of them are on sale. It sells 40% of the 50 items. How many items does it sell?"
_Q_WALK = "Tom walks 13 km in 3 days at the same pace every day. How many km does he walk each day?"
_Q_BOXES = "A baker has 27 cupcakes and packs 6 in each box. How many full boxes can she fill with them?"
_Q_NEEDED = "A baker has 27 cupcakes and packs 6 in each box. How many boxes are needed to pack all of them?"
_Q_BALLS = "A club has 50 balls to share equally among its 4 teams. How many balls does each team get?"
_Q_SHIRTS = "A shop sells 3 shirts at $19.99 each to one customer today. About how much does the customer pay?"
CLASSES = [
    # 1. rounding words that are nouns
    ("1-floor-area", _Q_ROOM, ["Floor area of the room: 7.5 * 3 = 22 square meters"], "22",
     "step 1 says 7.5 * 3 = 22, but 7.5 * 3 = 22.5"),
    ("1-floor-area-right", _Q_ROOM, ["Floor area of the room: 7.5 * 3 = 22.5 square meters"], "22.5", None),
    ("1-each-floor", _Q_DESKS, ["each floor gets 38 / 4 = 9 desks"], "9", "step 1 says 38 / 4 = 9, but 38 / 4 = 9.5"),
    ("1-each-floor-right", _Q_DESKS, ["each floor gets 38 / 4 = 9 desks, rounded down"], "9", None),
    # 2. a remembered rounding stands in for another number
    ("2-carried", _Q_STAFF, ["Office: 1/3 * 90 = 30", "Remote: 0.3 * 60 = 20"], "20",
     "step 2 says 0.3 * 60 = 20, but 0.3 * 60 = 18"),
    ("2-carried-right", _Q_SPLIT, ["Each pays 25 / 3 = 8.33", "Together: 3 * 8.33 = 25"], "25", None),
    # 3. sums across units compared as bare numbers
    ("3-cents", _Q_COINS, ["$5 + 50 cents = $55"], "$55",
     "step 1 says 5 dollar + 50 cent = 55 dollar, but 5 dollar + 50 cent = 5.5 dollar"),
    ("3-cents-right", _Q_COINS, ["$5 + 50 cents = $5.50"], "$5.50", None),
    # 4. one unit's conversion applied to a mixed sum
    ("4-minutes", _Q_WAIT, ["3 hours + 2 minutes = 300 minutes"], "300",
     "step 1 says 3 hour + 2 minute = 300 minute, but 3 hour + 2 minute = 182 minute"),
    ("4-minutes-right", _Q_WAIT, ["3 hours + 2 minutes = 182 minutes"], "182", None),
    # 5. scale words not tied to the side that counts in them
    ("5-million", _Q_GRANTS, ["400,000 + 100,000 = 500,000 million"], "500,000 million",
     "step 1 says 400,000 + 100,000 = 500,000 million, but 400,000 + 100,000 = 500,000"),
    ("5-million-right", _Q_GRANTS, ["400,000 + 100,000 = 0.5 million"], "500,000", None),
    ("5-counted-right", _Q_FIRM, ["32 / 2 = $16 million"], "$16 million", None),
    # 6. percent points where the math is not in points
    ("6-points", _Q_SALE, ["0.4 * 50 = 20%"], "20", "step 1 says 0.4 * 50 = 20%, but 0.4 * 50 = 20"),
    ("6-points-right", _Q_SALE, ["0.4 * 50 = 20"], "20", None),
    # 7. answers: an approximation word elsewhere; rounding against the question's direction
    ("7-round-trip", _Q_WALK, ["13 / 3 = 4.33"], "4 km per round trip",
     "answer '4 km per round trip' does not match the last step's result 4.33"),
    ("7-round-trip-right", _Q_WALK, ["13 / 3 = 4.33"], "about 4 km", None),
    ("7-full-boxes", _Q_BOXES, ["27 / 6 = 4.5"], "5 boxes", "answer '5 boxes' does not match the last step's result 4.5"),
    ("7-full-boxes-right", _Q_BOXES, ["27 / 6 = 4.5"], "4 boxes", None),
    ("7-needed", _Q_NEEDED, ["27 / 6 = 4.5"], "4 boxes", "answer '4 boxes' does not match the last step's result 4.5"),
    ("7-needed-right", _Q_NEEDED, ["27 / 6 = 4.5"], "5 boxes", None),
    # 8. coincidences: a number equal to the remainder; '====' read as '≈'
    ("8-remaining", _Q_BALLS, ["The remaining 2 teams share 50 / 4 = 12 balls"], "12",
     "step 1 says 50 / 4 = 12, but 50 / 4 = 12.5"),
    ("8-remaining-right", _Q_BALLS, ["50 / 4 = 12 balls each, with 2 left over"], "12", None),
    ("8-equals", _Q_SHIRTS, ["19.99 * 3 ==== 60"], "$60", "step 1 says 19.99 * 3 = 60, but 19.99 * 3 = 59.97"),
    ("8-equals-right", _Q_SHIRTS, ["19.99 * 3 = about 60"], "about $60", None),
]


def test_wrong_steps_verified_before_are_rejected_and_their_right_twins_kept(run, tmp_path):
    """#33 classes 1-8, through filter.py: each wrong form is rejected with its reason, each right twin is kept."""
    src = tmp_path / "classes.jsonl"
    src.write_text("".join(json.dumps({"id": i, "question": q, "reasoning": r, "answer": a, "difficulty": "easy",
                                       "domain": "Shop math", "num_steps": len(r)}) + "\n" for i, q, r, a, _ in CLASSES))
    run("filter.py", "--input", str(src), "--skip-checks", "domain,duplicate,contamination,quality", check_rc=0)
    kept = {r["id"] for r in read_lines(tmp_path / "classes.filtered.jsonl")}
    rejected = {r["id"]: [x["message"] for x in r["reject_reasons"]] for r in read_lines(tmp_path / "classes.rejected.jsonl")}
    assert kept == {i for i, *_, reason in CLASSES if reason is None}, rejected
    for i, *_, reason in CLASSES:
        assert reason is None or reason in rejected[i], (i, rejected.get(i))


# Holes found by corrupting real right solutions (modern_*, zeroeval_*, GSM8K train_dev) the ways models err: each wrong
# form (an accepting reading applied beyond its form) rejected with its reason, and its right twin kept.
_Q_BROWNS = "Six potatoes make 36 hash browns at the diner today. How many hash browns does one potato make?"
_Q_CASTLES = "There are 220 sand castles on the beach, and 40% of them are ruined by the tide. How many are ruined?"
_Q_EGGS = "Nina has 9 pink eggs and one-third as many yellow eggs as pink ones. How many yellow eggs does she have?"
_Q_PAY = "A coat costs $1000 and is on sale at a 20% discount this week. What percent of the price do you pay?"
_Q_BITTEN = "60% of mosquitoes carry a virus and 50% of bites by a carrier infect. What percent of bites infect?"
_Q_FISH = ("Every day Ittymangnark catches enough fish for the three of them to eat, and they split the fish equally. "
           "How many fish will each of them be given if they catch 12 fish?")
_Q_FENCE = "A fence is 3 feet tall and a wall is as tall in inches. How many inches tall is the wall?"
_Q_PLAN = "A phone plan runs for 5 years and is billed every month. How many monthly bills are there?"
_Q_PAINT = "A painter uses 2 gallons of paint and buys it by the quart. How many quarts does he buy?"
_Q_LEGS = "A trip has two legs, of 75 miles and of 100 miles, and 20% of it is on a highway. How long is the trip?"
_Q_CLASS = "A class has 30 kids and 30% of them are girls. 9 kids are absent today. How many kids are present?"
_Q_BOX = "A box of pens costs $100 and is on sale at a 10% discount, $10 off. What is the discounted price?"
_Q_BARS = "A box has four kinds of chocolate bars, 25 bars of each kind. What percentage of the bars is each kind?"
_Q_KELLY = "Kelly weighs 15% less than Megan does. What percent of Megan's weight is Kelly's weight?"
_Q_CARS = "Of the 20 cars for rent, 12 are automatic, 4 are manual and the rest semi-automatic. What percent are semi?"
_Q_SPRAY = "A spray kills 25% of germs and another 25%, but 5% are killed by both. What percent does the second add?"
_Q_SHIFTS = "Ann works 8 hours on Monday and 4 hours on Tuesday. How many more minutes does she work on Monday?"
_Q_COWS = "A farm has 32 cows and splits them equally between its 2 barns. How many cows are in each barn?"
_Q_PRACTICE = "Randy practices 2 hours a day, 5 days a week, for 50 weeks a year. How many hours does he practice?"
_Q_SPOOLS = "A box holds 30 spools of thread and 15 of them are blue. What percentage of the spools are blue?"
_Q_THIRD = "Three friends share a pizza equally between them. About what percent of the pizza does each one get?"
HOLES = [
    # a result's own % named the percentage that made it points ('36 / 6 = 6%': 6 is "a percentage the text names")
    ("own-percent", _Q_BROWNS, ["36 / 6 = 6% hash browns"], "6", "step 1 says 36 / 6 = 6%, but 36 / 6 = 6"),
    ("own-percent-right", _Q_BROWNS, ["36 / 6 = 6 hash browns"], "6", None),
    ("own-percent-third", _Q_EGGS, ["(1/3) x 9 = 3% yellow eggs"], "3", "step 1 says ( 1 / 3 ) * 9 = 3%, but ( 1 / 3 ) * 9 = 3"),
    ("own-percent-third-right", _Q_EGGS, ["(1/3) x 9 = 3 yellow eggs"], "3", None),
    # the 100 of 'x / 100' makes a proportion, not points
    ("over-hundred", _Q_CASTLES, ["(40/100) * 220 = 88% ruined castles"], "88",
     "step 1 says ( 40 / 100 ) * 220 = 88%, but ( 40 / 100 ) * 220 = 88"),
    ("over-hundred-right", _Q_CASTLES, ["(40/100) * 220 = 88 ruined castles"], "88", None),
    # a 100 or a named percentage with counts added to it; money: no points
    ("hundred-added", _Q_LEGS, ["75 + 100 = 175% miles"], "175", "step 1 says 75 + 100 = 175%, but 75 + 100 = 175"),
    ("hundred-added-right", _Q_LEGS, ["75 + 100 = 175 miles"], "175", None),
    ("count-taken", _Q_CLASS, ["30 - 9 = 21% kids"], "21", "step 1 says 30 - 9 = 21%, but 30 - 9 = 21"),
    ("count-taken-right", _Q_CLASS, ["30 - 9 = 21 kids"], "21", None),
    ("money-points", _Q_BOX, ["$100.00 - $10.00 = $90.00%"], "$90", "step 1 says 100.00 - 10.00 = 90.00%, but 100.00 - 10.00 = 90"),
    ("money-points-right", _Q_BOX, ["$100.00 - $10.00 = $90.00"], "$90", None),
    ("whole-shared-right", _Q_BARS, ["25 * 4 = 100", "100 / 4 = 25%"], "25%", None),
    # points written as a percent again (the x100 slip): '100 - 15 = 8500%' is 85 = 85 as bare numbers
    ("percent-again", _Q_KELLY, ["100 - 15 = 8500%"], "8500%", "step 1 says 100 - 15 = 8500%, but 100 - 15 = 85"),
    ("percent-again-right", _Q_KELLY, ["100 - 15 = 85%"], "85%", None),
    ("percent-again-times", _Q_CARS, ["(4 / 20) * 100 = 0.2 * 100", "= 2000%"], "2000%",
     "step 2 says 0.2 * 100 = 2000%, but 0.2 * 100 = 20"),
    ("percent-again-times-right", _Q_CARS, ["(4 / 20) * 100 = 0.2 * 100", "= 20%"], "20%", None),
    ("percent-again-named", _Q_SPRAY, ["25 - 5 = 2000%"], "2000%", "step 1 says 25 - 5 = 2000%, but 25 - 5 = 20"),
    ("percent-again-named-right", _Q_SPRAY, ["25 - 5 = 20%"], "20%", None),
    # a conversion written out beside its quantity ('4 hours x 60'): the numbers as written must match
    ("written-out", _Q_SHIFTS, ["8 hours x 60 = 480 minutes", "4 hours x 60 = 250 minutes", "480 - 250 = 230"], "230",
     "step 2 says 4 * 60 = 250, but 4 * 60 = 240"),
    ("written-out-right", _Q_SHIFTS, ["8 hours x 60 = 480 minutes", "4 hours x 60 = 240 minutes", "480 - 240 = 240"],
     "240", None),
    # an answer counted in a scale the text never counts in ('16 thousand' for 32 cows / 2)
    ("answer-scale", _Q_COWS, ["32 / 2 = 16"], "16 thousand", "answer '16 thousand' does not match the last step's result 16"),
    ("answer-scale-right", _Q_FIRM, ["32 / 2 = 16"], "$16 million", None),
    # a rate written short ('50 weeks x 5 days': 5 days a week) is read as written, not converted into 'unverifiable'
    ("rate-short", _Q_PRACTICE, ["50 weeks x 5 days = 260 days", "260 x 2 = 520 hours"], "520",
     "step 1 says 50 * 5 = 260, but 50 * 5 = 250"),
    ("rate-short-right", _Q_PRACTICE, ["50 weeks x 5 days = 250 days", "250 x 2 = 500 hours"], "500", None),
    # a decimal that is its own exact value stands for nothing else ('0.5' for 15/30): no exact re-compare past the x100 rule
    ("exact-carried", _Q_SPOOLS, ["(15 / 30) x 100 = 0.5 x 100 = 5000%"], "5000%",
     "step 1 says 0.5 * 100 = 5000%, but 0.5 * 100 = 50"),
    ("exact-carried-right", _Q_SPOOLS, ["(15 / 30) x 100 = 0.5 x 100 = 50%"], "50%", None),
    # a percent's decimals are places in points: 80.5% is 0.805, not 0.8 within half a tenth
    ("percent-places", _Q_PAY, ["100% - 20% = 80.5%"], "80.5%", "step 1 says 100% - 20% = 80.5%, but 100% - 20% = 0.8"),
    ("percent-places-right", _Q_PAY, ["100% - 20% = 80%"], "80%", None),
    ("percent-places-product", _Q_BITTEN, ["60% * 50% = 30.5%"], "30.5%", "step 1 says 60% * 50% = 30.5%, but 60% * 50% = 0.3"),
    ("percent-places-product-right", _Q_BITTEN, ["60% * 50% = 30%"], "30%", None),
    ("percent-about", _Q_THIRD, ["Share: 1/3 = about 10%"], "about 10%", "step 1 says 1 / 3 = 10%, but 1 / 3 = 0.333333"),
    ("percent-about-right", _Q_THIRD, ["Share: 1/3 = about 33%"], "about 33%", None),
    # the question's way of rounding is the asking sentence's: 'catches enough fish' in the story asks no way
    ("story-enough", _Q_FISH, ["They split 10 / 3 = 4 fish each"], "4", "step 1 says 10 / 3 = 4, but 10 / 3 = 3.33333"),
    ("story-enough-right", _Q_FISH, ["They split 12 / 3 = 4 fish each"], "4", None),
    # a conversion factor off (12 inches a foot, 12 months a year, 4 quarts a gallon): never verified bare
    ("inches", _Q_FENCE, ["3 feet * 10 = 30 inches"], "30", "no step's arithmetic could be verified"),
    ("inches-right", _Q_FENCE, ["3 feet * 12 = 36 inches"], "36", None),
    ("months", _Q_PLAN, ["5 years * 10 = 50 months"], "50", "no step's arithmetic could be verified"),
    ("months-right", _Q_PLAN, ["5 years * 12 = 60 months"], "60", None),
    ("quarts", _Q_PAINT, ["2 gallons * 8 = 16 quarts"], "16", "no step's arithmetic could be verified"),
    ("quarts-right", _Q_PAINT, ["2 gallons * 4 = 8 quarts"], "8", None),
]


def test_wrong_forms_found_by_corrupting_real_solutions_are_rejected_and_their_right_twins_kept(run, tmp_path):
    src = tmp_path / "holes.jsonl"
    src.write_text("".join(json.dumps({"id": i, "question": q, "reasoning": r, "answer": a, "difficulty": "easy",
                                       "domain": "Shop math", "num_steps": len(r)}) + "\n" for i, q, r, a, _ in HOLES))
    run("filter.py", "--input", str(src), "--skip-checks", "domain,duplicate,contamination,quality", check_rc=0)
    kept = {r["id"] for r in read_lines(tmp_path / "holes.filtered.jsonl")}
    rejected = {r["id"]: [x["message"] for x in r["reject_reasons"]] for r in read_lines(tmp_path / "holes.rejected.jsonl")}
    assert {i for i, *_, reason in HOLES if reason is None} - kept == set(), rejected
    assert {i for i, *_, reason in HOLES if reason is not None} - set(rejected) == set(), kept
    for i, *_, reason in HOLES:
        assert reason is None or reason in rejected[i], (i, rejected.get(i))
