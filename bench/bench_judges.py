"""Judge configurations measured on real judges' answers: how much of final is wrong, and what it costs.

    python bench/bench_judges.py [--concurrency 8] [--votes 3]

The samples are real models' solutions to GSM8K test questions (../shared/data/real-solutions/, all five
sources, labelled right or wrong by their final answer). They go through filter.py, then score.py, as a user
runs them, against the test server in replay mode: each re-solve is answered with the final number that
judge model really gave to that question (../shared/data/judges/answers.jsonl: gpt-3.5-turbo,
text-davinci-003, llama-3.2-3b-instruct). Only the re-solve is real; the rubric scores are the test server's
(high), so what is measured is the re-solve's catch. Per configuration it prints right kept and wrong caught
(of all samples in, the filter included), the wrong share of final, and score.py's requests and tokens per
final sample. One answer per model and question: K votes at a temperature above 0 cannot be replayed (each
vote gets the same answer), so the --votes row measures only what stopping early saves.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from dataforge.gsm8k import SHARED_DATA  # noqa: E402
from fake_ollama import FakeOllama  # noqa: E402

SOLUTIONS = SHARED_DATA / "real-solutions"
ANSWERS = SHARED_DATA / "judges" / "answers.jsonl"
GENERATOR = {"gpt35turbo-cot": "gpt-3.5-turbo", "davinci003-cot": "text-davinci-003", "llama32-3b-cot": "llama-3.2-3b-instruct"}
JUDGES = ("gpt-3.5-turbo", "text-davinci-003", "llama-3.2-3b-instruct")


def load_samples(folder: Path) -> tuple[Path, dict, dict]:
    """All five sources in one file, each sample carrying the model that wrote it; (file, id -> correct, id -> source)."""
    correct, source, lines = {}, {}, []
    for prefix in ("", "modern_"):
        for line in open(SOLUTIONS / f"{prefix}labels.jsonl", encoding="utf-8"):
            row = json.loads(line)
            correct[row["id"]], source[row["id"]] = row["correct"], row["source"]
        for line in open(SOLUTIONS / f"{prefix}samples.jsonl", encoding="utf-8"):
            s = json.loads(line)
            s["model"] = "ollama://" + GENERATOR.get(source[s["id"]], source[s["id"]])
            lines.append(json.dumps(s) + "\n")
    path = folder / "samples.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    return path, correct, source


def run(script: str, *args: str, env: dict) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / script), *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{script} {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def score(server, filtered: Path, folder: Path, judge_args: list[str], env: dict, concurrency: int) -> dict:
    """score.py on a fresh copy of the filtered file (no cache); the ids in final and what it cost."""
    folder.mkdir()
    src = folder / "filtered.jsonl"
    src.write_bytes(filtered.read_bytes())
    before_requests, before_tokens = len(server.model_requests()), server.tokens_reported
    run("score.py", "--input", str(src), *judge_args, "--concurrency", str(concurrency), env=env)
    final = {json.loads(line)["id"] for line in open(folder / "filtered.final.jsonl", encoding="utf-8")}
    scored = [json.loads(line) for line in open(folder / "filtered.scored.jsonl", encoding="utf-8")]
    return {"final": final, "requests": len(server.model_requests()) - before_requests,
            "tokens": server.tokens_reported - before_tokens, "saved": sum(r.get("resolve_saved", 0) for r in scored),
            "unresolved": {r["id"] for r in scored if r.get("rejected") == "unresolved"}}


def row(name: str, result: dict, ids: set, correct: dict, cost: bool = True) -> list:
    """right kept, wrong caught (of all samples in), wrong share of final, final, unresolved (no juror's re-solve
    could vote, or too few jurors did: not final), and what score.py spent per final sample."""
    final, unresolved = result["final"] & ids, result["unresolved"] & ids
    right = sum(correct[i] for i in ids)
    wrong_final = sum(not correct[i] for i in final)
    per = lambda n: f"{n / len(final):,.1f}" if final and cost else "–"  # a subset's cost is not measured apart
    return [name, f"{sum(correct[i] for i in final) / right:.1%}", f"{1 - wrong_final / (len(ids) - right):.1%}",
            f"{wrong_final / len(final):.1%}" if final else "–", len(final),
            f"{len(unresolved)} ({sum(not correct[i] for i in unresolved)} wrong)", per(result["requests"]), per(result["tokens"]),
            result["saved"] if cost else "–"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--concurrency", type=int, default=8, help="score.py --concurrency (default 8)")
    p.add_argument("--votes", type=int, default=3, help="K for the --votes row (default 3)")
    args = p.parse_args()
    if not ANSWERS.exists():
        raise SystemExit(f"needs {ANSWERS} and {SOLUTIONS} (the project's shared data folder beside this clone)")
    server = FakeOllama().start()
    server.load_replay(ANSWERS)
    env = {**os.environ, "OLLAMA_HOST": server.url, "PYTHONUNBUFFERED": "1"}
    env.pop("DATAFORGE_MODEL", None)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        samples, correct, source = load_samples(tmp)
        run("filter.py", "--input", str(samples), "--skip-checks", "domain,duplicate,contamination", env=env)
        filtered = tmp / "samples.filtered.jsonl"
        kept = [json.loads(line) for line in open(filtered, encoding="utf-8")]
        every, judged = set(correct), {i for i in correct if source[i] in GENERATOR}
        spec = lambda *models: ",".join(f"ollama://{m}" for m in models)
        configs = {f"{m} alone": ["--judge-model", spec(m)] for m in JUDGES}
        configs["jury of 3, --agree majority"] = ["--judge-model", spec(*JUDGES), "--agree", "majority"]
        for a, b in ((JUDGES[0], JUDGES[2]), (JUDGES[0], JUDGES[1]), (JUDGES[2], JUDGES[1])):
            configs[f"jury {a} + {b}, --agree all"] = ["--judge-model", spec(a, b), "--agree", "all"]
        configs[f"{JUDGES[2]}, --votes {args.votes}"] = ["--judge-model", spec(JUDGES[2]), "--votes", str(args.votes)]
        results = {name: score(server, filtered, tmp / f"c{n}", judge_args, env, args.concurrency)
                   for n, (name, judge_args) in enumerate(configs.items())}

        # the generator judging itself: each source's samples scored by the model that wrote them
        own = {"final": set(), "requests": 0, "tokens": 0, "saved": 0, "unresolved": set()}
        for n, (src, model) in enumerate(GENERATOR.items()):
            part = tmp / f"own{n}.jsonl"
            part.write_text("".join(json.dumps(s) + "\n" for s in kept if source[s["id"]] == src), encoding="utf-8")
            r = score(server, part, tmp / f"own{n}", ["--judge-model", spec(model)], env, args.concurrency)
            own = {"final": own["final"] | r["final"], "unresolved": own["unresolved"] | r["unresolved"],
                   **{k: own[k] + r[k] for k in ("requests", "tokens", "saved")}}
        no_judge = {"final": {s["id"] for s in kept}, "requests": 0, "tokens": 0, "saved": 0, "unresolved": set()}

    header = ["configuration", "right kept", "wrong caught", "wrong share of final", "final", "unresolved", "requests/final",
              "tokens/final", "re-solves saved"]
    print(f"All five sources: {len(every)} samples in, {sum(correct.values())} right, {len(every) - sum(correct.values())} wrong; "
          f"the filter keeps {len(kept)}")
    table = [row("filter only (no judge)", no_judge, every, correct)] + [row(n, r, every, correct) for n, r in results.items()]
    print_table(table, header)
    print(f"\nThe three sources whose generator is also a judge ({len(judged)} samples in): the generator judging itself "
          "against the other judges on the same samples")
    table = [row("generator judging itself", own, judged, correct)] + \
            [row(n, results[n], judged, correct, cost=False) for n in list(results)[:4]]
    print_table(table, header)
    print("\n(requests and tokens are score.py's, on the test server; they cover every sample scored, final or not)")
    server.stop()
    return 0


def print_table(rows: list[list], header: list[str]) -> None:
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for n, r in enumerate(cells):
        print("| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


if __name__ == "__main__":
    sys.exit(main())
