"""How the filter reads what real models write: 2,004 solutions by eleven models to GSM8K test questions.

    python bench/bench_real.py                  # per source: right answers kept, wrong answers caught
    python bench/bench_real.py --files zeroeval,modern --show rejected-right   # print those samples' reasons to read

Runs `filter.py --skip-checks domain,duplicate,contamination` on ../shared/data/real-solutions/samples.jsonl
(four older models) and modern_samples.jsonl (Llama-3.2-3B-Instruct, how today's local models write; all are
GSM8K test questions, several models per question: those checks do not apply) and zeroeval_samples.jsonl (six models
people run locally, 2024: Yi-1.5, Qwen2, Command-R, Athene; prose-heavy steps), and joins the verdicts with
labels.jsonl, modern_labels.jsonl and zeroeval_labels.jsonl (`correct`: the model's final answer equals GSM8K's). Targets: of the
right-answer solutions >= 98% kept (each rejection read by hand: is it a real wrong step?); of the
wrong-answer ones, the share caught must not fall (a wrong answer usually comes from wrong reasoning
with right arithmetic, which no arithmetic check can see).
"""

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "real-solutions"
FILES = {"older": ("samples.jsonl", "labels.jsonl"), "modern": ("modern_samples.jsonl", "modern_labels.jsonl"),
         "zeroeval": ("zeroeval_samples.jsonl", "zeroeval_labels.jsonl")}
OLDER = {"gpt35turbo-cot", "davinci003-cot", "gpt3-6b-ft", "gpt3-175b-verif"}  # summed as one row too


def run_filter(tmp: Path, samples: str) -> tuple[set[str], dict[str, list]]:
    """Ids kept, and the reasons of each id rejected."""
    kept, rejected = tmp / "kept.jsonl", tmp / "rejected.jsonl"
    subprocess.run([sys.executable, str(ROOT / "filter.py"), "--input", str(REAL / samples),
                    "--output", str(kept), "--rejected", str(rejected),
                    "--skip-checks", "domain,duplicate,contamination"], check=True, capture_output=True, cwd=tmp)
    kept_ids = {json.loads(line)["id"] for line in kept.open(encoding="utf-8")}
    reasons = {(r := json.loads(line))["id"]: r["reject_reasons"] for line in rejected.open(encoding="utf-8")}
    return kept_ids, reasons


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--show", choices=["rejected-right", "kept-wrong", "caught-wrong"], help="print these samples")
    p.add_argument("--files", default=",".join(FILES), help=f"which files, comma-separated (default: all of {', '.join(FILES)})")
    args = p.parse_args()
    if unknown := set(args.files.split(",")) - FILES.keys():
        p.error(f"--files: no such file set {', '.join(sorted(unknown))}; choose from {', '.join(FILES)}")
    labels, samples, kept, reasons = {}, {}, set(), {}
    for sample_file, label_file in (FILES[name] for name in args.files.split(",")):
        labels.update({(r := json.loads(line))["id"]: r for line in (REAL / label_file).open(encoding="utf-8")})
        samples.update({(s := json.loads(line))["id"]: s for line in (REAL / sample_file).open(encoding="utf-8")})
        with tempfile.TemporaryDirectory() as tmp:
            file_kept, file_reasons = run_filter(Path(tmp), sample_file)
        kept |= file_kept
        reasons.update(file_reasons)
    counts = Counter()
    for sid, label in labels.items():
        if sid not in samples:
            continue
        right, was_kept = label["correct"], sid in kept
        counts[label["source"], right, was_kept] += 1
        show = {"rejected-right": right and not was_kept, "kept-wrong": not right and was_kept,
                "caught-wrong": not right and not was_kept}
        if args.show and show[args.show]:
            s = samples[sid]
            print(f"--- {sid}  answer {s['answer']!r}  Q: {s['question']}")
            for i, step in enumerate(s["reasoning"]):
                print(f"   {i + 1}. {step}")
            for r in reasons.get(sid, []):
                print(f"   => {r['check']}: {r['message']}")
    print(f"{'source':<18}{'right kept':>22}{'wrong caught':>22}")
    totals = Counter()
    for source in sorted({src for src, _, _ in counts}, key=lambda src: (src not in OLDER, src)):
        row = {"rk": counts[source, True, True], "rr": counts[source, True, False],
               "wk": counts[source, False, True], "wc": counts[source, False, False]}
        totals.update({(source in OLDER, k): v for k, v in row.items()})
        print(_row(source, **row))
    for older, name in ((True, "older (4 sources)"), (False, "newer (7 sources)")):
        if totals[older, "rk"] + totals[older, "rr"]:
            print(_row(name, **{k: totals[older, k] for k in ("rk", "rr", "wk", "wc")}))
    print("targets: right kept >= 98% (each rejection read by hand); wrong caught must not fall")


def _row(name: str, rk: int, rr: int, wk: int, wc: int) -> str:
    """One line of the table: right kept / right, wrong caught / wrong."""
    return f"{name:<18}{f'{rk}/{rk + rr} = {rk / max(1, rk + rr):.1%}':>22}{f'{wc}/{wk + wc} = {wc / max(1, wk + wc):.1%}':>22}"

if __name__ == "__main__":
    main()
