"""Filter throughput and scaling, end to end (`python filter.py` in a subprocess).

    python bench/bench_filter.py                 # N = 10k, 40k, 100k
    python bench/bench_filter.py --sizes 5000

Synthesizes N realistic samples from ../shared/data/gsm8k/train_dev.jsonl: each GSM8K solution
behind a made-up context sentence so samples are not duplicates of each other, plus 10% true
near-duplicates (an earlier sample with new numbers). Prints samples/s, time(4N)/time(N) and
peak memory (max RSS of the filter process).
"""

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dataforge.gsm8k import gsm8k_samples  # noqa: E402

SYLLABLES = ["ka", "lo", "mi", "ren", "tas", "vo", "zu", "bel", "dor", "fen", "gri", "hal", "jin", "kor", "lum", "mor"]


def synthesize(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    base = gsm8k_samples()
    out = []
    for i in range(n):
        if out and rng.random() < 0.1:  # a true near-duplicate: an earlier sample, numbers changed
            s = dict(rng.choice(out))
            s["question"] = s["question"].replace("1", "7").replace("2", "8")
        else:
            s = dict(rng.choice(base))
            words = " ".join("".join(rng.choices(SYLLABLES, k=3)) for _ in range(30))
            s["question"] = f"At {words}: {s['question']}"
        s["id"] = f"bench-{i:06d}"
        out.append(s)
    return out


def run_filter(path: Path) -> tuple[float, float]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "filter.py"), "--input", str(path), "--skip-checks", "domain"],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far
    return seconds, peak_mb


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,40000,100000")
    args = p.parse_args()
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.sizes.split(",")):
            path = Path(tmp) / f"bench_{n}.jsonl"
            path.write_text("".join(json.dumps(s) + "\n" for s in synthesize(n)))
            seconds, peak_mb = run_filter(path)
            times[n] = seconds
            kept = sum(1 for _ in open(Path(tmp) / f"bench_{n}.filtered.jsonl"))
            print(f"N={n:>7,}: {seconds:6.2f}s  {n / seconds:8,.0f} samples/s  kept {kept / n:.1%}  peak RSS {peak_mb:,.0f} MB")
    sizes = sorted(times)
    for small in sizes:
        if 4 * small in times:
            print(f"time({4 * small:,}) / time({small:,}) = {times[4 * small] / times[small]:.2f}  (linear = 4.0, target <= 4.4)")


if __name__ == "__main__":
    main()
