"""How the filter reads what real models write: 1,104 solutions by five models to GSM8K test questions.

    python bench/bench_real.py                  # per source: right answers kept, wrong answers caught
    python bench/bench_real.py --show kept-wrong   # or rejected-right: print those samples' reasons to read

Runs `filter.py --skip-checks domain,duplicate,contamination` on ../shared/data/real-solutions/samples.jsonl
(four older models) and modern_samples.jsonl (Llama-3.2-3B-Instruct, how today's local models write; all are
GSM8K test questions, several models per question: those checks do not apply) and joins the verdicts with
labels.jsonl and modern_labels.jsonl (`correct`: the model's final answer equals GSM8K's). Targets: of the
right-answer solutions >= 97% kept (each rejection read by hand: is it a real wrong step?); of the
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
FILES = (("samples.jsonl", "labels.jsonl"), ("modern_samples.jsonl", "modern_labels.jsonl"))  # older, modern


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
    args = p.parse_args()
    labels, samples, kept, reasons = {}, {}, set(), {}
    for sample_file, label_file in FILES:
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
    for source in sorted({src for src, _, _ in counts}, key=lambda src: (src.startswith("llama"), src)):
        rk, rr = counts[source, True, True], counts[source, True, False]
        wk, wc = counts[source, False, True], counts[source, False, False]
        if not source.startswith("llama"):  # the older sources' total; the modern one is its own row
            totals.update({"rk": rk, "rr": rr, "wk": wk, "wc": wc})
        print(f"{source:<18}{f'{rk}/{rk + rr} = {rk / max(1, rk + rr):.1%}':>22}{f'{wc}/{wk + wc} = {wc / max(1, wk + wc):.1%}':>22}")
    rk, rr, wk, wc = totals["rk"], totals["rr"], totals["wk"], totals["wc"]
    print(f"{'older (4 sources)':<18}{f'{rk}/{rk + rr} = {rk / max(1, rk + rr):.1%}':>22}{f'{wc}/{wk + wc} = {wc / max(1, wk + wc):.1%}':>22}")
    print("targets: right kept >= 97% per source; wrong caught must not fall")


if __name__ == "__main__":
    main()
