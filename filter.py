"""Filter generated samples: verified arithmetic, consistency, quality, domain, near-duplicates,
contamination. Every input line ends in exactly one of two files: kept or rejected (with
`reject_reasons`: [{"check", "message", "step"}]). A kept sample is written unchanged, except that
soft signals (off-domain, ungrounded numbers) are written on it as `flags`, in the same form.

    python filter.py --input latest
    python filter.py --input runs/run_20261125_101500 --reference ../shared/data/gsm8k/test.jsonl
    python filter.py --input samples.jsonl --output kept.jsonl --rejected rejected.jsonl

Outputs are derived from the raw files and are replaced atomically on each run; inputs are
never modified. Exit status: 0 done (rejections are normal), 2 bad usage or input path, 130 Ctrl-C.
"""

import argparse
import itertools
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

from dataforge import UserError, cli
from dataforge.checks import SAMPLE_CHECKS, FileContext, LineChecker, keywords, reason
from dataforge.dedup import Contamination, NearDuplicates
from dataforge.report import write_report
from dataforge.runs import (DEFAULT_RUNS_DIR, AtomicWriter, count_lines, domain_key, dumps, lock_run, read_jsonl,
                            refuse_overwrites, resolve_input, retry_next, stage_record, update_manifest, write_atomic)

ALL_CHECKS = SAMPLE_CHECKS + ("duplicate", "contamination")
REPAIRED = b'"repairs": [{'  # a sample generate.py repaired (--repairs); a key's quotes are never escaped


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", default="latest", help="'latest', a run folder, a domain folder or a .jsonl file (default: latest)")
    p.add_argument("--output", help="kept samples, for a .jsonl input (default: <input>.filtered.jsonl beside it)")
    p.add_argument("--rejected", help="rejected samples, for a .jsonl input (default: <input>.rejected.jsonl beside it)")
    p.add_argument("--checks", help=f"only these checks, comma-separated: {','.join(ALL_CHECKS)}")
    p.add_argument("--skip-checks", default="", help="checks to leave out, comma-separated")
    p.add_argument("--reference", action="append", default=[], metavar="FILE",
                   help="benchmark JSONL with a 'question' field, for the contamination check (repeatable)")
    p.add_argument("--strict-domain", action="store_true",
                   help="reject samples that mention none of the domain's words (default: flag them; the judge decides)")
    p.add_argument("--skip-repaired", action="store_true",
                   help="reject samples generate.py repaired (a step sent back with the checker's error) as 'repaired'")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="processes for the per-sample checks on large inputs (default: every core)")
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
    """The questions of the reference benchmarks, for the contamination check; None when there are none."""
    refs = []
    for path in paths:
        if not Path(path).is_file():
            raise UserError(f"--reference {path}: no such file")
        for line in read_jsonl(Path(path)):
            if line.record and isinstance(line.record.get("question"), str):
                refs.append((f"{Path(path).name}:{line.lineno}", line.record["question"]))
    return Contamination(refs) if refs else None


def domain_keywords(run_dir: Path | None) -> dict[str, dict]:
    """Per domain key, the words of its name and the notes it was generated with (from run.json)."""
    return {domain_key(d["name"]): keywords(d["name"], d.get("notes", ""))
            for d in stage_record(run_dir, "generate").get("domains", [])}


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    enabled = selected_checks(args)
    inputs = resolve_input(args.input, reads="raw", runs_dir=args.runs_dir)
    refuse_overwrites([i.path for i in inputs], {"--output": args.output, "--rejected": args.rejected})
    lock_run(inputs[0].run_dir)
    if (args.output or args.rejected) and len(inputs) > 1:
        raise UserError("--output/--rejected need a single .jsonl --input; a run writes beside each raw file")
    contamination = load_references(args.reference) if "contamination" in enabled else None
    if "contamination" in enabled and contamination is None:
        cli.say("contamination: not checked (give --reference FILE, e.g. ../shared/data/gsm8k/test.jsonl)")
        enabled = tuple(c for c in enabled if c != "contamination")  # the records list only checks that ran

    report, interrupted = filter_files(inputs, args, enabled, contamination)
    report["seconds"] = round(time.monotonic() - started, 3)
    report["samples_per_second"] = round(report["total"]["in"] / max(report["seconds"], 1e-9), 1)
    if interrupted:
        print_summary(report)
        cli.say("interrupted: the files listed above are complete; the one being written was left as it was. "
                "Run the same command again.")
        return cli.EXIT_INTERRUPTED
    if inputs[0].run_dir is not None and all(i.run_dir == inputs[0].run_dir for i in inputs):
        record_in_run(inputs[0].run_dir, report, args.reference)
    print_summary(report)
    say_next(report, args, inputs)
    return cli.EXIT_OK


def filter_files(inputs, args, enabled: tuple, contamination) -> tuple[dict, bool]:
    """Every input through the checks, each file written as it is finished: (the report, stopped by Ctrl-C).

    Lines stream through: per-sample checks and contamination (on every core for large inputs),
    then near-duplicates across the whole run in input order (the first one stays), then written."""
    checker = LineChecker(contamination, workers=max(1, args.workers))
    duplicates = NearDuplicates() if "duplicate" in enabled else None
    report, total = {"checks": list(enabled), "domains": {}}, Tally()
    bar = cli.progress(sum(count_lines(inp.path) for inp in inputs), "filter")
    tally, inp, interrupted = Tally(), inputs[0], True
    try:
        for inp in inputs:
            tally = Tally()
            files = filter_file(inp, args, enabled, checker, duplicates, tally, bar)
            total.merge(tally)
            report["domains"][inp.domain or inp.path.name] = {**tally.report(), "files": files}
        interrupted = False
    except KeyboardInterrupt:  # the file being written is left as it was (AtomicWriter); finished ones stay
        total.merge(tally)
        report["domains"][f"{inp.domain or inp.path.name} (checked so far; not written)"] = tally.report()
        return {**report, "total": total.report()}, True
    finally:
        bar.close()
        checker.close(interrupted)  # also after an error: terminate, as before
    return {**report, "total": total.report()}, False


def filter_file(inp, args, enabled: tuple, checker, duplicates, tally: "Tally", bar) -> dict:
    """One raw file into its kept and rejected files, counted in tally: {"kept": path, "rejected": path}."""
    ctx = FileContext(inp.path.name, inp.domain, domain_keywords(inp.run_dir), enabled, args.strict_domain)
    kept_path = Path(args.output) if args.output else inp.output("filtered")
    rejected_path = Path(args.rejected) if args.rejected else inp.output("rejected")
    kept_ids = {}
    with AtomicWriter(kept_path) as kept, AtomicWriter(rejected_path) as rejected:
        for raw, v in checker.verdicts(inp.path, ctx):
            run_wide_checks(raw, v, duplicates, args.skip_repaired, inp.path.name)
            if v.reasons:
                rejected.write(v.rejected_json.encode("utf-8") + b"\n")
                if v.reasons[0]["check"] == "bad_line":
                    cli.say(f"{inp.path}:{v.lineno}: {v.reasons[0]['message']}")
            else:
                kept.write(with_own_id(v.kept_json.encode("utf-8") if v.kept_json else raw, v, kept_ids, inp.path) + b"\n")
            tally.add(v)
            bar.update(1)
    return {"kept": str(kept_path), "rejected": str(rejected_path)}


def with_own_id(line: bytes, v, kept_ids: dict, path: Path) -> bytes:
    """A kept sample whose id an earlier kept one has goes on as id-2 (id-3...): audit's decisions and
    export-train find samples by id, and one id for two samples dropped (or kept) both."""
    if v.label not in kept_ids:
        kept_ids[v.label] = v.lineno
        return line
    new = next(f"{v.label}-{n}" for n in itertools.count(2) if f"{v.label}-{n}" not in kept_ids)
    kept_ids[new] = v.lineno
    cli.say(f"{path}:{v.lineno}: id {v.label!r} is also on line {kept_ids[v.label]}; this sample is kept as {new!r}")
    return with_keys(line, {"id": new}).encode("utf-8")


def run_wide_checks(raw: bytes, v, duplicates: NearDuplicates | None, skip_repaired: bool, file_name: str) -> None:
    """The checks of the whole run, after a line's own (LineChecker): --skip-repaired, then near-duplicates
    of the lines before it. A reason either adds goes on v, and on its rejected line."""
    found = None
    if (skip_repaired and not v.reasons and REPAIRED in raw  # checked like any sample first
            and isinstance(repairs := json.loads(raw).get("repairs"), list)):
        steps = sorted({str(r.get("step")) for r in repairs if isinstance(r, dict)})
        found = reason("repaired", f"repaired in generation at step{'s' * (len(steps) > 1)} {', '.join(steps)}; "
                                   "left out by --skip-repaired")
        v.words = None  # not a duplicate's first copy: the next one may stay
    elif v.words is not None and (dup := duplicates.check(v.words, v.bands, v.label)):
        found = reason("duplicate", dup)
    if found:
        v.reasons.append(found)
        v.rejected_json = with_keys(raw, {"reject_reasons": v.reasons, "source": f"{file_name}:{v.lineno}"})


def record_in_run(run_dir: Path, report: dict, references: list[str]) -> None:
    """filter_report.json, the filter's entry in run.json, and the run report."""
    write_atomic(run_dir / "filter_report.json", json.dumps(report, indent=2) + "\n")
    update_manifest(run_dir, "filter", {"checks": report["checks"], "references": references,
                                        "counts": {d: {k: r[k] for k in ("in", "kept", "rejected")}
                                                   for d, r in report["domains"].items()},
                                        "seconds": report["seconds"]})
    write_report(run_dir)


def say_next(report: dict, args, inputs) -> None:
    """Why nothing was kept, if so (with the model's hint); else the next command."""
    total = report["total"]
    if total["in"] and not total["kept"]:
        model = stage_record(inputs[0].run_dir, "generate").get("model")
        cli.say(f"  0 of {total['in']} kept: the reasons above; each sample's are in its rejected_ file. "
                + cli.model_hint(model), *retry_next(inputs[0].run_dir))
    elif total["kept"]:
        given = Path(args.input)  # named as it was given; `latest` as the run it meant
        kept = Path(args.output) if args.output else inputs[-1].output("filtered")
        target = inputs[0].run_dir if args.input == "latest" else given if given.is_dir() else kept
        cli.say(f"  next: python score.py --input {cli.quoted(target)}")


def with_keys(raw: bytes, extra: dict) -> str:
    """A JSON object line with keys added at its end, its own text left as it is (a fifth of a run
    can be duplicates: no need to parse and re-encode each)."""
    body = raw.decode("utf-8").rstrip()
    if any(f'"{key}"' in body for key in extra):  # it may have them already: rebuild, so no key is repeated
        return dumps({**json.loads(body), **extra})
    return body[:-1] + ", " + dumps(extra)[1:]


class Tally:
    """Counts for the report: in, kept, rejected per check with one example each, steps, soft signals."""

    def __init__(self):
        self.n_in = self.kept = self.steps_verified = self.steps_unverifiable = 0
        self.by_check, self.warnings, self.examples = Counter(), Counter(), {}

    def add(self, v) -> None:
        self.n_in += 1
        self.steps_verified += v.steps_verified
        self.steps_unverifiable += v.steps_unverifiable
        if v.reasons:
            self.by_check.update({r["check"] for r in v.reasons})
            for r in v.reasons:
                self.examples.setdefault(r["check"], r["message"])
        else:
            self.kept += 1
            self.warnings.update(set(v.warnings))  # kept samples with each kind of flag

    def merge(self, other: "Tally") -> None:
        for name in ("n_in", "kept", "steps_verified", "steps_unverifiable"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.by_check.update(other.by_check)
        self.warnings.update(other.warnings)
        for check, example in other.examples.items():
            self.examples.setdefault(check, example)

    def report(self) -> dict:
        return {"in": self.n_in, "kept": self.kept, "rejected": self.n_in - self.kept,
                "retention_pct": round(100 * self.kept / self.n_in, 1) if self.n_in else 0.0,
                "rejected_by_check": dict(self.by_check.most_common()),
                "steps_verified": self.steps_verified, "steps_unverifiable": self.steps_unverifiable,
                "warnings": dict(self.warnings),
                "top_reasons": [{"check": c, "samples": n, "example": self.examples[c]}
                                for c, n in self.by_check.most_common(5)]}


def print_summary(report: dict) -> None:
    rows = [[name, r["in"], r["kept"], r["rejected"], f"{r['retention_pct']}%", r["steps_verified"], r["steps_unverifiable"]]
            for name, r in list(report["domains"].items()) + [("TOTAL", report["total"])]]
    cli.say("", cli.table(rows, ["domain", "in", "kept", "rejected", "kept%", "steps ok", "steps unverifiable"]), "")
    total = report["total"]
    for t in total["top_reasons"]:
        cli.say(f"  {t['check']:<13} {t['samples']:>6}  e.g. {t['example'][:100]}")
    if total["warnings"]:
        cli.say("  kept with flags (soft signals, see `flags`): " + ", ".join(f"{k} {v}" for k, v in total["warnings"].items())
                + (" — off-domain ones are judged by score.py (--min-relevance)" if "domain" in total["warnings"] else ""))
    for name, r in report["domains"].items():
        if "files" in r:
            cli.say(f"  {name}: kept -> {r['files']['kept']}")
    cli.say(f"  {report['seconds']:.2f}s, {report['samples_per_second']:,.0f} samples/s")


if __name__ == "__main__":
    sys.exit(cli.run(lambda: main()))
