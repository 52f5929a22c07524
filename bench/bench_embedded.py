"""The README's first command on the embedded model, measured: valid samples, kept, final, time, tokens/s.

    python bench/bench_embedded.py                 # 20 samples, as issue #16 measures
    python bench/bench_embedded.py --samples 5     # the README's own command

Runs `generate.py --model embedded --domains "Coffee shop" --domain-notes "prices, orders, staff
shifts"`, `filter.py` and `score.py` in subprocesses, in a temporary folder, with a fixed seed, then
prints the valid rate, why the failed attempts failed, how many samples the filter kept and score
passed to final, the wall time of each stage and generation tokens/s (from run.json). To compare two versions, run this script from each
checkout (`git worktree add ../base <commit>`, copy this file into it) on an otherwise idle machine.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        gen = subprocess.run([sys.executable, str(ROOT / "generate.py"), "--model", "embedded", "--domains", "Coffee shop",
                              "--domain-notes", "prices, orders, staff shifts", "--samples-per-domain", str(args.samples),
                              "--seed", str(args.seed)], cwd=tmp, capture_output=True, text=True)
        gen_seconds = time.monotonic() - started
        started = time.monotonic()
        filt = subprocess.run([sys.executable, str(ROOT / "filter.py"), "--input", "latest"], cwd=tmp,
                              capture_output=True, text=True)
        filter_seconds = time.monotonic() - started
        started = time.monotonic()
        subprocess.run([sys.executable, str(ROOT / "score.py"), "--input", "latest"], cwd=tmp, capture_output=True, text=True)
        score_seconds = time.monotonic() - started
        run_dir = next((Path(tmp) / "runs").glob("run_*"))
        totals = json.loads((run_dir / "run.json").read_text())["stages"]["generate"]["totals"]
        folder = run_dir / "Coffee shop data samples"
        kept, final = (len((folder / f"{name}_coffee_shop.jsonl").read_text().splitlines())
                       if (folder / f"{name}_coffee_shop.jsonl").exists() else 0 for name in ("filtered", "final"))
    n = args.samples
    print(f"valid: {totals['valid']}/{n} = {totals['valid'] / n:.0%} in {totals['attempts']} attempts "
          f"(target >= 80%); kept by filter.py: {kept}; in final: {final}")
    print(f"failed attempts: {totals.get('why_failed') or 'none'}")  # as generate.py's summary counts them (failure_kinds)
    print(f"generate: {gen_seconds:.0f} s, {totals['tokens_per_second']} tokens/s "
          f"({totals['completion_tokens']:,} tokens); filter: {filter_seconds:.1f} s; score: {score_seconds:.0f} s")
    if gen.returncode or filt.returncode:
        print(gen.stderr[-2000:], filt.stderr[-2000:], file=sys.stderr)


if __name__ == "__main__":
    main()
