"""GSM8K items turned into DataForge samples, to measure the filter on real solutions.

The data is read from ../shared/data/gsm8k/ (never copied into the project).
"""

import json
import re
from pathlib import Path

# The workplace's shared data sits beside the clone; a user's clone has none (tests that need it skip).
SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SHARED_GSM8K = SHARED_DATA / "gsm8k"
_ANNOTATION = re.compile(r"<<[^>]*>>")


def gsm8k_sample(item: dict, domain: str = "GSM8K") -> dict | None:
    """One item as a sample, or None when a step has no '=' (those are not our format)."""
    body, _, final = item["answer"].rpartition("####")
    steps = [_ANNOTATION.sub("", line).strip() for line in body.strip().splitlines() if line.strip()]
    if not steps or any("=" not in s for s in steps):
        return None
    return {"question": item["question"], "reasoning": steps, "answer": final.strip(), "difficulty": "medium",
            "domain": domain, "num_steps": len(steps)}


def gsm8k_samples(name: str = "train_dev.jsonl") -> list[dict]:
    with open(SHARED_GSM8K / name, encoding="utf-8") as f:
        items = [json.loads(line) for line in f if line.strip()]
    return [s for s in map(gsm8k_sample, items) if s is not None]
