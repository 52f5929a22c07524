"""Filter generated samples: verified arithmetic, consistency, quality, domain, near-duplicates,
contamination. Every input line ends in exactly one of two files: kept (unchanged) or rejected
(with `reject_reasons`: [{"check", "message", "step"}]).

    python filter.py --input latest
    python filter.py --input runs/run_20261125_101500 --reference ../shared/data/gsm8k/test.jsonl
    python filter.py --input samples.jsonl --output kept.jsonl --rejected rejected.jsonl

Outputs are derived from the raw files and are replaced atomically on each run; inputs are
never modified. Exit status: 0 done (rejections are normal), 2 bad usage or input path, 130 Ctrl-C.
"""

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from dataforge import UserError, cli
from dataforge.checks import SAMPLE_CHECKS, check_many, keywords, reason
from dataforge.dedup import Contamination, NearDuplicates
from dataforge.runs import DEFAULT_RUNS_DIR, read_jsonl, read_manifest, resolve_input, update_manifest, write_atomic, write_jsonl_atomic

ALL_CHECKS = SAMPLE_CHECKS + ("duplicate", "contamination")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", default="latest", help="'latest', a run folder, a domain folder or a .jsonl file (default: latest)")
    p.add_argument("--output", help="kept samples, for a .jsonl input (default: <input>.filtered.jsonl beside it)")
    p.add_argument("--rejected", help="rejected samples, for a .jsonl input (default: <input>.rejected.jsonl beside it)")
    p.add_argument("--checks", help=f"only these checks, comma-separated: {','.join(ALL_CHECKS)}")
    p.add_argument("--skip-checks", default="", help="checks to leave out, comma-separated")
    p.add_argument("--reference", action="append", default=[], metavar="FILE",
                   help="benchmark JSONL with a 'question' field, for the contamination check (repeatable)")
    p.add_argument("--runs-dir", default=DEFAULT_RUNS_DIR, help="where runs live (default: runs/)")
    return p.parse_args(argv)


def selected_checks(args) -> tuple[str, ...]:
    chosen = [c.strip() for c in (args.checks or ",".join(ALL_CHECKS)).split(",") if c.strip()]
    skipped = [c.strip() for c in args.skip_checks.split(",") if c.strip()]
    unknown = sorted(set(chosen + skipped) - set(ALL_CHECKS))
    if unknown:
        raise UserError(f"unknown check {', '.join(unknown)}: choose from {', '.join(ALL_CHECKS)}")
    return tuple(c for c in chosen if c not in skipped)


def load_references(paths: list[str]) -> Contamination | None:
    refs = []
    for path in paths:
        if not Path(path).is_file():
            raise UserError(f"--reference {path}: no such file")
        for line in read_jsonl(Path(path)):
            if line.record and isinstance(line.record.get("question"), str):
                refs.append((f"{Path(path).name}:{line.lineno}", line.record["question"]))
    return Contamination(refs) if refs else None


def domain_keywords(run_dir: Path | None) -> dict[str, set[str]]:
    """Per domain, the words of its name and the notes it was generated with (from run.json)."""
    domains = (read_manifest(run_dir).get("stages", {}).get("generate", {}).get("domains", [])) if run_dir else []
    return {d["name"]: keywords(d["name"], d.get("notes", "")) for d in domains}


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    enabled = selected_checks(args)
    inputs = resolve_input(args.input, reads="raw", runs_dir=args.runs_dir)
    if (args.output or args.rejected) and len(inputs) > 1:
        raise UserError("--output/--rejected need a single .jsonl --input; a run writes beside each raw file")
    contamination = load_references(args.reference) if "contamination" in enabled else None
    if "contamination" in enabled and contamination is None:
        cli.say("contamination: not checked (give --reference FILE, e.g. ../shared/data/gsm8k/test.jsonl)")

    # 1. read every line and run the per-sample checks (on every core for large runs)
    entries = []  # [input, line, record or None, reasons, report]
    per_file = [(inp, read_jsonl(inp.path)) for inp in inputs]
    total_lines = sum(len(lines) for _, lines in per_file)
    jobs = []
    for inp, lines in per_file:
        kws = domain_keywords(inp.run_dir)
        for line in lines:
            if line.record is None:
                cli.say(f"{inp.path}:{line.lineno}: {line.problem}")
                entries.append([inp, line, None, [reason("bad_line", line.problem)], None])
            else:
                domain = line.record.get("domain") if isinstance(line.record.get("domain"), str) else None
                entries.append([inp, line, line.record, None, None])
                jobs.append((line.record, enabled, kws.get(inp.domain or domain or "")))
    bar = cli.progress(len(jobs), "filter")
    todo = (e for e in entries if e[3] is None)
    for e, rep in zip(todo, check_many(jobs)):
        e[3], e[4] = rep.reasons, rep
        bar.update(1)
    bar.close()

    # 2. contamination, then near-duplicates across the whole run among the survivors, in input order
    survivors = [e for e in entries if e[2] is not None and not e[3]]
    if contamination is not None:
        for e in survivors:
            if hit := contamination.match(e[2]["question"]):
                e[3].append(reason("contamination", hit))
        survivors = [e for e in survivors if not e[3]]
    if "duplicate" in enabled:
        labels = [f"{e[2].get('id') or e[0].path.name + ':' + str(e[1].lineno)}" for e in survivors]
        for e, dup in zip(survivors, NearDuplicates().check_all([e[2]["question"] for e in survivors], labels)):
            if dup:
                e[3].append(reason("duplicate", dup))

    # 3. write: kept lines unchanged, rejected lines with their reasons and where they came from
    report = {"checks": list(enabled), "domains": {}}
    by_input = defaultdict(list)
    for e in entries:
        by_input[e[0].path].append(e)
    for inp in inputs:
        group = by_input[inp.path]
        kept = [e[1].raw for e in group if not e[3]]
        rejected = []
        for inp_, line, record, reasons, _ in group:
            if reasons:
                base = record if record is not None else {"raw_line": line.raw[:2000]}
                rejected.append({**base, "reject_reasons": reasons, "source": f"{inp.path.name}:{line.lineno}"})
        kept_path = Path(args.output) if args.output else inp.output("filtered")
        rejected_path = Path(args.rejected) if args.rejected else inp.output("rejected")
        write_atomic(kept_path, "".join(raw + "\n" for raw in kept))
        write_jsonl_atomic(rejected_path, rejected)
        report["domains"][inp.domain or inp.path.name] = domain_report(group, kept_path, rejected_path)
    report["total"] = domain_report(entries, None, None)
    report["seconds"] = round(time.monotonic() - started, 3)
    report["samples_per_second"] = round(total_lines / max(report["seconds"], 1e-9), 1)
    run_dir = inputs[0].run_dir
    if run_dir is not None and all(i.run_dir == run_dir for i in inputs):
        write_atomic(run_dir / "filter_report.json", json.dumps(report, indent=2) + "\n")
        update_manifest(run_dir, "filter", {"checks": list(enabled), "references": args.reference,
                                            "counts": {d: {k: r[k] for k in ("in", "kept", "rejected")}
                                                       for d, r in report["domains"].items()},
                                            "seconds": report["seconds"]})
    print_summary(report)
    return cli.EXIT_OK


def domain_report(group, kept_path, rejected_path) -> dict:
    n_in = len(group)
    kept = sum(1 for e in group if not e[3])
    by_check, warnings, examples = Counter(), Counter(), {}
    for _, _, _, reasons, rep in group:
        for check in {r["check"] for r in reasons}:
            by_check[check] += 1
        for r in reasons:
            examples.setdefault(r["check"], r["message"])
        if rep is not None:
            for w in rep.warnings:
                warnings[w["check"]] += 1
    reps = [e[4] for e in group if e[4] is not None]
    out = {"in": n_in, "kept": kept, "rejected": n_in - kept,
           "retention_pct": round(100 * kept / n_in, 1) if n_in else 0.0,
           "rejected_by_check": dict(by_check.most_common()),
           "steps_verified": sum(r.steps_verified for r in reps),
           "steps_unverifiable": sum(r.steps_unverifiable for r in reps),
           "warnings": dict(warnings),
           "top_reasons": [{"check": c, "samples": n, "example": examples[c]} for c, n in by_check.most_common(5)]}
    if kept_path is not None:
        out["files"] = {"kept": str(kept_path), "rejected": str(rejected_path)}
    return out


def print_summary(report: dict) -> None:
    rows = [[name, r["in"], r["kept"], r["rejected"], f"{r['retention_pct']}%", r["steps_verified"], r["steps_unverifiable"]]
            for name, r in list(report["domains"].items()) + [("TOTAL", report["total"])]]
    cli.say("", cli.table(rows, ["domain", "in", "kept", "rejected", "kept%", "steps ok", "steps unverifiable"]), "")
    total = report["total"]
    for t in total["top_reasons"]:
        cli.say(f"  {t['check']:<13} {t['samples']:>6}  e.g. {t['example'][:100]}")
    if total["warnings"]:
        cli.say("  soft signals (not rejected): " + ", ".join(f"{k} {v}" for k, v in total["warnings"].items()))
    for name, r in report["domains"].items():
        if "files" in r:
            cli.say(f"  {name}: kept -> {r['files']['kept']}")
    cli.say(f"  {report['seconds']:.2f}s, {report['samples_per_second']:,.0f} samples/s")


if __name__ == "__main__":
    sys.exit(cli.run(lambda: main()))
