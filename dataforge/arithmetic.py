"""Tokens -> verdict: exact checking of the arithmetic in reasoning steps, the way people and models write it.

    >>> check_step("Natalia sold 48/2 = 24 clips in May.").status
    'verified'
    >>> check_steps(["2x + 8 = 66", "x = 30"])[1].wrong
    ['says x = 30, but x = 29 (from step 1: 2x + 8 = 66)']

Read top to bottom: the tokens of each step (tokens.py: `plain_text` -> `tokenize` -> one pass per
form) -> `equations` (the expression on each side of every '=')
-> an exact parser over fractions -> one equality rule, `numbers_match`. Values a solution binds
(`x = 29`, or a linear equation in one unknown) are substituted into the equations that use them.
Nothing is ever executed; hostile input (deep nesting, huge powers, long numbers) is refused quickly.
"""

import math
import re
from dataclasses import dataclass, field
from decimal import Context, Decimal
from fractions import Fraction

from dataforge.schema import MAX_STEP_CHARS
from dataforge.tokens import (_MONEY_UNITS, _UNIT_SCALES, APPROX_TEXT, MAX_NUMBER_DIGITS, Refused, Tok,
                              declared_variables, exact_decimal, plain_text, stated_numbers, step_tokens, tokenize)

__all__ = ["ACCEPTING_READINGS", "Quantity", "StepCheck", "check_step", "check_steps", "numbers_match",
           "quantities_agree", "parse_number", "written_result", "percent_answer", "proportion_for_percent", "whole_answer", "approximate_answer",
           "evaluate", "shown_number", "APPROX_TEXT", "exact_decimal", "plain_text", "Refused"]

MAX_DEPTH = 60
MAX_POWER_BITS = 4096  # refuse a power whose result would need more bits than this
MAX_CARRIED = 64  # exact values a later step may write rounded; a real solution has a few


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
    # half a unit of the last written place: 0.01 for "16.67", 10,000 for "3.33 million" (scale 10^6), 1,000 for "3.33e5"
    if written.decimals < 0:
        return abs(exact - written.value) * 2 <= written.scale * 10 ** -written.decimals
    return abs(exact - written.value) * 2 * 10 ** written.decimals <= written.scale


def quantities_agree(a: Quantity, b: Quantity, approx: bool = False) -> bool:
    """Two written numbers (an answer and a step's result, or two answers) are the same number.

    Either may be the other rounded; a side written with % may be read as points (25% and 25)."""
    for x, y in ((a, b), (b, a)):
        if numbers_match(x, y.value, approx):
            return True
        if x.scale != 1 and y.scale == 1 and numbers_match(Quantity(x.value / x.scale, x.decimals), y.value, approx):
            return True  # "$16 million" and 16
        if any(numbers_match(x, y.value * f, approx) for f in _conversion_factors(y.unit, x.unit)):
            return True  # the same amount in two written units (only units both sides name: _conversion_factors)
        if x.pct and numbers_match(Quantity(x.value * 100, x.decimals), y.value, approx):
            return True
        if y.pct and numbers_match(x, y.value * 100, approx):
            return True
    return False


# ---------------------------------------------------------------- equations

_MATH = ("num", "op", "lp", "rp", "sqrt", "var")


@dataclass
class Side:
    tokens: list
    unknown: bool  # a word is an operand, or it is a label: the equation cannot be checked
    label: bool = False  # "Commission for the first $1000 = ...": a lone number named by prose
    whole: bool = False  # the side is all of its segment: a value a continuation line or a name may carry
    prose: str = ""  # what a left side was cut from: "num" in "Ali has 4 $10 bills = ...", "word" in "Cost of 2 ..."


def _side(tokens: list[Tok], from_end: bool) -> Side:
    """The expression at the end (left of '=') or start (right of '=') of a segment."""
    order = range(len(tokens) - 1, -1, -1) if from_end else range(len(tokens))
    span: list[Tok] = []
    stop = None  # index of the token that ended the expression
    for k in order:
        t = tokens[k]
        if t.kind not in _MATH or (span and (_adjacent_operands(t, span[-1]) if from_end else _adjacent_operands(span[-1], t))):
            stop = k
            break
        span.append(t)
    if from_end:
        span.reverse()
    unknown = stop is not None and tokens[stop].kind == "gap"
    # trim what cannot begin (or end) an expression; a dropped binary operator means a word was its operand
    ops = "+*/^" if from_end else "+-*/^"
    while span:
        edge = span[0] if from_end else span[-1]
        if edge.kind == "op" and edge.value in ops:
            unknown = True
        elif not (edge.kind == "rp" if from_end else edge.kind == "lp"):
            break
        elif edge.glued and not from_end:
            unknown = True  # "1 = .05(Number of minutes)": words in brackets are a factor
        span = span[1:] if from_end else span[:-1]
    span = _balanced(span)
    label = False
    whole = stop is None and not unknown and bool(span)
    prose = tokens[stop].kind if from_end and stop is not None and tokens[stop].kind in ("word", "num") else ""
    if from_end and span and stop is not None and tokens[stop].kind == "word":
        if len(span) > 1 and span[0].kind == "op" and span[0].value == "-" and not span[1].glued:
            unknown = True  # "apples - 26 = 10": the minus is binary, its left operand a word
        elif _operator_before_words(tokens, stop):
            unknown = True  # "Week 1 + Week 2 = 70", "20 + 10 decorations to the 29 + 24 = 83": words are operands
        elif len(span) == 1 and span[0].kind == "num":
            label = True
    return Side(span, unknown, label, whole, prose)


def _operator_before_words(tokens: list[Tok], k: int) -> bool:
    """Is the word at k (one of at most two) an operand: 'Week 1 + Week 2', '+ 10 decorations to the 29'?"""
    words = 0
    while k >= 0 and tokens[k].kind == "word" and words < 2:
        k, words = k - 1, words + 1
    if k >= 0 and tokens[k].kind == "num" and tokens[k].unit and k > 0 and tokens[k - 1].kind == "op" and tokens[k - 1].value in "+-":
        return True  # a sum that runs on through prose
    return k >= 0 and tokens[k].kind == "op" and tokens[k].text != "of"  # (not "half of", "15% of")


def _adjacent_operands(left: Tok, right: Tok) -> bool:
    """Two operands side by side with no operator between: where one expression ends ('In 2023 100 / 4',
    '80% (8 / 10) x 100'). Glued ones multiply: 4(7), 2x, (2)(3)."""
    if left.kind in ("num", "var") and right.kind == "num":
        return True
    return left.kind in ("num", "var", "rp") and right.kind in ("lp", "var", "sqrt") and not right.glued


def _balanced(span: list[Tok]) -> list[Tok]:
    """Drop brackets left open at the edges: 'Total (5 * 3 = 15)' checks 5 * 3 = 15."""
    opened = sum(1 for t in span if t.kind == "lp") - sum(1 for t in span if t.kind == "rp")
    while opened > 0 and span and span[0].kind == "lp":
        span, opened = span[1:], opened - 1
    while opened < 0 and span and span[-1].kind == "rp":
        span, opened = span[:-1], opened + 1
    return span


@dataclass
class Equation:
    lhs: Side
    rhs: Side
    approx: bool  # '≈', '= about', 'rounded to': the right side may be the left rounded
    step: int  # which step it is in
    first: bool = True  # the first '=' of its step
    chained: bool = False  # another '=' follows: "a = b = c"
    rounds: bool = False  # "4.25, rounded up to 5": the same number rounded, not a new quantity
    way: str = ""  # "rounded up to 5": "up"
    before: list = field(default_factory=list)  # the tokens of its segment before the left side: "Rounding up:"
    after: list = field(default_factory=list)  # and after the right side: "buses, with 1 remaining"

    @property
    def text(self) -> str:  # for messages
        return f"{_text(self.lhs.tokens)} = {_text(self.rhs.tokens)}"


def equations(plain: str, index: int = 0, variables: set = frozenset(), carried: tuple = ("", None)) -> tuple[list, tuple]:
    """Every 'a = b' of a step (as plain_text gives it), as the expressions next to each '='; and what the
    next step may carry on from: (the name the step starts with, the value it ends on when that is a whole
    expression). A step that begins with '=' continues the last one ('Total = 36 + 48' then '= 84'); a step
    that gives the same name a lone number ('Volume = 6 * 4 * 5' then 'Volume = 120') states its value.
    A name before an expression is a label, not a value: 'Remaining cookies = 15 - 2'."""
    toks = step_tokens(plain, variables)
    if "(" in plain:
        toks = _without_restatements(toks)
    cuts = [k for k, t in enumerate(toks) if t.kind == "eq"]
    segments = [toks[a + 1:b] for a, b in zip([-1, *cuts], [*cuts, len(toks)])]
    approx = [bool(toks[k].value) for k in cuts]
    name, value = carried
    if value is not None and segments[0][:1] and segments[0][0].kind == "op" and segments[0][0].value == "+":
        segments[0] = value.tokens + segments[0]
    out = []
    for k in range(len(segments) - 1):
        lhs, rhs = _side(segments[k], from_end=True), _side(segments[k + 1], from_end=False)
        if k == 0 and value is not None and (not segments[0] or (
                name and _name(segments[0]) == name and _written_number(rhs.tokens) and rhs.whole)):
            lhs = value  # "= 84" after "Total cost = 36 + 48"; "Volume = 120" after "Volume = 6 * 4 * 5"
        if k == 0 and _trial(lhs, segments[1]):
            continue  # "n = 1: 1 + 2 = 3", "n = 2: ...": trying cases, not binding n
        if lhs.tokens and rhs.tokens:  # else a label or a word: "Total = 36", "D2 = ..."
            out.append(Equation(lhs, rhs, approx[k], index, first=k == 0, chained=k + 2 < len(segments),
                                rounds=toks[cuts[k]].text.startswith("rounded "),
                                way=next((w for w in ("up", "down") if f" {w} " in toks[cuts[k]].text), ""), before=_before(segments[k], lhs.tokens[0]),
                                after=_after(segments[k + 1], rhs.tokens[-1])))
    last = _side(segments[-1], from_end=False) if len(segments) > 1 else None
    carry = last if last is not None and last.whole else None
    return out, (_name(segments[0]) or (name if not segments[0] else ""), carry)


def _before(segment: list[Tok], first: Tok) -> list[Tok]:
    k = next((k for k, t in enumerate(segment) if t is first), 0)
    return segment[max(0, k - 4):k]  # a trigger qualifies the expression it stands right before


def _after(segment: list[Tok], last: Tok) -> list[Tok]:
    k = next((k for k, t in enumerate(segment) if t is last), len(segment))
    return segment[k + 1:k + 9]  # "= 33 stickers each, with 1 remaining": a few words after the result


def _without_restatements(toks: list[Tok]) -> list[Tok]:
    """'x 3 (30 minutes / 10 minutes) = 6': a bracket of quantities with units after a number, that works that
    number out, says where it came from; it is not a factor."""
    out, i = [], 0
    while i < len(toks):
        t = toks[i]
        out.append(t)
        i += 1
        if t.kind != "num" or i >= len(toks) or toks[i].kind != "lp" or toks[i].glued:
            continue
        depth, j = 0, i
        while j < len(toks) and (depth := depth + (toks[j].kind == "lp") - (toks[j].kind == "rp")) > 0:
            j += 1
        inner = toks[i + 1:j]
        if j < len(toks) and any(u.kind == "num" and u.unit for u in inner):
            try:
                if evaluate(inner) == t.value:
                    i = j + 1
            except (Refused, ZeroDivisionError):
                pass
    return out


def _trial(lhs: Side, segment: list[Tok]) -> bool:
    return (len(lhs.tokens) == 1 and lhs.tokens[0].kind == "var" and len(segment) > 1 and segment[0].kind == "num"
            and segment[1].text == ":")


def _name(segment: list[Tok]) -> str:
    """'Susan's weight' in "Susan's weight = 150 pounds - 20 pounds": a few words and nothing else."""
    if 0 < len(segment) <= 6 and all(t.kind == "word" for t in segment):
        return " ".join(t.value for t in segment)
    return ""




# ---------------------------------------------------------------- parser

class _Parser:
    def __init__(self, toks: list[Tok]):
        self.toks, self.i, self.depth = toks, 0, 0

    def peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def parse(self) -> Fraction:
        value = self.expr()
        if self.i != len(self.toks):
            raise Refused("trailing tokens")
        return value

    def expr(self) -> Fraction:
        value = self.term()
        while (t := self.peek()) is not None and t.kind == "op" and t.value in "+-":
            self.i += 1
            value = _apply(t.value, value, self.term())
        return value

    def term(self) -> Fraction:
        value = self.unary()
        while (t := self.peek()) is not None:
            if t.kind == "op" and t.value in "*/":
                self.i += 1
                value = _apply(t.value, value, self.unary())
            elif t.kind in ("lp", "sqrt") or (t.kind == "num" and self.toks[self.i - 1].kind == "rp"):
                value *= self.unary()  # implicit multiplication: 4(7), (2)(3), (5)3, 2x once x is known
            else:
                break
        return value

    def unary(self) -> Fraction:
        t = self.peek()
        if t is not None and t.kind == "sqrt":
            self.i += 1
            self._enter()
            value = self.unary()
            self.depth -= 1
            return _exact_sqrt(value)
        if t is not None and t.kind == "op" and t.value in "+-":
            self.i += 1
            self._enter()
            value = self.unary()
            self.depth -= 1
            return -value if t.value == "-" else value
        return self.power()

    def power(self) -> Fraction:
        base = self.atom()
        t = self.peek()
        if t is not None and t.kind == "op" and t.value == "^":
            self.i += 1
            self._enter()
            exp = self.unary()
            self.depth -= 1
            return _exact_power(base, exp)
        return base

    def atom(self) -> Fraction:
        t = self.peek()
        if t is None:
            raise Refused("expression ends early")
        if t.kind == "num":
            self.i += 1
            return t.value
        if t.kind == "lp":
            self.i += 1
            self._enter()
            value = self.expr()
            self.depth -= 1
            if (close := self.peek()) is None or close.kind != "rp":
                raise Refused("unbalanced brackets")
            self.i += 1
            return value
        raise Refused(f"unexpected {t.text!r}")

    def _enter(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Refused("nested too deeply")


def _exact_power(base: Fraction, exp: Fraction) -> Fraction:
    if exp.denominator != 1 or abs(exp) > 1000:
        raise Refused("exponent not a small integer")
    bits = max(Fraction(base).numerator.bit_length(), Fraction(base).denominator.bit_length())
    if bits * abs(exp) > MAX_POWER_BITS:
        raise Refused("power too large")
    if base == 0 and exp < 0:
        raise ZeroDivisionError
    return Fraction(base) ** int(exp)  # an int base to a negative power would give a float


def _exact_sqrt(v: Fraction) -> Fraction:
    if v < 0:
        raise Refused("square root of a negative number")
    v = Fraction(v)
    num, den = math.isqrt(v.numerator), math.isqrt(v.denominator)
    if num * num != v.numerator or den * den != v.denominator:
        raise Refused("irrational square root")
    return Fraction(num, den)


def _apply(op: str, a: Fraction, b: Fraction) -> Fraction:
    """a op b for + - * /, exactly."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise ZeroDivisionError
    return Fraction(a, b)


def evaluate(tokens: list[Tok], bindings: dict | None = None) -> Fraction:
    """The exact value of a token list; Refused or ZeroDivisionError when it has none."""
    if len(tokens) == 1 and tokens[0].kind == "num":
        return tokens[0].value  # most right-hand sides: no parser needed
    if (len(tokens) == 3 and tokens[0].kind == "num" and tokens[2].kind == "num" and tokens[1].kind == "op"
            and tokens[1].value in "+-*/"):
        return _apply(tokens[1].value, tokens[0].value, tokens[2].value)  # "48 / 2": the commonest left-hand side
    if len(tokens) > 400:
        raise Refused("expression too long")
    return _Parser(_substituted(tokens, bindings or {})).parse()


def _substituted(tokens: list[Tok], bindings: dict) -> list[Tok]:
    """Variables replaced by their values, in brackets so that 2x is 2(29)."""
    if not any(t.kind == "var" for t in tokens):
        return tokens
    out = []
    for t in tokens:
        if t.kind != "var":
            out.append(t)
        elif t.value in bindings:
            out += [Tok("lp", "("), Tok("num", t.text, bindings[t.value]), Tok("rp", ")")]
        else:
            raise Refused(f"unknown {t.text}")
    return out


def _linear_root(eq: Equation, name: str, bindings: dict) -> Fraction | None:
    """The one value of `name` that makes a linear equation true, or None (not linear, or no single root)."""
    f = []
    for v in (0, 1, 2, 3):
        try:
            trial = {**bindings, name: Fraction(v)}
            f.append(evaluate(eq.lhs.tokens, trial) - evaluate(eq.rhs.tokens, trial))
        except (Refused, ZeroDivisionError):
            return None
    slope = f[1] - f[0]
    if slope == 0 or f[2] - f[1] != slope or f[3] - f[2] != slope or f[0] == 0:
        return None  # f[0] == 0: the root would be 0 ('0.45x + 0.1155x = 0.28x'), which makes every x-equation true
    return -f[0] / slope


# ---------------------------------------------------------------- verdicts

# The accepting readings: the only ways an equation is called "verified" (the safety surface of the filter), in the
# order they are tried: each says when it applies (its trigger, bounded to the result or the question phrase it
# qualifies) and what it accepts. tests/test_arithmetic.py has rows for each, and tests/mutants.py checks that each
# accepts only its form. Anything else that fails is wrong, or unverifiable where the reading of the text is a guess
# (a label, a unit change the table does not know, words as operands).
ACCEPTING_READINGS = (
    "units read (_units_read) -- when: the left side sums two units of one kind ('1 kg + 500 g', '$5 + 50 cents',"
    " '2 dozen eggs + 6 eggs'); accepts: the sum with each term converted to the result's unit (1,500 g), or the"
    " numbers as written when the left side writes the factor ('2 hours * 60 + 30 minutes = 150 minutes')",
    "exact (_numbers_equal) -- when: always; accepts: the two sides equal as fractions",
    "rounded at the written place (_numbers_equal) -- when: the result has decimals; accepts: within half a unit of its"
    " last written digit (16.67 for 50/3)",
    "approximate where written (_numbers_equal) -- when: '≈', '= about', 'is approximately', 'rounded to' at that"
    " result; accepts: a whole number within a half",
    "percent points (_percent_points) -- when: '... x 100 = 80%', or 100 on the left ('100 - 40 = 60%'), or named"
    " percentages and whole numbers ('60 / 2 = 30%' after '60%'), or percentages only on the left ('100% - 40% = 60');"
    " accepts: the result read as points; not a proportion times a number ('0.4 * 50 = 20%')",
    "scale words (_scale_counted) -- when: the result has a scale word the left side lacks, and a left-side number is"
    " written with that word in the question or a step ('$32 million'); accepts: the left side counted in it"
    " ('32 / 2 = $16 million')",
    "ceiling or floor (_rounded_as_said) -- when: 'rounded up/down' right after the result or right before the"
    " expression, 'floor(...)', or the remainder of that division stated next to a remainder word after the result"
    " ('= 33 each, with 1 remaining'), or, at the solution's last equation, the question's way ('needed', 'at least',"
    " 'enough': up; 'full', 'complete', 'can afford': down); accepts: that direction",
    "unit conversion (_other_unit) -- when: the result names another unit of the left side's kind; accepts: the exact"
    " factor ('20 x 45 cents = $9', '2 hours = 120 minutes')",
    "a rounded earlier value (_exact_reading) -- when: a decimal written as the rounded result of an earlier step"
    " ('25 / 3 = 8.33'), or a fraction's rounding in the same step's chain ('120 x 2/3 = 120 x 0.67'); accepts: that"
    " number standing for that exact value, and no other",
    "substitution (_bind, _identity) -- when: the solution binds an unknown (x = 29, 2x + 8 = 66), or uses a letter"
    " again for a new unknown (4x = 64, x = 16, then 7x = 56, x = 8); accepts: the values put in; an identity in one"
    " unknown holds",
)


@dataclass
class StepCheck:
    verified: int = 0  # equations checked and right
    wrong: list = field(default_factory=list)  # messages for equations checked and wrong
    result: Quantity | None = None  # the number the step ends on (right side of its last '='), as written
    result_approx: bool = False  # and it was written as approximate: '≈ 4', '= about 4', 'rounded to 4'
    operands: list = field(default_factory=list)  # numbers the step's equations start from
    contradicts: list = field(default_factory=list)  # equations false for the values the solution reaches later

    @property
    def status(self) -> str:
        return "wrong" if self.wrong else "verified" if self.verified else "unverifiable"


_MAY_SCALE_WORD = re.compile(r"[0-9]\s*(?:k\b|thousand|million|billion|trillion)", re.I)
_PERCENT_WRITTEN = re.compile(r"([0-9][0-9,]*(?:\.[0-9]+)?)\s*(?:%|percent\b|per cent\b)", re.I)


@dataclass
class _Solution:
    """What the equations of one solution share: the values it binds, and the percentages it names."""
    steps: list
    percents: set  # numbers written as percentages in the question or any step: 40 in "40% off"
    bindings: dict = field(default_factory=dict)  # name -> value, for every step
    local: dict = field(default_factory=dict)  # step -> {name: value}: a step that solves its own x
    defined_by: dict = field(default_factory=dict)  # name or (step, name) -> the equation that gave the value
    rounded: dict = field(default_factory=dict)  # (8.33, 2) -> (25/3, step or None): a rounded value and what it stands for
    question: str = ""
    final: object = None  # the solution's last equation: the one a question's "how many buses are needed" qualifies
    _scaled: set | None = None

    def carry(self, written: Quantity, exact: Fraction) -> None:
        """A result written rounded ("25 / 3 = 8.33") stands for its exact value in later steps ("3 * 8.33 = 25"):
        that written number only, not a decimal that shares its digits."""
        if len(self.rounded) < 4 * MAX_CARRIED and written.decimals:
            self.rounded[written.value, written.decimals] = (exact, None)

    def carry_fraction(self, value: Fraction, step: int) -> None:
        """A fraction in an expression ("120 x 2/3 = 120 x 0.67") may be written rounded to 1-4 decimals in the same
        step's chain, and only there: "1/3 * 90 = 30" then "0.3 * 60 = 20" is wrong."""
        if len(self.rounded) < 4 * MAX_CARRIED and Fraction(value).denominator != 1:
            for d in (1, 2, 3, 4):
                self.rounded.setdefault((Fraction(math.floor(value * 10 ** d + Fraction(1, 2)), 10 ** d), d), (value, step))

    @property
    def scaled(self) -> set:
        """(count, scale) of each number written with a scale word in the question or a step: (32, 10**6) for '$32 million'."""
        if self._scaled is None:
            self._scaled = set()
            for text in (self.question, *self.steps):
                if len(text) <= MAX_STEP_CHARS * 4 and _MAY_SCALE_WORD.search(text):
                    try:
                        self._scaled |= {(t.value / t.scale, t.scale) for t in step_tokens(plain_text(text))
                                         if t.kind == "num" and t.scale != 1}
                    except Refused:
                        pass
        return self._scaled

    def values(self, step: int) -> dict:
        return {**self.bindings, **self.local.get(step, {})}

    def defines(self, eq: "Equation") -> bool:
        return any(eq is d for d in self.defined_by.values())


def check_steps(steps: list[str], question: str = "") -> list[StepCheck]:
    """Check every equation of a solution. Values it binds (x = 29, or 2x + 8 = 66) are substituted
    into the equations that use them. Never raises on any input."""
    plain = [plain_text(s) if len(s) <= MAX_STEP_CHARS else "" for s in steps]
    text = "\n".join(plain)
    variables = declared_variables(text)
    text = question + "\n" + text
    percents = {exact_decimal(m.replace(",", "")) for m in _PERCENT_WRITTEN.findall(text)
                if len(m) <= MAX_NUMBER_DIGITS} if "%" in text or "ercent" in text else set()
    out, eqs, carried = [], [], ("", None)
    for i, step in enumerate(steps):
        out.append(StepCheck())
        if len(step) > MAX_STEP_CHARS:  # unverifiable: too long to read
            carried = ("", None)
            continue
        try:
            line = plain[i].strip()
            if carried[1] is not None and step.lstrip()[:1] == "+":
                line = "+ " + line  # "= $70.00" then "+ $16.00 (frying pan) = $86.00": not a bullet, a sum going on
            step_eqs, carried = equations(line, i, variables, carried)
            eqs += step_eqs
        except Refused:  # unverifiable: a form the reader does not know
            carried = ("", None)
    solution = _Solution(steps, percents, question=question, final=eqs[-1] if eqs and eqs[-1].step == len(steps) - 1 else None)
    if any(t.kind == "var" for eq in eqs for t in eq.lhs.tokens + eq.rhs.tokens):
        _bind(eqs, solution, question)
    for eq in eqs:
        _judge(eq, solution, out[eq.step])
    return out


def check_step(step: str) -> StepCheck:
    """Check every equation in one step."""
    return check_steps([step])[0]


def _variables_of(eq: "Equation") -> set:
    return {t.value for t in eq.lhs.tokens + eq.rhs.tokens if t.kind == "var"}


def _assigns(eq: "Equation") -> str | None:
    """The name in 'x = 29' or 'x = 19.50 / 0.75' (one side a lone unknown, the other none): a claim to check."""
    for a, b in ((eq.lhs.tokens, eq.rhs.tokens), (eq.rhs.tokens, eq.lhs.tokens)):
        if len(a) == 1 and a[0].kind == "var" and not any(t.kind == "var" for t in b):
            return a[0].value
    return None


def _bind(eqs: list["Equation"], solution: _Solution, question: str) -> None:
    """Values of the unknowns. A step that states an equation in x and then 'x = ...' solves its own x
    (models reuse x for each sub-problem); elsewhere each unknown takes its value from the first linear
    equation, in order, in which it is the only unknown."""
    usable = [eq for eq in eqs if not (eq.lhs.unknown or eq.rhs.unknown)]
    for eq in usable:
        name = _assigns(eq)
        if name is None:
            continue
        for other in usable:  # an earlier equation of the same step, in that one unknown
            if other.step == eq.step and other is not eq and _assigns(other) is None and _variables_of(other) == {name} and not any(
                    e.step < eq.step and name in _variables_of(e) for e in usable):  # not "2x + 8 = 66", then "2x = 60, so x = 30"
                if (root := _linear_root(other, name, {})) is not None and (eq.step, name) not in solution.defined_by:
                    solution.local.setdefault(eq.step, {})[name] = root
                    solution.defined_by[eq.step, name] = other
                break
    for _ in range(3):  # a value found may make the next equation solvable
        changed = False
        for eq in usable:
            if solution.defines(eq):
                continue
            values = solution.values(eq.step)
            free = _variables_of(eq) - values.keys()
            if len(free) == 1 and (root := _linear_root(eq, name := free.pop(), values)) is not None:
                solution.bindings[name], solution.defined_by[name] = root, eq
                changed = True
        if not changed:
            break
    _letters_used_again(usable, solution, question)


def _letters_used_again(usable: list["Equation"], solution: _Solution, question: str) -> None:
    """A letter used again for a new unknown (Peter's '4x = 64', 'x = 16', then Martha's '7x = 56', 'x = 8'): an
    equation in x alone, after x was found in an earlier step, built only from numbers the question states, false
    for the old x, and followed by 'x = ...' giving its own root, gives x that root from its step on. A rewrite
    ('2x + 8 = 66', then '2x = 60, so x = 30') uses a number the question does not state, and a wrong setup of the
    same unknown ('4x = 64', then '7x = 64') a number of the equation that gave x: both stay wrong."""
    stated, rebound = None, set()  # rebound: the (step, letter) values set here, which a later sub-problem may take over
    for eq in usable:
        names = _variables_of(eq)
        if len(names) != 1 or _assigns(eq) is not None or solution.defines(eq):
            continue
        name = next(iter(names))
        source = solution.defined_by.get((eq.step, name)) or solution.defined_by.get(name)
        if source is None or source.step >= eq.step:
            continue
        try:
            if evaluate(eq.lhs.tokens, solution.values(eq.step)) == evaluate(eq.rhs.tokens, solution.values(eq.step)):
                continue
        except (Refused, ZeroDivisionError):
            continue
        stated = stated_numbers(question) if stated is None else stated
        numbers = {t.value for t in eq.lhs.tokens + eq.rhs.tokens if t.kind == "num"}
        if not numbers <= stated or numbers & {t.value for t in source.lhs.tokens + source.rhs.tokens if t.kind == "num"}:
            continue
        root = _linear_root(eq, name, {})
        if root is None or not any(later.step >= eq.step and _assigns(later) == name and _assigned(later) == root
                                   for later in usable):
            continue
        for step in range(eq.step, len(solution.steps)):
            local = solution.local.setdefault(step, {})
            if name not in local or (step, name) in rebound:  # a step's own solve keeps its value
                local[name], solution.defined_by[(step, name)] = root, eq
                rebound.add((step, name))


def _assigned(eq: "Equation") -> Fraction | None:
    """The value 'x = 56 / 7' gives x."""
    side = eq.rhs.tokens if len(eq.lhs.tokens) == 1 and eq.lhs.tokens[0].kind == "var" else eq.lhs.tokens
    try:
        return evaluate(side)
    except (Refused, ZeroDivisionError):
        return None


def _written_number(tokens: list[Tok]) -> Tok | None:
    """The number a side is, as written ('16.67', '-16.67'), whose decimals set the rounding; else None."""
    if len(tokens) == 2 and tokens[0].kind == "op" and tokens[0].value == "-":
        tokens = tokens[1:]  # a negative result: its digits are written all the same
    return tokens[0] if len(tokens) == 1 and tokens[0].kind == "num" else None


def _judge(eq: "Equation", solution: _Solution, out: StepCheck) -> None:
    """One equation: verified (counted), wrong (with what it should be), or unverifiable (neither: nothing to count)."""
    lhs, rhs = eq.lhs, eq.rhs
    values = solution.values(eq.step)
    if _identity(eq, values):
        out.verified += 1  # "x - 2(3) = x - 6": true whatever the unknown starting value is
        return
    try:
        right = evaluate(rhs.tokens, values)
    except (Refused, ZeroDivisionError):
        return
    lone = _written_number(rhs.tokens)
    written = Quantity(right, lone.decimals, lone.pct, lone.scale, lone.unit) if lone else Quantity(right, None)
    if not rhs.unknown:
        out.result, out.result_approx = written, eq.approx
    if lhs.unknown or rhs.unknown or solution.defines(eq):
        return  # unverifiable: words as operands; or the equation that defines its unknown (true by construction)
    out.operands.extend(t.value for t in lhs.tokens if t.kind == "num")
    try:
        left = evaluate(lhs.tokens, values)
    except Refused:
        return
    except ZeroDivisionError:
        out.wrong.append(f"divides by zero in {_text(lhs.tokens)}")
        return
    for a, op, b in zip(lhs.tokens, lhs.tokens[1:], lhs.tokens[2:]):
        if a.kind == b.kind == "num" and op.value == "/" and b.value:
            solution.carry_fraction(Fraction(a.value, b.value), eq.step)  # "120 x 2/3 = 120 x 0.67": 0.67 may stand for 2/3
    verdict = _compare(left, written, eq, solution)
    if verdict == "wrong" and _exact_reading(eq, solution, values):
        verdict = "verified"  # "120 x 2/3 = 120 x 0.67 = 80": 0.67 is 2/3 written rounded
    if verdict == "verified" and written.value != left:
        solution.carry(written, left)  # "25 / 3 = 8.33": a later "3 * 8.33 = 25" means 25/3
    if verdict == "wrong" and _assigns(eq) is None and any(_solved_later(v, eq, solution) for v in _variables_of(eq)):
        # an equation stated before the one that solves it: which of them is wrong is a guess, so no step is blamed,
        # but they cannot all hold
        out.contradicts.append(_contradiction(eq, left, right, solution))
        return
    if verdict == "verified":
        out.verified += 1
    elif verdict == "wrong":
        out.wrong.append(_wrong_message(eq, left, right, solution))


def _compare(left: Fraction, written: Quantity, eq: "Equation", solution: _Solution) -> str:
    """verified / wrong / unverifiable for 'left = written': the first reading whose trigger is there decides."""
    for reading in _READINGS:
        if (verdict := reading(left, written, eq, solution)) is not None:
            return verdict
    lhs, rhs = eq.lhs.tokens, eq.rhs.tokens
    if eq.first and eq.chained and eq.lhs.prose and not _written_number(rhs) and (
            eq.lhs.prose == "num" or lhs[-1].unit not in _MONEY_UNITS):
        return "unverifiable"  # "Ali has 4 $10 bills = 4 x $10 = $40", "Cost of 2 x 8 boards = 24 / 6": a label with numbers
    if len(lhs) == 1 and lhs[0].kind == "num" and not eq.rounds and (eq.lhs.label or lhs[0].unit not in _MONEY_UNITS or (
            len(rhs) == 1 and rhs[0].unit != lhs[0].unit)):
        return "unverifiable"  # "the height of 12 inches = 36 inches", "4.5 gallons = 4.5 * 8 pints": a name or a conversion
    return "wrong"


# Each reading: (left, written, eq, solution) -> "verified" / "wrong" / "unverifiable" when its trigger is there,
# None when it does not apply. Its docstring says when it applies (its trigger), then what it accepts.

def _units_read(left: Fraction, written: Quantity, eq: "Equation", solution: _Solution) -> str | None:
    """When: the left side sums two units of one kind ('1 kg + 500 g', '$5 + 50 cents', '2 dozen eggs + 6 eggs'), or
    the result names another unit of the left side's kind ('2 hours = 120 minutes'). Accepts: the left side with
    each quantity converted to the result's unit (or, when it names none, to one of the left side's units); or the
    numbers as written where the left side writes each factor beside its quantity ('2 hours * 60 + 30 minutes =
    150 minutes'). Never the bare numbers otherwise: a wrong sum is wrong when the result names a unit of that
    kind; a unit change that does not match is unverifiable (which unit the left side ends in is a guess)."""
    mixed = _mixed_units(eq.lhs.tokens, eq.rhs.tokens)
    if mixed is None:
        return None
    dimension, form = mixed
    targets = _targets(eq.lhs.tokens, eq.rhs.tokens, dimension)
    if any((v := _value_in(eq.lhs.tokens, t, dimension)) is not None and numbers_match(written, v, eq.approx) for t in targets):
        return "verified"
    if any(_factor_written(eq.lhs.tokens, t, dimension) for t in targets) and numbers_match(written, left, eq.approx):
        return "verified"  # the conversion is written out
    if form == "change":
        return "unverifiable"
    return "wrong" if dimension == "count" or _unit_of(eq.rhs.tokens, dimension) is not None else "unverifiable"


def _numbers_equal(left: Fraction, written: Quantity, eq: "Equation", solution: _Solution) -> str | None:
    """When: none (always tried). Accepts: exact; rounded at the written place; a whole number for a fraction
    only where the result is written as approximate ('≈', '= about', 'is approximately', 'rounded to'), and
    then the way it says ('rounded up to 5' for 4.25, not 'rounded up to 4')."""
    if not numbers_match(written, left, eq.approx):
        return None
    way = _direction_said(eq) if eq.rounds and written.value != left else None
    if way is not None and written.value != (math.ceil(left) if way == "up" else math.floor(left)):
        return None
    return "verified"


def _percent_points(left: Fraction, written: Quantity, eq: "Equation", solution: _Solution) -> str | None:
    """When: the math is in points: a result with % from '... x 100', or from 100 ('100 - 40 = 60%', '100 / 4 = 25%'),
    or from the percentages the text names and whole numbers ('60 / 2 = 30%' after '60% of the class'); a bare
    result from percentages only ('100% - 40% = 60'). Accepts: the result read as points. Not '0.4 * 50 = 20%'
    when the question says '50%': a proportion times a number is not in points."""
    lhs = eq.lhs.tokens
    nums = [t for t in lhs if t.kind == "num"]
    if written.pct and numbers_match(Quantity(written.value * 100, written.decimals), left, eq.approx) and (
            _times_hundred(lhs) or any(t.value == 100 for t in nums) or (
                any(t.value in solution.percents for t in nums)
                and all(t.value in solution.percents or t.value.denominator == 1 for t in nums))):
        return "verified"
    if not written.pct and nums and all(t.pct for t in nums) and numbers_match(written, left * 100, eq.approx):
        return "verified"
    return None


def _scale_counted(left: Fraction, written: Quantity, eq: "Equation", solution: _Solution) -> str | None:
    """When: a result with a scale word ('$16 million') whose left side has none, and a number of the left side
    that the question or a step writes with that scale word ('$32 million'): the left side counts in it.
    Accepts: the left side's value in that scale ('32 / 2 = $16 million'); not '400,000 + 100,000 = 500,000 million'."""
    nums = [t for t in eq.lhs.tokens if t.kind == "num"]
    if written.scale == 1 or any(t.scale != 1 for t in nums) or not any(
            (t.value, written.scale) in solution.scaled for t in nums):
        return None
    return "verified" if numbers_match(written, left * written.scale, eq.approx) else None


def _rounded_as_said(left: Fraction, written: Quantity, eq: "Equation", solution: _Solution) -> str | None:
    """When: a whole-number result for a fraction, where the words right after the result or right before the
    expression say the direction ('= 5 buses, rounded up', 'Rounding down: 17 / 4 = 4', 'floor(17 / 4)'), or state
    the remainder of that division next to it ('= 33 each, with 1 remaining'); or the solution's last equation,
    where the question asks a direction ('how many buses are needed': up; 'how many full boxes': down). Accepts: the ceiling or the floor,
    as said. A noun ('Floor area', 'the remaining 2 teams') is no trigger."""
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


def _other_unit(left: Fraction, written: Quantity, eq: "Equation", solution: _Solution) -> str | None:
    """When: the result names a unit of the same kind as the left side's, another one ('1 hour / 2 = 30 minutes',
    '20 x 45 cents = $9'). Accepts: the exact conversion; unverifiable when it does not match (which unit the left
    side ends in is a guess)."""
    return _converted(eq.lhs.tokens, eq.rhs.tokens, left, written, eq.approx)


# The order they are tried in; a rounded earlier value and substitution are read in _judge (they change the numbers).
_READINGS = (_units_read, _numbers_equal, _percent_points, _scale_counted, _rounded_as_said, _other_unit)


_DIRECTION_WORDS = {"up": "up", "down": "down"}
_ROUNDING_VERBS = {"round", "rounded", "rounding", "rounds"}
_FUNCTIONS = {"ceil": "up", "ceiling": "up", "lceil": "up", "floor": "down", "lfloor": "down"}


def _direction_said(eq: "Equation") -> str | None:
    """'up' / 'down' where the words next to the equation ask for it (see _rounded_as_said), else None."""
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


def _remainder_stated(eq: "Equation", quotient: Fraction) -> bool:
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


def _contradiction(eq: "Equation", left: Fraction, right: Fraction, solution: _Solution) -> str:
    """'step 2 says 2c + d = 304, but with c = 125 (step 3) and d = 55 (step 1) 2c + d = 305'."""
    return f"step {eq.step + 1} {_with_values(eq, left, right, solution)}"


def _with_values(eq: "Equation", left: Fraction, right: Fraction, solution: _Solution) -> str:
    """'says 2c + d = 304, but with c = 125 (step 3) and d = 55 (step 1) 2c + d = 305': the values put in, and
    where each comes from."""
    values = solution.values(eq.step)
    given = []
    for name in sorted(_variables_of(eq)):
        source = solution.defined_by.get((eq.step, name)) or solution.defined_by.get(name)
        given.append(f"{name} = {shown_number(values[name])}" + (f" (step {source.step + 1})" if source is not None else ""))
    lhs, rhs = _text(eq.lhs.tokens), _text(eq.rhs.tokens)
    sides = f"{lhs} = {shown_number(left)}" if _written_number(eq.rhs.tokens) else \
        f"{lhs} = {shown_number(left)} and {rhs} = {shown_number(right)}"
    return f"says {eq.text}, but with {' and '.join(given)} {sides}"


def _solved_later(name: str, eq: "Equation", solution: _Solution) -> bool:
    """Is `name` given its value by an equation after `eq` ('0.6x = 0.6(40 + x)', then 'x = 40 + 0.6x')?"""
    source = solution.defined_by.get((eq.step, name)) or solution.defined_by.get(name)
    return source is not None and source.step > eq.step


def _identity(eq: "Equation", values: dict) -> bool:
    """Does an equation in one unknown hold for every value of it ('x - 6 - 3(4) = x - 18')? Five trial values:
    an identity of the degrees solutions write."""
    free = _variables_of(eq) - values.keys()
    if len(free) != 1 or eq.lhs.unknown or eq.rhs.unknown:
        return False
    name = free.pop()
    try:
        return all(evaluate(eq.lhs.tokens, {**values, name: Fraction(v)}) == evaluate(eq.rhs.tokens, {**values, name: Fraction(v)})
                   for v in (0, 1, 2, 3, 7))
    except (Refused, ZeroDivisionError):
        return False


def _exact_reading(eq: "Equation", solution: _Solution, values: dict) -> bool:
    """Is the equation exact once each decimal that is an earlier value written rounded (0.67 for 2/3, 8.33 for
    25/3) stands for that value? Only numbers written with a decimal point are read so."""
    if not solution.rounded:
        return False

    def stands_for(t: Tok) -> Fraction | None:
        exact, step = solution.rounded.get((t.value, t.decimals), (None, None)) if t.kind == "num" else (None, None)
        return exact if step is None or step == eq.step else None

    def exact(tokens: list[Tok]) -> list[Tok]:
        return [Tok("num", t.text, v) if (v := stands_for(t)) is not None else t for t in tokens]

    lhs, rhs = exact(eq.lhs.tokens), exact(eq.rhs.tokens)
    if all(a is b for a, b in zip(lhs + rhs, eq.lhs.tokens + eq.rhs.tokens)):
        return False
    try:
        return evaluate(lhs, values) == evaluate(rhs, values)
    except (Refused, ZeroDivisionError):
        return False


def _times_hundred(lhs: list[Tok]) -> bool:
    return (len(lhs) > 2 and lhs[-1].kind == "num" and lhs[-1].value == 100 and lhs[-2].value == "*") or (
        len(lhs) > 2 and lhs[0].kind == "num" and lhs[0].value == 100 and lhs[1].value == "*")


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
        return ("count", "sum") if adds else None  # a product ('5 dozen * $2.40') is _other_unit's
    scales: dict = {}
    for u in units:
        if u in _UNIT_SCALES and u != "dozen":
            dimension, scale = _UNIT_SCALES[u]
            scales.setdefault(dimension, set()).add(scale)
    for dimension, found in scales.items():
        if len(found) > 1:  # a sum across units; a product ('50 weeks x 5 days') is a rate written short
            return (dimension, "sum") if adds and not any(
                a.kind == c.kind == "num" and b.kind == "op" and b.value in "*/" and a.unit and c.unit
                for a, b, c in zip(lhs, lhs[1:], lhs[2:])) else None
        if (target := _unit_of(rhs, dimension)) is not None and target not in found:
            return dimension, "change"
    return None


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


def _dozens_counted(tokens: list[Tok]) -> list[Tok]:
    return [Tok("num", t.text + " dozen", t.value * 12) if t.kind == "num" and t.unit == "dozen" else t for t in tokens]


def _conversion_factors(unit: str, to: str) -> list[Fraction]:
    """The factor from `unit` to `to` when both are in the table ('245 dollars' for '24500 cents'); an
    answer without a unit is not converted: 2,000 for a result of $20 is the x100 slip, not cents."""
    if unit not in _UNIT_SCALES or unit == "dozen":
        return []
    dimension, scale = _UNIT_SCALES[unit]
    return [Fraction(scale, other) for name, (dim, other) in _UNIT_SCALES.items()
            if dim == dimension and other != scale and name == to]


def _wrong_message(eq: "Equation", left: Fraction, right: Fraction, solution: _Solution) -> str:
    name = _assigns(eq)
    values = solution.values(eq.step)
    if name is not None and name in values and len(eq.lhs.tokens) == 1:
        source = solution.defined_by.get((eq.step, name)) or solution.defined_by.get(name)
        where = f" (from step {source.step + 1}: {source.text})" if source is not None else ""
        return f"says {eq.text}, but {name} = {shown_number(values[name])}{where}"
    if name is None and _variables_of(eq):  # "100 / 5 = 5A / 5": the value A was given, and both sides
        return _with_values(eq, left, right, solution)
    lhs = eq.lhs.tokens
    if (mixed := _mixed_units(lhs, eq.rhs.tokens)) is not None:  # "says 1 kg + 500 g = 501 g, but 1 kg + 500 g = 1,500 g"
        target = min(_targets(lhs, eq.rhs.tokens, mixed[0]))
        unit = next((name for name, (dim, scale) in _UNIT_SCALES.items() if dim == mixed[0] and scale == target), "")
        shown = _text(_dozens_counted(lhs)) if mixed[0] == "count" else _text(lhs, units=True)
        return f"says {shown} = {_text(eq.rhs.tokens, units=mixed[0] != 'count')}, but {shown} = " \
               f"{shown_number(_value_in(lhs, target, mixed[0]))}" + (f" {unit}" if mixed[0] != "count" else "")
    return f"says {eq.text}, but {_text(lhs)} = {shown_number(left)}"


def shown_number(v: Fraction) -> str:
    """How a value is written in every message: exact when whole (1,250), else every whole digit and 6 significant
    ones at least (3,333,333.33; 0.333333); 3.33333e+309 beyond 15 digits; never overflows."""
    if v.denominator == 1:
        return f"{v.numerator:,}"
    whole_digits = len(str(abs(v.numerator) // v.denominator))
    d = Context(prec=max(6, whole_digits + 2) if whole_digits < 15 else 6).divide(Decimal(v.numerator), Decimal(v.denominator))
    return f"{d:,f}" if abs(d.adjusted()) < 15 else f"{d:e}"


def _text(tokens: list[Tok], units: bool = False) -> str:
    out = ""
    for t in tokens:
        part = t.text + "%" if t.kind == "num" and t.pct else str(t.value) if t.kind == "op" else t.text
        if units and t.kind == "num" and t.unit in _UNIT_SCALES:
            part += " " + t.unit  # "1 kg + 500 g": the units are what is wrong
        out += part if (t.kind == "var" and t.glued and out) or not out else " " + part  # 2x stays 2x
    return out


# ---------------------------------------------------------------- answers

def parse_number(text: str) -> tuple[Quantity | None, str | None]:
    """The one number an answer holds ('$1,250', '36 clips', '-4.5', '3/4 cup', '25%', '1.5 million').

    Returns (quantity, None) or (None, problem)."""
    try:
        tokens = [t for t in step_tokens(plain_text(text)) if t.kind in _MATH]
    except Refused as e:
        return None, str(e)
    nums = [t for t in tokens if t.kind == "num"]
    if not nums:
        return None, "holds no number"
    if len(nums) > 2 or (len(nums) == 2 and not (len(tokens) >= 3 and tokens[-2].kind == "op" and tokens[-2].value == "/")):
        return None, f"holds {len(nums)} numbers; expected one"
    if any(t.kind == "var" for t in tokens):
        return None, "is not a single number"
    try:
        value = evaluate(tokens)
    except (Refused, ZeroDivisionError):
        return None, "is not a single number"
    return Quantity(value, nums[0].decimals if len(nums) == 1 else None, nums[0].pct, nums[0].scale), None


_NUMBER_RUN = re.compile(r"[0-9][0-9,.]*")
_RESULT_WRITTEN = re.compile(r"=\s*(-?\s*\$?\s*-?[0-9][0-9,]*(?:\.[0-9]+)?\s*%?)")


def written_result(step: str) -> Quantity | None:
    """The number written after a step's last '=' ('... = 57 boxes'), for a step whose arithmetic could not be
    read; None when more than one number follows it (the step goes on: '= 820) divided by 2 is 410')."""
    head, eq, tail = plain_text(step).rpartition("=")
    if not eq or len(tail) > MAX_STEP_CHARS or len(_NUMBER_RUN.findall(tail)) != 1:
        return None
    m = _RESULT_WRITTEN.match(eq + tail)
    return parse_number(m.group(1))[0] if m else None


_ASKS_DECIMAL = re.compile(r"\bas a (?:decimal|fraction)\b|\bdecimal form\b|\bwhat fraction\b", re.I)  # "the percentage ... as a decimal"
_ASKS_PERCENT = re.compile(r"\b(?:what|which|how many) (?:percent|percentage)\b|\bas a percent|\bpercentage of\b|"
                           r"\bin percent|\b(?:the|a) percentage\b", re.I)


# Whole things, and which way to round to them, as the question asks: "how many full boxes" (the partial one is
# not one: down), "how many buses are needed" (the partial one needs one more: up); "whole packs" alone says no way.
_ASKS_DOWN = re.compile(r"\b(?:full|complete|entire)\s+[a-z]+s\b|\bafford\b", re.I)
_ASKS_UP = re.compile(r"\bneed(?:s|ed)?\b|\bat least\b|\benough\b|\brequired\b|\bmust\b|\bminimum\b", re.I)
_ASKS_WHOLE = re.compile(r"\bwhole (?:numbers?|[a-z]+s)\b", re.I)  # "only buy whole packs"; not "the whole city"
_SAYS_ROUNDED = re.compile(r"\bround(?:ed|ing|s)?\s+(up|down)\b", re.I)


def asked_direction(question: str) -> str | None:
    """'down' for 'how many full boxes', 'can she afford'; 'up' for 'needed', 'at least', 'enough'; None for neither
    or both."""
    down, up = bool(_ASKS_DOWN.search(question)), bool(_ASKS_UP.search(question))
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
