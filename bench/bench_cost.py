"""Cost per kept sample: tokens and seconds spent per sample that reaches final.

    python bench/bench_cost.py --run runs/run_20261125_101500   # an existing run
    python bench/bench_cost.py                                  # a fresh run on the embedded model
    python bench/bench_cost.py --model llama2 --samples 30      # a fresh run on Ollama ($OLLAMA_HOST)

Reads the same numbers the run report shows (dataforge/report.py): tokens from every generated
and scored record, seconds from every session of each stage in run.json.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dataforge.report import gather  # noqa: E402


def fresh_run(tmp: Path, samples: int, model: str) -> Path:
    """generate -> filter -> score in tmp (the judge is the generation model, score.py's default)."""
    steps = [["generate.py", "--model", model, "--domains", "Coffee shop", "--domain-notes", "prices, orders, staff shifts",
              "--samples-per-domain", str(samples), "--seed", "1", "--max-tokens", "400"],
             ["filter.py", "--input", "latest"], ["score.py", "--input", "latest", "--threshold", "1"]]
    for args in steps:
        subprocess.run([sys.executable, str(ROOT / args[0]), *args[1:]], cwd=tmp, check=True, capture_output=True)
    return next((tmp / "runs").glob("run_*"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="a run folder (default: a fresh run)")
    p.add_argument("--model", default="embedded", help="model for the fresh run (default embedded)")
    p.add_argument("--samples", type=int, default=6, help="samples for the fresh run (default 6)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(args.run) if args.run else fresh_run(Path(tmp), args.samples, args.model)
        info = gather(run_dir)
    t = info["total"]
    print(f"run {info['run']}: requested {t['requested']}, valid {t['valid']}, filtered {t['filtered']}, final {t['final']}")
    print(f"tokens: generation {info['tokens']['generate']:,}, judging {info['tokens']['score']:,}")
    print("seconds: " + ", ".join(f"{s} {v:.1f}" for s, v in info["seconds"].items()))
    per = info["per_final_sample"]
    print(f"per sample that reached final: {per['tokens']} tokens, {per['seconds']} s"
          if per["tokens"] is not None else "no sample reached final: cost per kept sample is undefined for this run")


if __name__ == "__main__":
    main()
