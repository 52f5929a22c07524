"""Cost per kept sample: tokens and seconds spent per sample that reaches final.

    python bench/bench_cost.py --run runs/run_20261125_101500   # an existing run
    python bench/bench_cost.py                                  # a fresh run on the embedded model
    python bench/bench_cost.py --model llama2 --samples 30      # a fresh run on Ollama ($OLLAMA_HOST)
    python bench/bench_cost.py --model embedded --samples 20 --repairs 0,1   # one fresh run each, compared

With and without repair, on the test server's slipping model (30% of samples with one step off,
80% of those fixed when told the exact error):

    python tests/fake_ollama.py --port 11577 --slips 0.3 --fixes 0.8 &
    OLLAMA_HOST=127.0.0.1:11577 python bench/bench_cost.py --model llama2 --samples 200 --repairs 0,1 --skip-checks duplicate

Reads the same numbers the run report shows (dataforge/report.py): tokens from every generated
and scored record, seconds from every session of each stage in run.json. `--skip-checks duplicate`
is for the test server, whose templated questions are mostly near-duplicates of each other.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dataforge.cli import table  # noqa: E402
from dataforge.report import gather  # noqa: E402


def fresh_run(tmp: Path, samples: int, model: str, repairs: int | None = None, skip_checks: str = "") -> Path:
    """generate -> filter -> score in tmp (the judge is the generation model, score.py's default)."""
    steps = [["generate.py", "--model", model, "--domains", "Coffee shop", "--domain-notes", "prices, orders, staff shifts",
              "--samples-per-domain", str(samples), "--seed", "1", "--max-tokens", "400"]
             + ([] if repairs is None else ["--repairs", str(repairs)]),
             ["filter.py", "--input", "latest"] + (["--skip-checks", skip_checks] if skip_checks else []),
             ["score.py", "--input", "latest", "--threshold", "1"]]
    for args in steps:
        subprocess.run([sys.executable, str(ROOT / args[0]), *args[1:]], cwd=tmp, check=True, capture_output=True)
    return next((tmp / "runs").glob("run_*"))


def report(run_dir: Path) -> dict:
    info = gather(run_dir)
    t = info["total"]
    print(f"run {info['run']}: requested {t['requested']}, valid {t['valid']}, filtered {t['filtered']}, final {t['final']}")
    print(f"tokens: generation {info['tokens']['generate']:,}, judging {info['tokens']['score']:,}")
    print("seconds: " + ", ".join(f"{s} {v:.1f}" for s, v in info["seconds"].items()))
    per = info["per_final_sample"]
    print(f"per sample that reached final: {per['tokens']} tokens, {per['seconds']} s"
          if per["tokens"] is not None else "no sample reached final: cost per kept sample is undefined for this run")
    return info


def compare(info: dict, run_dir: Path, repairs: int) -> list:
    """One row of the with/without-repair table. Generated tokens: what the model wrote in generation
    (answers and reasoning, repairs included), the cost a kept sample is measured against."""
    totals = json.loads((run_dir / "run.json").read_text())["stages"]["generate"]["totals"]
    generated = totals["completion_tokens"] + totals["reasoning_tokens"]
    t, r = info["total"], info["repairs"]
    kept = t["filtered"] or 0
    return [repairs, t["requested"], t["valid"], kept, t["final"], f"{r['asked']} / {r['passed']}", f"{generated:,}",
            f"{1000 * kept / generated:.2f}" if generated else "–",
            f"{info['tokens']['generate'] / kept:,.0f}" if kept else "–", info["per_final_sample"]["tokens"] or "–"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="a run folder (default: a fresh run)")
    p.add_argument("--model", default="embedded", help="model for the fresh run (default embedded)")
    p.add_argument("--samples", type=int, default=6, help="samples for the fresh run (default 6)")
    p.add_argument("--repairs", help="comma-separated generate.py --repairs values: one fresh run each, compared")
    p.add_argument("--skip-checks", default="", help="filter.py --skip-checks for the fresh runs")
    p.add_argument("--keep", metavar="DIR", help="make the fresh runs in DIR (kept, to read), not in a temporary folder")
    args = p.parse_args()
    if args.run:
        report(Path(args.run))
        return
    rows = []
    for repairs in [int(n) for n in args.repairs.split(",")] if args.repairs else [None]:
        with tempfile.TemporaryDirectory() as tmp:
            where = Path(args.keep) / f"repairs_{repairs}" if args.keep else Path(tmp)
            where.mkdir(parents=True, exist_ok=True)
            run_dir = fresh_run(where, args.samples, args.model, repairs, args.skip_checks)
            if repairs is not None:
                print(f"--repairs {repairs}:")
            rows.append(compare(report(run_dir), run_dir, repairs))
    if args.repairs:
        print("", table(rows, ["repairs", "requested", "valid", "kept", "final", "repairs asked / passed",
                               "generated tokens", "kept per 1k generated", "gen. tokens per kept", "tokens per final"]), sep="\n")


if __name__ == "__main__":
    main()
