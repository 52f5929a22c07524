"""An exact parser over fractions: the value of a token list, or Refused. Nothing is ever executed; hostile input
(deep nesting, huge powers, long numbers) is refused quickly.

    >>> from dataforge.tokens import step_tokens
    >>> evaluate(step_tokens("2 + 1 1/2"))
    Fraction(7, 2)
"""

import math
from fractions import Fraction

from dataforge.tokens import Refused, Tok

__all__ = ["evaluate", "Refused"]

MAX_DEPTH = 60
MAX_POWER_BITS = 4096  # refuse a power, or any value worked out, that would need more bits than this


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
                value = _apply("*", value, self.unary())  # implicit multiplication: 4(7), (2)(3), (5)3, 2x once x is known
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
    """a op b for + - * /, exactly; Refused past MAX_POWER_BITS ('10^1000' multiplied up)."""
    if op == "+":
        value = a + b
    elif op == "-":
        value = a - b
    elif op == "*":
        value = a * b
    elif b == 0:
        raise ZeroDivisionError
    else:
        value = Fraction(a, b)
    if value.numerator.bit_length() > MAX_POWER_BITS or value.denominator.bit_length() > MAX_POWER_BITS:
        raise Refused("number too large")
    return value


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
