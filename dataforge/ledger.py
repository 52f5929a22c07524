"""The run's facts, one owner each: which scored_ records are current, what the reviewers decided, and
how wrong final is. score.py, audit.py (and a review page) and the report read them here, so a fact
cannot mean one thing to one stage and another to the next.

- A scored_ record is current when its judge key (jury, rubric version, votes, think) is the one the
  domain's last finished scoring used (run.json, score.per_domain[domain].judge): a second judge on
  one domain leaves the other domains' records current, and a new rubric version replaces, never doubles.
- Decisions live in each domain's decisions_ file, merged by sample id (the last one wins), written whole.
- The error of final is a survey estimate over every domain and every round of the audit: the decided
  samples of final are the sample, drawn at random over all of final (Wilson interval) or per domain
  with each domain weighted by its size (stratified), as `audit.py export --sample` recorded.
"""

import math
from pathlib import Path

from dataforge import cli
from dataforge.runs import domain_key, read_jsonl, resolve_input, stage_record, update_manifest, write_jsonl_atomic
from dataforge.schema import sample_problem

JUDGE_KEY = ("judge_model", "rubric_version", "votes", "think")
KEY_DEFAULTS = {"votes": 1, "think": "auto"}  # what a record scored before the field was kept was scored with
DECISIONS = ("keep", "drop", "fix")
Z95 = 1.959964


# ---------------------------------------------------------------- records

def judge_key(fields: dict) -> tuple:
    """What a score is current under: the jury, the rubric version, --votes and --think (a record, or the
    settings run.json keeps for a domain)."""
    return tuple(fields.get(k, KEY_DEFAULTS.get(k)) for k in JUDGE_KEY)


def read_records(path: Path, check_samples: bool = True) -> list[dict]:
    """The records of a JSONL file; a bad line (or a record that is not a sample) is named and skipped."""
    good = []
    for line in read_jsonl(path):
        problem = line.problem or (sample_problem(line.record) if check_samples else None)
        if problem:
            cli.say(f"{path}:{line.lineno}: {problem}; skipped")
        else:
            good.append(line.record)
    return good


def current_key(run_dir: Path | None, domain: str | None) -> tuple | None:
    """The judge key of a domain's last finished scoring (run.json); for a run scored before keys were kept
    per domain, the score stage's own settings; None when run.json says nothing."""
    score = stage_record(run_dir, "score")
    entry = (score.get("per_domain") or {}).get(domain_key(domain or "")) or {}
    fields = entry.get("judge") if isinstance(entry.get("judge"), dict) else score
    return judge_key(fields) if fields.get("judge_model") else None


def scored_records(path: Path, run_dir: Path | None, domain: str | None) -> list[dict]:
    """The current records of a scored_ file: those of the domain's last finished scoring (other judges'
    and older rubrics' stay in the file, for the record); without a key in run.json, the last record's."""
    records = read_records(path)
    key = current_key(run_dir, domain) or (judge_key(records[-1]) if records else None)
    return [r for r in records if judge_key(r) == key]


def final_ids(path: Path) -> list[str]:
    """The ids of a final_ file, in file order."""
    return [r["id"] for r in read_records(path) if isinstance(r.get("id"), str)] if path.exists() else []


# ---------------------------------------------------------------- decisions

def read_decisions(path: Path) -> dict[str, dict]:
    """A decisions_ file by sample id (the last line on an id wins); {} when there is none."""
    if not path.exists():
        return {}
    decisions = {}
    for line in read_jsonl(path):
        d = line.record
        if line.problem or not isinstance(d.get("id"), str) or d.get("decision") not in DECISIONS:
            cli.say(f"{path}:{line.lineno}: {line.problem or 'not a decision (id, and keep, drop or fix)'}; skipped")
            continue
        if "fixed" in d and (problem := fix_problem(d["fixed"])):  # a file edited by hand
            cli.say(f"{path}:{line.lineno}: the fix is not a sample ({problem}); read as a fix not made")
            d = {k: v for k, v in d.items() if k != "fixed"}
        decisions[d["id"]] = d
    return decisions


def fix_problem(fixed) -> str | None:
    return "not an object" if not isinstance(fixed, dict) else sample_problem(fixed)


def merge_decisions(path: Path, new: list[dict]) -> dict[str, dict]:
    """Add decision records ({id, decision, ...}) to a decisions_ file: merged by id with those already
    there, the last one winning, written whole (a crash leaves the old file). Returns them all."""
    decisions = read_decisions(path)
    for d in new:
        decisions[d["id"]] = d
    write_jsonl_atomic(path, list(decisions.values()))
    return decisions


# ---------------------------------------------------------------- the audit of a run

def domains_of(run_dir: Path) -> list:
    """Every domain of the run, as audit.py sees it (StageInput of filtered_), whatever --input named."""
    return resolve_input(str(run_dir), reads="filtered")


def audit_facts(run_dir: Path) -> dict:
    """The audit as run.json keeps it, from every domain's decisions_: decisions by kind, judge-human
    agreement (the judge "keeps" what is in the domain's final_: its own scoring's threshold, not the last
    score stage's) and the error of final."""
    drawn = stage_record(run_dir, "audit_sample")
    counts, compared, agree, strata = {}, 0, 0, {}
    for inp in domains_of(run_dir):
        decisions, final = read_decisions(inp.output("decisions")), final_ids(inp.output("final"))
        scored_path = inp.output("scored")
        scored = ({r["id"]: r for r in scored_records(scored_path, run_dir, inp.domain) if isinstance(r.get("id"), str)}
                  if scored_path.exists() else {})
        for d in decisions.values():
            kind = d["decision"] if not d.get("fix_problems") else "fix rejected"
            counts[kind] = counts.get(kind, 0) + 1
            if (sample := scored.get(d["id"])) is not None and "scores" in sample:
                compared += 1
                agree += (d["id"] in final) == (d["decision"] != "drop")  # the domain's own scoring, its own threshold
        decided, drawn_ids = [i for i in final if i in decisions], set((drawn.get("drawn") or {}).get(inp.domain, []))
        undecided = drawn_ids & set(final) - set(decided)
        # decided but never drawn (export or review without --sample): the reviewer chose them; a census is exact anyway
        chosen = len(set(decided) - drawn_ids) if len(decided) < len(final) else 0
        strata[inp.domain] = {"final": len(final), "reviewed": len(decided), "undecided": len(undecided), "chosen": chosen,
                              "dropped": sum(decisions[i]["decision"] == "drop" for i in decided)}
    return {"decisions": counts, "judge_human_agreement": agree / compared if compared else None,
            "compared": compared, "error_of_final": error_of_final(strata, drawn.get("design", "random"))}


def recount_audit(run_dir: Path) -> dict | None:
    """A run's audit counted again (run.json) after a stage changed final under it (score.py): the error of
    final and the agreement are of the final that is now. None when the run has no audit."""
    if not (before := stage_record(run_dir, "audit")):
        return None
    audit = {**before, **audit_facts(run_dir)}  # the audit's own command and files stay
    update_manifest(run_dir, "audit", audit)
    return audit


def error_of_final(strata: dict[str, dict], design: str = "random") -> dict | None:
    """How wrong final is, from the reviewed samples of each domain's final ({domain: {final, reviewed, chosen,
    dropped, undecided}}): overall by the design the samples were drawn with, and per domain. None before
    any sample of final is reviewed. `random`: a simple random sample of all of final, Wilson interval;
    `stratified`: each domain's sample weighted by the domain's size, a stratified interval."""
    if not any(s["reviewed"] for s in strata.values()):
        return None
    overall = (stratified(strata) if design == "stratified" else
               simple_random(*(sum(s[k] for s in strata.values()) for k in ("dropped", "reviewed", "final"))))
    return {**overall, "design": design, "final": sum(s["final"] for s in strata.values()),
            "undecided": sum(s["undecided"] for s in strata.values()),
            "chosen": sum(s.get("chosen", 0) for s in strata.values()),
            "per_domain": {d: {**simple_random(s["dropped"], s["reviewed"], s["final"]), "final": s["final"],
                               "undecided": s["undecided"]} for d, s in strata.items() if s["reviewed"]}}


def simple_random(dropped: int, reviewed: int, population: int) -> dict:
    """The error rate of a population from a simple random sample of it, with the 95% Wilson interval,
    corrected for sampling without replacement (a census is exact: its interval is the rate itself)."""
    rate = dropped / reviewed
    low, high = wilson_interval(rate, effective_n(reviewed, population))
    return {"rate": rate, "low": low, "high": high, "reviewed": reviewed, "dropped": dropped, "interval": "Wilson"}


def stratified(strata: dict[str, dict]) -> dict:
    """The stratified estimate: each domain's drop rate weighted by its share of final, the variance summed
    over domains (finite-population corrected), and the Wilson interval at the effective sample size that
    variance gives (Kish). Each domain's variance is taken at (dropped + ½) / (reviewed + 1), not at its
    bare rate: a small domain's few samples, all kept or all dropped, would claim no spread at all (with
    the bare rate, 2,000 simulated audits of a 100 + 900 final held the true rate in 93% of them; with
    this, 95.5%). A domain of final with no reviewed sample cannot be estimated: it is left out, and named."""
    sampled = {d: s for d, s in strata.items() if s["reviewed"] and s["final"]}
    total = sum(s["final"] for s in sampled.values())
    rate = variance = 0.0
    for s in sampled.values():
        w, n = s["final"] / total, s["reviewed"]
        rate += w * s["dropped"] / n
        smoothed = (s["dropped"] + 0.5) / (n + 1)
        variance += w * w * max(0.0, 1 - n / s["final"]) * smoothed * (1 - smoothed) / n
    n = sum(s["reviewed"] for s in sampled.values())
    n_eff = rate * (1 - rate) / variance if variance > 0 and 0 < rate < 1 else effective_n(n, total)
    low, high = wilson_interval(rate, n_eff)
    left_out = sorted(d for d, s in strata.items() if s["final"] and not s["reviewed"])
    return {"rate": rate, "low": low, "high": high, "reviewed": n, "dropped": sum(s["dropped"] for s in sampled.values()),
            "interval": "stratified Wilson", **({"left_out": left_out} if left_out else {})}


def effective_n(n: int, population: int) -> float:
    """A sample of n of a population drawn without replacement is worth n·(N-1)/(N-n) drawn with it;
    infinite for a census."""
    return math.inf if n >= population else n * (population - 1) / (population - n)


def wilson_interval(p: float, n: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion p seen in (an effective) n: right near 0 and for small
    n, where p ± z·sqrt(p(1-p)/n) gives a zero-width or negative interval."""
    if math.isinf(n):
        return p, p
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def per_domain_lines(est: dict | None) -> list[str]:
    """Each domain's own estimate (a simple random sample of the domain either way), one line each."""
    return [f"{d}: {e['rate']:.1%} ({e['low']:.1%}–{e['high']:.1%}), {e['dropped']} dropped of {e['reviewed']} "
            f"reviewed of {e['final']}" + (f", {e['undecided']} undecided" if e["undecided"] else "")
            for d, e in ((est or {}).get("per_domain") or {}).items()]
