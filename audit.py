"""Human audit of a run, and exports for fine-tuning.

    python audit.py review --input latest [--sample 30 --seed 1] [--port 0] [--no-browser]
    python audit.py export --input latest [--sample 30 [--stratify] --seed 1]
    python audit.py apply --input latest --decisions "runs/run_.../Jobs at startup data samples/audit_jobs_at_startup.csv"
    python audit.py export-train --input latest --format alpaca|sharegpt|openai

review: the audit in the browser (dataforge/review.py): a page on 127.0.0.1 at the URL it prints (it holds
  a random token), one sample at a time with each step's verdict, the judge's scores and the jurors' votes;
  keys k keep, d drop, f fix, c comment, arrows move, ? help. Each decision is saved as apply saves it
  (decisions_, audited_, run.json, the report) when it is made. Runs until Ctrl-C or SIGTERM (exit 0).
export: per domain, audit_<domain>.csv beside the samples (scored if score.py ran, else filtered):
  id, domain, question, numbered steps, answer, score, judge rationale, filter flags, and empty
  `decision` (keep / drop / fix) and `comment` columns. --sample N draws N samples at random from all of
  final (of filtered before score.py ran), never one already decided, so a second round is new samples;
  --stratify draws per domain, in proportion to each domain's size. After apply, the reviewers' drops
  estimate the error of final (dataforge/ledger.py), from every round.
  UTF-8 with a byte-order mark, so spreadsheets open it cleanly; cells that a spreadsheet would read as a
  formula get a leading apostrophe, which apply takes off again.
apply: reads the filled-in CSV; writes audited_<domain>.jsonl (kept samples, and fixed ones after the
  filter's checks pass on the edited question, steps and answer) and decisions_<domain>.jsonl (every
  decision). Rows with an unknown id or a decision outside keep/drop/fix are named with their row
  number and skipped; empty decisions are counted as not reviewed. Then counts, from every domain's
  decisions_, judge-human agreement (the judge "keeps" what reaches final, dataforge/judge.py) and the
  error of final, overall and per domain: a survey estimate with its 95% interval (Wilson for a random
  sample of all of final, stratified for --stratify), the sample size and the drawn samples undecided.
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
from dataforge.judge import error_of_final_text
from dataforge.ledger import (DECISIONS, audit_facts, domains_of, final_ids, merge_decisions, per_domain_lines,
                              read_decisions, read_records, scored_records)
from dataforge.report import CARD_MARK, dataset_card, write_report
from dataforge.runs import (DEFAULT_RUNS_DIR, StageInput, domain_key, dumps, lock_run, refuse_overwrites, resolve_input,
                            stage_record, update_manifest, write_atomic, write_jsonl_atomic)

COLUMNS = ["id", "domain", "question", "steps", "answer", "score", "judge_rationale", "filter_flags", "decision", "comment"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("alpaca", "sharegpt", "openai")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("export", "apply", "export-train", "review"):
        s = sub.add_parser(name)
        s.add_argument("--input", default="latest", help="'latest', a run folder or a domain folder (default: latest)")
        s.add_argument("--runs-dir", default=DEFAULT_RUNS_DIR, help="where runs live (default: runs/)")
        if name in ("export", "review"):
            s.add_argument("--sample", type=int, help="audit N samples of final, drawn at random from all of final "
                                                          "(never one already decided): their drops estimate the error "
                                                          "of final, per domain and overall")
            s.add_argument("--stratify", action="store_true", help="draw --sample per domain, in proportion to each "
                                                                   "domain's size (at least one each): the estimate weights "
                                                                   "each domain by its size")
            s.add_argument("--seed", type=int, default=0, help="seed for --sample (default 0)")
        if name == "apply":
            s.add_argument("--decisions", action="append", required=True, metavar="CSV", help="a filled-in audit CSV (repeatable)")
        if name in ("apply", "review"):
            s.add_argument("--reviewer", default="", help="name recorded with each decision")
        if name == "review":
            s.add_argument("--port", type=cli.number_in(0, 65535), default=0, help="port on 127.0.0.1 (default 0: any free one)")
            s.add_argument("--no-browser", action="store_true", help="print the page's URL, do not open a browser")
            s.add_argument("--order", choices=("review", "file"), default="review",
                           help="review (default): samples the jurors split on, then flagged ones, first; file: file order")
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


def records(inp: StageInput, path: Path) -> list[dict]:
    """The samples of one of a domain's files; of a scored_ file, the current ones (ledger.scored_records)."""
    return scored_records(path, inp.run_dir, inp.domain) if path.name.startswith("scored_") else read_records(path)


# ---------------------------------------------------------------- export

def draw(pools: dict[str, list[dict]], n: int, seed: int, stratify: bool) -> dict[str, list[dict]]:
    """n samples of the pools (per domain, the undecided samples of final), in file order: a simple random
    sample of all of them together, or (stratify) of each domain, n shared out in proportion to its size
    (at least one each while n lasts; never more than n in all)."""
    rng = random.Random(seed)
    if not stratify:
        every, picked = [(d, s) for d, pool in pools.items() for s in pool], {d: [] for d in pools}
        for i in sorted(rng.sample(range(len(every)), min(n, len(every)))):
            picked[every[i][0]].append(every[i][1])
        return picked
    total = sum(len(p) for p in pools.values())
    share, take = {d: n * len(p) / (total or 1) for d, p in pools.items()}, {d: 0 for d in pools}
    for _ in range(min(n, total)):  # one at a time: to a domain with none yet, else the one furthest below its share
        d = max((d for d in pools if take[d] < len(pools[d])), key=lambda d: (take[d] == 0, share[d] - take[d]))
        take[d] += 1
    return {d: [pools[d][i] for i in sorted(rng.sample(range(len(pools[d])), take[d]))] for d in pools}


def cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def uncell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text


def export(args) -> None:
    if args.sample is not None and args.sample < 1:
        raise UserError(f"--sample {args.sample}: give a number of samples, at least 1")
    inputs = sources(args.input, args.runs_dir)
    by_domain = {inp.domain: records(inp, inp.path) for inp in inputs}
    if args.sample:
        by_domain = draw({inp.domain: undecided_final(inp, by_domain[inp.domain]) for inp in inputs},
                         args.sample, args.seed, args.stratify)
        record_draw(inputs, by_domain, args.stratify)
    written = []
    for inp in inputs:
        out = unused_csv_name(inp.path.with_name(f"audit_{inp.slug}.csv"))
        rows = []
        for s in by_domain[inp.domain]:
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


def undecided_final(inp: StageInput, samples: list[dict]) -> list[dict]:
    """The samples of a domain's final no reviewer has decided on yet: what a round of --sample draws from,
    so a second round is new samples (of filtered, before score.py ran)."""
    decided = read_decisions(inp.output("decisions"))
    final = set(final_ids(inp.output("final"))) if inp.output("final").exists() else None
    return [s for s in samples if isinstance(s.get("id"), str) and s["id"] not in decided
            and (final is None or s["id"] in final)]


def record_draw(inputs: list[StageInput], drawn: dict[str, list[dict]], stratify: bool) -> None:
    """The design and the samples drawn, added to every earlier round's (run.json, audit_sample): the
    error of final is estimated by the design, and the drawn samples not decided yet are counted. A draw
    over some domains only is a sample of each of them: stratified."""
    run_dir = inputs[0].run_dir
    whole_run = {i.domain for i in inputs} == {i.domain for i in domains_of(run_dir)}
    before = stage_record(run_dir, "audit_sample")
    ids = {d: sorted(set((before.get("drawn") or {}).get(d, [])) | {s["id"] for s in samples}) for d, samples in drawn.items()}
    design = "stratified" if stratify or not whole_run or before.get("design") == "stratified" else "random"
    update_manifest(run_dir, "audit_sample", {"design": design, "rounds": before.get("rounds", 0) + 1,
                                              "drawn": {**(before.get("drawn") or {}), **ids}})
    if design == "stratified" and not stratify:
        cli.say("the audit's samples are per domain (this draw or an earlier one): the error of final is estimated "
                "per domain, weighted by each domain's size (stratified)")


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
    then audited_ rebuilt from all of them: a second apply adds to the first. The audit is then counted
    again from every domain's decisions_, whichever CSVs this apply read."""
    inputs = {inp.domain: inp for inp in sources(args.input, args.runs_dir)}
    run_dir = next(iter(inputs.values())).run_dir
    counts = Counter()
    for domain, rows in rows_by_domain(args.decisions, inputs, run_dir, counts).items():
        inp = inputs[domain]
        by_id = {s["id"]: s for s in records(inp, inp.path) if isinstance(s.get("id"), str)}
        new = [d for where, row in rows if (d := decide(where, row, by_id, args.reviewer, domain, counts)) is not None]
        save_decisions(inp, new, by_id)
    audit = refresh_audit(run_dir, args.decisions)
    est = audit["error_of_final"]
    cli.say("", cli.table([[k, v] for k, v in sorted({**audit["decisions"], **counts}.items())],
                          ["decisions (every domain)", "samples or rows"]), "",
            "  judge-human agreement (the judge keeps what reaches final): "
            + (f"{audit['judge_human_agreement']:.0%} of {audit['compared']}" if audit["compared"]
               else "n/a (no scored samples decided)"),
            f"  error of final: {error_of_final_text(audit, {})}",
            *[f"    {line}" for line in per_domain_lines(est)],
            f"  next: python generate.py --feedback {cli.quoted(run_dir)} --domains "
            f"{cli.quoted(cli.domains_arg(stage_record(run_dir, 'generate').get('domains', [])))}"
            "  # drops and comments guide new samples")


def save_decisions(inp: StageInput, new: list[dict], by_id: dict | None = None) -> dict[str, dict]:
    """Decision records into a domain's decisions_ (merged by id, the last one wins, written whole) and its
    audited_ rebuilt from them all (kept samples, and fixed ones that passed the filter). `by_id`: the
    domain's samples by id, read when not given. What apply does with a CSV's rows; a review page may
    call it with its own, then refresh_audit."""
    by_id = by_id if by_id is not None else {s["id"]: s for s in records(inp, inp.path) if isinstance(s.get("id"), str)}
    decisions = merge_decisions(inp.output("decisions"), new)
    audited = []
    for d in decisions.values():
        if d["decision"] == "keep" and d["id"] in by_id:
            audited.append({**by_id[d["id"]], "audit": "kept"})
        elif d["decision"] == "fix" and d.get("fixed"):
            audited.append(d["fixed"])
    audited_path = inp.output("audited")
    write_jsonl_atomic(audited_path, audited)
    cli.say(f"{inp.domain}: {len(decisions)} decisions, {len(audited)} audited samples -> {audited_path}")
    return decisions


def refresh_audit(run_dir: Path, files: list[str] = ()) -> dict:
    """The run's audit counted again from every domain's decisions_ (ledger.audit_facts: judge-human
    agreement, the error of final), into run.json and the report. Returns it."""
    audit = {**audit_facts(run_dir), "files": [str(p) for p in files]}
    update_manifest(run_dir, "audit", audit)
    write_report(run_dir)
    return audit


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


# ---------------------------------------------------------------- review

def review(args) -> None:
    """The page (dataforge/review.py): decisions saved as apply saves them, as they are made."""
    from dataforge.review import serve

    if args.sample is not None and args.sample < 1:
        raise UserError(f"--sample {args.sample}: give a number of samples, at least 1")
    serve(sources(args.input, args.runs_dir), args.sample, args.seed, args.stratify, args.order, args.reviewer,
          args.port, browser=not args.no_browser)


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
        decisions = read_decisions(decisions_path)
        samples = []  # final, less what a reviewer dropped, with their fixes in place (not only what was reviewed)
        for s in read_records(final):
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
    write_atomic(card, dataset_card(run_dir, args.format, out))  # this export only: others beside it may be stale
    cli.say(f"dataset card (Hugging Face format) -> {card}",
            f"  next: head -n 2 {cli.quoted(out)}  # the first samples as a trainer reads them; {card.name} says how to "
            "load them")


def main(argv=None) -> int:
    args = parse_args(argv)
    {"export": export, "apply": apply, "export-train": export_train, "review": review}[args.command](args)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(lambda: main()))
