"""The accepting readings: the only ways an equation is called "verified" (the safety surface of the filter).

    >>> [r.name for r in READINGS][:3]
    ['substitution', 'units read', 'exact']

`READINGS` is one ordered table: each row names a reading, says when it applies (its trigger, bounded to the
result or the question phrase it qualifies) and what it accepts, beside the small function that reads it:
(left, written, eq, solution) -> "verified" / "wrong" / "unverifiable" when its trigger is there, None when it
does not apply. arithmetic._compare tries the rows in order and the first answer decides; anything no row
accepts is wrong, or unverifiable where the reading of the text is a guess (a label, words as operands). A new
reading is a row and a function. tests/mutants.py checks that each accepts only its form.

Also here: the one equality rule (`numbers_match`) and the answer's readings (whole things, percent, approximate).
"""

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

from dataforge.exact import evaluate
from dataforge.tokens import _CURRENCY, _SCALE_WORDS, _UNIT_SCALES, Refused, Tok

__all__ = ["READINGS", "Reading", "Quantity", "numbers_match", "quantities_agree", "whole_answer", "asked_direction",
           "approximate_answer", "percent_answer", "proportion_for_percent", "scales_written"]


# ---------------------------------------------------------------- the equality rule

@dataclass(frozen=True, slots=True)
class Quantity:
    """A number as written: its exact value, the decimals written, and whether it was written with %."""
    value: Fraction
    decimals: int | None = 0  # digits after the point ("3.33 million": 2; "3.33e5": 2 - 5); None: not one number
    pct: bool = False
    scale: int = 1  # written with a scale word: 1.5 million -> 1,000,000
    unit: str = ""  # canonical unit written with it ("cent", "hour"), for conversions


def numbers_match(written: Quantity, exact: Fraction, approx: bool = False) -> bool:
    """The one equality rule: `written` equals `exact`, or is `exact` rounded to the decimals written.

    Rounding is judged on the written number alone (half a unit of its last written place), never
    widened by the operands. A whole number must be exact unless the text says it is approximate
    ('≈', 'about', 'rounded'). The x100 reading (25% for 0.25) is the caller's, where a % is written.
    """
    if written.value == exact:
        return True
    if written.decimals is None or (written.decimals == 0 and not approx):
        return False
    places = written.decimals + 2 * written.pct  # "80.5%" is 0.805: its last written place is the thousandth
    # half a unit of the last written place: 0.01 for "16.67", 10,000 for "3.33 million" (scale 10^6), 1,000 for "3.33e5"
    if places < 0:
        return abs(exact - written.value) * 2 <= written.scale * 10 ** -places
    return abs(exact - written.value) * 2 * 10 ** places <= written.scale


def quantities_agree(a: Quantity, b: Quantity, approx: bool = False, scales: set | None = None) -> bool:
    """Two written numbers (an answer and a step's result, or two answers) are the same number.

    Either may be the other rounded; a side written with % may be read as points (25% and 25); one with a scale word
    as counted in it, where the text counts in that scale (`scales`, from `scales_written`; None: any)."""
    for x, y in ((a, b), (b, a)):
        if numbers_match(x, y.value, approx):
            return True
        if x.scale != 1 and y.scale == 1 and (scales is None or x.scale in scales) and numbers_match(
                Quantity(x.value / x.scale, x.decimals), y.value, approx):
            return True  # "$16 million" and 16, where the question says "$32 million"
        if any(numbers_match(x, y.value * f, approx) for f in _conversion_factors(y.unit, x.unit)):
            return True  # the same amount in two written units (only units both sides name: _conversion_factors)
        if x.pct and numbers_match(Quantity(x.value * 100, x.decimals), y.value, approx):
            return True
        if y.pct and numbers_match(x, y.value * 100, approx):
            return True
    return False


def _conversion_factors(unit: str, to: str) -> list[Fraction]:
    """The factor from `unit` to `to` when both are in the table ('245 dollars' for '24500 cents'); an
    answer without a unit is not converted: 2,000 for a result of $20 is the x100 slip, not cents."""
    if unit not in _UNIT_SCALES or unit == "dozen":
        return []
    dimension, scale = _UNIT_SCALES[unit]
    return [Fraction(scale, other) for name, (dim, other) in _UNIT_SCALES.items()
            if dim == dimension and other != scale and name == to]


# ---------------------------------------------------------------- the readings, in the order they are tried

def units_read(left: Fraction, written: Quantity, eq, solution) -> str | None:
    mixed = _mixed_units(eq.lhs.tokens, eq.rhs.tokens)
    if mixed is None:
        return None
    dimension, form = mixed
    targets = _targets(eq.lhs.tokens, eq.rhs.tokens, dimension)
    if any((v := _value_in(eq.lhs.tokens, t, dimension)) is not None and numbers_match(written, v, eq.approx) for t in targets):
        return "verified"
    factored = any(_factor_written(eq.lhs.tokens, t, dimension) for t in targets)
    if factored and (numbers_match(written, left, eq.approx) or rounded_earlier(left, written, eq, solution) == "verified"):
        return "verified"  # the conversion is written out ('0.67 feet x 12 = 8 inches' after '2/3 = 0.67')
    if form == "change":
        return "wrong" if factored else "unverifiable"  # which unit the left side ends in is a guess, unless written out
    return "wrong" if dimension == "count" or _unit_of(eq.rhs.tokens, dimension) is not None else "unverifiable"


def exact(left: Fraction, written: Quantity, eq, solution) -> str | None:
    if written.value != left:
        return None
    lhs = eq.lhs.tokens
    if written.pct and (_times_hundred(lhs) or _hundred_less(lhs) or all(
            t.kind != "num" or solution.percents[t.value] and not t.pct for t in lhs)):
        return None  # '100 - 15 = 8500%', '0.2 * 100 = 2000%': a left side in points written as a percent again
    return "verified"


def rounded_at_place(left: Fraction, written: Quantity, eq, solution) -> str | None:
    return "verified" if written.decimals and numbers_match(written, left) else None


def approximate(left: Fraction, written: Quantity, eq, solution) -> str | None:
    if not (eq.approx and numbers_match(written, left, approx=True)):
        return None
    way = _direction_said(eq) if eq.rounds else None
    if way is not None and written.value != (math.ceil(left) if way == "up" else math.floor(left)):
        return None  # "4.25, rounded up to 4"
    return "verified"


def percent_points(left: Fraction, written: Quantity, eq, solution) -> str | None:
    lhs = eq.lhs.tokens
    nums = [t for t in lhs if t.kind == "num"]
    if written.unit in _CURRENCIES or any(t.unit in _CURRENCIES for t in nums):
        return None  # '$100 - $10 = $90%': money is not points

    def named(v: Fraction) -> bool:  # written with % elsewhere: this result's own % names nothing ('36 / 6 = 6%')
        return solution.percents[v] > (written.pct and v == written.value * 100)

    def in_points(k: int) -> bool:  # a named percentage, or a whole number that multiplies or divides one ('60 / 2')
        return named(lhs[k].value) or lhs[k].value.denominator == 1 and not any(
            0 <= j < len(lhs) and lhs[j].value in ("+", "-") for j in (k - 1, k + 1))  # '30 - 9 = 21%' adds a count

    if written.pct and numbers_match(Quantity(written.value * 100, written.decimals), left, eq.approx) and (
            _times_hundred(lhs) or _hundred_less(lhs) or (
                any(named(t.value) for t in nums) and all(in_points(k) for k, t in enumerate(lhs) if t.kind == "num")
                and not any(t.value == 100 and lhs[k - 1].value == "/" for k, t in enumerate(lhs) if k))):  # 40/100: a proportion
        return "verified"
    if not written.pct and nums and all(t.pct for t in nums) and numbers_match(written, left * 100, eq.approx):
        return "verified"
    return None


def scale_counted(left: Fraction, written: Quantity, eq, solution) -> str | None:
    nums = [t for t in eq.lhs.tokens if t.kind == "num"]
    if written.scale == 1 or any(t.scale != 1 for t in nums) or not any(
            (t.value, written.scale) in solution.scaled for t in nums):
        return None
    return "verified" if numbers_match(written, left * written.scale, eq.approx) else None


def rounded_as_said(left: Fraction, written: Quantity, eq, solution) -> str | None:
    if written.decimals != 0 or left.denominator == 1:
        return None
    direction = _direction_said(eq)
    if direction is None and eq is solution.final:
        direction = asked_direction(solution.question)  # "How many buses are needed?" ... "17 / 4 = 5 buses"
    if direction == "up" and written.value == math.ceil(left):
        return "verified"
    if (direction == "down" or _remainder_stated(eq, written.value)) and written.value == math.floor(left):
        return "verified"
    return None


def other_unit(left: Fraction, written: Quantity, eq, solution) -> str | None:
    if _rate_written_short(eq.lhs.tokens):
        return None  # '50 weeks x 5 days = 260 days': the numbers as written are the only reading, and the exact one failed
    return _converted(eq.lhs.tokens, eq.rhs.tokens, left, written, eq.approx)


def rounded_earlier(left: Fraction, written: Quantity, eq, solution) -> str | None:
    """Each decimal that is an earlier value written rounded (0.67 for 2/3, 8.33 for 25/3) put back to that value."""
    if not solution.rounded:
        return None

    def stands_for(t: Tok) -> Fraction | None:  # None for a number that is its own exact value (0.5 for 15/30)
        value, step = solution.rounded.get((t.value, t.decimals), (None, None)) if t.kind == "num" else (None, None)
        return value if (step is None or step == eq.step) and value != t.value else None

    def exact_tokens(tokens: list[Tok]) -> list[Tok]:
        return [Tok("num", t.text, v) if (v := stands_for(t)) is not None else t for t in tokens]

    lhs, rhs = exact_tokens(eq.lhs.tokens), exact_tokens(eq.rhs.tokens)
    if all(a is b for a, b in zip(lhs + rhs, eq.lhs.tokens + eq.rhs.tokens)):
        return None
    values = solution.values(eq.step)
    try:
        return "verified" if evaluate(lhs, values) == evaluate(rhs, values) else None
    except (Refused, ZeroDivisionError):
        return None


@dataclass(frozen=True)
class Reading:
    name: str
    when: str  # its trigger
    accepts: str
    read: Callable | None  # None: applied before the table (arithmetic._judge puts the values in)


READINGS = (
    Reading("substitution", "the solution binds an unknown (x = 29, or a linear equation in one unknown: 2x + 8 = 66), or"
            " uses a letter again for a new unknown (4x = 64, x = 16, then 7x = 56, x = 8)",
            "the values put in before the rows below; an identity in one unknown holds (x - 2(3) = x - 6)", None),
    Reading("units read", "the left side sums two units of one kind ('1 kg + 500 g', '$5 + 50 cents', '2 dozen eggs + 6"
            " eggs'), or the result names another unit of the left side's kind ('2 hours = 120 minutes')",
            "each quantity converted to the result's unit (to one of the left side's when it names none); or the"
            " numbers as written where each factor is written beside its quantity ('2 hours * 60 + 30 minutes = 150"
            " minutes'). Never the bare numbers: a sum that does not match is wrong when the result names a unit of"
            " that kind, a unit change that does not match unverifiable (wrong where each factor is written beside"
            " its quantity: '4 hours x 60 = 250 minutes')", units_read),
    Reading("exact", "always", "the two sides equal as fractions; not a % result of a left side in points ('100 - 15 ="
            " 8500%', '0.2 * 100 = 2000%', '25 - 5 = 2000%' after '25%' and '5%': the x100 slip)", exact),
    Reading("rounded at the written place", "the result is written with decimals",
            "within half a unit of its last written digit (16.67 for 50/3; of a percent in points: 80.5% is 0.805)",
            rounded_at_place),
    Reading("approximate where written", "'≈', '= about', 'is approximately', 'rounded to' at that result ('====' is"
            " '=')", "a whole number within a half of the exact value, the way it says ('rounded up to 5' for 4.25)",
            approximate),
    Reading("percent points", "a result with % from '... x 100', or from a bare 100 written first and taken from, added"
            " to or shared ('100 - 40 = 60%', '100 / 4 = 25%'), or from percentages the text names elsewhere than this"
            " result and whole numbers that multiply or divide them ('60 / 2 = 30%' after '60%'); a bare result from"
            " percentages only ('100% - 40% = 60'); never money",
            "the result read as points; not a proportion times a number ('0.4 * 50 = 20%', '(40/100) * 220 = 88%'),"
            " not '36 / 6 = 6%' or '30 - 9 = 21%'", percent_points),
    Reading("scale words", "a result with a scale word the left side lacks, and a left-side number the question or a"
            " step writes with that word ('$32 million')",
            "the left side counted in it ('32 / 2 = $16 million'); not '400,000 + 100,000 = 500,000 million'",
            scale_counted),
    Reading("ceiling or floor", "a whole-number result for a fraction, with 'rounded up/down' right after the result or"
            " right before the expression ('Rounding down: 17 / 4 = 4'), 'floor(...)', or the remainder of that"
            " division next to a remainder word after the result ('= 33 each, with 1 remaining'); at the solution's"
            " last equation, the way the question's asking sentence says ('needed', 'at least', 'enough': up; 'full',"
            " 'complete', 'can afford': down)", "that direction; a noun is no trigger ('Floor area', 'the remaining 2 teams')",
            rounded_as_said),
    Reading("unit conversion", "the result names another unit the table knows (cents/dollars, seconds to weeks, g/kg,"
            " mm to km, ml/l, dozens, inches to miles, cups to gallons, months/years)", "the exact factor ('20 x 45 cents = $9'); unverifiable when it does not match; not a rate written short"
            " ('50 weeks x 5 days = 260 days' is wrong: 5 days a week)",
            other_unit),
    Reading("a rounded earlier value", "a decimal written as an earlier step's rounded result ('25 / 3 = 8.33'), or a"
            " fraction's rounding in the same step's chain ('120 x 2/3 = 120 x 0.67')",
            "that number standing for that exact value, and for no other ('1/3 * 90 = 30' then '0.3 * 60 = 20' is"
            " wrong)", rounded_earlier),
)


# ---------------------------------------------------------------- what the readings look at

def _mixed_units(lhs: list[Tok], rhs: list[Tok]) -> tuple[str, str] | None:
    """(kind, "sum") when the left side holds two units of one kind ('1 kg + 500 g'), or dozens the result does not
    count in ('2 dozen eggs + 6 eggs = 30 eggs'); (kind, "change") when the result names another unit of the left
    side's one kind ('2 hours = 120 minutes'); None otherwise, or for a rate ('25 days * 8 hours/day': a rate already
    changes the unit)."""
    units = [t.unit for t in lhs if t.kind == "num" and t.unit]
    if not units or any("/" in u for u in units):
        return None
    adds = any(t.kind == "op" and t.value in "+-" for t in lhs)
    if "dozen" in units and not any(t.unit == "dozen" for t in rhs):
        return ("count", "sum") if adds else None  # a product ('5 dozen * $2.40') is other_unit's
    scales: dict = {}
    for u in units:
        if u in _UNIT_SCALES and u != "dozen":
            dimension, scale = _UNIT_SCALES[u]
            scales.setdefault(dimension, set()).add(scale)
    for dimension, found in scales.items():
        if len(found) > 1:  # a sum across units; a product ('50 weeks x 5 days') is a rate written short
            return (dimension, "sum") if adds and not _rate_written_short(lhs) else None
        if (target := _unit_of(rhs, dimension)) is not None and target not in found:
            return dimension, "change"
    return None


def _rate_written_short(lhs: list[Tok]) -> bool:
    """'50 weeks x 5 days': two quantities with units multiplied or divided, the second a rate written short (5 days a
    week)."""
    return any(a.kind == c.kind == "num" and b.kind == "op" and b.value in "*/" and a.unit and c.unit
               for a, b, c in zip(lhs, lhs[1:], lhs[2:]))


def _factor_written(tokens: list[Tok], target: int, dimension: str) -> bool:
    """Is each quantity not in the target unit multiplied by its factor right beside it ('2 hours * 60')?"""
    for k, t in enumerate(tokens):
        if t.kind == "num" and t.unit in _UNIT_SCALES and _UNIT_SCALES[t.unit][0] == dimension:
            factor = Fraction(_UNIT_SCALES[t.unit][1], target)
            if factor != 1 and not any(0 <= k + 2 * d < len(tokens) and tokens[k + 2 * d].kind == "num" and (
                    (tokens[k + d].value == "*" and tokens[k + 2 * d].value == factor)
                    or (d == 1 and tokens[k + d].value == "/" and tokens[k + 2 * d].value == 1 / factor)) for d in (1, -1)):
                return False  # "2 hours * 60", "60 x 2 hours", "45 minutes / 60"
    return True


def _unit_of(tokens: list[Tok], dimension: str) -> int | None:
    """The scale of the first unit of that kind a side names ('1,500 g' -> 1), or None."""
    for t in tokens:
        if t.kind == "num" and t.unit in _UNIT_SCALES and _UNIT_SCALES[t.unit][0] == dimension and t.unit != "dozen":
            return _UNIT_SCALES[t.unit][1]
    return None


def _targets(lhs: list[Tok], rhs: list[Tok], dimension: str) -> set:
    """The units a mixed sum may be counted in: the result's, or, when it names none, each of the left side's."""
    if dimension == "count":
        return {1}
    if (unit := _unit_of(rhs, dimension)) is not None:
        return {unit}
    return {_UNIT_SCALES[t.unit][1] for t in lhs if t.kind == "num" and t.unit in _UNIT_SCALES
            and _UNIT_SCALES[t.unit][0] == dimension}


def _converted_tokens(tokens: list[Tok], target: int, dimension: str) -> list[Tok]:
    """The tokens with each quantity of that kind written in the target unit: '1 kg + 500 g' -> 1000 + 500 (in g)."""
    out = []
    for t in tokens:
        if t.kind == "num" and t.unit in _UNIT_SCALES and _UNIT_SCALES[t.unit][0] == dimension:
            t = Tok("num", t.text + " " + t.unit if t.unit == "dozen" else t.text, t.value * Fraction(_UNIT_SCALES[t.unit][1], target))
        out.append(t)
    return out


def _value_in(tokens: list[Tok], target: int, dimension: str) -> Fraction | None:
    try:
        return evaluate(_converted_tokens(tokens, target, dimension))
    except (Refused, ZeroDivisionError):
        return None


_CURRENCIES = set(_CURRENCY.values())


def _hundred(lhs: list[Tok], k: int) -> bool:
    """Is lhs[k] the 100 of points: a bare number, not a divisor ('40/100 * 220' is a proportion), not a quantity
    ('100 chairs/day', '$100')?"""
    t = lhs[k]
    return t.kind == "num" and t.value == 100 and not t.unit and not t.pct and not (k and lhs[k - 1].value == "/")


def _hundred_less(lhs: list[Tok]) -> bool:
    """'100 - 40 = 60%', '(100 + 20) = 120%', '100 / 4 = 25%': points taken from, added to or shared out of the whole,
    which is written first."""
    k = 1 if lhs and lhs[0].kind == "lp" else 0
    return len(lhs) > k + 2 and _hundred(lhs, k) and lhs[k + 1].value in ("+", "-", "/")


def _times_hundred(lhs: list[Tok]) -> bool:
    return len(lhs) > 2 and ((_hundred(lhs, len(lhs) - 1) and lhs[-2].value == "*") or (_hundred(lhs, 0) and lhs[1].value == "*"))


_DIRECTION_WORDS = {"up", "down"}
_ROUNDING_VERBS = {"round", "rounded", "rounding", "rounds"}
_FUNCTIONS = {"ceil": "up", "ceiling": "up", "lceil": "up", "floor": "down", "lfloor": "down"}  # floor(17 / 4)


def _direction_said(eq) -> str | None:
    """'up' / 'down' where the words next to the equation ask for it (see rounded_as_said), else None."""
    if eq.way:
        return eq.way  # "= 4.25, rounded up to 5"
    words = [t.value for t in eq.after if t.kind == "word"]
    for a, b in zip(words, words[1:]):
        if a in _ROUNDING_VERBS and b in _DIRECTION_WORDS:
            return b
    before = [t for t in eq.before if t.kind != "sep"]
    if len(before) >= 2 and before[-2].value in _ROUNDING_VERBS and before[-1].value in _DIRECTION_WORDS:
        return before[-1].value  # "Rounding up: 17 / 4 = 5"
    if before and before[-1].kind == "word" and before[-1].value in _FUNCTIONS and eq.lhs.tokens[0].kind == "lp" \
            and eq.lhs.tokens[0].glued:
        return _FUNCTIONS[before[-1].value]  # "floor(17 / 4) = 4"
    return None


_REMAINDER_WORDS = ("remain", "left")  # remaining, remains, left over, leftover


def _remainder_stated(eq, quotient: Fraction) -> bool:
    """'100 / 3 = 33, with 1 remaining': floor division, when the words after the result give the remainder
    (a number next to a remainder word: '1 remaining', '1 left over', 'remainder 1', 'r 1')."""
    lhs = eq.lhs.tokens
    if not (len(lhs) == 3 and lhs[1].value == "/" and lhs[0].kind == lhs[2].kind == "num"):
        return False
    remainder = lhs[0].value - lhs[2].value * quotient
    after = eq.after
    for k, t in enumerate(after):
        if t.kind != "num" or t.value != remainder or remainder <= 0:
            continue
        near = [t.unit] + [u.value for u in after[max(0, k - 2):k + 3] if u.kind == "word"]
        if any(str(w).startswith(_REMAINDER_WORDS) or w in ("remainder", "r") for w in near):
            return True
    return False


def _converted(lhs: list[Tok], rhs: list[Tok], left: Fraction, written: Quantity, approx: bool) -> str | None:
    """A unit change across '=' ('20 x 45 cents = $9', '1 hour / 2 = 30 minutes', '3 weeks = 3 weeks x 7
    days/week'): verified when the exact conversion matches, unverifiable when it does not (which unit
    the left side ends in is a guess); None when no known conversion applies."""
    targets = {t.unit.split("/")[0] for t in rhs if t.kind == "num" and t.unit} or {""}
    sources = {t.unit for t in lhs if t.kind == "num" and t.unit}
    if any("/" in unit for unit in sources):
        return None  # "25 days * 8 hours/day": a rate already changes the unit
    if "dozen" in sources and "dozen" not in targets:  # a scale word, exact: "2/3 * 2 dozen cups" is 16
        return "verified" if numbers_match(written, evaluate(_dozens_counted(lhs)), approx) else "wrong"
    applies = False
    for unit in sources:
        for target in targets - {unit}:
            if unit in _UNIT_SCALES and target in _UNIT_SCALES and _UNIT_SCALES[unit][0] == _UNIT_SCALES[target][0]:
                factor = Fraction(_UNIT_SCALES[unit][1], _UNIT_SCALES[target][1])
            else:
                continue
            applies = True
            if numbers_match(written, left * factor, approx):
                return "verified"
    return "unverifiable" if applies else None


def _dozens_counted(tokens: list[Tok]) -> list[Tok]:
    return [Tok("num", t.text + " dozen", t.value * 12) if t.kind == "num" and t.unit == "dozen" else t for t in tokens]


# ---------------------------------------------------------------- answers

_ASKS_DECIMAL = re.compile(r"\bas a (?:decimal|fraction)\b|\bdecimal form\b|\bwhat fraction\b", re.I)  # "the percentage ... as a decimal"


_ASKS_PERCENT = re.compile(r"\b(?:what|which|how many) (?:percent|percentage)\b|\bas a percent|\bpercentage of\b|"
                           r"\bin percent|\b(?:the|a) percentage\b", re.I)


# Whole things, and which way to round to them, as the question asks: "how many full boxes" (the partial one is
# not one: down), "how many buses are needed" (the partial one needs one more: up); "whole packs" alone says no way.
_ASKS_DOWN = re.compile(r"\b(?:full|complete|entire)\s+[a-z]+s\b|\bafford\b", re.I)


_ASKS_UP = re.compile(r"\bneed(?:s|ed)?\b|\bat least\b|\benough\b|\brequired\b|\bmust\b|\bminimum\b", re.I)


_ASKS_WHOLE = re.compile(r"\bwhole (?:numbers?|[a-z]+s)\b", re.I)  # "only buy whole packs"; not "the whole city"


_SAYS_ROUNDED = re.compile(r"\bround(?:ed|ing|s)?\s+(up|down)\b", re.I)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def asked_direction(question: str) -> str | None:
    """'down' for 'how many full boxes', 'can she afford'; 'up' for 'needed', 'at least', 'enough'; None for neither
    or both. Only the sentence that asks (the last with '?', else the last): 'catches enough fish' in the story asks
    no way of rounding."""
    sentences = _SENTENCE_END.split(question.strip())
    asks = next((s for s in reversed(sentences) if "?" in s), sentences[-1])
    down, up = bool(_ASKS_DOWN.search(asks)), bool(_ASKS_UP.search(asks))
    return None if down == up else "down" if down else "up"


def whole_answer(question: str, answer: Quantity, result: Quantity, said: str = "") -> bool:
    """The question asks for whole things and the answer is the result rounded the way it asks: down for 'full',
    'complete', 'can afford' (4 full boxes for 4.5), up for 'needed', 'at least', 'enough' (7 packs for 6.75);
    otherwise, or when it asks both ways, the way `said` (the answer and the last step) writes: 'rounded up'."""
    v = result.value
    if v.denominator == 1 or answer.decimals != 0 or answer.value not in (math.floor(v), math.ceil(v)):
        return False
    if (direction := asked_direction(question)) is None:
        m = _SAYS_ROUNDED.search(said)
        if not (m and (_ASKS_DOWN.search(question) or _ASKS_WHOLE.search(question))):
            return False
        direction = m.group(1).lower()
    return answer.value == (math.floor(v) if direction == "down" else math.ceil(v))


_APPROX_ANSWER = re.compile(r"(?:\b(?:about|approximately|approx|roughly|around|nearly|almost)\b\.?|[≈~])\s*[$€£]?\s*-?\.?[0-9]"
                            r"|[0-9][^0-9=]{0,30}?\b(?:rounded|approximately|approx)\b", re.I)


_SCALE_WRITTEN = re.compile(r"[0-9]\s*(thousand|million|billion|trillion|k)\b", re.I)


def scales_written(text: str) -> set:
    """The scales a text counts in: {10**6} for '$32 million'; an answer of '16 million' for a result of 16 needs one."""
    return {_SCALE_WORDS[m.lower()] for m in _SCALE_WRITTEN.findall(text)}


def approximate_answer(answer: str) -> bool:
    """Does the answer say its number is approximate: a word right before it ('about 4', '≈ 4.3') or 'rounded' just
    after it ('4 km (rounded)')? Not a word elsewhere: '4 km per round trip', 'about the budget'."""
    return bool(_APPROX_ANSWER.search(answer))


def proportion_for_percent(question: str, answer: Quantity, result: Quantity) -> bool:
    """The question asks for a percent, the last step gives it in points (10%), and the answer is the proportion
    (0.1): read as a percent, that answer is 0.1%, the x100 slip."""
    return bool(result.pct and not answer.pct and answer.value == result.value and _ASKS_PERCENT.search(question)
                and not _ASKS_DECIMAL.search(question))


def percent_answer(question: str, answer: Quantity, result: Quantity) -> bool:
    """The question asks for a percent and the answer is the result in points: 0.1 -> 10 ('what percent...')."""
    return (bool(_ASKS_PERCENT.search(question)) and not answer.pct and abs(result.value) <= 1
            and numbers_match(answer, result.value * 100))  # a proportion, not points: 80 for 8,000 is the x100 slip
