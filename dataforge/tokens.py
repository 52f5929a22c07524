"""Text -> tokens: what models write (LaTeX, Markdown, Unicode, units, currency, number words) as plain math,
then as tokens, one small pass per form.

    >>> [t.text for t in step_tokens(plain_text("$2.50 × 4 = $10"))]
    ['2.50', '*', '4', '=', '10']

Read top to bottom: `plain_text` (LaTeX, Markdown, Unicode -> plain math) -> `tokenize` -> passes over the
tokens (currency and scale words, percent, mixed numbers, number words, operator words, variables, units),
gathered by `step_tokens`; each pass returns new tokens and leaves the ones it was given alone.
arithmetic.py turns tokens into verdicts. Hostile input (long numbers, huge exponents) is refused quickly.
"""

import functools
import re
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["MAX_NUMBER_DIGITS", "Refused", "Tok", "plain_text", "tokenize", "step_tokens", "exact_decimal",
           "canonical_unit", "declared_variables", "stated_numbers", "APPROX_TEXT"]

MAX_NUMBER_DIGITS = 60


class Refused(Exception):
    """Input the checker will not evaluate (too deep, too large, malformed)."""


# ---------------------------------------------------------------- text passes: what models write -> plain math

_UNICODE = str.maketrans({"×": "*", "·": "*", "⋅": "*", "∙": "*", "✕": "*", "÷": "/", "∕": "/", "−": "-", "–": "-",
                          "—": " ; ", "＝": "=", "＋": "+", "％": "%", "²": "^2", "³": "^3", "¢": " cents",
                          "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2007": " ", "\u200b": "", "\u2248": "≈",
                          "→": " ; ", "⇒": " ; ", "’": "'", "“": '"', "”": '"'})
_DIGIT_THIN_SPACE = re.compile(r"(?<=[0-9])[\u2009\u202f](?=[0-9]{3})")  # 1 000 000 in typeset numbers

_LATEX_WRAPPERS = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mathit|operatorname|boxed|mbox|hbox)\s*\{([^{}]*)\}")
_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_LATEX_FRAC_DIGITS = re.compile(r"\\[dt]?frac\s*([0-9])\s*([0-9])")  # \frac12
_FRAC_THEN_BRACKET = re.compile(r"\)\)\s+(?=\()")
_LATEX_SQRT = re.compile(r"\\sqrt\s*\{([^{}]*)\}")
_LATEX_SUBSCRIPT = re.compile(r"_\{([^{}]*)\}")
_LATEX_THOUSANDS = re.compile(r"(?<=[0-9])(?:,\\!|\{,\}|\\,(?=[0-9]{3}(?![0-9])))(?=[0-9]{3})")
_LATEX_SYMBOLS = [(re.compile(p), r) for p, r in (
    (r"\\left\s*[.(\[]|\\left\\\{", " ("), (r"\\right\s*[.)\]]|\\right\\\}", ") "), (r"\\(?:times|cdot|ast)(?![A-Za-z])", " * "),
    (r"\\div(?![A-Za-z])", " / "), (r"\\%", "%"), (r"\\\$", "$"), (r"\\approx(?![A-Za-z])", " ≈ "),
    (r"\\(?:[,;:! ]|quad|qquad)", " "), (r"\\[\[\]()]", " "), (r"~", " "),
    (r"\\(?:implies|Rightarrow|rightarrow|to|therefore)(?![A-Za-z])", " ; "),
    (r"\\(?:c|l)?dots(?![A-Za-z])", " ; "), (r"\\[A-Za-z]+", " "))]


def plain_text(step: str) -> str:
    """A step as plain math: Unicode, LaTeX and Markdown forms rewritten; the rest as it was."""
    if not step.isascii():
        if "\u2009" in step or "\u202f" in step:
            step = _DIGIT_THIN_SPACE.sub("", step)
        step = step.translate(_UNICODE)
    if "\\" in step or "{" in step:
        step = _latex(step)
    if "<" in step or ">" in step:
        step = _INEQUALITY.sub(lambda m: _INEQUALITIES[m.group()], step)  # "x <= 2.4" bounds x: it is no '='
    if "*" in step or "#" in step or step.lstrip()[:1] in ("-", "•", "+") or step[:1].isdigit() or step[:4].lower() == "step":
        step = _markdown(step)
    if "x" in step or "X" in step:
        step = _GLUED_TIMES.sub(" * ", step)  # 8x5: no variable is followed by a digit
    if "." in step:
        step = _ABBREVIATION_DOT.sub(r"\1 ", step)  # "3 lbs. coffee", "sq.ft.": the dot is not a full stop
    if '"' in step:
        step = _INCH_MARK.sub(" inches", step)  # 36" tall
    if "/ " in step and step.count("/") > 1:
        step = _FRACTION_DIVISOR.sub(r"(\1)", step)  # "7.5 pounds / 1/2 pound per toy": divided by a half
    if "(" in step:
        step = _ANNOTATION.sub(" ", step)  # "5 (Tom) + 4 (Ann) = 9": a bracket of words after a quantity names it
        step = _COUNT_LABEL.sub(" ", step)  # "$600 (2 monitors) / 2", "(4 quarters) would be 3 * 4": a named count
        step = _BRACKETED_EQUALS.sub(r" = \1 ", step)  # "pays $24 (=$40 × 0.6)": the number, then how it was found
    if " or " in step:
        step = _OR_PERCENT.sub(r"\1 = ", step)  # "= 0.7, or 70%": the same value again, in points
    if step[:3].lower() in _LABEL_STARTS and (m := _LABEL_NUMBER.match(step)):
        step = f"{m[1]} {m[2]}: {step[m.end():]}"  # "Day 1 100 + 200 = 300": Day 1 is a name, not 1,100
    return step


def _latex(text: str) -> str:
    """\\text{x} -> x, \\frac{a}{b} -> ((a)/(b)), \\times -> *, \\boxed{26} -> 26, ^{2} -> ^(2) ..."""
    text = _LATEX_THOUSANDS.sub(",", text)  # "1,\\!300", "2{,}400": a thousands comma, typeset
    for _ in range(8):  # innermost braces first; a few rounds undo any nesting models write
        before = text
        text = _LATEX_WRAPPERS.sub(r" \1 ", text)
        text = _LATEX_FRAC.sub(r"((\1)/(\2))", text)
        text = _LATEX_SQRT.sub("√(\\1)", text)
        text = _LATEX_SUBSCRIPT.sub(r"_\1", text)
        if text == before:
            break
    text = _LATEX_FRAC_DIGITS.sub(r"(\1/\2)", text)
    text = _FRAC_THEN_BRACKET.sub("))(", text)  # "\frac{1}{2} (10 - 1.5x)": a fraction of the bracket
    for pattern, replacement in _LATEX_SYMBOLS:
        text = pattern.sub(replacement, text)
    return text.replace("{", "(").replace("}", ")").replace("$", " $")  # $...$ delimiters read as currency: harmless


_INCH_MARK = re.compile(r'(?<=[0-9])"')
_FRACTION_DIVISOR = re.compile(r"(?<=/ )([0-9]+/[0-9]+)(?![0-9/.])")  # a glued fraction after a spaced '/'
# words in brackets, after a number, a unit word or a variable and a space: a label ("$640 (savings)", "x (Darla)");
# glued, "0.05(Number of minutes)" is a factor; after an operator, "+ (60% of the song)" is math
_ANNOTATION = re.compile(r"(?<=[0-9A-Za-z%)]) +\((?=[^()=0-9]*[A-Za-z]{2})[^()=0-9]*\)")
_GLUED_TIMES = re.compile(r"(?<=[0-9])[xX](?=[0-9])")
_ABBREVIATION_DOT = re.compile(r"\b(lbs?|oz|ft|in|hrs?|mins?|secs?|yds?|qts?|pts?|gal|tsp|tbsp|sq|cu)\.(?![0-9])")
_BULLET = re.compile(r"^\s*(?:[-*•+]\s+|#+\s*|[0-9]{1,2}[.)]\s+(?=\D)|(?:step|part)\s*[0-9]+\s*[:.)-]\s*)", re.I)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")  # Markdown's rule: no space just inside the markers
_POWER = re.compile(r"(?<=[0-9)])\*\*(?=[0-9(])")
_INEQUALITY = re.compile(r"<=|>=|=<|<|>")
_INEQUALITIES = {"<=": " ≤ ", "=<": " ≤ ", ">=": " ≥ ", "<": " < ", ">": " > "}
# a count of named things in brackets ("(2 monitors)", no operator inside) after a quantity or at the start
_COUNT_LABEL = re.compile(r"(?:(?<=[0-9%)]) +|^\s*)\([0-9]+%? *[A-Za-z][A-Za-z ]*\)")  # also "$200 (50% more)"
_BRACKETED_EQUALS = re.compile(r"(?<=[0-9A-Za-z]) *\( *=([^()=]*[0-9][^()=]*)\)")
_OR_PERCENT = re.compile(r"(=\s*[0-9]*\.[0-9]+),? or (?=[0-9][0-9.]*\s*%)")  # "= 0.7, or 70%"; not "= 14, or 20%"
_LABELS = ("day", "week", "month", "year", "step", "part", "round", "game", "level", "stage", "test", "trip")
_LABEL_STARTS = {label[:3] for label in _LABELS}  # most steps start with none: the regex is not tried
_LABEL_NUMBER = re.compile(rf"((?:{'|'.join(_LABELS)})s?) +([0-9]{{1,2}}) +(?=[0-9]{{3}}(?![0-9]))", re.I)


def _markdown(text: str) -> str:
    """Bullets, numbered items, 'Step 3:' and bold markers dropped: '- 3 weeks' is not minus three;
    '3**2' between numbers is a power (Python's), not bold."""
    text = _BULLET.sub("", text, count=1)
    if "**" not in text:
        return text
    return _BOLD.sub(r"\1", _POWER.sub("^", text))


# ---------------------------------------------------------------- tokens

_WORD = r"[A-Za-z_][A-Za-z_0-9']*(?:-[A-Za-z][A-Za-z0-9']*)*"
_TOKEN = re.compile(
    r"(\s*)(?:"  # leading space is swallowed here: 'glued' tokens have none
    r"(" + _WORD + r")|"  # words first: the commonest token
    r"((?:[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]{1,3}(?: [0-9]{3})+(?![0-9]|\s*/\s*[0-9])|[0-9]+)(?:\.[0-9]+(?:\.\.\.|…)?)?"
    r"(?:[eE][-+]?[0-9]+(?![A-Za-z_0-9]))?|\.[0-9]+)"  # 1.5e6: scientific notation
    r"|(\*\*|~=|=+|.))",  # one symbol, looked up in _SYMBOLS
    re.ASCII | re.DOTALL,
)
_SYMBOLS = {**{op: ("op", op) for op in "+-*/^"}, "**": ("op", "^"), "(": ("lp", None), "[": ("lp", None),
            ")": ("rp", None), "]": ("rp", None), "=": ("eq", False), "==": ("eq", False), "===": ("eq", False),
            "≈": ("eq", True), "~=": ("eq", True), "≅": ("eq", True), "%": ("pct", None),
            **{c: ("cur", None) for c in "$€£¥₹"}, "√": ("sqrt", None)}  # (kind, value); anything else separates


@dataclass(slots=True)
class Tok:
    kind: str  # num op lp rp eq pct cur word var sep sqrt gap
    text: str  # as written, for messages
    value: object = None  # num: exact value; op: + - * / ^; eq: True when approximate; word: lower case
    glued: bool = False  # no space before it: "12W", "-5", "25%"
    decimals: int = 0  # num: digits written after the point
    pct: bool = False  # num: written with %
    unit: str = ""  # num: the unit written with it, canonical where known ("dollar", "hour", "m^2")
    scale: int = 1  # num: the scale word written with it (million -> 1,000,000)


def _changed(t: Tok, **changes) -> Tok:
    """A copy of t with some fields changed: dataclasses.replace, at a third of its cost (it runs on most numbers)."""
    new = Tok(t.kind, t.text, t.value, t.glued, t.decimals, t.pct, t.unit, t.scale)
    for name, value in changes.items():
        setattr(new, name, value)
    return new


def _scientific(num: str, digits: str, glued: bool) -> Tok:
    """'1.5e6' exactly (1,500,000), its rounding set by the digits written: '3.33e5' is 333,000 to the thousand."""
    mantissa, _, exponent = digits.replace("E", "e").partition("e")
    power = int(exponent)
    if abs(power) > MAX_NUMBER_DIGITS:
        raise Refused("number too large")
    decimals = len(mantissa) - mantissa.find(".") - 1 if "." in mantissa else 0
    value = exact_decimal(mantissa) * Fraction(10) ** power
    return Tok("num", num, value, glued, decimals - power if decimals or power < 0 else 0)


def tokenize(text: str) -> list[Tok]:
    """Raw tokens of plain text: numbers (1,250 / 1 000 000 / .15 exact), operators, brackets, '=', words."""
    out = []
    glued = False
    # findall gives one tuple of groups per token, much cheaper than a Match object each
    for ws, word, num, symbol in _TOKEN.findall(text):
        if ws:
            glued = False
        if word:
            out.append(Tok("word", word, word.lower(), glued))
        elif num:
            digits = num.replace(",", "").replace(" ", "") if "," in num or " " in num else num
            if len(digits) > MAX_NUMBER_DIGITS:
                raise Refused("number too long")
            if digits[-1] in ".…":
                out.append(_repeating(num, digits.rstrip(".…"), glued))
            elif "e" in digits or "E" in digits:
                out.append(_scientific(num, digits, glued))
            elif digits[0] == "0" and len(digits) > 1 and digits[1] != ".":
                out.append(Tok("word", num, num, glued))  # 0900, 00:00: clock times, not quantities
            elif "." in digits:
                out.append(Tok("num", num, exact_decimal(digits), glued, len(digits) - digits.find(".") - 1))
            else:
                out.append(Tok("num", num, int(digits), glued))
        else:
            kind, value = _SYMBOLS.get(symbol) or (("eq", False) if symbol[0] == "=" else ("sep", None))  # "====" is "="
            out.append(Tok(kind, symbol, value, glued))
        glued = True
    return out


def _repeating(num: str, digits: str, glued: bool) -> Tok:
    """'16.666...' is 50/3: a last digit written three times or more, then '...', repeats for ever. Otherwise
    ('16.67...', '3.14159...') the digits are the number cut short: read as written, to its last place."""
    value, decimals = exact_decimal(digits), len(digits) - digits.find(".") - 1
    if decimals >= 3 and digits[-1] == digits[-2] == digits[-3]:
        value += Fraction(int(digits[-1]), 9 * 10 ** decimals)
    return Tok("num", num, value, glued, decimals)


def exact_decimal(digits: str) -> int | Fraction:
    """'1250' -> 1250, '2.5' -> 5/2, '.15' -> 3/20: exact, and an int when whole (faster than Fraction)."""
    if "." not in digits:
        return int(digits)
    whole, frac = digits.split(".")
    return Fraction(int(whole + frac), 10 ** len(frac))


# ---------------------------------------------------------------- passes over tokens, one per form

_CURRENCY = {"$": "dollar", "€": "euro", "£": "pound", "¥": "yen", "₹": "rupee"}
_MONEY_UNITS = {"", *_CURRENCY.values()}  # "$60 = 48A + 12A" is checked; "4.5 gallons = 4.5 * 8 pints" is a conversion
_SCALE_WORDS = {"thousand": 1000, "million": 10**6, "billion": 10**9, "trillion": 10**12, "k": 1000}


def _currency_and_scale(toks: list[Tok], k_is_scale: bool = True) -> list[Tok]:
    """$45 -> 45 dollars; 1.2 million -> 1,200,000; 2.5k -> 2,500 (unless the solution names an unknown K);
    25% -> 1/4 written with %."""
    out: list[Tok] = []
    currency, sign_glued = "", False
    for t in toks:
        prev = out[-1] if out else None
        if t.kind == "cur":
            currency, sign_glued = _CURRENCY[t.text], t.glued
            continue  # "$2.50": the sign is a unit, not a token
        if t.kind == "num":
            if currency:  # "- $22,800" is spaced as "- 22,800" is
                t, currency = _changed(t, unit=currency, glued=t.glued and sign_glued), ""
        elif prev is not None and prev.kind == "num" and not prev.pct:
            if t.kind == "word" and t.value in _SCALE_WORDS and (t.value != "k" or (t.glued and k_is_scale)):
                scale = _SCALE_WORDS[t.value]
                out[-1] = _changed(prev, value=prev.value * scale, scale=prev.scale * scale,
                                  text=prev.text + (" " if not t.glued else "") + t.text)
                continue
            if (t.kind == "pct" and t.glued) or (t.kind == "word" and t.value == "percent"):
                out[-1] = _changed(prev, value=Fraction(prev.value, 100), pct=True)
                continue
        currency = "" if t.kind != "word" else currency
        out.append(t)
    return out


def _mixed_numbers(toks: list[Tok]) -> list[Tok]:
    """'1 1/2 cups' and '1 and 1/4' are one number: (1 + 1/2). An improper fraction is not: 'In 2023 100/4'."""
    out: list[Tok] = []
    i, n = 0, len(toks)
    while i < n:
        t = toks[i]
        j = i + 2 if i + 1 < n and toks[i + 1].kind == "word" and toks[i + 1].value == "and" else i + 1
        if (t.kind == "num" and not t.pct and t.decimals == 0 and j + 2 < n
                and toks[j].kind == "num" and toks[j + 1].kind == "op" and toks[j + 1].value == "/"
                and toks[j + 2].kind == "num" and toks[j].decimals == 0 and toks[j + 2].decimals == 0
                and 0 < toks[j].value < toks[j + 2].value <= 100):
            out += [Tok("lp", "("), t, Tok("op", "+", "+"), toks[j], toks[j + 1], toks[j + 2], Tok("rp", ")")]
            i = j + 3
            continue
        out.append(t)
        i += 1
    return out


_NUMBER_WORDS = {"half": Fraction(1, 2), "twice": 2, "double": 2, "triple": 3, "thrice": 3, "third": Fraction(1, 3),
                 "quarter": Fraction(1, 4), "fourth": Fraction(1, 4), "two-thirds": Fraction(2, 3),
                 "three-quarters": Fraction(3, 4), "three-fourths": Fraction(3, 4)}
_OPERATOR_WORDS = {"times": "*", "plus": "+", "minus": "-", "x": "*"}
_APPROX_WORDS = {"about", "approximately", "approx", "roughly", "around", "nearly", "almost", "rounded", "round",
                 "rounds", "rounding"}
_OPERATOR_WORD_TRIGGERS = {*_NUMBER_WORDS, *_OPERATOR_WORDS, *_APPROX_WORDS, "divided", "multiplied", "equals", "of"}


def _rounded_to(toks: list[Tok], i: int) -> int:
    """How many tokens 'rounded to' / 'rounds down to' / 'rounded up to' take at i before a number, or 0."""
    k = i + 2 if i + 1 < len(toks) and toks[i + 1].value in ("up", "down", "off") else i + 1
    return k + 1 - i if k + 1 < len(toks) and toks[k].value == "to" and _operand_start(toks[k + 1]) else 0


def _operand_start(t: Tok | None) -> bool:
    return t is not None and t.kind in ("num", "lp", "sqrt", "cur")


def _operator_words(toks: list[Tok]) -> list[Tok]:
    """times / x / plus / minus / divided by / multiplied by / equals; 'of' after a percent or fraction;
    half of / twice / a third of as numbers."""
    out: list[Tok] = []
    i, n = 0, len(toks)
    while i < n:
        t = toks[i]
        if t.kind != "word":
            out.append(t)
            i += 1
            continue
        w, nxt = t.value, toks[i + 1] if i + 1 < n else None
        prev = out[-1] if out else None
        after = toks[i + 2] if i + 2 < n else None
        if w in ("divided", "multiplied") and nxt is not None and nxt.value == "by":
            out.append(Tok("op", f"{w} by", "/" if w == "divided" else "*"))
            i += 2
            continue
        if w in _OPERATOR_WORDS and prev is not None and prev.kind not in ("op", "eq", "lp") and (_operand_start(nxt) or (
                w == "x" and nxt is not None and nxt.kind == "word" and len(nxt.text) == 1 and nxt.text not in "aI")):
            out.append(Tok("op", t.text, _OPERATOR_WORDS[w]))  # "4 m x 4 m"; "2x + 8" keeps x a variable
        elif w in _APPROX_WORDS and prev is not None and prev.kind == "eq":
            out[-1] = Tok("eq", prev.text, True, prev.glued)  # "= about 0.67": rounding is expected there, nowhere else
        elif w == "is" and nxt is not None and nxt.value in _APPROX_WORDS and _operand_start(after):
            out.append(Tok("eq", "is " + nxt.text, True))  # "100 / 3 is approximately 33"
            i += 2
            continue
        elif w in ("rounded", "rounds", "rounding") and (skip := _rounded_to(toks, i)):
            while out and (out[-1].kind == "sep" or out[-1].value in ("which", "is", "that", "and")):
                out.pop()  # "= 15.36 minutes, which rounds down to 15": the result just written, rounded
            way = toks[i + 1].value if toks[i + 1].value in ("up", "down") else ""
            out.append(Tok("eq", f"rounded {way} to" if way else "rounded to", True))  # the way is kept: up means up
            i += skip
            continue
        elif w == "equals":
            out.append(Tok("eq", t.text, False))
        elif w == "of" and _operand_start(nxt) and prev is not None and prev.kind == "num" and (
                prev.pct or (len(out) > 2 and out[-2].kind == "op" and out[-2].value == "/")):
            out.append(Tok("op", "of", "*"))  # 150% of 80,000; 1/4 of 20
        elif w in _NUMBER_WORDS and (_operand_start(nxt) or (nxt is not None and nxt.value == "of" and _operand_start(after))):
            if prev is not None and prev.kind == "word" and prev.value in ("a", "one"):
                out.pop()  # "a third of 90"
            out += [Tok("num", t.text, Fraction(_NUMBER_WORDS[w]), t.glued), Tok("op", "of", "*")]
            i += 1 if _operand_start(nxt) else 2  # "twice 5", "half of 88"
            continue
        else:
            out.append(t)
        i += 1
    return out


# Units the checker can convert between, by dimension, in the smallest unit of each.
_UNIT_SCALES = {
    "cent": ("money", 1), "dollar": ("money", 100), "usd": ("money", 100), "buck": ("money", 100),
    "second": ("time", 1), "sec": ("time", 1), "s": ("time", 1), "minute": ("time", 60), "min": ("time", 60),
    "hour": ("time", 3600), "hr": ("time", 3600), "h": ("time", 3600), "day": ("time", 86400),
    "week": ("time", 604800), "wk": ("time", 604800),
    "g": ("mass", 1), "gram": ("mass", 1), "kg": ("mass", 1000), "kilogram": ("mass", 1000),
    "mm": ("length", 1), "millimeter": ("length", 1), "cm": ("length", 10), "centimeter": ("length", 10),
    "m": ("length", 1000), "meter": ("length", 1000), "metre": ("length", 1000), "km": ("length", 10**6),
    "kilometer": ("length", 10**6), "ml": ("volume", 1), "milliliter": ("volume", 1), "l": ("volume", 1000),
    "liter": ("volume", 1000), "litre": ("volume", 1000), "dozen": ("count", 12),
    # US units, each system its own kind (a mile is "about 1.6 km": across systems a conversion is a guess); a month
    # is no fixed number of days, but a year is 12 of them. Not "pound" (£) or "ounce" (weight or volume).
    "inch": ("us length", 1), "foot": ("us length", 12), "ft": ("us length", 12), "yard": ("us length", 36),
    "yd": ("us length", 36), "mile": ("us length", 63360), "month": ("calendar", 1), "year": ("calendar", 12),
    "cup": ("us volume", 1), "pint": ("us volume", 2), "quart": ("us volume", 4), "gallon": ("us volume", 16),
}
_UNIT_LETTERS = {"m", "g", "l", "L", "h", "s"}  # one-letter units that are also common variable names
_AREA_WORDS = {"sq": "^2", "square": "^2", "cubic": "^3", "cu": "^3"}
_COMPOUND_UNITS = {"hour", "hr", "minute", "min", "second", "sec", "day", "week", "month", "year", "foot", "feet",
                   "ft", "inch", "yard", "pound", "lb", "ounce", "oz", "dollar", "cent", "meter", "m", "cm", "km",
                   "kg", "g", "mile", "gallon"}
_NOT_UNIT = {"and", "or", "is", "are", "was", "were", "so", "then", "which", "that", "the", "to", "for", "if", "but",
             "because", "since", "as", "when", "while", "where", "after", "before", "with", "he", "she", "they",
             "we", "it", "i", "you", "this"}  # words that end a unit: what follows is prose


_PREPOSITIONS = {"over", "under", "above", "below", "aged", "from", "of"}


@functools.lru_cache(maxsize=4096)  # a run's units are few; this is asked for on most steps
def canonical_unit(word: str) -> str:
    """'Hours' -> 'hour', 'cents' -> 'cent'; a word not in the table is kept, lower case."""
    w = word.lower()
    if w in _UNIT_SCALES:
        return w
    for cut in (1, 2):  # plurals: hours, inches
        if w[:-cut] in _UNIT_SCALES and w[-cut:] in ("s", "es"):
            return w[:-cut]
    return {"feet": "foot", "metres": "metre", "minutes": "minute", "mins": "min", "hrs": "hr", "secs": "sec"}.get(w, w)


def _units(toks: list[Tok]) -> list[Tok]:
    """Words after a number that name what it counts are its unit, not tokens: '24 hours in a day - (...)',
    '$45/gallon', '20 cm^2', '3 sq ft'. A run of words ending at an operator or '=' is all unit; one
    ending elsewhere gives its first two words (the rest is prose, a barrier between expressions).
    Variables are already var tokens (`_variables` runs first): they end a run."""
    out: list[Tok] = []
    i, n = 0, len(toks)
    while i < n:
        t = toks[i]
        out.append(t)
        i += 1
        if t.kind not in ("num", "rp") or i >= n:
            continue
        j, words, names = i, 0, []
        while j < n:  # the run: words, 'word / word' rates, and ^2 after a unit
            u = toks[j]
            if u.kind == "word" and _may_name_unit(u):
                words += 1
                names.append(u.text)
                j += 1
            elif (u.kind == "op" and u.value == "/" and j + 1 < n and toks[j + 1].kind == "word"
                  and _may_name_unit(toks[j + 1])):  # "$45/gallon", "12 eggs/dozen": a rate
                names.append("/")
                j += 1
            elif u.kind == "op" and u.value == "^" and words and j + 1 < n and toks[j + 1].kind == "num" and toks[j + 1].value in (2, 3):
                names.append(f"^{toks[j + 1].value}")
                j += 2
            else:
                break
        if j == i or toks[i].value == "of":
            continue  # "60% of the total bill = 0.6x", "1/4 of the year =": a part of something named, not a unit
        end = toks[j] if j < n else None
        if end is not None and words <= 12 and (end.kind == "eq" or (end.kind == "op" and _operand_start(toks[j + 1] if j + 1 < n else None))):
            take = j - i  # "24 hours in a day - (...)": every word up to the operator names the unit
        else:
            take = _leading_unit(toks, i, j)  # "24 clips in May.": two words at most; the rest is prose
        if t.kind == "num" and take and not t.unit:
            out[-1] = _changed(t, unit=_unit_name(tuple(names)))
        if (take == j - i and end is not None and end.kind == "op" and end.value == "/" and end.glued and j + 2 < n
                and toks[j + 1].kind == "num" and toks[j + 2].kind == "word"):
            toks = toks[:j] + [Tok("gap", "/")] + toks[j + 1:]  # "2 degrees/10 minutes x 3": a rate per 10 minutes
        if take == j - i and end is not None and end.kind == "num" and (
                (take == 1 and canonical_unit(names[0]) in _COMPOUND_UNITS) or toks[j - 1].value in _PREPOSITIONS):
            out.append(Tok("gap", names[0]))  # "2 hours 30 minutes", "1500 students over 16 years old": not two expressions
        i += take
    return out


def _may_name_unit(t: Tok) -> bool:
    """A word, or a letter that is a unit ('5 m'), or 'a' in '24 hours in a day'; not 'b' in '5 b' or a name with '_'."""
    return (t.text in _UNIT_LETTERS or t.text in "aI") if len(t.text) == 1 else "_" not in t.text


def _leading_unit(toks: list[Tok], i: int, j: int) -> int:
    """How many tokens from i make the first two unit words (with their '/ word' and '^2' parts)."""
    k, words = i, 0
    while k < j:
        if toks[k].kind == "word":
            if words == 2 or toks[k].value in _NOT_UNIT:
                break
            words += 1
            k += 1
        else:
            k += 2  # "/ dozen" or "^ 2": one part of the unit
    return min(k, j) - i


@functools.lru_cache(maxsize=4096)
def _unit_name(names: tuple[str, ...]) -> str:
    """The canonical unit of a run of unit words: 'square meters' -> 'meter^2', 'cm ^2' -> 'cm^2'."""
    if names[0] == "/":
        return "/rate"
    first = names[0].lower()
    if first in _AREA_WORDS and len(names) > 1 and names[1] != "/":
        return canonical_unit(names[1]) + _AREA_WORDS[first]
    unit = canonical_unit(names[0])
    if len(names) > 1 and names[1].startswith("^"):
        unit += names[1]
    if "/" in names[:3]:
        unit += "/rate"  # "$45/gallon", "eggs/dozen": a rate is not converted
    return unit


_DECLARED = re.compile(r"\blet\s+([A-Za-z])\b|(?<![\w./])(?<![0-9] )([A-Za-z])\s*(?=[=+*/-])|=\s*([A-Za-z])\s*(?:[.,;)]|$)", re.M)


def declared_variables(plain: str) -> set[str]:
    """The letters a solution (as plain_text gives it) uses as unknowns: 'Let x be', 'x = 5', '8m + m = 27'
    (a letter before an operator or '=', not right after a number: '5 m * 4 m' names metres); and short names
    ('tw' in '2(tw + 7) + 3tw = 44'): written glued to a coefficient and, elsewhere, alone beside an operator."""
    letters = {"".join(names) for names in _DECLARED.findall(plain)} - {"a", "I"}
    if not _NAME_WITH_COEFFICIENT.search(plain):
        return letters
    names = set(_NAME_WITH_COEFFICIENT.findall(plain)) & set(_NAME_ALONE.findall(plain))  # one pass each: linear
    return letters | {name for name in names if name not in _NOT_NAMES and canonical_unit(name) not in _UNIT_SCALES
                      and canonical_unit(name) not in _COMPOUND_UNITS}


_NAME_WITH_COEFFICIENT = re.compile(r"(?<![\w.])[0-9]+(?:\.[0-9]+)?([a-z]{2,3})\b")
_NAME_ALONE = re.compile(r"(?:[=+*/(-]\s*|^)([a-z]{2,3})\s*(?=[-=+*/)])", re.M)
_NOT_NAMES = {"st", "nd", "rd", "th", "am", "pm", "ft", "in", "yd", "lb", "lbs", "oz", "mph", "kph", "gal", "qt", "pt",
              "tsp", "hrs", "pcs", "pc", "mi", "sq", "cu", "yr", "yrs", "mo", "wk", "wks", "km", "kg", "cm", "mm", "ml",
              "the", "and", "per", "for", "off", "of", "is", "to", "or", "by", "at", "on", "as", "an"}


def _is_variable(toks: list[Tok], k: int, declared: set) -> bool:
    """The one rule for "is this letter a variable": the word at k is one letter (or a name with '_': x_1, P_total),
    declared by the solution, or next to an operator or '=', or glued to a number (12W, 2x, B - 26, x = 5).
    Where a unit is written (5 m, 250g of flour, 15 ml/g), a unit letter is a variable only when glued to a
    number, next to an operator, and written once: '2m + 3 = 7'. 'a' and 'I' are words."""
    t = toks[k]
    if t.text in declared:
        return True
    if len(t.text) > 1 and "_" not in t.text:
        return False
    if t.text in "aI":
        return False
    prev = toks[k - 1] if k else None
    nxt = toks[k + 1] if k + 1 < len(toks) else None
    after_number = prev is not None and prev.kind in ("num", "rp")
    next_to_operator = nxt is not None and nxt.kind in ("op", "eq")
    if t.text in _UNIT_LETTERS and (after_number or (prev is not None and prev.value == "/" and k > 1
                                                     and toks[k - 2].kind == "word")):  # where a unit is written: 5 m, ml/g
        return t.glued and next_to_operator and sum(1 for u in toks if u.kind == "word" and u.text == t.text) < 2
    return (t.glued and after_number) or next_to_operator or (prev is not None and prev.kind in ("op", "eq"))


def _variables(toks: list[Tok], declared: set) -> list[Tok]:
    """Words that are variables (`_is_variable`) become var tokens; the units pass after it leaves them alone."""
    out = toks
    for k, t in enumerate(toks):
        if t.kind == "word" and (len(t.text) == 1 or "_" in t.text or t.text in declared) and _is_variable(toks, k, declared):
            if out is toks:
                out = list(toks)  # a new list: the tokens passed in are not changed
            out[k] = _changed(t, kind="var", value=t.text)
    return out


def step_tokens(plain: str, variables: set = frozenset()) -> list[Tok]:
    """The tokens of a step (as plain_text gives it) after every pass. A pass with nothing to read in
    the text is skipped: most steps have no currency, fraction or operator word."""
    toks = tokenize(plain)
    if _MAY_SCALE.search(plain):
        toks = _currency_and_scale(toks, k_is_scale="K" not in variables and "k" not in variables)
    if "/" in plain and _MAY_MIX.search(plain):
        toks = _mixed_numbers(toks)
    if not _OPERATOR_WORD_TRIGGERS.isdisjoint([t.value for t in toks if t.kind == "word"]):
        toks = _operator_words(toks)
    if _MAY_VARIABLE.search(plain) or (variables and any(len(name) > 1 and name in plain for name in variables)):
        toks = _variables(toks, variables)
    toks = _units(toks)
    if "dozen" in plain and any(t.kind == "var" for t in toks) and not _PER_DOZEN.search(plain):
        # "x + 2 dozen = 60": an unknown counts units, 24; with a rate ("$2/dozen") the dozens are the rate's to count
        toks = [_changed(t, value=t.value * 12, text=t.text + " dozen", unit="") if t.kind == "num" and t.unit == "dozen"
                else t for t in toks]
    return toks


_PER_DOZEN = re.compile(r"(?:/|\bper|\ba|\beach)\s*dozen", re.I)
_NUMBER_IN_TEXT = re.compile(r"[0-9][0-9,. ]*(?:%|\s*(?:percent|k|thousand|million|billion|trillion)\b)?", re.I)


def stated_numbers(text: str) -> set:
    """The values of the numbers a text (a question) states, read as steps are read: '1.2 million' is 1,200,000,
    '40%' is 2/5, '1,250' is 1250. Only the numbers and their scale words are tokenized: a question is mostly words."""
    try:
        toks = _currency_and_scale(tokenize(" ; ".join(_NUMBER_IN_TEXT.findall(text))))
    except Refused:
        return set()
    return {t.value for t in toks if t.kind == "num"}


_MAY_VARIABLE = re.compile(r"(?<![A-Za-z_])(?![aI])[A-Za-z](?![A-Za-z0-9_'])|_")  # a one-letter word, or a name with '_'
_MAY_MIX = re.compile(r"[0-9]\s+(?:and\s+)?[0-9]+\s*/\s*[0-9]")
_MAY_SCALE = re.compile(r"[$€£¥₹%]|[0-9]\s*(?:k\b|thousand|million|billion|trillion|percent)", re.I)


APPROX_TEXT = re.compile(r"\b(?:" + "|".join(_APPROX_WORDS) + r")\b|≈", re.I)
