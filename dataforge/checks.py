"""The filter's per-sample checks. Each returns reasons: {"check", "message", "step"}.

Check codes are stable (users select them with --checks / --skip-checks):
rules, arithmetic, consistency, quality, domain; dedup.py adds duplicate and contamination.
"""

import multiprocessing
import os
import re
from dataclasses import dataclass, field
from fractions import Fraction

from pydantic import ValidationError

from dataforge.arithmetic import check_step, parse_number
from dataforge.schema import Sample, validation_problems

SAMPLE_CHECKS = ("rules", "arithmetic", "consistency", "quality", "domain")

# Numbers a solution may use without the question stating them (grounding is a soft signal).
COMMON_CONSTANTS = {Fraction(n) for n in (0, 1, 2, 3, 4, 5, 6, 7, 10, 12, 24, 30, 31, 52, 60, 100, 365, 1000)}

# template and chat leftovers: plain substrings (fast), then bracketed placeholders
_LEFTOVER_WORDS = ("{{", "}}", "todo", "xxx", "lorem ipsum", "as an ai", "as a language model", "i cannot help",
                   "i'm sorry", "here is a sample", "here is the question", "here is your", "here is the json")
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}|\[(?:insert|name|domain|number|your)[^\]]*\]|<(?:domain|name|number|question)>", re.I)
_QUESTION_NUMBER = re.compile(r"[0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?")
_ASKS = re.compile(r"\?|\b(?:how|what|find|calculate|determine|compute|which|who|when)\b", re.I)
_GIVEAWAY = re.compile(r"=|\bthe answer is\b", re.I)
_MONEY = re.compile(r"[$€£¥₹]|\b(?:dollars?|euros?|pounds? sterling|cents?|budget|salary|cost|revenue|profit)\b", re.I)
_COUNTABLE = re.compile(r"\b(?:people|persons?|employees?|hires?|workers?|engineers?|students?|headcount|staff|"
                        r"interns?|members?|customers?|users?|children|kids|cars?|boxes|items?|units?)\b", re.I)
_STOPWORDS = set("the a an and or of for to in on at by with from per each is are was be this that its their".split())


@dataclass
class SampleReport:
    reasons: list = field(default_factory=list)  # hard: the sample is rejected
    warnings: list = field(default_factory=list)  # soft: counted in the report only
    steps_verified: int = 0
    steps_unverifiable: int = 0
    sample: Sample | None = None


def reason(check: str, message: str, step: int | None = None) -> dict:
    return {"check": check, "message": message, "step": step}


def _close(a: Fraction, b: Fraction, decimals: int) -> bool:
    return a == b or abs(a - b) < Fraction(1, 10**decimals) + Fraction(1, 10**9) if decimals else a == b


def check_sample(record: dict, enabled=SAMPLE_CHECKS, domain_keywords: set[str] | None = None) -> SampleReport:
    """Run the enabled per-sample checks on one record."""
    rep = SampleReport()
    try:
        rep.sample = sample = Sample.model_validate(record)
    except ValidationError as e:
        rep.reasons += [reason("rules", m) for m in validation_problems(e)]
        return rep
    answer, problem = parse_number(sample.answer)
    if "rules" in enabled:
        if problem:
            rep.reasons.append(reason("rules", f"answer {sample.answer!r} {problem}"))
        if len(sample.question.split()) < 8:
            rep.reasons.append(reason("rules", f"question is only {len(sample.question.split())} words"))

    steps = [check_step(s) for s in sample.reasoning]
    rep.steps_verified = sum(1 for s in steps if s.status == "verified")
    rep.steps_unverifiable = sum(1 for s in steps if s.status == "unverifiable")
    if "arithmetic" in enabled:
        for i, s in enumerate(steps):
            rep.reasons += [reason("arithmetic", f"step {i + 1} {m}", i) for m in s.wrong]
        if rep.steps_verified == 0 and not any(s.wrong for s in steps):
            # policy: a sample none of whose steps can be checked is not trusted
            rep.reasons.append(reason("arithmetic", "no step's arithmetic could be verified"))

    if "consistency" in enabled and answer is not None:
        last = steps[-1].result
        decimals = max((len(d) for d in re.findall(r"\.([0-9]+)", sample.answer)), default=0)
        if last is None:
            rep.warnings.append(reason("consistency", "the last step's result could not be read", len(steps) - 1))
        elif not (_close(answer, last, decimals) or _close(answer * 100, last, decimals) or _close(answer, last * 100, decimals)):
            rep.reasons.append(reason("consistency", f"answer {sample.answer!r} does not match the last step's result "
                                                     f"{_show(last)}", len(steps) - 1))
        question_numbers = {Fraction(m.replace(",", "")) for m in _QUESTION_NUMBER.findall(sample.question)}
        known = question_numbers | COMMON_CONSTANTS | {q * 100 for q in question_numbers}
        for i, s in enumerate(steps):
            stray = [v for v in s.operands if v not in known]
            if stray:
                rep.warnings.append(reason("grounding", f"step {i + 1} uses {_show(stray[0])}, found in neither the "
                                                        f"question nor earlier steps", i))
            known.update(s.operands)
            if s.result is not None:
                known.add(s.result)

    if "quality" in enabled:
        rep.reasons += quality_reasons(sample)
    if "domain" in enabled:
        rep.reasons += domain_reasons(sample, answer, domain_keywords)
    return rep


def _check_for_pool(args) -> SampleReport:
    rep = check_sample(*args)
    rep.sample = None  # not needed by the caller; keeps what crosses the process boundary small
    return rep


def check_many(items: list[tuple], workers: int | None = None):
    """check_sample over (record, enabled, keywords) tuples, in order, on every core when there are many.

    Yields reports as they are ready, so the caller can show progress.
    """
    workers = workers or os.cpu_count() or 1
    if workers < 2 or len(items) < 4000:  # below this, starting processes costs more than it saves
        yield from map(_check_for_pool, items)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap(_check_for_pool, items, chunksize=256)


def quality_reasons(sample: Sample) -> list[dict]:
    out = []
    texts = [("question", sample.question), ("answer", sample.answer)] + [
        (f"step {i + 1}", s) for i, s in enumerate(sample.reasoning)]
    for where, text in texts:
        lower = text.lower()
        found = next((w for w in _LEFTOVER_WORDS if w in lower), None)
        if found is None and ("{" in text or "[" in text or "<" in text) and (m := _PLACEHOLDER.search(text)):
            found = m.group()
        if found:
            out.append(reason("quality", f"{where} has template or chat leftovers: {found!r}",
                              int(where.split()[1]) - 1 if where.startswith("step") else None))
    if not _ASKS.search(sample.question):
        out.append(reason("quality", "the question asks nothing (no '?' or question word)"))
    if _GIVEAWAY.search(sample.question):
        out.append(reason("quality", "the question gives away the working ('=' or 'the answer is')"))
    seen = {}
    for i, s in enumerate(sample.reasoning):
        key = " ".join(s.lower().split())
        if key in seen:
            out.append(reason("quality", f"step {i + 1} repeats step {seen[key] + 1}", i))
        seen.setdefault(key, i)
    return out


def keywords(*texts: str) -> set[str]:
    """Content words of a domain name and its notes, crudely stemmed: 'Jobs at startup' -> {job, startup}."""
    words = re.findall(r"[a-z]{3,}", " ".join(texts).lower())
    return {w.rstrip("s") if len(w) > 4 else w for w in words if w not in _STOPWORDS}


def domain_reasons(sample: Sample, answer: Fraction | None, domain_keywords: set[str] | None) -> list[dict]:
    """Relevance to the domain and its notes, then the per-domain validators (one place, below)."""
    out = []
    kws = domain_keywords if domain_keywords is not None else keywords(sample.domain)
    text = (sample.question + " " + " ".join(sample.reasoning)).lower()
    if kws and not any(k in text for k in kws):
        out.append(reason("domain", f"mentions none of the domain's words ({', '.join(sorted(kws)[:8])})"))
    for validator in DOMAIN_VALIDATORS:
        if answer is not None and (message := validator(sample, answer)):
            out.append(reason("domain", message))
    return out


def money_not_negative(sample: Sample, answer: Fraction) -> str | None:
    if answer < 0 and _MONEY.search(sample.answer):
        return f"a negative amount of money: {sample.answer!r}"


def headcount_whole(sample: Sample, answer: Fraction) -> str | None:
    if answer.denominator != 1 and _COUNTABLE.search(sample.answer):
        return f"a count of people or things that is not whole: {sample.answer!r}"


# Add a validator here: a function (sample, answer value) -> message or None.
DOMAIN_VALIDATORS = [money_not_negative, headcount_whole]


def _show(v) -> str:
    return f"{v.numerator:,}" if v.denominator == 1 else f"{float(v):,.6g}"
