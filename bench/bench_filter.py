"""Filter throughput and scaling, end to end (`python filter.py` in a subprocess).

    python bench/bench_filter.py                 # N = 10k, 40k, 100k
    python bench/bench_filter.py --sizes 5000
    python bench/bench_filter.py --run-folder     # a run folder, as `--input latest`: the report is written too

Synthesizes N realistic samples from ../shared/data/gsm8k/train_dev.jsonl: each GSM8K solution
behind a made-up context sentence so samples are not duplicates of each other, plus 10% true
near-duplicates (an earlier sample with new numbers, half of them also reworded). Prints samples/s,
time(4N)/time(N), peak memory (max RSS of the filter and its workers) and how many near-duplicates
were caught. The samples are written by a child process, so the bench itself stays small: a child
inherits its parent's peak RSS in the kernel's count.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.synthetic import synthesize  # noqa: E402  (imports dataforge only when called: this process stays small)

def duplicates_caught(kept_path: Path, rejected_path: Path) -> tuple[int, int]:
    """Of the near-duplicates that reached the duplicate check (no other reason to reject them) and
    whose original was kept, how many were rejected as duplicates."""
    kept_ids = {json.loads(line)["id"] for line in open(kept_path)}
    caught = eligible = 0
    for path in (kept_path, rejected_path):
        for line in open(path):
            r = json.loads(line)
            checks = {x["check"] for x in r.get("reject_reasons", [])}
            if r.get("bench_duplicate_of") in kept_ids and checks <= {"duplicate"}:
                eligible += 1
                caught += "duplicate" in checks
    return caught, eligible


def run_filter(path: Path) -> tuple[float, float]:
    """Seconds and peak memory (MB) of one `python filter.py` run, its worker processes included."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen([sys.executable, str(ROOT / "filter.py"), "--input", str(path), "--skip-checks", "domain"],
                                stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own usage, not the largest child's so far
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            stderr.seek(0)
            sys.exit(stderr.read().decode())
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,40000,100000")
    p.add_argument("--run-folder", action="store_true",
                   help="filter a run folder (as `--input latest` does: the report is written too), not a loose file")
    p.add_argument("--write", nargs=2, metavar=("N", "PATH"), help=argparse.SUPPRESS)  # the child that writes samples
    args = p.parse_args()
    if args.write:
        Path(args.write[1]).write_text("".join(json.dumps(s) + "\n" for s in synthesize(int(args.write[0]))))
        return
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.sizes.split(",")):
            if args.run_folder:  # the layout generate.py leaves, with its run.json
                run_dir = Path(tmp) / f"run_{n}"
                (run_dir / "Bench data samples").mkdir(parents=True)
                (run_dir / "run.json").write_text(json.dumps({"stages": {"generate": {
                    "domains": [{"name": "Bench", "notes": ""}], "settings": {"samples_per_domain": n}}}}))
                path = run_dir / "Bench data samples" / "raw_bench.jsonl"
            else:
                path = Path(tmp) / f"bench_{n}.jsonl"
            subprocess.run([sys.executable, __file__, "--write", str(n), str(path)], check=True)
            seconds, peak_mb = run_filter(path.parent.parent if args.run_folder else path)
            times[n] = seconds
            out = (path.with_name("filtered_bench.jsonl"), path.with_name("rejected_bench.jsonl")) if args.run_folder \
                else (Path(tmp) / f"bench_{n}.filtered.jsonl", Path(tmp) / f"bench_{n}.rejected.jsonl")
            kept_path, rejected_path = out
            kept = sum(1 for _ in open(kept_path))
            caught, eligible = duplicates_caught(kept_path, rejected_path)
            print(f"N={n:>7,}: {seconds:6.2f}s  {n / seconds:8,.0f} samples/s  kept {kept / n:.1%}  peak RSS {peak_mb:,.0f} MB  "
                  f"near-duplicates caught {caught:,} of {eligible:,} ({caught / max(eligible, 1):.2%})")
    sizes = sorted(times)
    for small in sizes:
        if 4 * small in times:
            print(f"time({4 * small:,}) / time({small:,}) = {times[4 * small] / times[small]:.2f}  (linear = 4.0, target <= 4.4)")


if __name__ == "__main__":
    main()
