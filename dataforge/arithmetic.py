"""Tokens -> verdict: exact checking of the arithmetic in reasoning steps, the way people and models write it.

    >>> check_step("Natalia sold 48/2 = 24 clips in May.").status
    'verified'
    >>> check_steps(["2x + 8 = 66", "x = 30"])[1].wrong
    ['says x = 30, but x = 29 (from step 1: 2x + 8 = 66)']

Read top to bottom: the tokens of each step (tokens.py: `plain_text` -> `tokenize` -> one pass per
form) -> `equations` (the expression on each side of every '=') -> values a solution binds (algebra.py:
`x = 29`, or a linear equation in one unknown) put in -> the exact value of each side (exact.py, a parser
over fractions) -> the accepting readings, in order (readings.py: `READINGS`) -> verified, wrong, or
unverifiable. Nothing is ever executed; hostile input (deep nesting, huge powers, long numbers) is refused quickly.
"""

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Context, Decimal
from fractions import Fraction

from dataforge.algebra import assigns, bind, identity, solved_later, variables_of
from dataforge.exact import evaluate
from dataforge.readings import (READINGS, Quantity, _dozens_counted, _mixed_units, _targets, _value_in,
                                approximate_answer, numbers_match, percent_answer, proportion_for_percent,
                                quantities_agree, whole_answer)
from dataforge.schema import BOUNDS, MAX_STEP_CHARS
from dataforge.tokens import (_MONEY_UNITS, _UNIT_SCALES, APPROX_TEXT, MAX_NUMBER_DIGITS, Refused, Tok,
                              declared_variables, exact_decimal, plain_text, step_tokens)

ACCEPTING_READINGS = READINGS  # the readings' table (readings.py), by its old name

__all__ = ["ACCEPTING_READINGS", "Quantity", "StepCheck", "check_step", "check_steps", "numbers_match",
           "quantities_agree", "parse_number", "written_result", "percent_answer", "proportion_for_percent", "whole_answer", "approximate_answer",
           "evaluate", "shown_number", "APPROX_TEXT", "exact_decimal", "plain_text", "Refused"]

MAX_STEPS = BOUNDS["steps"].read_max  # steps read of a solution (a judge's re-solve may send 60,000)
MAX_EQUATIONS = 128  # equations judged in a solution: unknowns are bound pairwise (real ones have 18 at most)
MAX_CARRIED = 64  # exact values a later step may write rounded; a real solution has a few


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
    if value is not None and segments[0][:1] and segments[0][0].kind == "op" and (segments[0][0].value == "+" or (
            segments[0][0].value == "-" and segments[0][1:2] and not segments[0][1].glued)):  # "- 5 = 65", not "-50"
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


# ---------------------------------------------------------------- verdicts


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
    percents: Counter  # numbers written as percentages in the question or any step, how often: 40 in "40% off"
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
    plain = [plain_text(s) if len(s) <= MAX_STEP_CHARS else "" for s in steps[:MAX_STEPS]]
    text = "\n".join(plain)
    variables = declared_variables(text)
    text = question + "\n" + text
    percents = Counter(exact_decimal(m.replace(",", "")) for m in _PERCENT_WRITTEN.findall(text)
                       if len(m) <= MAX_NUMBER_DIGITS) if "%" in text or "ercent" in text else Counter()
    out, eqs, carried = [], [], ("", None)
    for i, step in enumerate(steps):
        out.append(StepCheck())
        if len(step) > MAX_STEP_CHARS or i >= MAX_STEPS or len(eqs) >= MAX_EQUATIONS:  # unverifiable: past the work bound
            carried = ("", None)
            continue
        try:
            line = plain[i].strip()
            if carried[1] is not None and (step.lstrip()[:1] == "+" or _MINUS_GOING_ON.match(step)):
                line = step.lstrip()[0] + " " + line  # "= $70.00" then "+ $16.00 (pan) = $86.00", "- $5 = $65": not a bullet
            step_eqs, carried = equations(line, i, variables, carried)
            eqs += step_eqs[:MAX_EQUATIONS - len(eqs)]
        except Refused:  # unverifiable: a form the reader does not know
            carried = ("", None)
    solution = _Solution(steps, percents, question=question, final=eqs[-1] if eqs and eqs[-1].step == len(steps) - 1 else None)
    if any(t.kind == "var" for eq in eqs for t in eq.lhs.tokens + eq.rhs.tokens):
        bind(eqs, solution, question)
    for eq in eqs:
        _judge(eq, solution, out[eq.step])
    return out


# "- $5 = $65" after "... = $70" goes on; "- 12 + 4 = 16" is a bullet, "-60 = x" a negative number
_MINUS_GOING_ON = re.compile(r"\s*-\s+\\?[$€£]?[0-9][0-9,.]*\s*=")  # a spaced minus: "-60 = x" is a number


def check_step(step: str) -> StepCheck:
    """Check every equation in one step."""
    return check_steps([step])[0]


def _written_number(tokens: list[Tok]) -> Tok | None:
    """The number a side is, as written ('16.67', '-16.67'), whose decimals set the rounding; else None."""
    if len(tokens) == 2 and tokens[0].kind == "op" and tokens[0].value == "-":
        tokens = tokens[1:]  # a negative result: its digits are written all the same
    return tokens[0] if len(tokens) == 1 and tokens[0].kind == "num" else None


def _judge(eq: "Equation", solution: _Solution, out: StepCheck) -> None:
    """One equation: verified (counted), wrong (with what it should be), or unverifiable (neither: nothing to count)."""
    lhs, rhs = eq.lhs, eq.rhs
    values = solution.values(eq.step)
    if identity(eq, values):
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
    if verdict == "verified" and written.value != left:
        solution.carry(written, left)  # "25 / 3 = 8.33": a later "3 * 8.33 = 25" means 25/3
    if verdict == "wrong" and assigns(eq) is None and any(solved_later(v, eq, solution) for v in variables_of(eq)):
        # an equation stated before the one that solves it: which of them is wrong is a guess, so no step is blamed,
        # but they cannot all hold
        out.contradicts.append(_contradiction(eq, left, right, solution))
        return
    if verdict == "verified":
        out.verified += 1
    elif verdict == "wrong":
        out.wrong.append(_wrong_message(eq, left, right, solution))


def _compare(left: Fraction, written: Quantity, eq: "Equation", solution: _Solution) -> str:
    """verified / wrong / unverifiable for 'left = written': the first reading (readings.READINGS, in order) whose
    trigger is there decides; when none applies, wrong, or unverifiable where the text is a guess."""
    for reading in READINGS:
        if reading.read is not None and (verdict := reading.read(left, written, eq, solution)) is not None:
            return verdict
    lhs, rhs = eq.lhs.tokens, eq.rhs.tokens
    if eq.first and eq.chained and eq.lhs.prose and not _written_number(rhs) and (
            eq.lhs.prose == "num" or lhs[-1].unit not in _MONEY_UNITS):
        return "unverifiable"  # "Ali has 4 $10 bills = 4 x $10 = $40", "Cost of 2 x 8 boards = 24 / 6": a label with numbers
    if len(lhs) == 1 and lhs[0].kind == "num" and not eq.rounds and (eq.lhs.label or lhs[0].unit not in _MONEY_UNITS or (
            len(rhs) == 1 and rhs[0].unit != lhs[0].unit)):
        return "unverifiable"  # "the height of 12 inches = 36 inches", "4.5 gallons = 4.5 * 8 pints": a name or a conversion
    return "wrong"


def _contradiction(eq: "Equation", left: Fraction, right: Fraction, solution: _Solution) -> str:
    """'step 2 says 2c + d = 304, but with c = 125 (step 3) and d = 55 (step 1) 2c + d = 305'."""
    return f"step {eq.step + 1} {_with_values(eq, left, right, solution)}"


def _with_values(eq: "Equation", left: Fraction, right: Fraction, solution: _Solution) -> str:
    """'says 2c + d = 304, but with c = 125 (step 3) and d = 55 (step 1) 2c + d = 305': the values put in, and
    where each comes from."""
    values = solution.values(eq.step)
    given = []
    for name in sorted(variables_of(eq)):
        source = solution.defined_by.get((eq.step, name)) or solution.defined_by.get(name)
        given.append(f"{name} = {shown_number(values[name])}" + (f" (step {source.step + 1})" if source is not None else ""))
    lhs, rhs = _text(eq.lhs.tokens), _text(eq.rhs.tokens)
    sides = f"{lhs} = {shown_number(left)}" if _written_number(eq.rhs.tokens) else \
        f"{lhs} = {shown_number(left)} and {rhs} = {shown_number(right)}"
    return f"says {eq.text}, but with {' and '.join(given)} {sides}"


def _wrong_message(eq: "Equation", left: Fraction, right: Fraction, solution: _Solution) -> str:
    name = assigns(eq)
    values = solution.values(eq.step)
    if name is not None and name in values and len(eq.lhs.tokens) == 1:
        source = solution.defined_by.get((eq.step, name)) or solution.defined_by.get(name)
        where = f" (from step {source.step + 1}: {source.text})" if source is not None else ""
        return f"says {eq.text}, but {name} = {shown_number(values[name])}{where}"
    if name is None and variables_of(eq):  # "100 / 5 = 5A / 5": the value A was given, and both sides
        return _with_values(eq, left, right, solution)
    lhs = eq.lhs.tokens
    if (mixed := _mixed_units(lhs, eq.rhs.tokens)) is not None and mixed[1] == "sum":  # "says 1 kg + 500 g = 501 g, but 1 kg + 500 g = 1,500 g"
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


