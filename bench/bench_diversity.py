"""Variety with and without a plan (generate.py --plan off vs the default).

    python bench/bench_diversity.py                          # both parts below
    python bench/bench_diversity.py --part server --samples 200
    python bench/bench_diversity.py --part embedded --samples 40

server: the test server in its collapsing mode (the same brief gives the same problem, names and numbers aside,
as small local models do), one domain: valid samples, distinct samples kept by filter.py, and tokens per
valid and per kept sample (the plan's own tokens included).
embedded: the embedded model (SmolLM2-135M, a real writer, weak at math), per domain: the variety measures of
dataforge/variety.py on the valid questions.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from dataforge.cli import table  # noqa: E402

DOMAINS = [("Coffee shop", "prices, orders, staff shifts"), ("Jobs at startup", "budget, headcount, runway")]


def run_stage(tmp: Path, env: dict, *args: str) -> None:
    proc = subprocess.run([sys.executable, *args], cwd=tmp, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{' '.join(args[:1])} failed:\n{proc.stderr[-3000:]}")


def generate(tmp: Path, env: dict, plan: str, model: str, samples: int, domains, extra=()) -> dict:
    """One run of generate.py in tmp; its run.json's generate record."""
    flags = [f for name, notes in domains for f in ("--domains", name, "--domain-notes", notes)]
    run_stage(tmp, env, str(ROOT / "generate.py"), "--model", model, *flags, "--samples-per-domain", str(samples),
              "--plan", plan, "--seed", "1", *extra)
    run_dir = next((tmp / "runs").glob("run_*"))
    return json.loads((run_dir / "run.json").read_text())["stages"]["generate"] | {"run_dir": run_dir}


def server_part(samples: int) -> None:
    from fake_ollama import FakeOllama

    rows = []
    for plan in ("off", "on"):
        server = FakeOllama().start()
        server.collapsing = True
        env = {**os.environ, "OLLAMA_HOST": server.url}
        with tempfile.TemporaryDirectory() as tmp:
            g = generate(Path(tmp), env, plan, "llama2", samples, DOMAINS[:1], ["--concurrency", "4"])
            run_stage(Path(tmp), env, str(ROOT / "filter.py"), "--input", "latest")
            kept = sum(1 for f in g["run_dir"].glob("*/filtered_*.jsonl") for line in open(f) if line.strip())
        server.stop()
        spent = sum(g["totals"][k] for k in ("prompt_tokens", "completion_tokens", "reasoning_tokens"))
        valid = g["totals"]["valid"]
        rows.append([plan, samples, valid, kept, f"{sum(g.get('plan_tokens', {}).values()):,}", f"{spent:,}",
                     spent // valid, spent // kept if kept else "-", f"{valid / kept:.2f}" if kept else "-"])
    print(f"\ntest server, collapsing model, {DOMAINS[0][0]!r}, {samples} samples")
    print(table(rows, ["--plan", "asked", "valid", "kept (distinct)", "plan tokens", "tokens", "per valid", "per kept",
                       "per kept / per valid"]))


def embedded_part(samples: int, domains: int) -> None:
    rows = []
    for plan in ("off", "on"):
        with tempfile.TemporaryDirectory() as tmp:
            g = generate(Path(tmp), dict(os.environ), plan, "embedded", samples, DOMAINS[:domains], ["--repairs", "0"])
        for name, v in g["variety"].items():
            leaves = f"{v['leaves_covered']}/{len(v['leaves'])}" if "leaves" in v else "-"
            rows.append([name, plan, v["questions"], v["distinct"], v["distinct_2grams"], v["vendi"], leaves,
                         v["answer_magnitudes"]["evenness"], v["step_counts"]["evenness"]])
        spent = sum(g["totals"][k] for k in ("prompt_tokens", "completion_tokens", "reasoning_tokens"))
        print(f"--plan {plan}: {g['totals']['valid']} valid, {spent:,} tokens ({sum(g.get('plan_tokens', {}).values()):,} "
              f"for the plans), {g['totals']['seconds']:.0f} s", file=sys.stderr)
    print(f"\nembedded model, {samples} samples per domain, variety of the valid questions")
    print(table(rows, ["domain", "--plan", "valid", "distinct", "distinct 2-grams", "Vendi", "leaves",
                       "answer spread", "steps spread"]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("server", "embedded", "both"), default="both")
    p.add_argument("--samples", type=int, help="samples per domain (default: 200 on the server, 40 embedded)")
    p.add_argument("--domains", type=int, default=len(DOMAINS), help=f"embedded: how many of the {len(DOMAINS)} domains")
    args = p.parse_args()
    if args.part in ("server", "both"):
        server_part(args.samples or 200)
    if args.part in ("embedded", "both"):
        embedded_part(args.samples or 40, args.domains)


if __name__ == "__main__":
    main()
