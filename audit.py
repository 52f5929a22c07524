"""Human audit of a run, and exports for fine-tuning.

    python audit.py export --input latest [--sample 30 --seed 1]
    python audit.py apply --input latest --decisions "runs/run_.../Jobs at startup data samples/audit_jobs_at_startup.csv"
    python audit.py export-train --input latest --format alpaca|sharegpt|openai

export: per domain, audit_<domain>.csv beside the samples (scored if score.py ran, else filtered):
  id, domain, question, numbered steps, answer, score, judge rationale, filter flags, and empty
  `decision` (keep / drop / fix) and `comment` columns. --sample N draws N samples of final at random
  (of filtered before score.py ran): after apply, the reviewers' drops estimate the error of final.
  UTF-8 with a byte-order mark, so spreadsheets open it cleanly; cells that a spreadsheet would read as a
  formula get a leading apostrophe, which apply takes off again.
apply: reads the filled-in CSV; writes audited_<domain>.jsonl (kept samples, and fixed ones after the
  filter's checks pass on the edited question, steps and answer) and decisions_<domain>.jsonl (every
  decision). Rows with an unknown id or a decision outside keep/drop/fix are named with their row
  number and skipped; empty decisions are counted as not reviewed. Reports judge-human agreement (the
  judge "keeps" what reaches final, dataforge/judge.py) and the error of final: drops among the reviewed
  samples of final, with a 95% Wilson interval.
  `python generate.py --feedback RUN` then uses drops and comments as "avoid" guidance, keeps as examples.
export-train: final samples, less those a reviewer dropped and with their fixes in place (decisions_),
  as train_<format>.jsonl in the run folder (or --output), and a Hugging Face dataset card (README.md
  beside it) that says what made the data and what it cost.
Exit status: 0 done, 2 bad usage or input, 1 a bug.
"""

import argparse
import csv
import io
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from dataforge import UserError, cli
from dataforge.checks import SAMPLE_CHECKS, check_sample
from dataforge.judge import error_of_final_text, limits_of, why_not_final, wilson
from dataforge.schema import sample_problem
from dataforge.report import CARD_MARK, dataset_card, write_report
from dataforge.runs import (DEFAULT_RUNS_DIR, StageInput, domain_key, dumps, lock_run, read_jsonl, refuse_overwrites,
                            resolve_input, stage_record, update_manifest, write_atomic, write_jsonl_atomic)

COLUMNS = ["id", "domain", "question", "steps", "answer", "score", "judge_rationale", "filter_flags", "decision", "comment"]
DECISIONS = ("keep", "drop", "fix")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("alpaca", "sharegpt", "openai")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("export", "apply", "export-train"):
        s = sub.add_parser(name)
        s.add_argument("--input", default="latest", help="'latest', a run folder or a domain folder (default: latest)")
        s.add_argument("--runs-dir", default=DEFAULT_RUNS_DIR, help="where runs live (default: runs/)")
        if name == "export":
            s.add_argument("--sample", type=int, help="audit N samples of final per domain, drawn at random: "
                                                          "their drops estimate the error of final")
            s.add_argument("--seed", type=int, default=0, help="seed for --sample (default 0)")
        if name == "apply":
            s.add_argument("--decisions", action="append", required=True, metavar="CSV", help="a filled-in audit CSV (repeatable)")
            s.add_argument("--reviewer", default="", help="name recorded with each decision")
        if name == "export-train":
            s.add_argument("--format", choices=FORMATS, required=True)
            s.add_argument("--output", help="output file (default: train_<format>.jsonl in the run folder)")
    return p.parse_args(argv)


def sources(spec: str, runs_dir: str) -> list[StageInput]:
    """Per domain, the samples a reviewer sees: scored if score.py ran, else filtered."""
    out = []
    for inp in resolve_input(spec, reads="filtered", runs_dir=runs_dir):
        if inp.run_dir is None:
            raise UserError(f"--input {spec}: audit works on a run or domain folder, not a loose file")
        lock_run(inp.run_dir)
        scored = inp.output("scored")
        out.append(StageInput(scored, inp.run_dir, inp.domain, inp.slug) if scored.exists() else inp)
    return out


def records(path: Path) -> list[dict]:
    """The samples of a file; of a scored_ file, those the run's latest judge scored (it keeps other judges')."""
    judge = stage_record(path.parent.parent, "score").get("judge_model") if path.name.startswith("scored_") else None
    good = []
    for line in read_jsonl(path):
        problem = line.problem or (None if path.name.startswith("decisions_") else sample_problem(line.record))
        if problem:
            cli.say(f"{path}:{line.lineno}: {problem}; skipped")
        elif judge is None or line.record.get("judge_model") == judge:
            good.append(line.record)
    return good


# ---------------------------------------------------------------- export

def random_sample(samples: list[dict], n: int, seed: int) -> list[dict]:
    """n samples drawn uniformly, in file order: a simple random sample, so its drop rate estimates the file's."""
    if n >= len(samples):
        return samples
    return [samples[i] for i in sorted(random.Random(seed).sample(range(len(samples)), n))]


def cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def uncell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text


def export(args) -> None:
    if args.sample is not None and args.sample < 1:
        raise UserError(f"--sample {args.sample}: give a number of samples, at least 1")
    written = []
    for inp in sources(args.input, args.runs_dir):
        samples = records(inp.path)
        if args.sample:
            final = ({r["id"] for r in records(inp.output("final")) if isinstance(r.get("id"), str)}
                     if inp.output("final").exists() else None)  # a malformed id (a list) is named by export below
            pool = [r for r in samples if isinstance(r.get("id"), str) and r["id"] in final] if final is not None else samples
            samples = random_sample(pool, args.sample, args.seed)
        out = unused_csv_name(inp.path.with_name(f"audit_{inp.slug}.csv"))
        rows = []
        for s in samples:
            flags = [f"{w['check']}: {w['message']}" for w in s.get("flags") or [] if isinstance(w, dict)]  # filter.py's
            rows.append([s.get("id", ""), s.get("domain", inp.domain), s.get("question", ""),
                         "\n".join(f"{i + 1}. {step}" for i, step in enumerate(s.get("reasoning", []))), s.get("answer", ""),
                         s.get("score", ""), s.get("rationale", ""), "\n".join(flags), "", ""])
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        writer.writerows([[cell(v) for v in row] for row in rows])
        write_atomic(out, "\ufeff" + text.getvalue())  # whole or not at all; the BOM tells spreadsheets it is UTF-8
        cli.say(f"{inp.domain}: {len(rows)} samples to review -> {out}")
        written.append(out)
    cli.say("fill in `decision` (keep / drop / fix; for fix, edit question, steps or answer) and `comment`, then:",
            f"  next: python audit.py apply --input {cli.quoted(inp.run_dir)} "
            + " ".join(f"--decisions {cli.quoted(out)}" for out in written))


def unused_csv_name(path: Path) -> Path:
    """path, unless a reviewer's decisions are in it: then audit_x_2.csv, _3 ... (said, never overwritten)."""
    n, candidate = 1, path
    while candidate.exists() and any(row.get("decision", "").strip() for _, row in read_rows(candidate)):
        n += 1
        candidate = path.with_name(f"{path.stem}_{n}.csv")
    if candidate != path:
        cli.say(f"{path} holds a reviewer's decisions: kept as it is; this export goes to {candidate.name}")
    return candidate


# ---------------------------------------------------------------- apply

def parse_steps(text: str) -> list[str]:
    return [re.sub(r"^\s*\d+[.)]\s*", "", line).strip() for line in text.splitlines() if line.strip()]


def read_rows(csv_path: Path) -> list[tuple[int, dict]]:
    """(spreadsheet row number, row) of a filled-in CSV, columns by name in any order. UTF-8 as export
    writes it, else cp1252 as Excel on Windows saves it; long cells and short rows are read as they are."""
    data = csv_path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    limit = csv.field_size_limit(2**31 - 1)  # a reviewer may paste a long solution into one cell; for this read only
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        missing = [c for c in ("id", "decision", "comment", "question", "steps", "answer") if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{csv_path}: missing column(s) {', '.join(missing)}; export a fresh file with audit.py export")
        return [(n, {k: v or "" for k, v in row.items() if k}) for n, row in enumerate(reader, start=2)]  # row 1: header
    finally:
        csv.field_size_limit(limit)


def apply(args) -> None:
    """Decisions from every CSV given, merged by id into each domain's decisions_ (the last one wins),
    then audited_ rebuilt from all of them: a second apply adds to the first."""
    inputs = {inp.domain: inp for inp in sources(args.input, args.runs_dir)}
    run_dir = next(iter(inputs.values())).run_dir
    tally = Tally(limits_of(stage_record(run_dir, "score")))
    for domain, rows in rows_by_domain(args.decisions, inputs, run_dir, tally.counts).items():
        apply_domain(inputs[domain], rows, args.reviewer, tally)
    audit = tally.report(args.decisions)
    cli.say("", cli.table([[k, v] for k, v in sorted(tally.counts.items())], ["decisions", "samples or rows"]), "",
            "  judge-human agreement (the judge keeps what reaches final): "
            + (f"{audit['judge_human_agreement']:.0%} of {tally.compared}" if tally.compared
               else "n/a (no scored samples decided)"),
            f"  error of final: {error_of_final_text(audit, {})}",
            f"  next: python generate.py --feedback {cli.quoted(run_dir)} --domains "
            f"{cli.quoted(cli.domains_arg(stage_record(run_dir, 'generate').get('domains', [])))}"
            "  # drops and comments guide new samples")
    update_manifest(run_dir, "audit", audit)
    write_report(run_dir)


def rows_by_domain(csv_paths: list[str], inputs: dict, run_dir: Path, counts: Counter) -> dict[str, list]:
    """Every row of the CSVs, by the domain it names (else the one its file is named for): (where, row).
    A row of a domain not in the run is named and counted."""
    rows = defaultdict(list)
    for csv_path in map(Path, csv_paths):
        if not csv_path.is_file():
            raise UserError(f"--decisions {csv_path}: no such file")
        by_name = next((d for d, inp in inputs.items() if csv_path.stem.removeprefix("audit_") == inp.slug), None)
        for row_no, row in read_rows(csv_path):
            domain = domain_key(uncell(row.get("domain", ""))) or by_name  # the rows say; "Save As" may rename the file
            if domain not in inputs:
                cli.say(f"{csv_path}:row {row_no}: domain {row.get('domain')!r} is not in {run_dir}; row skipped")
                counts["bad rows"] += 1
            else:
                rows[domain].append((f"{csv_path}:row {row_no}", row))
    return rows


def apply_domain(inp: StageInput, rows: list, reviewer: str, tally: "Tally") -> None:
    """One domain's rows into its decisions_ (merged by id with those already there) and audited_ (kept and
    fixed samples, rebuilt from every decision)."""
    decisions_path = inp.path.with_name(f"decisions_{inp.slug}.jsonl")
    audited_path = inp.path.with_name(f"audited_{inp.slug}.jsonl")
    decisions = {d["id"]: d for d in records(decisions_path)
                 if isinstance(d.get("id"), str) and d.get("decision") in DECISIONS} if decisions_path.exists() else {}
    by_id = {s["id"]: s for s in records(inp.path) if isinstance(s.get("id"), str)}
    for where, row in rows:
        if (record := decide(where, row, by_id, reviewer, inp.domain, tally.counts)) is not None:
            decisions[record["id"]] = record  # the last decision on a sample wins
    audited = []
    for d in decisions.values():
        sample = by_id.get(d["id"])
        if d["decision"] == "keep" and sample is not None:
            audited.append({**sample, "audit": "kept"})
        elif d["decision"] == "fix" and d.get("fixed"):
            audited.append(d["fixed"])
        tally.add(d, sample)
    write_jsonl_atomic(audited_path, audited)
    write_jsonl_atomic(decisions_path, list(decisions.values()))
    cli.say(f"{inp.domain}: {len(decisions)} decisions, {len(audited)} audited samples -> {audited_path}")


class Tally:
    """What apply counts: decisions by kind and the rows it could not use, and the reviewers against the
    judge, whose "keep" is reaching final (judge.why_not_final under the run's limits)."""

    def __init__(self, limits: dict):
        self.limits, self.counts = limits, Counter()
        self.compared = self.agree = self.reviewed = self.dropped = 0

    def add(self, decision: dict, sample: dict | None) -> None:
        if sample is not None and "scores" in sample:  # scored: the judge's decision is the rule of final
            in_final = why_not_final(sample, self.limits) is None
            self.compared += 1
            self.agree += in_final == (decision["decision"] != "drop")
            self.reviewed += in_final
            self.dropped += in_final and decision["decision"] == "drop"
        self.counts[decision["decision"] if not decision.get("fix_problems") else "fix rejected"] += 1

    def report(self, files: list[str]) -> dict:
        """The audit as run.json keeps it: the error of final is the drops among reviewed samples of final."""
        error = ({"dropped": self.dropped, "reviewed": self.reviewed, "rate": self.dropped / self.reviewed,
                  **dict(zip(("low", "high"), wilson(self.dropped, self.reviewed)))} if self.reviewed else None)
        return {"decisions": dict(self.counts), "judge_human_agreement": self.agree / self.compared if self.compared else None,
                "error_of_final": error, "files": [str(p) for p in files]}


def decide(where: str, row: dict, by_id: dict, reviewer: str, domain: str, counts) -> dict | None:
    """One CSV row -> its decision record, or None (not reviewed, or a row that cannot be used: named)."""
    sample_id, decision = uncell(row.get("id", "")), row.get("decision", "").strip().lower()
    if not decision:
        counts["not reviewed"] += 1
        return None
    unusable = (f"decision {row['decision']!r} is not keep, drop or fix" if decision not in DECISIONS else
                f"unknown id {sample_id!r}" if sample_id not in by_id else None)
    if unusable:
        cli.say(f"{where}: {unusable}; row skipped")
        counts["bad rows"] += 1
        return None
    sample = by_id[sample_id]
    record = {"id": sample_id, "domain": domain, "decision": decision, "comment": row.get("comment", "").strip(),
              "question": sample.get("question"), "reviewer": reviewer, "judge_score": sample.get("score"),
              "applied_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if decision == "fix":
        fixed = {**sample, "question": uncell(row.get("question", "")), "reasoning": parse_steps(uncell(row.get("steps", ""))),
                 "answer": uncell(row.get("answer", "")), "audit": "fixed"}
        fixed["num_steps"] = len(fixed["reasoning"])
        problems = check_sample(fixed, SAMPLE_CHECKS).reasons
        if problems:
            record["fix_problems"] = problems
            cli.say(f"{where}: the fix of {sample_id} does not pass the filter ({problems[0]['message']}); not added")
        else:
            record["fixed"] = fixed
    return record


# ---------------------------------------------------------------- export-train

def solution(sample: dict) -> str:
    return "\n".join(sample["reasoning"]) + f"\nAnswer: {sample['answer']}"


def as_format(sample: dict, fmt: str) -> dict:
    q, a = sample["question"], solution(sample)
    if fmt == "alpaca":
        return {"instruction": q, "input": "", "output": a}
    if fmt == "sharegpt":
        return {"conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}]}
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def export_train(args) -> None:
    # reads final_: `latest` is the newest run score.py finished, not a newer --feedback run not scored yet
    inputs = resolve_input(args.input, reads="final", runs_dir=args.runs_dir)
    refuse_overwrites([i.path for i in inputs], {"--output": args.output})
    run_dir = inputs[0].run_dir
    lock_run(run_dir)
    if run_dir is None:
        raise UserError(f"--input {args.input}: give a run or domain folder")
    lines, used = [], []
    for inp in inputs:
        final, decisions_path = inp.path, inp.output("decisions")
        decisions = {d["id"]: d for d in records(decisions_path) if isinstance(d.get("id"), str)} \
            if decisions_path.exists() else {}
        samples = []  # final, less what a reviewer dropped, with their fixes in place (not only what was reviewed)
        for s in records(final):
            d = decisions.get(s["id"], {}) if isinstance(s.get("id"), str) else {}
            if d.get("decision") == "drop" or (d.get("decision") == "fix" and not d.get("fixed")):
                continue
            samples.append(d["fixed"] if d.get("fixed") else s)
        samples = [s for s in samples if isinstance(s.get("reasoning"), list) and "question" in s and "answer" in s]
        lines += [dumps(as_format(s, args.format)) + "\n" for s in samples]
        used.append(f"{final.name}: {len(samples)}" + (f" ({len(decisions)} reviewed)" if decisions else ""))
    out = Path(args.output) if args.output else run_dir / f"train_{args.format}.jsonl"
    write_atomic(out, "".join(lines))
    cli.say(*[f"  {u}" for u in used], f"{len(lines)} samples in {args.format} format -> {out}")
    card = out.parent / "README.md"
    if card.exists() and CARD_MARK not in card.read_text(encoding="utf-8", errors="replace"):
        card = out.with_name(out.stem + ".README.md")  # never overwrite a README.md we did not write
    exports = {fmt: out.with_name(f"train_{fmt}.jsonl") for fmt in FORMATS if out.with_name(f"train_{fmt}.jsonl").exists()}
    write_atomic(card, dataset_card(run_dir, {**exports, args.format: out}, default=args.format))
    cli.say(f"dataset card (Hugging Face format) -> {card}",
            f"  next: head -n 2 {cli.quoted(out)}  # the first samples as a trainer reads them; {card.name} says how to "
            "load them")


def main(argv=None) -> int:
    args = parse_args(argv)
    {"export": export, "apply": apply, "export-train": export_train}[args.command](args)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(lambda: main()))
