"""Each accepting reading accepts only its form (#33): its rows, and "wrong but plausible" mutants of the rows it
verifies. Used by tests/test_arithmetic.py and counted by bench/bench_verifier.py.

A mutant of a verified row is the row with the written result a little off (one unit of its last digit, either
way), a unit swapped for another of its kind, or the trigger word moved to another sense ("floor area", "round
table", "about the budget"); none of them may be verified.
"""

import re

V, W, U = "verified", "wrong", "unverifiable"

# Rows of each reading, in the order of readings.READINGS: (steps, status of the last step, question).
READING_ROWS = [
    [(["2x + 8 = 66", "x = 29"], V, ""), (["x - 2(3) = x - 6"], V, ""), (["2x + 8 = 66", "x = 30"], W, ""),
     (["x - 2(3) = x - 5"], U, "")],  # substitution, identities
    [(["1 kg + 500 g = 1,500 g"], V, ""), (["$3 + 25 cents = $3.25"], V, ""), (["2 dozen eggs + 6 eggs = 30 eggs"], V, ""),
     (["3 hours + 30 minutes = 210 minutes"], V, ""), (["2 hours * 60 + 30 minutes = 150 minutes"], V, ""),
     (["1 kg + 500 g = 501 g"], W, ""), (["$5 + 50 cents = $55"], W, ""), (["3 hours + 2 minutes = 300 minutes"], W, ""),
     (["2 dozen eggs + 6 eggs = 8 eggs"], W, "")],  # units read
    [(["48/2 = 24"], V, ""), (["48/2 = 25"], W, "")],  # exact
    [(["100 / 3 = 33.33"], V, ""), (["100 / 3 = 33.4"], W, ""), (["100 / 3 = 33"], W, "")],  # rounded at the written place
    [(["19.99 * 3 ≈ 60"], V, ""), (["2.6 + 1.8 = about 4"], V, ""), (["100 / 3 = 33.33, rounded to 33"], V, ""),
     (["19.99 * 3 = 60"], W, ""), (["19.99 * 3 ==== 60"], W, ""),
     (["She walks around the lake: 2.6 + 1.8 = 4 km"], W, "")],  # approximate where written
    [(["(8 / 10) x 100 = 80%"], V, ""), (["100% - 40% = 60"], V, ""), (["100 - 40 = 60%"], V, ""),
     (["0.5 * 10 = 5%"], W, ""),
     (["0.4 * 50 = 20%"], W, "A store has 50 items and 50% of them are on sale. It sells 40% of the 50 items. "
                             "How many items does it sell?")],  # percent points
    [(["32 / 2 = $16 million"], V, "A firm earned $32 million and split it between 2 owners. How much did each get?"),
     (["32 / 2 = $16 million"], W, ""), (["400,000 + 100,000 = 500,000 million"], W, "")],  # scale words
    [(["17 / 4 = 5 buses, rounded up"], V, ""), (["100 / 3 = 33 stickers each, with 1 remaining"], V, ""),
     (["Rounding down: 17 / 4 = 4"], V, ""), (["floor(17 / 4) = 4"], V, ""),
     (["17 / 4 = 5 buses"], V, "17 people go on a trip and a car seats 4. How many cars are needed?"),
     (["17 / 4 = 5 buses"], W, "17 people go on a trip and a car seats 4. How many full cars are there?"),
     (["17 / 4 = 4.25, rounded up to 6 buses"], W, ""), (["17 / 4 = 4 buses each"], W, ""),
     (["Floor area of the room: 7.5 * 3 = 22 square meters"], W, ""), (["each floor gets 38 / 4 = 9 desks"], W, ""),
     (["The remaining 2 teams share 50 / 4 = 12 balls"], W, "")],  # ceiling or floor
    [(["20 x 45 cents = $9"], V, ""), (["2 hours = 120 minutes"], V, ""), (["1 hour / 2 = 40 minutes"], U, "")],  # conversion
    [(["25 / 3 = 8.33", "3 * 8.33 = 25"], V, ""), (["120 x 2/3 = 120 x 0.67 = 80"], V, ""), (["3 * 8.33 = 25"], W, ""),
     (["25 / 3 = 8.33", "3 * 8.33 = 26"], W, ""), (["1/3 * 90 = 30", "Remote: 0.3 * 60 = 20"], W, "")],  # rounded value
]

# A unit and another of its kind that changes the amount; a scale word and another one.
_SWAPS = {"cents": "dollars", "kg": "g", "g": "kg", "minutes": "hours", "hours": "minutes", "hour": "minute",
          "million": "billion", "dozen": "", "km": "m"}
_SWAP = re.compile(r"(?<![A-Za-z])(cents|kg|g|minutes|hours|hour|million|dozen|km)(?![A-Za-z])")
# Triggers, and the same word in another sense put before the step instead.
_TRIGGERS = [(re.compile(p), other) for p, other in [
    (r"\s*≈", " ="), (r"= about", "="), (r", rounded to", " ="), (r", rounded up", ""), (r"Rounding down: ", ""),
    (r"floor\((.*?)\)", r"\1"), (r", with 1 remaining", ""), (r"\s*=\s*= ", " = ")]]
_OTHER_SENSES = ["Floor area: ", "At the round table, ", "About the budget, ", "The remaining 2 teams: ",
                 "Rounded up the cattle: "]
_LAST_NUMBER = re.compile(r"([0-9][0-9,]*(?:\.[0-9]+)?)(?!.*[0-9])")


def _off(step: str, by: int) -> str | None:
    """The step with its last number `by` units of its last digit off: 33.33 -> 33.34, 1,500 -> 1,501."""
    m = _LAST_NUMBER.search(step)
    if not m:
        return None
    digits = m.group(1).replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    value = round(float(digits) + by * 10 ** -decimals, decimals)
    return step[:m.start()] + (f"{value:.{decimals}f}" if decimals else f"{int(value):,}") + step[m.end():]


def mutants(steps: list[str]) -> list[list[str]]:
    """Wrong-but-plausible variants of a verified row (its last step changed)."""
    *head, last = steps
    out = [m for by in (-1, 1) if (m := _off(last, by)) is not None]
    for m in _SWAP.finditer(last):  # each unit in turn, to one the result is not written in
        if _SWAPS[m.group(0)] not in last[m.end():]:
            out.append(last[:m.start()] + _SWAPS[m.group(0)] + last[m.end():])
    for pattern, plain in _TRIGGERS:
        if pattern.search(last):
            bare = pattern.sub(plain, last, count=1)
            out += [sense + bare for sense in _OTHER_SENSES]
            break
    return [[*head, m] for m in out]


def all_mutants() -> list[tuple[int, list[str], str]]:
    """(reading index, mutant steps, question) for every verified row of every reading."""
    return [(k, m, question) for k, rows in enumerate(READING_ROWS) for steps, expected, question in rows
            if expected == V for m in mutants(steps)]
