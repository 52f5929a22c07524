"""Unknowns in a solution's equations: which values it binds (x = 29, or a linear equation in one unknown), a letter
used again for a new unknown, and identities in one unknown. arithmetic.py puts the values in before any reading.

    >>> from dataforge.arithmetic import check_steps
    >>> [s.status for s in check_steps(["2x + 8 = 66", "x = 29"])]
    ['unverifiable', 'verified']
"""

from fractions import Fraction

from dataforge.exact import evaluate
from dataforge.tokens import Refused, stated_numbers

__all__ = ["bind", "assigns", "variables_of", "identity", "solved_later"]


def variables_of(eq) -> set:
    return {t.value for t in eq.lhs.tokens + eq.rhs.tokens if t.kind == "var"}


def assigns(eq) -> str | None:
    """The name in 'x = 29' or 'x = 19.50 / 0.75' (one side a lone unknown, the other none): a claim to check."""
    for a, b in ((eq.lhs.tokens, eq.rhs.tokens), (eq.rhs.tokens, eq.lhs.tokens)):
        if len(a) == 1 and a[0].kind == "var" and not any(t.kind == "var" for t in b):
            return a[0].value
    return None


def bind(eqs: list, solution, question: str) -> None:
    """Values of the unknowns. A step that states an equation in x and then 'x = ...' solves its own x
    (models reuse x for each sub-problem); elsewhere each unknown takes its value from the first linear
    equation, in order, in which it is the only unknown."""
    usable = [eq for eq in eqs if not (eq.lhs.unknown or eq.rhs.unknown)]
    for eq in usable:
        name = assigns(eq)
        if name is None:
            continue
        for other in usable:  # an earlier equation of the same step, in that one unknown
            if other.step == eq.step and other is not eq and assigns(other) is None and variables_of(other) == {name} and not any(
                    e.step < eq.step and name in variables_of(e) for e in usable):  # not "2x + 8 = 66", then "2x = 60, so x = 30"
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
            free = variables_of(eq) - values.keys()
            if len(free) == 1 and (root := _linear_root(eq, name := free.pop(), values)) is not None:
                solution.bindings[name], solution.defined_by[name] = root, eq
                changed = True
        if not changed:
            break
    _letters_used_again(usable, solution, question)


def _letters_used_again(usable: list, solution, question: str) -> None:
    """A letter used again for a new unknown (Peter's '4x = 64', 'x = 16', then Martha's '7x = 56', 'x = 8'): an
    equation in x alone, after x was found in an earlier step, built only from numbers the question states, false
    for the old x, and followed by 'x = ...' giving its own root, gives x that root from its step on. A rewrite
    ('2x + 8 = 66', then '2x = 60, so x = 30') uses a number the question does not state, and a wrong setup of the
    same unknown ('4x = 64', then '7x = 64') a number of the equation that gave x: both stay wrong."""
    stated, rebound = None, set()  # rebound: the (step, letter) values set here, which a later sub-problem may take over
    for eq in usable:
        names = variables_of(eq)
        if len(names) != 1 or assigns(eq) is not None or solution.defines(eq):
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
        if root is None or not any(later.step >= eq.step and assigns(later) == name and _assigned(later) == root
                                   for later in usable):
            continue
        for step in range(eq.step, len(solution.steps)):
            local = solution.local.setdefault(step, {})
            if name not in local or (step, name) in rebound:  # a step's own solve keeps its value
                local[name], solution.defined_by[(step, name)] = root, eq
                rebound.add((step, name))


def _assigned(eq) -> Fraction | None:
    """The value 'x = 56 / 7' gives x."""
    side = eq.rhs.tokens if len(eq.lhs.tokens) == 1 and eq.lhs.tokens[0].kind == "var" else eq.lhs.tokens
    try:
        return evaluate(side)
    except (Refused, ZeroDivisionError):
        return None


def _linear_root(eq, name: str, bindings: dict) -> Fraction | None:
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


def solved_later(name: str, eq, solution) -> bool:
    """Is `name` given its value by an equation after `eq` ('0.6x = 0.6(40 + x)', then 'x = 40 + 0.6x')?"""
    source = solution.defined_by.get((eq.step, name)) or solution.defined_by.get(name)
    return source is not None and source.step > eq.step


def identity(eq, values: dict) -> bool:
    """Does an equation in one unknown hold for every value of it ('x - 6 - 3(4) = x - 18')? Five trial values:
    an identity of the degrees solutions write."""
    free = variables_of(eq) - values.keys()
    if len(free) != 1 or eq.lhs.unknown or eq.rhs.unknown:
        return False
    name = free.pop()
    try:
        return all(evaluate(eq.lhs.tokens, {**values, name: Fraction(v)}) == evaluate(eq.rhs.tokens, {**values, name: Fraction(v)})
                   for v in (0, 1, 2, 3, 7))
    except (Refused, ZeroDivisionError):
        return False
