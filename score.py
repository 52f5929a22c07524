"""Score filtered samples with an LLM judge (a rubric with sub-scores) and independent re-solves by a jury.

    python score.py --input latest --threshold 6.0
    python score.py --input filtered.jsonl --output final.jsonl --judge-model ollama://mistral
    python score.py --input latest --judge-model ollama://qwen2.5:7b,ollama://llama3.1 --agree all

For each domain: scored_<domain>.jsonl holds every sample with its scores and each juror's re-solve answers
and vote (or `unscored` and the error), appended as scores arrive, so a crash loses nothing and a re-run does
not ask again for samples this jury already scored with this rubric version. final_<domain>.jsonl holds the
samples that reach final by the one rule of dataforge/judge.py (why_not_final): score >= --threshold, domain
relevance and correctness sub-scores at least --min-relevance and --min-correctness, and the jury re-derived
the answer (--agree). scored_ says why each other sample is out (`rejected`: off_domain, incorrect,
disagreed, low_score). Each re-solve's own steps go through the exact checker: a wrong step is asked once
more, then it is no vote (counted). Exit status: 0 done, even when some samples could not be scored
(recorded, counted, retried by the next run), 2 bad usage or judge unreachable, 130 Ctrl-C.
"""

import argparse
import dataclasses
import hashlib
import json
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from pydantic import Field, ValidationError, create_model

from dataforge import UserError, cli
from dataforge.arithmetic import check_steps, parse_number, quantities_agree
from dataforge.judge import (AGREE_POLICIES, DEFAULT_LIMITS, NOT_FINAL, error_of_final_text, juror_vote, jurors_split,
                             jury_decision, overall_score, vote_decided, why_not_final)
from dataforge.ledger import judge_key, recount_audit
from dataforge.pool import RequestPool
from dataforge.prompts import (JUDGE_SCHEMA, RESOLVE_SCHEMA, RUBRIC_VERSION, SCORE_WEIGHTS, SUB_SCORES, judge_prompt,
                               resolve_prompt)
from dataforge.report import write_report
from dataforge.schema import sample_problem
from dataforge.runs import (DEFAULT_RUNS_DIR, TOKEN_FIELDS, JsonlAppender, add_tokens, drop_torn_tail, lock_run, read_jsonl,
                            refuse_overwrites, resolve_input, retry_next, stage_record, token_log, update_manifest,
                            write_jsonl_atomic)
from local_llm import DEFAULT_MODEL, THINK_LEVELS, ModelCallFailed, Options, get_backend

# The judge's reply, checked: a sub-score for each criterion of prompts.SCORE_WEIGHTS (what JUDGE_SCHEMA asks for)
JudgeScores = create_model("JudgeScores", **{k: (int, Field(ge=min(SUB_SCORES), le=max(SUB_SCORES))) for k in SCORE_WEIGHTS},
                           rationale=(str, ""))


class WrongStep(Exception):
    """A re-solve whose own steps the exact checker found wrong, twice: no vote."""


class RequestFailed(ValueError):
    """A juror's request failed (after its retries): the server's fault, not the juror's vote. The sample
    is left unscored (asked again by the next run), never scored with that juror's vote missing."""


class Juror:
    """A juror: its backend, and the requests it has failed in a row. A juror whose server fails every
    request (or cannot be reached) would leave every sample without its vote, so after STOP_AFTER failed
    requests in a row the stage stops (exit 2), naming the juror and the server's reason; final_ stays as
    the last finished scoring wrote it."""

    STOP_AFTER = 3
    SAMPLE_FAULTS = ("refusal", "too_long")  # one sample's trouble, not the server's

    def __init__(self, backend):
        self.backend, self.spec, self.failed, self._lock = backend, backend.spec, 0, threading.Lock()

    def complete(self, messages, schema, options):
        try:
            reply = self.backend.complete(messages, schema=schema, options=options)
        except UserError as e:  # local_llm's own stop (unreachable, model removed, key refused): say whose
            raise UserError(f"juror {self.spec}: {e}") from None
        except ModelCallFailed as e:
            with self._lock:
                self.failed = 0 if e.kind in self.SAMPLE_FAULTS else self.failed + 1
                if self.failed >= self.STOP_AFTER:
                    raise UserError(f"juror {self.spec}: {self.failed} requests in a row failed, the last with: {e}. "
                                    f"Without its votes no sample can be judged: fix its server (or leave {self.spec} "
                                    "out of --judge-model) and run the same command again") from None
            raise
        with self._lock:
            self.failed = 0
        return reply


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", default="latest", help="'latest', a run folder, a domain folder or a filtered .jsonl (default: latest)")
    p.add_argument("--output", help="final samples, for a .jsonl input (default: beside the input); scores go beside it "
                                    "(<output stem>.scored.jsonl) and the run's own records are left alone")
    p.add_argument("--threshold", type=cli.number_in(0, 10, float), default=DEFAULT_LIMITS["threshold"],
                   help=f"minimum overall score for final (default {DEFAULT_LIMITS['threshold']})")
    p.add_argument("--min-relevance", type=cli.number_in(0, 10), default=DEFAULT_LIMITS["min_relevance"],
                   help="minimum domain_relevance sub-score (1-10) for final, whatever the overall score "
                        f"(default {DEFAULT_LIMITS['min_relevance']})")
    p.add_argument("--min-correctness", type=cli.number_in(0, 10), default=DEFAULT_LIMITS["min_correctness"],
                   help="minimum correctness sub-score (1-10) for final, whatever the overall score "
                        f"(default {DEFAULT_LIMITS['min_correctness']})")
    p.add_argument("--judge-model", help="model spec of the judge, or several comma-separated: a jury, each juror "
                                         "re-solving on its own; the first one gives the rubric scores (default: the run's "
                                         "generation model, which agrees with its own mistakes)")
    p.add_argument("--agree", choices=AGREE_POLICIES, default=DEFAULT_LIMITS["agree"],
                   help="a jury accepts an answer when all voting jurors re-derive it, or a majority "
                        f"(default {DEFAULT_LIMITS['agree']})")
    p.add_argument("--votes", type=int, default=1, help="re-solves per juror at temperature 0.7, the majority is its vote; "
                                                        "stops once the vote cannot change (default 1, at temperature 0)")
    p.add_argument("--think", choices=THINK_LEVELS, default="auto",
                   help="a reasoning judge: auto (the model's default), off, on, or a level low/medium/high")
    p.add_argument("--concurrency", type=cli.number_in(1), default=1, help="samples scored at once (default 1)")
    p.add_argument("--max-attempts", type=cli.number_in(1), default=3, help="tries for a valid judge reply (default 3)")
    p.add_argument("--runs-dir", default=DEFAULT_RUNS_DIR, help="where runs live (default: runs/)")
    return p.parse_args(argv)


def sample_key(record: dict) -> str:
    """What a score is cached under (with the judge and rubric version): everything the judge is sent
    (judge_prompt: domain, difficulty, question, steps, answer), so an edited sample is scored again and
    two samples that share an id are never mixed up."""
    content = json.dumps([record.get(k) for k in ("domain", "difficulty", "question", "reasoning", "answer")],
                         ensure_ascii=False)
    return hashlib.sha1(content.encode("utf-8")).hexdigest()[:20]


def resolved_answer(reply: dict):
    """The re-solve's number, read like any answer (no float(), so '1/0' or 400 digits cannot crash it)."""
    value, problem = parse_number(str(reply["answer"]))
    if value is None:
        raise ValueError(f"re-solve answer {str(reply['answer'])[:40]!r} {problem}")
    return value


def checked_resolve(question: str):
    """A parser for a re-solve reply: (its number, None), or (its number, (reply, wrong step, why))
    when the exact checker finds one of its own steps wrong."""
    def parse(reply: dict):
        value = resolved_answer(reply)
        if not isinstance(reply["steps"], list):
            raise TypeError("steps is not a list")
        steps = [str(s) for s in reply["steps"]]
        bad = next(((steps[i], c.wrong[0]) for i, c in enumerate(check_steps(steps, question)) if c.wrong), None)
        return value, (json.dumps(reply, ensure_ascii=False), *bad) if bad else None
    return parse


def ask_json(judge, messages, schema, options, parse, attempts: int, usage: Counter):
    """One structured request, retried while the reply is invalid, each try with its own seed (a
    deterministic server would repeat a cut-off reply word for word). Returns parse(dict); raises
    RequestFailed when the last try's request failed, ValueError when its reply was unusable."""
    last, failed = "no attempt made", False
    for n in range(attempts):
        try:  # seeds 1000 apart: clear of the votes' own seeds (0 .. --votes - 1)
            reply = judge.complete(messages, schema, dataclasses.replace(options, seed=(options.seed or 0) + 1000 * n))
        except ModelCallFailed as e:
            last, failed = f"request failed: {e}", True
            continue
        failed = False
        usage["requests"] += 1
        add_tokens(usage, reply, prefix="judge_")
        if reply.truncated:
            last = reply.cutoff_problem()
            continue
        try:
            return parse(json.loads(reply.text))
        except (json.JSONDecodeError, ValidationError, ValueError, TypeError, KeyError) as e:
            last = f"invalid reply: {str(e).splitlines()[0][:200]}"
    raise (RequestFailed if failed else ValueError)(last)


def judge_tokens(record: dict) -> dict:
    """What judging a record cost, under TOKEN_FIELDS' names: the record carries it beside the generation's
    own counts, as judge_prompt_tokens ..."""
    return {k: record[f"judge_{k}"] for k in TOKEN_FIELDS}


def resolve(juror, sample: dict, options, args, usage: Counter):
    """One re-solve: its number once its steps pass the exact checker. A reply with a wrong step is asked
    once more, told which step; wrong again, it is no vote (WrongStep). No usable reply: ValueError."""
    wrong = None
    for _ in range(2):
        value, wrong = ask_json(juror, resolve_prompt(sample, wrong), RESOLVE_SCHEMA, options,
                                checked_resolve(sample["question"]), args.max_attempts, usage)
        if wrong is None:
            return value
    raise WrongStep(wrong[2])


def juror_resolves(juror, sample: dict, expected, args, live, usage: Counter) -> dict:
    """One juror's independent re-solves, up to --votes, stopped as soon as its vote cannot change."""
    agrees, answers, unusable, wrong_step, asked = [], [], 0, 0, 0
    for v in range(args.votes):  # one request per vote: Ollama has no `n`
        if vote_decided(sum(agrees), len(agrees) - sum(agrees), args.votes - v):
            break
        asked += 1
        options = Options(temperature=0.0 if args.votes == 1 else 0.7, seed=v, max_tokens=600, think=args.think,
                          on_tokens=live.request() if live else None)
        try:
            value = resolve(juror, sample, options, args, usage)
        except WrongStep:
            wrong_step += 1  # its own solution is wrong: no vote either way
            continue
        except RequestFailed as e:
            raise RequestFailed(f"juror {juror.spec}: {e}") from None
        except ValueError:
            unusable += 1  # no reply, or no number in it ('1/0', 400 digits): no vote either way
            continue
        answers.append(float(value.value))
        agrees.append(expected is not None and quantities_agree(value, expected))
    return {"judge": juror.spec, "answers": answers, "agrees": agrees, "vote": juror_vote(agrees),
            "unusable": unusable, "wrong_step": wrong_step, "saved": args.votes - asked}


def score_one(jurors, sample: dict, args, live=None) -> dict:
    usage = Counter({"requests": 0, **{f"judge_{k}": 0 for k in TOKEN_FIELDS}})
    base = judge_settings(jurors, args)
    try:
        options = Options(temperature=0.0, seed=0, max_tokens=400, think=args.think,
                          on_tokens=live.request() if live else None)
        scores = ask_json(jurors[0], judge_prompt(sample), JUDGE_SCHEMA, options, JudgeScores.model_validate,
                          args.max_attempts, usage)
    except ValueError as e:
        return {**sample, **base, "unscored": True, "score_error": f"judge: {e}", **usage}
    expected, _ = parse_number(sample["answer"])
    try:
        jury = [juror_resolves(j, sample, expected, args, live, usage) for j in jurors]
    except RequestFailed as e:
        return {**sample, **base, "unscored": True, "score_error": str(e), **usage}
    record = {**sample, **base, "scores": scores.model_dump(exclude={"rationale"}), "rationale": scores.rationale,
              "jury": jury, "resolve_answers": [a for j in jury for a in j["answers"]],
              **{f"resolve_{k}": sum(j[k] for j in jury) for k in ("unusable", "wrong_step", "saved")}, **usage}
    return decide(record, args)


def decide(record: dict, args) -> dict:
    """The jury's decision and the overall score under this run's --agree; again for cached scores."""
    record["resolve_agrees"] = jury_decision(record, args.agree)
    record["score"] = overall_score(record["scores"], record["resolve_agrees"])
    return record


def jury_spec(jurors) -> str:
    return ",".join(j.spec for j in jurors)


def judge_settings(jurors, args) -> dict:
    """What a score is current under (ledger.judge_key), as each record and run.json keep it: a score made
    with other settings is not served from the cache."""
    return {"judge_model": jury_spec(jurors), "rubric_version": RUBRIC_VERSION, "votes": args.votes, "think": args.think}


def generation_models(inputs) -> set[str]:
    """Every model that wrote these samples: the run's, and each sample's own `model` (a loose file)."""
    run_dir = inputs[0].run_dir
    specs = {stage_record(run_dir, "generate").get("model")}
    specs |= {line.record.get("model") for inp in inputs for line in read_jsonl(inp.path) if isinstance(line.record, dict)}
    return {spec for s in specs if isinstance(s, str) and (spec := spec_of(s))}


def spec_of(model: str) -> str | None:
    """A model as written in a sample or run.json, in the form a juror's spec takes; None if it names none."""
    try:
        return get_backend(model).spec
    except UserError:
        return None


def self_judging_notice(self_judges, jurors, writers: set[str]) -> str:
    """Said when a juror wrote the samples it judges, with the server's other models as the way out."""
    taken = {one_model(m).partition("://")[2] for m in writers | {j.spec for j in jurors}}  # writers and jurors
    others = sorted(m for m in {m for j in jurors for m in j.backend.models()} if m.removesuffix(":latest") not in taken)
    scheme = get_backend(self_judges[0]).scheme
    way_out = (f"other models on the server, to pass as --judge-model: {', '.join(others[:6])}" if others else
               "serve another model and pass it as --judge-model openai://NAME" if scheme == "openai" else
               "pass a larger GGUF as --judge-model llamacpp:///path/to/model.gguf" if scheme == "llamacpp" else
               "pull another model (`ollama pull qwen2.5:7b`) and pass it as --judge-model")
    return (f"judge: {', '.join(self_judges)} is the generation model judging its own samples (self-judging): a model "
            "agrees with its own mistakes. Replaying real models' answers, a generator's re-solve repeated its own wrong "
            "answers and 19% of final was wrong, against 12% with a separate judge and 5% with a jury of two and "
            "--agree all (docs/benchmarks.md); "
            f"{way_out}")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.votes < 1:
        raise UserError("--votes must be at least 1")
    started = time.monotonic()
    inputs = resolve_input(args.input, reads="filtered", runs_dir=args.runs_dir)
    refuse_overwrites([i.path for i in inputs], {"--output": args.output})
    lock_run(inputs[0].run_dir)  # two scorers on one run would append to scored_ at once
    if args.output and len(inputs) > 1:
        raise UserError("--output needs a single .jsonl --input; a run writes final_<domain>.jsonl beside each file")
    # --output puts final (and its scored file) outside the run: the run's records are not this stage's
    records_run = None if args.output else inputs[0].run_dir
    generation_model = stage_record(inputs[0].run_dir, "generate").get("model")
    jurors, self_judges = the_jury(args, generation_model, inputs)

    tallies = {}  # per file, counted as each score arrives: a Ctrl-C summary is right
    audited = records_run is not None and bool(stage_record(records_run, "audit"))  # then its error is said below
    stop = lambda status: summary(tallies, started, generation_model, audited)
    with RequestPool(args.concurrency, stop, finish_with="run the same command again") as pool:
        for inp in inputs:
            score_file(inp, jurors, args, pool, tallies, records_run)
    info = summary(tallies, started, generation_model, audited)
    for domain in info["per_domain"].values():  # per domain: a later judge of another domain does not clear it
        domain["self_judged"] = self_judges
        domain["limits"] = {k: getattr(args, k) for k in DEFAULT_LIMITS}  # what made this domain's final
    if records_run is not None:  # per_domain merges into run.json's: a domain scored alone leaves the others' as they are
        update_manifest(records_run, "score", {
            **judge_settings(jurors, args), "jurors": [j.spec for j in jurors], "agree": args.agree,
            "self_judged": self_judges, "threshold": args.threshold,
            "min_relevance": args.min_relevance, "min_correctness": args.min_correctness, **info})
        if audit := recount_audit(records_run):  # final changed under the reviewers' decisions
            cli.say(f"  error of final (the audit counted again over this final): {error_of_final_text(audit, {})}")
        write_report(records_run)
    say_next(Tally.total(tallies.values()).counts, inputs, jurors, records_run, args.input)
    return cli.EXIT_OK  # unscored samples are written with their error and counted in the summary


def the_jury(args, generation_model: str | None, inputs) -> tuple[list, list[str]]:
    """The jurors --judge-model names (default: the run's generation model), each reachable, and those of them
    that wrote the samples they judge (said, with the way out)."""
    specs = [s for s in (args.judge_model or generation_model or DEFAULT_MODEL).split(",") if s.strip()]
    if not specs:
        raise UserError(f"--judge-model {args.judge_model!r} names no model")
    jurors = [Juror(get_backend(s)) for s in specs]
    seen = {}
    for spec, juror in zip(specs, jurors):
        model = one_model(juror.spec)
        if model in seen:
            raise UserError(f"--judge-model {args.judge_model}: {seen[model]} and {spec} are one model "
                            "(Ollama's tag defaults to :latest); a jury needs different models: name it once")
        seen[model] = spec
    for juror in jurors:
        juror.backend.check()
    writers = generation_models(inputs)
    self_judges = [j.spec for j in jurors if j.spec in writers]
    if self_judges:
        cli.say(self_judging_notice(self_judges, jurors, writers))
    if len(jurors) > 1:
        cli.say(f"jury: {', '.join(j.spec for j in jurors)}; rubric scores from {jurors[0].spec}; an answer is accepted "
                f"when {'every voting juror' if args.agree == 'all' else 'a majority of voting jurors'} re-derives it")
    return jurors, self_judges


def one_model(spec: str) -> str:
    """A juror's spec with Ollama's default tag taken off: llama2 and llama2:latest are one model."""
    return spec.removesuffix(":latest") if spec.startswith("ollama") else spec


def say_next(total: Counter, inputs, jurors, records_run, spec: str) -> None:
    """Why nothing was scored, if so; else the next command, for a run (a loose file's final is named above)."""
    if not total["in"]:
        cli.say(f"  nothing to score: {', '.join(str(i.path) for i in inputs)} hold no samples "
                "(filter.py kept none: its summary says why)")
    elif total["in"] == total["cached"]:
        cli.say(f"  nothing new to score: all {total['in']} were scored before by {jury_spec(jurors)} (cached)")
    if total["kept"] and records_run is not None:  # audit needs a run
        cli.say(f"  next: python audit.py export --input {cli.quoted(records_run if spec == 'latest' else spec)}"
                " --sample 30")
    elif not total["kept"]:  # nothing in final: a new run, with a better model
        cli.say(*retry_next(records_run or inputs[0].run_dir))


def score_file(inp, jurors, args, pool, tallies: dict, records_run) -> None:
    """Score one file, counted into tallies[its domain] as each score arrives; then scored_ compacted and
    final_ written (each whole)."""
    name = inp.domain or inp.path.name
    final_path = Path(args.output) if args.output else inp.output("final")
    scored_path = final_path.with_name(f"{final_path.stem}.scored.jsonl") if args.output else inp.output("scored")
    samples = unique_samples(inp)
    cached, other_judges = cached_scores(scored_path, judge_key(judge_settings(jurors, args)))
    todo = [s for s in samples if sample_key(s) not in cached]
    tally = tallies[name] = Tally(len(samples), cached=len(samples) - len(todo))
    for s in samples:
        if sample_key(s) in cached:
            tally.add(cached[sample_key(s)], args)
    results = dict(cached)
    appender, spent = JsonlAppender(scored_path), token_log(records_run)  # written by this (main) thread only
    try:
        for record in pool.results(lambda s, live: score_one(jurors, s, args, live), todo, f"score {name}"):
            if spent:
                spent.write({"stage": "score", "domain": inp.domain, **judge_tokens(record)})
            appender.write(record)
            results[sample_key(record)] = record
            tally.add(record, args)
            add_tokens(tally.tokens, judge_tokens(record))
    finally:
        for out in (appender, spent):
            if out:
                out.close()
    ordered = [results[sample_key(s)] for s in samples if sample_key(s) in results]
    write_jsonl_atomic(scored_path, other_judges + ordered)  # compact: per judge and sample, the latest
    write_jsonl_atomic(final_path, [r for r in ordered if not r.get("unscored") and "rejected" not in r])
    tally.final, tally.judge = str(final_path), judge_settings(jurors, args)


def unique_samples(inp) -> list[dict]:
    """The samples of a file, each once: a bad line, or a sample an earlier line holds, is named and skipped.
    Two samples that share an id are both scored, each under its own content (said)."""
    samples, line_of, id_line = [], {}, {}
    for line in read_jsonl(inp.path):
        r = line.record
        problem = line.problem or sample_problem(r)
        if problem:
            cli.say(f"{inp.path}:{line.lineno}: {problem}; skipped (filter.py checks input lines)")
        elif sample_key(r) in line_of:
            cli.say(f"{inp.path}:{line.lineno}: the same sample as line {line_of[sample_key(r)]}; skipped")
        else:
            if isinstance(r.get("id"), str) and r["id"] in id_line:
                cli.say(f"{inp.path}:{line.lineno}: id {r['id']!r} is also on line {id_line[r['id']]}; "
                        "both are scored, each under its own content")
            line_of[sample_key(r)] = line.lineno
            id_line.setdefault(r.get("id") if isinstance(r.get("id"), str) else None, line.lineno)
            samples.append(r)
    return samples


def cached_scores(scored_path: Path, key: tuple) -> tuple[dict, list[dict]]:
    """From an earlier scored_ file: the scores made under this judge key (ledger.judge_key: jury, rubric,
    votes, think), by sample_key (not asked again), and every other key's records (kept: a second judge
    does not erase the first one's scores)."""
    cached, other_judges = {}, []
    if not scored_path.exists():
        return cached, other_judges
    lines = read_jsonl(scored_path)
    if torn := drop_torn_tail(scored_path, lines):
        cli.say(f"warning: {scored_path}:{torn.lineno}: unfinished line from a crash set aside; that sample is scored again")
    for line in lines:
        if line.record and judge_key(line.record) != key:
            other_judges.append(line.record)
        elif (problem := line.problem or cached_problem(line.record)) and not line.torn:  # hand-edited: said, asked again
            cli.say(f"warning: {scored_path}:{line.lineno}: {problem}; not reused (its sample is scored again)")
        elif line.record and not line.record.get("unscored"):
            cached[sample_key(line.record)] = line.record
    return cached, other_judges


def cached_problem(record: dict) -> str | None:
    """Why a scored record cannot be reused as it is (its scores "8" or "high", its jury not a list), or None."""
    if record.get("unscored"):
        return None
    scores = record.get("scores")
    if not isinstance(scores, dict) or not all(type(scores.get(k)) is int and scores[k] in SUB_SCORES for k in SCORE_WEIGHTS):
        return f"scores are not whole numbers from {min(SUB_SCORES)} to {max(SUB_SCORES)} for {', '.join(SCORE_WEIGHTS)}"
    if not isinstance(record.get("jury", []), list) or not all(isinstance(j, dict) for j in record.get("jury", [])):
        return "jury is not a list of jurors"
    if not all(type(record.get(k, 0)) is int for k in RESOLVE_COUNTS):
        return f"{', '.join(RESOLVE_COUNTS)} are not whole numbers"
    return None


COUNTED = ("unscored", *NOT_FINAL, "kept", "resolve_agree", "resolve_checked", "resolve_unusable", "resolve_wrong_step",
           "resolve_saved", "jurors_split", "jurors_split_of")
RESOLVE_COUNTS = ("resolve_unusable", "resolve_wrong_step", "resolve_saved")  # summed over a file's records


class Tally:
    """One file's counts, as its scored records arrive: in, cached, why each is out of final (or kept), the
    jury's votes, the score histogram, and the tokens this session spent."""

    def __init__(self, n_in: int = 0, cached: int = 0):
        self.counts = Counter({"in": n_in, "cached": cached, **{k: 0 for k in COUNTED}})
        self.histogram, self.tokens, self.failures = Counter(), Counter(), cli.Failures()
        self.final = "(not written yet)"  # final_'s path once written
        self.judge = None  # the settings that wrote it (judge_settings): which scored_ records are current

    def add(self, record: dict, args) -> None:
        """One scored record; decides (again) whether it reaches final: the limits and --agree may differ
        from the last run's."""
        record.pop("rejected", None)
        if record.get("unscored"):
            out = "unscored"
            error = str(record.get("score_error") or "no error recorded")
            self.failures.add(": ".join(error.split(": ")[:2])[:80], error)  # kind: 'judge: request failed'...
        else:
            decide(record, args)
            out = why_not_final(record, {k: getattr(args, k) for k in DEFAULT_LIMITS}) or "kept"
            if out != "kept":
                record["rejected"] = out
            self.histogram[min(10, int(record["score"]))] += 1
        resolved, split = record.get("resolve_agrees"), jurors_split(record)
        for k, n in ((out, 1), ("resolve_agree", resolved is True), ("resolve_checked", resolved is not None),
                     *((k, record.get(k, 0)) for k in RESOLVE_COUNTS),
                     ("jurors_split", split is True), ("jurors_split_of", split is not None)):
            self.counts[k] += n

    @classmethod
    def total(cls, tallies) -> "Tally":
        total = cls()
        for t in tallies:
            total.counts.update(t.counts)
            total.histogram.update(t.histogram)
            total.tokens.update(t.tokens)
            total.failures.update(t.failures)
        return total

    def report(self) -> dict:
        """A file's counts as run.json keeps them (per_domain)."""
        return {**{k: self.counts[k] for k in ("in", "cached", *COUNTED)}, "final": self.final, "judge": self.judge,
                "histogram": {str(b): self.histogram.get(b, 0) for b in range(1, 11)}}


def summary(tallies: dict, started: float, model: str | None = None, audited: bool = False) -> dict:
    wall = time.monotonic() - started
    total = Tally.total(tallies.values())
    totals, histogram, tokens = total.counts, total.histogram, total.tokens
    rows = [[d, s["in"], s["cached"], s["unscored"], *(s[why] for why in NOT_FINAL), s["kept"]]
            for d, s in ((d, t.counts) for d, t in tallies.items())]
    agreement = totals["resolve_agree"] / totals["resolve_checked"] if totals["resolve_checked"] else None
    split = totals["jurors_split"] / totals["jurors_split_of"] if totals["jurors_split_of"] else None
    no_vote = [f"{totals[k]} re-solves {what}" for k, what in (("resolve_unusable", "gave no usable answer"),
                                                               ("resolve_wrong_step", "had a wrong step twice")) if totals[k]]
    bars = "  ".join(f"{b}:{histogram.get(b, 0)}" for b in range(1, 11))
    cli.say("", cli.table(rows, ["domain", "in", "cached", "unscored", "off-domain", "incorrect", "re-solve disagreed",
                                 "unresolved", "low score", "kept"]), "",
            f"  score histogram (floor): {bars}",
            f"  re-solve agreement: {'n/a' if agreement is None else f'{agreement:.0%}'} of {totals['resolve_checked']}"
            + (f" (no vote: {', '.join(no_vote)})" if no_vote else "")
            + (f"; {totals['resolve_saved']} re-solves saved: the vote was already decided" if totals["resolve_saved"] else ""),
            *([] if audited else [f"  error of final: "
                                  f"{error_of_final_text(None, {'jurors_split': split, 'jurors_split_of': totals['jurors_split_of']})}"]),
            f"  tokens: {tokens['prompt_tokens']:,} prompt + {tokens['completion_tokens']:,} answer"
            + (f" + {tokens['reasoning_tokens']:,} reasoning" if tokens["reasoning_tokens"] else "") + f", {wall:.1f}s")
    for d, t in tallies.items():
        cli.say(f"  {d}: final -> {t.final}")
    cli.say(*total.failures.lines("unscored (each with its error in the scored file)"))
    scored = totals["in"] - totals["unscored"]
    if scored and not totals["kept"]:
        disagreed = totals["resolve_checked"] - totals["resolve_agree"]
        cli.say(f"  nothing reached final: {totals['off_domain']} off-domain, {totals['incorrect']} incorrect, "
                f"{totals['disagreed']} turned down by the re-solve, {totals['unresolved']} unresolved (no juror's "
                f"re-solve could vote), {totals['low_score']} below --threshold; "
                f"the judge's own solution disagreed on {disagreed} of "
                f"{totals['resolve_checked']}. {cli.model_hint(model)}")
    return {"per_domain": {d: t.report() for d, t in tallies.items()},
            "histogram": {str(b): histogram.get(b, 0) for b in range(1, 11)},
            "resolve_agreement": agreement, "jurors_split": split, "jurors_split_of": totals["jurors_split_of"],
            **{k: totals[k] for k in RESOLVE_COUNTS},
            "tokens": {"prompt": tokens["prompt_tokens"], "completion": tokens["completion_tokens"],
                       "reasoning": tokens["reasoning_tokens"]},
            "seconds": round(wall, 2)}


if __name__ == "__main__":
    sys.exit(cli.run(lambda: main()))
