"""The judge's rules, one owner each: how a jury decides, whether a scored sample reaches final, and
how wrong final is. score.py decides with them, audit.py measures judge-human agreement and the error
of final with them, the report and the dataset card state them."""

from dataforge.prompts import RESOLVE_DISAGREE_CAP, SCORE_WEIGHTS

AGREE_POLICIES = ("all", "majority")
# why a scored sample is not in final, in the order checked
NOT_FINAL = ("off_domain", "incorrect", "disagreed", "unresolved", "low_score")
DEFAULT_LIMITS = {"threshold": 6.0, "min_relevance": 5, "min_correctness": 5, "agree": "majority"}


def limits_of(score_stage: dict) -> dict:
    """The limits a run's score stage used (run.json), with the defaults for a run scored before a limit existed."""
    return {k: score_stage.get(k, v) for k, v in DEFAULT_LIMITS.items()}


def juror_vote(agrees: list[bool]) -> bool | None:
    """One juror's vote from its usable re-solves: the majority (a tie disagrees); None without any."""
    return sum(agrees) > len(agrees) / 2 if agrees else None


def vote_decided(agree: int, disagree: int, left: int) -> bool:
    """Can `left` more re-solves still change juror_vote? A re-solve may also be unusable (no vote)."""
    return agree > disagree + left or (disagree > 0 and agree + left <= disagree)


def jury_decision(record: dict, agree: str) -> bool | None:
    """Does the jury accept the sample's answer? True, False, or None: unresolved (too few votes to say).
    A juror without a vote (no usable re-solve) never counts as agreeing: under `all` every juror must
    vote and re-derive it (one that votes against turns it down); under `majority` the voting jurors
    decide only when they are a majority of the jury, and then by more than half of their votes."""
    if "jury" not in record:  # scored before juries: one judge's decision as recorded
        return record.get("resolve_agrees")
    votes = [j["vote"] for j in record["jury"] if j.get("vote") is not None]
    if agree == "all":
        return False if not all(votes) else True if len(votes) == len(record["jury"]) else None
    if len(votes) <= len(record["jury"]) / 2:
        return None
    return sum(votes) > len(votes) / 2


def overall_score(scores: dict, resolve_agrees: bool | None) -> float:
    """The weighted mean of the sub-scores, capped when the jury could not re-derive the answer."""
    overall = round(sum(SCORE_WEIGHTS[k] * scores[k] for k in SCORE_WEIGHTS), 2)
    return min(overall, RESOLVE_DISAGREE_CAP) if resolve_agrees is False else overall


def why_not_final(record: dict, limits: dict) -> str | None:
    """The one rule for "reaches final": None if it does, else the first reason (NOT_FINAL) it does not.
    A weighted mean must not buy back an off-topic or wrong sample, nor one the jury turned down."""
    if record.get("unscored"):
        return "unscored"
    scores = record["scores"]
    if scores["domain_relevance"] < limits["min_relevance"]:
        return "off_domain"
    if scores["correctness"] < limits["min_correctness"]:
        return "incorrect"
    agrees = jury_decision(record, limits["agree"])
    if agrees is False:
        return "disagreed"
    if agrees is None:
        return "unresolved"
    return "low_score" if overall_score(scores, agrees) < limits["threshold"] else None


def jurors_split(record: dict) -> bool | None:
    """Did the voting jurors disagree with one another? None when fewer than two voted."""
    votes = [j["vote"] for j in record.get("jury", []) if j.get("vote") is not None]
    return len(set(votes)) > 1 if len(votes) >= 2 else None


def error_of_final_text(audit: dict | None, score: dict) -> str:
    """One line for the summary, the report and the card: the audit's estimate (dataforge/ledger.py), else
    the jury's signal."""
    est = (audit or {}).get("error_of_final")
    if est:
        design = ("a sample of each domain, weighted by its size" if est.get("design") == "stratified"
                  else "a simple random sample of all of final")
        text = (f"{est['rate']:.1%} of final is wrong (95% {est.get('interval', 'Wilson')} interval "
                f"{est['low']:.1%}–{est['high']:.1%}), from a human audit of {est['reviewed']} "
                + (f"of {est['final']} " if "final" in est else "")
                + f"samples of final ({est['dropped']} dropped; {design})")
        if est.get("chosen"):
            text += (f"; {est['chosen']} of them chosen by a reviewer, not drawn at random (`audit.py export --sample`): "
                     "the interval takes them for a random sample, which they are not")
        if est.get("undecided"):
            text += f"; {est['undecided']} drawn samples not decided yet"
        if est.get("left_out"):
            text += f"; not reviewed, left out: {', '.join(est['left_out'])}"
        return text
    split = score.get("jurors_split")
    if split is not None:
        return (f"not estimated (no audit yet: `audit.py export --sample 30`); signal only, not an estimate: "
                f"the jurors disagreed on {split:.0%} of {score.get('jurors_split_of', 0)} samples")
    return "not estimated (no audit yet: `audit.py export --sample 30`, then `apply`)"


def self_judging_text(judges: list[str]) -> str:
    return (f"self-judging: the judge {', '.join(f'`{j}`' for j in judges)} is the generation model, judging its own "
            "samples; a model agrees with its own mistakes, so more of its wrong samples reach final (docs/benchmarks.md)")
