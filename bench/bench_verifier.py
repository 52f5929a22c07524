"""How well the filter's verifier does on real GSM8K solutions.

    python bench/bench_verifier.py

Keep rate on the untouched samples (target >= 98.5%), and catch rate (target >= 99%) when one step's
result is changed, when the final answer is changed, when a decimal result is one unit off in its
last written digit (12.50 + 3 = 15.51), and when the answer is 100x or 1/100 of the right one.
Reads ../shared/data/gsm8k/train_dev.jsonl.
"""

import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dataforge.checks import check_sample  # noqa: E402
from dataforge.gsm8k import gsm8k_samples  # noqa: E402

CHECKS = ("rules", "arithmetic", "consistency", "quality")  # domain needs a domain; dedup is measured elsewhere
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


def main() -> None:
    samples = gsm8k_samples()
    kept = sum(not check_sample(s, CHECKS).reasons for s in samples)
    step_caught = sum(bool(check_sample(corrupt_step(s, i), CHECKS).reasons) for i, s in enumerate(samples))
    answer_caught = sum(bool(check_sample(corrupt_answer(s, i), CHECKS).reasons) for i, s in enumerate(samples))
    digit = [c for i, s in enumerate(samples) if (c := corrupt_last_digit(s, i)) is not None]
    digit_caught = sum(bool(check_sample(s, CHECKS).reasons) for s in digit)
    scale_caught = sum(bool(check_sample(corrupt_scale(s, i), CHECKS).reasons) for i, s in enumerate(samples))
    n = len(samples)
    print(f"GSM8K train_dev samples (all steps have '='): {n}")
    print(f"kept untouched:             {kept}/{n} = {kept / n:.2%}  (target >= 98.5%)")
    print(f"caught, step changed:       {step_caught}/{n} = {step_caught / n:.2%}  (target >= 99%)")
    print(f"caught, answer changed:     {answer_caught}/{n} = {answer_caught / n:.2%}  (target >= 99%)")
    print(f"caught, last digit +-1:     {digit_caught}/{len(digit)} = {digit_caught / len(digit):.2%}  (target >= 99%;"
          f" the samples with a decimal result)")
    print(f"caught, answer x100 or /100: {scale_caught}/{n} = {scale_caught / n:.2%}  (target >= 99%)")


if __name__ == "__main__":
    main()
