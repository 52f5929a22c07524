"""Exact checking of the arithmetic in a reasoning step, the way people write it.

    >>> check_step("Natalia sold 48/2 = 24 clips in May.").verified
    1
    >>> check_step("80,000+50,000=$130,000").wrong
    []

A small tokenizer and recursive-descent parser over fractions.Fraction: nothing is ever
executed, every number is exact, and hostile input (deep nesting, huge powers, long numbers)
is refused quickly. What it reads, from GSM8K: thousands separators, currency and unit words
inside the math ($45/gallon x 8 gallons = $360), x × ÷ · as operators (x as a variable makes
an equation unverifiable), implicit multiplication 4(7), .15, percent (150% of 80,000), chains
a = b = c, labels (D2 = 644 - 19 = 625), word operators (7 times 38 equals 266), and rounding
shown with ≈ / "about" or by the decimals written.
"""

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction

MAX_STEP_CHARS = 2000
MAX_NUMBER_DIGITS = 60
MAX_DEPTH = 60
MAX_POWER_BITS = 4096  # refuse a power whose result would need more bits than this

_WORD = r"[A-Za-z_][A-Za-z_0-9']*(?:-[A-Za-z][A-Za-z0-9']*)*"
_TOKEN = re.compile(
    r"(?P<ws>\s*)(?:"  # leading space is swallowed here: 'glued' tokens have none
    r"(?P<num>(?:[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+)"
    r"|(?P<op>\*\*|[-+*/^×÷·−–])"
    r"|(?P<lp>[(\[])|(?P<rp>[)\]])"
    r"|(?P<eq>≈|~=|≅|=+)"
    r"|(?P<pct>%)"
    r"|(?P<cur>[$€£¥₹])"
    r"|(?P<word>" + _WORD + r")(?P<more>(?:\s+" + _WORD + r")*)"  # a run of words: one token, split where it matters
    r"|(?P<sep>[,;:!?~\"]|\.(?![0-9]))"
    r"|(?P<other>.))",
    re.ASCII | re.DOTALL,
)
_OPS = {"×": "*", "·": "*", "÷": "/", "−": "-", "–": "-", "**": "^"}
_WORD_OPS = {"times": "*", "plus": "+", "minus": "-", "x": "*", "X": "*"}
_APPROX_WORDS = {"about", "approximately", "approx", "roughly", "around", "nearly", "almost"}
_VARIABLES = {"x", "y", "z", "n"}
# units that make compound quantities ("2 hours 30 minutes"): a number after one is not a new expression
_COMPOUND_UNITS = {"hour", "hr", "minute", "min", "second", "sec", "day", "week", "month", "year", "foot", "feet",
                   "ft", "inch", "inche", "yard", "yd", "pound", "lb", "ounce", "oz", "dollar", "cent",
                   "meter", "metre", "m", "cm", "km", "kg", "g", "mile", "gallon", "quart", "pint", "cup"}
_REMAINDER = re.compile(r"remain|left over|leftover", re.I)
MAX_UNIT_WORDS = 2  # "8 gallons", "3 square feet"; a longer run of words is prose, not a unit

class Refused(Exception):
    """Input the checker will not evaluate (too deep, too large, malformed)."""


@dataclass(slots=True)
class Tok:
    kind: str  # num op lp rp eq var word sep gap; a run of words is one "words" token until resolved
    value: object = None
    text: str = ""
    has_unit: bool = False  # a number followed by a unit word (2 hours)
    decimals: int = 0
    pct: bool = False
    glued: bool = False  # no space before it: "12W", "-5"


@dataclass
class StepCheck:
    verified: int = 0  # equations checked and right
    wrong: list = field(default_factory=list)  # messages for equations checked and wrong
    unverifiable: int = 0  # equations that could not be checked (variables, unit conversions...)
    result: Fraction | None = None  # the value the step ends on (right side of its last '=')
    operands: list = field(default_factory=list)  # numbers the step's equations start from

    @property
    def status(self) -> str:
        return "wrong" if self.wrong else "verified" if self.verified else "unverifiable"


# ---------------------------------------------------------------- tokens

def tokenize(text: str) -> list[Tok]:
    """Raw tokens, then word operators, percent, currency and unit words resolved."""
    raw = []
    glued = False
    # findall gives one tuple of groups per token, much cheaper than a Match object each
    for ws, num, op, lp, rp, eq, pct, cur, word, more, sep, other in _TOKEN.findall(text):
        if ws:
            glued = False
        if word:
            raw.append(Tok("words" if more else "word", word + more, word + more, False, 0, False, glued))
        elif num:
            digits = num.replace(",", "") if "," in num else num
            if len(digits) > MAX_NUMBER_DIGITS:
                raise Refused("number too long")
            if digits[0] == "0" and len(digits) > 1 and digits[1] != ".":
                raw.append(Tok("word", num, num, False, 0, False, glued))  # 0900, 00:00: clock times, not quantities
            else:
                raw.append(Tok("num", exact_decimal(digits), num, False, len(digits) - digits.find(".") - 1 if "." in digits else 0,
                               False, glued))
        elif op:
            raw.append(Tok("op", _OPS.get(op, op), op, False, 0, False, glued))
        elif eq:
            raw.append(Tok("eq", eq != "=" and eq != "==" and not eq.startswith("="), eq, False, 0, False, glued))
        elif cur:
            continue  # currency is dropped and does not glue what follows: "$2.50"
        elif lp:
            raw.append(Tok("lp", lp, lp, False, 0, False, glued))
        elif rp:
            raw.append(Tok("rp", rp, rp, False, 0, False, glued))
        elif pct:
            raw.append(Tok("pct", pct, pct, False, 0, False, glued))
        elif sep:
            raw.append(Tok("sep", sep, sep, False, 0, False, glued))
        else:
            raw.append(Tok("sqrt", None, other, False, 0, False, glued) if other == "√" else Tok("sep", None, other, False, 0, False, glued))
        glued = True
    return _resolve_words(raw)


def exact_decimal(digits: str) -> int | Fraction:
    """'1250' -> 1250, '2.5' -> 5/2, '.15' -> 3/20: exact, and an int when whole (faster than Fraction)."""
    if "." not in digits:
        return int(digits)
    whole, frac = digits.split(".")
    return Fraction(int(whole + frac), 10 ** len(frac))


def _operand_end(t: Tok | None) -> bool:
    return t is not None and t.kind in ("num", "rp")


def _operand_start(t: Tok | None) -> bool:
    return t is not None and t.kind in ("num", "lp", "sqrt")


def _resolve_words(raw: list[Tok]) -> list[Tok]:
    """Words become operators (times, of), variables (12W, x), unit words (skipped) or plain words."""
    out: list[Tok] = []
    units = 0  # unit words since the last number
    i, n = 0, len(raw)
    while i < n:
        t = raw[i]
        if t.kind in _AS_IS:  # most tokens: nothing to resolve
            out.append(t)
            i += 1
            continue
        prev = out[-1] if out else None
        nxt = raw[i + 1] if i + 1 < n else None
        if t.kind == "num":
            units = 0
            if (prev is not None and prev.kind == "num" and prev.value.denominator == 1 and not prev.has_unit
                    and [x.kind for x in raw[i:i + 3]] == ["num", "op", "num"] and raw[i + 1].value == "/"):
                out[-1:] = [Tok("lp", "(", "("), prev, Tok("op", "+", "+"), *raw[i:i + 3], Tok("rp", ")", ")")]
                i += 3  # "1 1/2 square feet": a mixed number
                continue
        if t.kind == "pct":
            if prev is not None and prev.kind == "num" and not prev.pct and t.glued:
                prev.value, prev.pct = Fraction(prev.value, 100), True
            else:
                out.append(Tok("sep", None, "%"))
        elif t.kind == "words":
            # A run of words. After prose only a joining word ("divided by") or a last one-letter word
            # (a variable before '=') can be special, so the plain words before them stay one token.
            # After an operand, operator or '=' every word may be a unit or an operator: read them one by one.
            words = t.value.split()
            k = 0
            if prev is None or prev.kind not in _NEAR_MATH:
                lower = t.value.lower()  # (one search for the rare joining words, not one per word)
                k = (next((k for k, w in enumerate(words) if w.lower() in _JOINING_WORDS), len(words))
                     if "divided" in lower or "multiplied" in lower or "equal" in lower else len(words))
                if k == len(words) and len(words[-1]) == 1 and words[-1] not in "aAI":
                    k -= 1
            if k == len(words):
                t.kind = "word"
                out.append(t)
                i += 1
                continue
            if k:
                out.append(Tok("word", " ".join(words[:k]), " ".join(words[:k])))
            raw[i:i + 1] = [Tok("word", w, w, False, 0, False, t.glued and j == 0) for j, w in enumerate(words[k:], k)]
            n = len(raw)
            continue
        elif t.kind != "word":
            out.append(t)
        elif (len(t.value) > 1 and (prev is None or prev.kind not in _NEAR_MATH)
              and t.value.lower() not in _JOINING_WORDS):
            out.append(t)  # prose: only an operand, operator or '=' before it can make a word special
        else:
            w, lw = t.value, t.value.lower()
            if lw in _JOINING_WORDS and nxt is not None and nxt.kind == "words":
                first, rest = nxt.value.split(None, 1)  # "divided" before "by the ...": read "by" on its own
                nxt = Tok("word", first, first, False, 0, False, nxt.glued)
                raw[i + 1:i + 2] = [nxt, Tok("words" if len(rest.split()) > 1 else "word", rest, rest)]
                n = len(raw)
            pair = (lw, nxt.value.lower()) if nxt is not None and nxt.kind == "word" else None
            if pair in (("divided", "by"), ("multiplied", "by")):
                out.append(Tok("op", "/" if lw == "divided" else "*", lw))
                i += 1
            elif pair == ("equal", "to"):
                # "Since 4/7 is equal to $24": GSM8K states proportions this way, not arithmetic
                out.append(Tok("sep", None, "equal to"))
                i += 1
            elif lw == "equals":
                out.append(Tok("eq", False, w))
            elif lw in _APPROX_WORDS and prev is not None and prev.kind == "eq":
                prev.value = True  # "= about 33": rounding is expected
            elif w in _WORD_OPS and _operand_end(prev) and _operand_start(nxt):
                out.append(Tok("op", _WORD_OPS[w], w))
            elif (lw == "of" and prev is not None and prev.kind == "num" and not prev.has_unit and _operand_start(nxt)
                  and (prev.pct or (len(out) > 1 and out[-2].kind == "op" and out[-2].value == "/"))):
                out.append(Tok("op", "*", w))  # 150% of 80,000; 1/4 of 20
            elif (lw == "and" and prev is not None and prev.kind == "num" and prev.value.denominator == 1
                  and [x.kind for x in raw[i + 1:i + 4]] == ["num", "op", "num"] and raw[i + 2].value == "/"):
                out[-1:] = [Tok("lp", "(", "("), prev, Tok("op", "+", "and"), *raw[i + 1:i + 4], Tok("rp", ")", ")")]
                i += 3  # "1 and 1/4 cups": a mixed number
            elif len(w) == 1 and (t.glued and _operand_end(prev) or w not in "aAI" and ( (prev is not None and prev.kind in ("op", "eq"))
                    or (nxt is not None and nxt.kind in ("op", "eq")))) or (w in _VARIABLES and _operand_end(prev)):
                out.append(Tok("var", w, w))  # 12W, 2p, B - 26, x = 5
            elif prev is not None and prev.kind == "op" and prev.value == "/" and len(out) > 1 and _operand_end(out[-2]):
                out.pop()  # "$45/gallon": a rate's unit, not a division
                out[-1].has_unit = True
            elif _operand_end(prev) and (run := _unit_run(raw, i)):
                prev.has_unit = prev.kind == "num" or prev.has_unit
                i += run  # "12 tubes of lip gloss * 3": every word up to the operator is the unit
                continue
            elif (_operand_end(prev) or (prev is not None and prev.kind == "num" and prev.has_unit)) and units < MAX_UNIT_WORDS:
                units += 1
                if prev.kind == "num":
                    prev.has_unit = True  # a unit word: 8 gallons, 3 hours; skipped by the math
                if _operand_start(nxt):  # "2 hours 30 minutes" is one quantity; "4 packs 10" is two
                    out.append(Tok("gap" if lw.rstrip("s") in _COMPOUND_UNITS else "word", None, w))
            else:
                out.append(t)
        i += 1
    return out


_AS_IS = {"op", "eq", "lp", "rp", "sep", "sqrt"}
_NEAR_MATH = ("num", "rp", "op", "eq")
_JOINING_WORDS = {"divided", "multiplied", "equal", "equals"}
_NOT_UNIT = {"x", "X", "times", "plus", "minus", "divided", "multiplied", "equals", "equal", "and", "or", "is", "so"}


def _unit_run(raw: list[Tok], i: int) -> int:
    """How many words from i form a unit ending at an operator or '=' (0 when they do not)."""
    j, words = i, 0
    while j < len(raw) and raw[j].kind in ("word", "words"):
        for w in raw[j].value.split() if raw[j].kind == "words" else (raw[j].value,):
            words += 1
            if w in _NOT_UNIT or words > 8:
                return 0  # an operator word or long prose: not a unit
        j += 1
    end = raw[j] if j < len(raw) else None
    return j - i if end is not None and (end.kind == "eq" or (end.kind == "op" and end.value != "-")) else 0



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
            elif t.kind == "lp" or (t.kind == "num" and self.toks[self.i - 1].kind == "rp"):
                value *= self.unary()  # implicit multiplication: 4(7), (2)(3), (5)3
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
            if exp.denominator != 1 or abs(exp) > 1000:
                raise Refused("exponent not a small integer")
            bits = max(base.numerator.bit_length(), base.denominator.bit_length())
            if bits * abs(exp) > MAX_POWER_BITS:
                raise Refused("power too large")
            if base == 0 and exp < 0:
                raise ZeroDivisionError
            return Fraction(base) ** int(exp)  # an int base (exact_decimal) to a negative power would give a float
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


def _exact_sqrt(v: Fraction) -> Fraction:
    if v < 0:
        raise Refused("square root of a negative number")
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


def evaluate(tokens: list[Tok]) -> Fraction:
    """The exact value of a token list; Refused or ZeroDivisionError when it has none."""
    if len(tokens) == 1 and tokens[0].kind == "num":
        return tokens[0].value  # most right-hand sides: no parser needed
    if (len(tokens) == 3 and tokens[0].kind == "num" and tokens[2].kind == "num" and tokens[1].kind == "op"
            and tokens[1].value in ("+", "-", "*", "/")):
        return _apply(tokens[1].value, tokens[0].value, tokens[2].value)  # "48 / 2": the commonest left-hand side
    if len(tokens) > 400:
        raise Refused("expression too long")
    return _Parser(tokens).parse()


_MATH = ("num", "op", "lp", "rp", "sqrt")


def _side(tokens: list[Tok], from_end: bool) -> tuple[list[Tok], bool]:
    """The expression at the end (left side of '=') or start (right side) of a segment.

    Returns (tokens, unknown): unknown is True when a variable or word is an operand of it,
    which makes the equation unverifiable rather than wrong.
    """
    seq = tokens[::-1] if from_end else tokens
    span = []
    stop = None
    for t in seq:
        if t.kind not in _MATH:
            stop = t
            break
        span.append(t)
    if from_end:
        span.reverse()
    unknown = stop is not None and stop.kind in ("var", "gap")
    if from_end and len(span) > 1 and span[0].kind == "op" and span[0].value == "-" and not span[1].glued and stop is not None:
        unknown = True  # "79 - B - 26": the minus is binary, its left operand a word
    # trim what cannot begin (or end) an expression; a dropped binary operator means a word was its operand
    ops = "+*/^" if from_end else "+-*/^"
    while span:
        edge = span[0] if from_end else span[-1]
        if edge.kind == "op" and edge.value in ops:
            unknown = True
        elif not ((from_end and edge.kind == "rp") or (not from_end and edge.kind == "lp")):
            break
        span = span[1:] if from_end else span[:-1]
    return span, unknown


def _close_enough(a: Fraction, b: Fraction, decimals: int, approx: bool) -> bool:
    if a == b:
        return True
    if decimals == 0 and not approx:
        return False
    # rounding (or truncation) to the decimals written: 100/3 = 33.33, 2/3 ≈ 0.67, 7/3 ≈ 2
    return abs(a - b) < Fraction(1, 10**decimals) + Fraction(1, 10**12)


def _shown(v: Fraction) -> str:
    if v.denominator == 1:
        return f"{v.numerator:,}"
    return f"{float(v):,.6g}"


def check_step(step: str) -> StepCheck:
    """Check every equation in a step. Never raises on any input."""
    out = StepCheck()
    if len(step) > MAX_STEP_CHARS:
        out.unverifiable += step.count("=")
        return out
    try:
        tokens = tokenize(step)
    except Refused:
        out.unverifiable += max(1, step.count("="))
        return out
    segments, approx = [[]], []
    for t in tokens:
        if t.kind == "eq":
            segments.append([])
            approx.append(bool(t.value))
        else:
            segments[-1].append(t)
    for k in range(len(segments) - 1):
        lhs, lhs_unknown = _side(segments[k], from_end=True)
        rhs, rhs_unknown = _side(segments[k + 1], from_end=False)
        if not lhs or not rhs:
            continue  # a label or a word: "Total = 36", "D2 = ..."
        try:
            right = evaluate(rhs)
            if k == len(segments) - 2 and not rhs_unknown:
                out.result = right
        except (Refused, ZeroDivisionError):
            out.unverifiable += 1
            continue
        if lhs_unknown or rhs_unknown:
            out.unverifiable += 1
            continue
        out.operands.extend(t.value for t in lhs if t.kind == "num")
        try:
            left = evaluate(lhs)
        except Refused:
            out.unverifiable += 1
            continue
        except ZeroDivisionError:
            out.wrong.append(f"divides by zero in {_text(lhs)}")
            continue
        decimals = max(t.decimals for t in lhs + rhs if t.kind == "num")
        if _close_enough(left, right, decimals, approx[k]):
            out.verified += 1
            continue
        if len(rhs) == 1 and rhs[0].pct and _close_enough(left, right * 100, decimals, approx[k]):
            out.verified += 1  # "20/80 x 100 = 25%": percentage points
            continue
        if len(rhs) == 1 and right == math.floor(left) and _REMAINDER.search(step):
            out.verified += 1  # "100 / 3 = 33 stickers each, with 1 remaining": whole-number division
            continue
        if len(lhs) == 1 and (lhs[0].has_unit or len(rhs) == 1):
            out.unverifiable += 1  # "2 hours = 120 minutes", "2 dozen = 2 * 12": a conversion, not arithmetic
            continue
        out.wrong.append(f"says {_text(lhs)} = {_text(rhs)}, but {_text(lhs)} = {_shown(left)}")
    return out


def _text(tokens: list[Tok]) -> str:
    parts = []
    for t in tokens:
        parts.append(t.text + ("%" if t.pct else "") if t.kind == "num" else str(t.value if t.kind == "op" else t.text))
    return " ".join(parts)


def parse_number(text: str) -> tuple[Fraction | None, str | None]:
    """The one number an answer holds ('$1,250', '36 clips', '-4.5', '3/4 cup', '25%').

    Returns (value, None) or (None, problem).
    """
    try:
        tokens = [t for t in tokenize(text) if t.kind in _MATH]
    except Refused as e:
        return None, str(e)
    nums = [t for t in tokens if t.kind == "num"]
    if not nums:
        return None, "holds no number"
    if len(nums) > 2 or (len(nums) == 2 and not (len(tokens) >= 3 and tokens[-2].kind == "op" and tokens[-2].value == "/")):
        return None, f"holds {len(nums)} numbers; expected one"
    try:
        return evaluate(tokens), None
    except (Refused, ZeroDivisionError):
        return None, "is not a single number"
