"""Wrong versions of right GSM8K solutions, for measuring what the verifier catches (tests/test_filter.py,
bench/bench_verifier.py): one step's result changed, the answer changed, a decimal one unit off in its last digit,
the answer 100x or 1/100."""

import random
import re

_NUMBER = re.compile(r"([0-9][0-9,]*\.?[0-9]*)")


def _bump(text: str, rng: random.Random) -> str:
    """Change the first number in text (the result, right after '=') to a different, plausible one."""
    m = _NUMBER.search(text)
    value = float(m.group(1).replace(",", "").rstrip("."))
    new = value + rng.choice([1, 2, 3, 5, 10]) if rng.random() < 0.7 else value * 2 + 1
    shown = f"{new:g}" if new != int(new) else str(int(new))
    return text[: m.start()] + shown + text[m.end():]


def corrupt_step(sample: dict, seed: int) -> dict:
    """One step's stated result changed (the number after its last '=')."""
    rng = random.Random(seed)
    steps = list(sample["reasoning"])
    i = rng.randrange(len(steps))
    head, eq, tail = steps[i].rpartition("=")
    steps[i] = head + eq + _bump(tail, rng) if _NUMBER.search(tail) else _bump(steps[i], rng)
    return {**sample, "reasoning": steps}


def corrupt_answer(sample: dict, seed: int = 0) -> dict:
    return {**sample, "answer": _bump(sample["answer"], random.Random(seed))}


_DECIMAL_RESULT = re.compile(r"=\s*\$?([0-9][0-9,]*\.([0-9]+))")


def corrupt_last_digit(sample: dict, seed: int) -> dict | None:
    """A step's decimal result one unit off in its last written digit ('= 15.50' -> '= 15.51');
    None when no step has a decimal result."""
    rng = random.Random(seed)
    candidates = [(i, m) for i, s in enumerate(sample["reasoning"]) for m in _DECIMAL_RESULT.finditer(s)]
    if not candidates:
        return None
    i, m = rng.choice(candidates)
    text, decimals = m.group(1).replace(",", ""), len(m.group(2))
    units = int(text.replace(".", "")) + rng.choice([-1, 1])
    if units < 0:
        units = 1
    shown = f"{units / 10 ** decimals:.{decimals}f}"
    steps = list(sample["reasoning"])
    steps[i] = steps[i][: m.start(1)] + shown + steps[i][m.end(1):]
    return {**sample, "reasoning": steps}


def corrupt_scale(sample: dict, seed: int) -> dict:
    """The answer 100x or 1/100 of what it was ('$20' -> '$2,000' or '$0.20')."""
    value = float(_NUMBER.search(sample["answer"]).group(1).replace(",", "").rstrip("."))
    new = value * 100 if random.Random(seed).random() < 0.5 else value / 100
    return {**sample, "answer": f"{new:,.2f}".rstrip("0").rstrip(".")}
