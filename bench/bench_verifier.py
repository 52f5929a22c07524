"""How well the filter's verifier does on real GSM8K solutions.

    python bench/bench_verifier.py

Keep rate on the untouched samples (target >= 98.5%), and catch rate (target >= 99%) when one step's
result is changed, when the final answer is changed, when a decimal result is one unit off in its
last written digit (12.50 + 3 = 15.51), and when the answer is 100x or 1/100 of the right one; and how
many mutants of the accepting readings' own rows (tests/mutants.py: a result a little off, a unit swapped, a
trigger word in another sense) are rejected (target: all).
Reads ../shared/data/gsm8k/train_dev.jsonl.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dataforge.arithmetic import check_steps  # noqa: E402
from dataforge.checks import check_sample  # noqa: E402
from dataforge.gsm8k import gsm8k_samples  # noqa: E402
from tests.corruptions import corrupt_answer, corrupt_last_digit, corrupt_scale, corrupt_step  # noqa: E402
from tests.mutants import all_mutants  # noqa: E402

CHECKS = ("rules", "arithmetic", "consistency", "quality")  # domain needs a domain; dedup is measured elsewhere

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
    mutants = all_mutants()
    rejected = sum(check_steps(steps, question)[-1].status != "verified" for _, steps, question in mutants)
    print(f"mutants of the readings' rows rejected: {rejected}/{len(mutants)} checked  (target: all)")


if __name__ == "__main__":
    main()
