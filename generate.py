"""Generate domain-specific math word problems with step-by-step reasoning, using a local LLM.

    python generate.py --domains "Jobs at startup" --domain-notes "budget, headcount, runway" --samples-per-domain 15
    python generate.py --interactive --ask-samples
    python generate.py --model embedded --domains "Coffee shop" --samples-per-domain 3
    python generate.py --resume            # finish the run a crash or Ctrl-C left unfinished
    python generate.py --domains "Coffee shop" --samples-per-domain 200 --plan "runs/run_.../Coffee shop data samples/plan_coffee_shop.json"

Before a domain's samples, the model expands the domain and its notes into a topic tree (plan_<domain>.json in
the run, readable and editable; --plan FILE reuses one, --plan off does without): each request then draws the
least-used combination of leaf, difficulty, template, who asks, the kind of quantity and the numbers, so no two
requests ask for the same problem until every combination has been asked. The summary measures the variety.

Writes runs/run_<timestamp>/<domain> data samples/raw_<domain>.jsonl (valid samples, one per line,
appended as they arrive) and failed_<domain>.jsonl (replies that stayed invalid, with the raw
text and the error). A reply the filter would reject at a known step is sent back with the exact
error (--repairs, default 1); each failing version goes to failed_ with its reason. Exit status: 0 the
run completed (failed samples are recorded and counted, so shell one-liners go on), 2 bad usage or
model unreachable, 130 Ctrl-C (resume with --resume).
"""

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

from pydantic import ValidationError

from dataforge import UserError, cli
from dataforge.plan import (PLAN_ATTEMPTS, DomainPlan, feedback_weights, leaves, needs_model, notes_plan,
                            plan_from_reply, plan_messages, plan_schema, plan_text, read_plan, tree_size)
from dataforge.pool import RequestPool
from dataforge.prompts import REPAIR_HINT, TEMPLATE_NAMES, generation_prompt, step_fix, subtopics
from dataforge.report import write_report
from dataforge.runs import (DEFAULT_RUNS_DIR, TOKEN_FIELDS, TOKEN_LOG, JsonlAppender, add_tokens, all_runs, check_domain_names,
                            domain_key, domain_slug, drop_torn_tail, latest_run, lock_run, new_run_dir, read_jsonl,
                            iter_records, resume_settings, run_folder, run_id, domain_dir, stage_file, stage_record,
                            token_log, update_manifest, write_atomic)
from dataforge.schema import DIFFICULTIES, Sample, generation_schema, validation_problems
from dataforge.variety import measure, summary_line
from local_llm import DEFAULT_MODEL, THINK_LEVELS, ModelCallFailed, Options, get_backend

FEEDBACK_ITEMS = 5  # reviewer drops / keeps quoted in each prompt
ANSWER_TOKENS = 800  # a sample's JSON fits in far less; the cap stops a model that loops
RECENT_TO_AVOID = 5  # recent questions listed in each prompt so the model does not repeat itself
REPAIR_CHECKS = ("rules", "arithmetic", "consistency", "quality")  # the filter's checks a reply is repaired against
WAVE = 40  # with a plan, slots are asked in waves: between two, leaves that keep failing or repeating are retired


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--domains", action="append", default=[], help="comma-separated domains (flag may repeat); a comma inside a name: \\,")
    p.add_argument("--domain-notes", action="append", default=[], help="notes for one domain, in --domains order (repeat per domain)")
    p.add_argument("--samples-per-domain", type=int, help="valid samples wanted per domain (default 10)")
    p.add_argument("--interactive", action="store_true", help="ask for domains and notes at a prompt")
    p.add_argument("--ask-samples", action="store_true", help="ask how many samples per domain")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model spec, see local_llm.py (default $DATAFORGE_MODEL or llama2; now {DEFAULT_MODEL})")
    p.add_argument("--templates", default=",".join(TEMPLATE_NAMES), help="prompt templates to rotate: detailed,conversational,minimal")
    p.add_argument("--difficulty", default=",".join(f"{level}=1" for level in DIFFICULTIES),
                   help="one level, or a mix such as easy=1,medium=2,hard=1 (default: each level in turn, weight 1)")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default 0.8)")
    p.add_argument("--seed", type=int, help="base seed, so a run can be repeated: slot k's prompt depends on it and k "
                                            "alone, and its attempt a (from 0) asks the model for seed + 100*k + a")
    p.add_argument("--max-tokens", type=int,
                   help=f"cap on tokens per reply (default {ANSWER_TOKENS}, plus room to reason for a thinking model)")
    p.add_argument("--think", choices=THINK_LEVELS, default="auto",
                   help="reasoning models: auto (the model's default), off, on, or a level low/medium/high")
    p.add_argument("--concurrency", type=cli.number_in(1), default=1, help="requests in flight at once (default 1)")
    p.add_argument("--max-attempts", type=int, default=3, help="tries per sample before it is recorded as failed (default 3)")
    p.add_argument("--repairs", type=int, default=1,
                   help="times a sample the filter would reject at a known step is sent back with the exact error "
                        "(default 1; 0: never)")
    p.add_argument("--plan", default="on", metavar="on|off|FILE",
                   help="on (default): the model expands each domain into a topic tree first (plan_<domain>.json in the "
                        "run); off: the notes alone, as before; FILE: a plan to reuse (edit it freely), or a run folder "
                        "whose plans to reuse")
    p.add_argument("--feedback", metavar="RUN", help="an audited run: its drops and comments become 'avoid' guidance, "
                                                     "its keeps examples; with a plan, a leaf reviewers dropped is asked less")
    p.add_argument("--runs-dir", default=DEFAULT_RUNS_DIR, help="where runs are created and found (default: runs/)")
    p.add_argument("--out-dir", dest="runs_dir", help=argparse.SUPPRESS)  # its old name: old commands still work
    p.add_argument("--resume", nargs="?", const="latest", metavar="RUN",
                   help="finish a run (default: the latest unfinished one in --runs-dir, else the latest)")
    return p.parse_args(argv)


def ask(question: str, flag: str, default: str | None = None) -> str:
    """Read one answer from stdin (a terminal or a pipe). Ctrl-D at a terminal takes an optional question's
    default; any other end of input (a pipe, /dev/null, stdin closed) names the flag to use instead."""
    print(question, end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline() if sys.stdin else ""  # `<&-` leaves no sys.stdin at all
    if not line and default is not None and sys.stdin and sys.stdin.isatty():
        print(file=sys.stderr)  # Ctrl-D leaves the cursor after the question
        return default
    if not line:
        raise UserError(f"no answer on standard input for {question.strip()!r}; pass {flag} instead")
    return line.strip()


def difficulty_cycle(spec: str) -> list[str]:
    """'medium' -> [medium]; 'easy=1,medium=2' -> [easy, medium, medium]: slot i gets cycle[i % len]."""
    out = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        level, _, weight = part.partition("=")
        if level not in DIFFICULTIES or (weight and not (weight.isdigit() and 0 < int(weight) <= 100)):
            raise UserError(f"--difficulty {spec!r}: use {', '.join(DIFFICULTIES)}, or a mix like easy=1,medium=2,hard=1 "
                            "(weights 1 to 100)")
        out += [level] * int(weight or 1)
    if not out:
        raise UserError("--difficulty is empty")
    return out


def plan(args) -> dict:
    """The settings of a new run, from flags and (with --interactive) answers."""
    domains = [d for flag in args.domains for d in split_domains(flag)]
    notes = list(args.domain_notes)
    while args.interactive and not domains:
        if not (domains := split_domains(ask("Domains (comma-separated): ", "--domains"))):
            cli.say("  a domain is needed (e.g. Jobs at startup); try again")
        notes = [ask(f"Notes for {d!r} (optional): ", "--domain-notes", default="") for d in domains]
    if not domains:
        raise UserError("no domains given: pass --domains \"Jobs at startup\" (or --interactive)")
    if args.feedback and not any(notes):  # the audited run's notes, for the domains it had: its reviewers judged those
        earlier = {domain_key(d["name"]): d.get("notes", "")
                   for d in stage_record(Path(args.feedback), "generate").get("domains", [])}
        if any(notes := [earlier.get(domain_key(d), "") for d in domains]):
            cli.say(f"notes from {args.feedback}: " + "; ".join(f"{d}: {n}" for d, n in zip(domains, notes) if n))
    if len(notes) > len(domains):
        raise UserError(f"{len(notes)} --domain-notes for {len(domains)} domains: give one per domain, in order")
    check_domain_names(domains)
    n = args.samples_per_domain
    while n is None and args.ask_samples:  # a typo asks again: the answers above are not lost
        answer = ask("Samples per domain [10]: ", "--samples-per-domain", default="10") or "10"
        n = int(answer) if answer.isdigit() and int(answer) >= 1 else None
        if n is None:
            cli.say(f"  {answer!r} is not a whole number of at least 1; try again")
    n = 10 if n is None else n
    if n < 1:
        raise UserError("--samples-per-domain must be at least 1")
    if not 0 <= args.temperature <= 5:  # also refuses nan
        raise UserError(f"--temperature {args.temperature}: use a number from 0 to 5")
    if args.max_attempts < 1 or (args.max_tokens is not None and args.max_tokens < 1):
        raise UserError("--max-attempts and --max-tokens must be at least 1")
    if not 0 <= args.repairs <= 10:
        raise UserError(f"--repairs {args.repairs}: use 0 (never) to 10")
    templates = [t.strip() for t in args.templates.split(",") if t.strip()]
    if not templates or set(templates) - set(TEMPLATE_NAMES):
        raise UserError(f"--templates {args.templates!r}: choose from {', '.join(TEMPLATE_NAMES)}")
    difficulty_cycle(args.difficulty)
    if args.plan not in ("on", "off") and not Path(args.plan).exists():
        raise UserError(f"--plan {args.plan}: no such file or folder; use on, off, or a plan_<domain>.json")
    if args.plan not in ("on", "off") and Path(args.plan).is_file() and len(domains) > 1:
        raise UserError(f"--plan {args.plan} is one domain's plan; for {len(domains)} domains pass a run folder "
                        "holding a plan_<domain>.json for each")
    if args.plan not in ("on", "off") and Path(args.plan).is_file():
        read_plan(Path(args.plan))  # a mistake in a hand-edited plan is said before a run folder is made
    feedback = load_feedback(Path(args.feedback), domains) if args.feedback else None
    return {"feedback": feedback,
            "domains": [{"name": d, "notes": notes[i] if i < len(notes) else ""} for i, d in enumerate(domains)],
            "samples_per_domain": n, "model": args.model, "templates": templates, "difficulty": args.difficulty,
            "temperature": args.temperature, "seed": args.seed, "max_tokens": args.max_tokens, "think": args.think,
            "max_attempts": args.max_attempts, "repairs": args.repairs,
            "plan": args.plan if args.plan in ("on", "off") else str(Path(args.plan).resolve())}


def split_domains(text: str) -> list[str]:
    """'Retail, Sales\\, Marketing' -> ['Retail', 'Sales, Marketing']: a comma inside a name is written \\,"""
    return [d.replace("\\,", ",").strip() for d in re.split(r"(?<!\\),", text) if d.strip()]


def load_feedback(run: Path, domains: list[str]) -> dict:
    """Per domain, what reviewers dropped (with their comments) and kept, from audit.py apply's decisions.

    A domain with no decisions of its own gets those of every domain in the audited run.
    """
    files = sorted(run.glob("* data samples/decisions_*.jsonl"))
    if not files:
        raise UserError(f"--feedback {run}: no decisions_<domain>.jsonl; run audit.py export and apply on it first")
    decisions = [line.record for f in files for line in read_jsonl(f)
                 if line.record and isinstance(line.record.get("question"), str)]
    leaf_of = {r["id"]: r["plan"]["leaf"] for f in run.glob("* data samples/raw_*.jsonl") for r in iter_records(f)
               if isinstance(r, dict) and isinstance(r.get("id"), str) and isinstance(r.get("plan"), dict)
               and isinstance(r["plan"].get("leaf"), str)}  # the leaf each sample came from
    out = {}
    for name in domains:
        own = [d for d in decisions if domain_key(str(d.get("domain", ""))) == domain_key(name)] or decisions
        out[name] = {"avoid": [[d["question"], str(d.get("comment") or "")] for d in own
                               if d.get("decision") == "drop"][:FEEDBACK_ITEMS],
                     "examples": [approved for d in own if (approved := approved_question(d))][:FEEDBACK_ITEMS],
                     "dropped_leaves": Counter(leaf_of[d["id"]] for d in own if d.get("decision") == "drop"
                                               and isinstance(d.get("id"), str) and d["id"] in leaf_of)}
    cli.say(f"feedback from {run}: " + ", ".join(f"{n}: {len(f['avoid'])} to avoid, {len(f['examples'])} examples"
                                                 for n, f in out.items()))
    return out


def approved_question(decision: dict) -> str | None:
    """The question a reviewer approved: a kept one, or a fix as edited. A fix that failed the filter
    ("not added" by audit.py apply) was approved by nobody."""
    if decision.get("decision") == "keep":
        return decision["question"]
    fixed = decision.get("fixed") if decision.get("decision") == "fix" else None
    return fixed["question"] if isinstance(fixed, dict) and isinstance(fixed.get("question"), str) else None


# ---------------------------------------------------------------- the stage: resolve, generate, write, summary

def main(argv=None) -> int:
    args = parse_args(argv)
    if args.interactive and not args.resume:  # a model that is not there is said before the questions, not after
        get_backend(args.model).check()
    run_dir, settings = resumed(args) if args.resume else (None, plan(args))
    backend = get_backend(settings["model"])
    backend.check()
    for flag in backend.unsupported_options(request_options(settings, slot=0, attempt=0)):  # what a request sends
        cli.say(f"note: {backend.scheme} has no {flag}; that setting is ignored (set it in a Modelfile or use the HTTP API)")
    if run_dir is None:  # made only once the backend answered: a typo in --model leaves no empty run behind
        run_dir = new_run_dir(args.runs_dir)
        lock_run(run_dir)
    stage = Stage(backend, settings, run_dir)
    update_manifest(run_dir, "generate", {"status": "running", "settings": settings, "domains": settings["domains"],
                                          "backend": backend.scheme, "model": backend.spec})
    cli.say(f"run: {run_dir}  model: {backend.spec}  concurrency: {args.concurrency}"
            + ("  (a thinking model: it reasons before it answers)" if backend.thinks else ""))
    summary = lambda status: finish(stage, status)
    finish_with = f"finish with `python generate.py --resume {cli.quoted(run_dir)}`"
    with RequestPool(args.concurrency, summary, finish_with) as pool:
        for domain in settings["domains"]:
            run_domain(stage, domain, pool)
    finish(stage, status="done")
    return cli.EXIT_OK  # failures are recorded in failed_<domain>.jsonl and counted; the run itself completed


def resumed(args) -> tuple[Path, dict]:
    """--resume: the run's folder, locked, and the settings it was started with."""
    run_dir = run_folder(str(run_to_resume(args.runs_dir)) if args.resume == "latest" else args.resume,
                         args.runs_dir, "--resume")
    lock_run(run_dir)  # two resumes at once would write each sample twice
    defaults = plan(parse_args(["--domains", "any"]))  # today's flag defaults, for what an older run.json lacks
    defaults["plan"] = "off"  # a run started before plans had none: it goes on without
    settings = resume_settings(run_dir, "generate", defaults, required=("domains", "samples_per_domain"))
    settings["domains"] = [{"notes": "", **d} for d in settings["domains"]]
    return run_dir, settings


def run_to_resume(runs_dir) -> Path:
    """`--resume` alone: the newest run whose generation did not finish (Ctrl-C, a crash, a lost server),
    not a newer finished one; when every run finished, the newest (its failed slots are tried again)."""
    for run in reversed(all_runs(runs_dir)):
        if stage_record(run, "generate").get("status") not in ("done", None):
            return run
    return latest_run(runs_dir, flag="--resume")


class Stage:
    """One session of the stage: the model, the run's settings (as run.json keeps them) and folder, and this
    session's counts, added as each sample arrives so that a summary after Ctrl-C is right."""

    def __init__(self, backend, settings: dict, run_dir: Path):
        self.backend, self.settings, self.run_dir = backend, settings, run_dir
        self.totals = {"requested": 0, "valid": 0, "failed": 0, "attempts": 0, "repairs_asked": 0, "repairs_passed": 0,
                       **dict.fromkeys(TOKEN_FIELDS, 0)}
        self.failures, self.per_domain, self.started = cli.Failures(), {}, time.monotonic()
        self.plan_tokens = dict.fromkeys(TOKEN_FIELDS, 0)  # the plans' own requests, in totals too

    def add(self, domain: str, record: dict, ok: bool) -> None:
        totals, asked = self.totals, len(record.get("repairs", []))
        self.per_domain[domain]["valid" if ok else "failed"] += 1
        totals["valid" if ok else "failed"] += 1
        totals["attempts"] += record["attempts"]
        totals["repairs_asked"] += asked
        totals["repairs_passed"] += bool(ok and asked)
        add_tokens(totals, record)
        if not ok:
            for attempt in record["attempt_errors"]:
                for kind in failure_kinds(attempt):
                    self.failures.add(kind, attempt["error"])

    def report(self) -> dict:
        """The totals run.json keeps: the counts, why attempts failed, time and tokens/s."""
        wall = time.monotonic() - self.started
        generated = self.totals["completion_tokens"] + self.totals["reasoning_tokens"]
        return {**self.totals, "why_failed": self.failures.counts, "seconds": round(wall, 2),
                "tokens_per_second": round(generated / wall, 1) if wall else 0.0}


def run_domain(stage: Stage, domain: dict, pool: RequestPool) -> None:
    """Fill one domain's missing slots; each valid sample is appended the moment it arrives, and counted."""
    name, wanted = domain["name"], stage.settings["samples_per_domain"]
    done, recent = written_so_far(stage.run_dir, name)
    todo = [slot for slot in range(wanted) if sample_id(stage.run_dir, name, slot) not in done]
    stats = stage.per_domain[name] = {"requested": wanted, "already_done": len(done), "valid": 0, "failed": 0}
    if not todo:
        return
    stage.totals["requested"] += len(todo)
    spent = token_log(stage.run_dir)
    planned = domain_plan(stage, domain, spent)  # None with --plan off
    raw, failed = (JsonlAppender(stage_file(stage.run_dir, name, kind)) for kind in ("raw", "failed"))
    # with --seed a prompt depends only on the seed and its slot: the recent questions it lists are those
    # written before this session, not whichever a faster worker finished first
    listed = list(recent) if stage.settings["seed"] is not None else recent
    work = lambda slot, live, brief=None: generate_one(stage, domain, slot, listed, live, brief)
    try:
        for record, ok, replaced in planned_results(stage, pool, planned, work, todo, name):
            asked = len(record.get("repairs", []))
            spent.write({"stage": "generate", "domain": name, **{k: record[k] for k in TOKEN_FIELDS},
                         **({"repairs": asked, "repaired": ok} if asked else {})})
            if replaced:  # before the repaired sample: a kill between the two redoes the slot, nothing is hidden
                failed.write(replaced)
            (raw if ok else failed).write(record)  # only this (main) thread writes: no lock needed
            stage.add(name, record, ok)
            if ok:
                recent.append(record["question"])
            pool.live.set_counts(f"valid={stats['valid']}, failed={stats['failed']}"
                                 + (f", repaired={stage.totals['repairs_passed']}" if stage.totals["repairs_asked"] else ""))
    finally:
        for out in (raw, failed, spent):
            out.close()


def planned_results(stage: Stage, pool: RequestPool, planned: DomainPlan | None, work, todo: list[int], name: str):
    """pool.results over the slots to do. With a plan, in waves of WAVE slots: each wave's briefs are drawn from
    the balance so far, each result is counted for its leaf once written, and after a wave the leaves that keep
    failing or repeating are retired."""
    if planned is None:
        yield from pool.results(work, todo, name)
        return
    choices = {"difficulty": difficulty_cycle(stage.settings["difficulty"]), "template": stage.settings["templates"]}
    for wave in (todo[i:i + WAVE] for i in range(0, len(todo), WAVE)):
        briefs = planned.briefs(wave, choices, stage.settings["seed"])
        for record, ok, replaced in pool.results(lambda slot, live: work(slot, live, briefs[slot]), wave, name):
            yield record, ok, replaced
            planned.saw(record, ok)
        for leaf, why in planned.review().items():
            cli.say(f"plan: leaf {leaf!r} retired ({why})")


def domain_plan(stage: Stage, domain: dict, spent: JsonlAppender) -> DomainPlan | None:
    """The domain's plan: the run's own plan_<domain>.json (a resumed run keeps it, and its balance), else the
    --plan file as written, else a tree the model writes (or the notes alone, when they give a leaf for every
    few samples). None with --plan off."""
    settings, name = stage.settings, domain["name"]
    if settings.get("plan", "off") == "off":
        return None
    path = domain_dir(stage.run_dir, name) / f"plan_{domain_slug(name)}.json"
    notes = [n.strip() for n in domain["notes"].split(",") if n.strip()]
    if path.exists():
        plan = read_plan(path)
        cli.say(f"plan: {len(leaves(plan))} leaves, kept from {path}")
    elif settings["plan"] != "on":
        plan = given_plan(Path(settings["plan"]), name)
    else:
        plan = model_plan(stage, domain, notes, spent)
    if dropped := ((settings.get("feedback") or {}).get(name) or {}).get("dropped_leaves"):
        plan["weights"].update(weights := feedback_weights(plan, Counter(dropped)))
        cli.say(f"plan: {len(weights)} leaves reviewers dropped samples of are asked less (--feedback)")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, plan_text(plan))
    on_disk = [[line.record for line in read_jsonl(p) if line.record] if p.exists() else []
               for p in (stage_file(stage.run_dir, name, "raw"), stage_file(stage.run_dir, name, "failed"))]
    return DomainPlan(plan, path, *on_disk)


def given_plan(path: Path, domain: str) -> dict:
    """--plan FILE, used as written; --plan FOLDER (a run, say): the plan_<domain>.json in it."""
    if path.is_dir():
        found = sorted(path.glob(f"**/plan_{domain_slug(domain)}.json"))
        if not found:
            raise UserError(f"--plan {path}: no plan_{domain_slug(domain)}.json in it for {domain!r}")
        path = found[0]
    plan = read_plan(path)
    cli.say(f"plan: {len(leaves(plan))} leaves, from {path}")
    return {**plan, "domain": domain}


def model_plan(stage: Stage, domain: dict, notes: list[str], spent: JsonlAppender) -> dict:
    """The topic tree the model writes for a domain, sized to the samples asked; the notes alone when they are
    enough, or when the model's reply cannot be used (said, and written in the plan's `source`)."""
    name, n, seed = domain["name"], stage.settings["samples_per_domain"], stage.settings["seed"]
    if not needs_model(n, notes):
        plan = notes_plan(name, notes)
        cli.say(f"plan: {len(leaves(plan))} leaves from the notes, enough for {n} samples (no model call)")
        return plan
    subs, situations = tree_size(n, notes)
    problem = ""
    for attempt in range(PLAN_ATTEMPTS):
        options = Options(temperature=stage.settings["temperature"], seed=None if seed is None else seed + 10**7 + attempt,
                          max_tokens=min(6000, 25 * subs * situations + 400), num_ctx=8192,
                          think=stage.settings.get("think", "auto"))
        try:
            reply = stage.backend.complete(plan_messages(name, notes, subs, situations), plan_schema(subs, situations), options)
        except ModelCallFailed as e:
            problem = f"request failed: {e}"
            continue
        add_tokens(stage.totals, reply)
        add_tokens(stage.plan_tokens, reply)
        spent.write({"stage": "generate", "domain": name, "plan": True, **{k: getattr(reply, k) for k in TOKEN_FIELDS}})
        try:
            if reply.truncated:
                raise ValueError(reply.cutoff_problem())
            plan = plan_from_reply(reply.text, name, notes)
        except ValueError as e:
            problem = str(e)
            continue
        cli.say(f"plan: {len(leaves(plan))} leaves in {len(plan['tree'])} sub-topics for {n} samples, written by the model")
        return plan
    plan = notes_plan(name, notes, source=f"notes: the model's plan could not be used ({problem})")
    cli.say(f"warning: the model's plan for {name!r} could not be used ({problem}); the notes alone make the plan "
            f"({len(leaves(plan))} leaves), so more samples will repeat. Write one by hand and pass --plan FILE, or --plan off.")
    return plan


def written_so_far(run_dir: Path, domain: str) -> tuple[set, list[str]]:
    """The ids and questions of the samples already in the domain's raw_ file. A line a crash left unfinished
    is set aside in torn_<domain>.jsonl; its slot is redone."""
    raw_path = stage_file(run_dir, domain, "raw")
    if not raw_path.exists():
        return set(), []
    lines = read_jsonl(raw_path)
    if torn := drop_torn_tail(raw_path, lines):
        cli.say(f"warning: {raw_path}:{torn.lineno}: unfinished line from a crash set aside; its sample is redone")
        JsonlAppender(stage_file(run_dir, domain, "torn")).write({"line": torn.lineno, "raw": torn.raw})
    whole = [line.record for line in lines if line.record and not line.torn]
    return {r.get("id") for r in whole}, [r.get("question", "") for r in whole]


def sample_id(run_dir: Path, domain: str, slot: int) -> str:
    """'20261201_101500-coffee_shop-00003': --resume finds the slots still to do by it, so it is made here only."""
    return f"{run_id(run_dir).removeprefix('run_')}-{domain_slug(domain)}-{slot:05d}"


def generate_one(stage: Stage, domain: dict, slot: int, recent: list[str], live=None,
                 brief: dict | None = None) -> tuple[dict, bool, dict | None]:
    """Ask for one sample. An invalid reply is asked again with a format hint (--max-attempts); a reply
    the filter would reject at a known step is sent back with the checker's message (--repairs).
    Returns (record, ok, the versions a repair replaced, for failed_, or None)."""
    settings, backend = stage.settings, stage.backend
    messages, asked, difficulty = first_prompt(settings, domain, slot, recent, brief)
    base = {"id": sample_id(stage.run_dir, domain["name"], slot), **asked, "model": backend.spec}
    attempts, repairs, invalid = [], [], 0
    tokens = dict.fromkeys(TOKEN_FIELDS, 0)
    while invalid < settings["max_attempts"]:
        try:
            reply = backend.complete(messages, schema=generation_schema(backend.grammar),
                                     options=request_options(settings, slot, len(attempts), live))
        except ModelCallFailed as e:
            attempts.append({"kind": e.kind, "error": f"request failed: {e}", "raw": ""})
            invalid += 1
            continue
        add_tokens(tokens, reply)
        record, problem = parse_reply(reply, domain["name"], {**base, "difficulty_requested": difficulty})
        if record is None:
            attempts.append({**problem, "raw": reply.text[:4000]})
            invalid += 1
            messages = messages[:2] + [{"role": "assistant", "content": reply.text[:2000]},
                                       {"role": "user", "content": REPAIR_HINT.format(error=problem["error"])}]
            continue
        failure = first_failure(record) if settings.get("repairs") else None
        if failure is None or (failure["step"] is None and not repairs):  # unrepaired: the filter has the last word
            record.update(created_at=time.strftime("%Y-%m-%dT%H:%M:%S"), attempts=len(attempts) + 1, **tokens)
            replaced = [a for a in attempts if "check" in a]
            if repairs:
                record["repairs"] = repairs
            return record, True, {**base, "domain": domain["name"], "slot": slot, "repaired": True,
                                  "attempts": len(replaced), "attempt_errors": replaced,
                                  "created_at": record["created_at"]} if replaced else None
        attempts.append({"kind": "check", "error": f"{failure['check']}: {failure['message']}", "raw": reply.text[:4000],
                         "check": failure["check"]})
        if failure["step"] is None or len(repairs) == settings["repairs"]:
            break  # a repair that still fails: the sample fails, with every version and its reason
        fix = step_fix(failure["check"], failure["message"], failure["step"] + 1)
        repairs.append({"step": failure["step"] + 1, "check": failure["check"], "message": fix, "attempt": len(repairs) + 1})
        # the same conversation: the reply as the model's turn, the fix as the user's; the question stays
        messages = messages[:2] + [{"role": "assistant", "content": reply.text[:4000]}, {"role": "user", "content": fix}]
    return {**base, "domain": domain["name"], "slot": slot, "attempts": len(attempts), "attempt_errors": attempts, **tokens,
            **({"repairs": repairs} if repairs else {}), "created_at": time.strftime("%Y-%m-%dT%H:%M:%S")}, False, None


def first_prompt(settings: dict, domain: dict, slot: int, recent: list[str],
                 brief: dict | None = None) -> tuple[list[dict], dict, str]:
    """A slot's first messages, what its record says of them (template, sub-topic, the plan's brief) and the
    difficulty asked. With a plan the brief says them all; without, template and difficulty rotate by slot.
    Name and number range are drawn from a random.Random seeded by --seed, domain and slot, so with --seed a
    prompt is the same whichever worker sends it."""
    templates, levels = settings["templates"], difficulty_cycle(settings["difficulty"])
    template, difficulty = templates[slot % len(templates)], levels[slot % len(levels)]
    rng = random.Random(f"{settings['seed']}|{domain['name']}|{slot}")
    subtopic = rng.choice(subtopics(domain["name"], domain["notes"]))  # drawn even with a brief: rng's next draws
    if brief:  # (name, number range) stay the slot's own
        template, difficulty, subtopic = brief["template"], brief["difficulty"], brief["leaf"]
    messages = generation_prompt(template, domain["name"], domain["notes"], subtopic, difficulty, rng,
                                 recent[-RECENT_TO_AVOID:], (settings.get("feedback") or {}).get(domain["name"]), brief)
    return messages, {"template": template, "subtopic": subtopic, **({"plan": brief} if brief else {})}, difficulty


def parse_reply(reply, domain: str, base: dict) -> tuple[dict | None, dict | None]:
    """(the sample record, None) from a reply, or (None, {kind, error}: what is wrong with it)."""
    if reply.truncated:
        return None, {"kind": reply.cutoff_kind, "error": reply.cutoff_problem()}
    try:
        data = json.loads(reply.text)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        data["domain"] = domain  # the requested domain, whatever the model said
        if isinstance(data.get("reasoning"), list):
            data["num_steps"] = len(data["reasoning"])  # derived: a miscount is no reason to retry
        sample = Sample.model_validate(data)
        return {**{k: v for k, v in sample.model_dump().items() if k in data}, **base}, None
    except json.JSONDecodeError as e:
        return None, {"kind": "invalid_json", "error": f"invalid JSON: {e.msg} at position {e.pos}"}
    except ValidationError as e:
        return None, {"kind": "off_schema", "error": "off-schema: " + "; ".join(validation_problems(e)[:5])}
    except ValueError as e:
        return None, {"kind": "invalid_reply", "error": f"invalid reply: {e}"}


def first_failure(record: dict) -> dict | None:
    """The first reason filter.py would reject this sample for, from its own per-sample checks
    (duplicates, contamination and domain need the whole run, so filter.py alone runs them)."""
    from dataforge.checks import check_sample  # here, not at the top: it costs 0.5 s at start (numpy, dedup)

    try:
        reasons = check_sample(record, REPAIR_CHECKS).reasons
    except Exception:  # a bug in a check: the sample is written as it is and filter.py names it ('internal')
        if cli.tracebacks_wanted():
            raise
        return None
    return reasons[0] if reasons else None


def request_options(settings: dict, slot: int, attempt: int, live=None) -> Options:
    """A request's options. With --seed S, slot k's attempt a (from 0) asks for seed S + 100*k + a. --max-tokens
    given caps reasoning and answer together; unset, the answer gets ANSWER_TOKENS and a thinking model room to
    reason on top (local_llm.REASONING_BUDGET)."""
    seed = None if settings["seed"] is None else settings["seed"] + slot * 100 + attempt
    cap = {"max_tokens": settings["max_tokens"], "reasoning_budget": 0} if settings["max_tokens"] else {"max_tokens": ANSWER_TOKENS}
    return Options(temperature=settings["temperature"], seed=seed, num_ctx=4096, think=settings.get("think", "auto"),
                   on_tokens=live.request() if live else None, **cap)


def finish(stage: Stage, status: str) -> None:
    """The summary on stderr, run.json's totals and the report: at the end, and after Ctrl-C with what was done."""
    run_dir, settings, totals, per_domain = stage.run_dir, stage.settings, stage.report(), stage.per_domain
    spent = sum(totals[k] for k in TOKEN_FIELDS)  # repairs included: they are the sample's cost
    rows = [[name, s["requested"], s["already_done"] + s["valid"], s["failed"]] for name, s in per_domain.items()]
    cli.say("", cli.table(rows, ["domain", "requested", "valid", "failed"]), "",
            f"  this session: {totals['requested']} requested, {totals['valid']} valid, {totals['failed']} failed, "
            f"{totals['attempts']} attempts",
            f"  tokens: {totals['prompt_tokens']:,} prompt + {totals['completion_tokens']:,} answer"
            + (f" + {totals['reasoning_tokens']:,} reasoning" if totals["reasoning_tokens"] else "") + ", "
            f"{totals['tokens_per_second']} tokens/s, {totals['seconds']:.1f}s"
            + (f", {spent // totals['valid']:,} per valid sample" if totals["valid"] else ""),
            *([f"  repairs: {totals['repairs_asked']} asked (a step the checker found wrong, sent back with the fix), "
               f"{totals['repairs_passed']} passed"] if settings.get("repairs") else []),
            f"  samples in {run_dir}  ({status}); report: {run_dir / 'report.html'}")
    variety = {d["name"]: domain_variety(run_dir, d["name"]) for d in settings["domains"]
               if stage_file(run_dir, d["name"], "raw").exists()}
    distinct = sum(v["distinct"] for v in variety.values())
    run_tokens = sum(r.get(k) or 0 for r in iter_records(run_dir / TOKEN_LOG) if r.get("stage") == "generate"
                     for k in TOKEN_FIELDS) if (run_dir / TOKEN_LOG).exists() else 0
    cli.say(*(f"  variety, {name}: {summary_line(v)}" for name, v in variety.items()),
            *([f"  tokens per distinct sample: {run_tokens // distinct:,} (every session's generation tokens, the plan's "
               f"{sum(stage.plan_tokens.values()):,} included, over {distinct} distinct valid questions)"] if distinct else []))
    cli.say(*stage.failures.lines("failed attempts (each, with the reply, in failed_<domain>.jsonl)"))
    if totals["requested"] and not totals["valid"]:
        cli.say(f"  0 of {totals['requested']} valid." + (f" {cli.model_hint(settings['model'])}" if totals["failed"] else ""),
                cli.retry_next(settings["model"], settings["domains"], settings["samples_per_domain"], run_dir))
    elif status == "done":
        cli.say(f"  next: python filter.py --input {cli.quoted(run_dir)}")
    update_manifest(run_dir, "generate", {"status": status, "settings": settings, "domains": settings["domains"],
                                          "model": settings["model"], "totals": totals, "per_domain": per_domain,
                                          "variety": variety, "plan_tokens": stage.plan_tokens,
                                          "tokens_per_distinct_sample": run_tokens // distinct if distinct else None})
    write_report(run_dir)


def domain_variety(run_dir: Path, domain: str) -> dict:
    """dataforge.variety's measures of a domain's valid samples, with its plan's leaves when it has a plan."""
    samples = [r for r in iter_records(stage_file(run_dir, domain, "raw")) if isinstance(r, dict)]
    path = domain_dir(run_dir, domain) / f"plan_{domain_slug(domain)}.json"
    plan = read_plan(path) if path.exists() else None
    return {**measure(samples, leaves(plan, live_only=False) if plan else None),
            **({"retired": sorted(plan["retired"])} if plan else {})}


# What a summary calls each kind of failed attempt; every other kind (local_llm's ModelCallFailed.kind:
# timeout, refused, unreachable...) is counted as 'request failed', its error text in failed_'s attempt_errors.
FAILURE_LABELS = {"cut_off": "cut off at the token limit", "cut_off_reasoning": "cut off while reasoning",
                  "invalid_json": "invalid JSON", "invalid_reply": "invalid reply"}


def failure_kinds(attempt: dict) -> list[str]:
    """What went wrong in one attempt, by its kind, in a few words a summary can count: 'step without '='' ..."""
    if attempt["kind"] == "off_schema":  # a label for each problem the schema found
        problems = attempt["error"].removeprefix("off-schema: ").split("; ")
        return ["step without '='" if "has no '='" in p else f"bad {p.split(':')[0].split('.')[0]}" for p in problems]
    if attempt["kind"] == "check":
        return [f"failed the {attempt['check']} check"]
    return [FAILURE_LABELS.get(attempt["kind"], "request failed")]


if __name__ == "__main__":
    sys.exit(cli.run(lambda: main()))
