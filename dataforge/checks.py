"""The filter's per-sample checks. Each returns reasons: {"check", "message", "step"}.

Check codes are stable (users select them with --checks / --skip-checks):
rules, arithmetic, consistency, quality, domain; dedup.py adds duplicate and contamination.
"""

import functools
import math
import multiprocessing
import os
import re
import signal
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction

import snowballstemmer
from pydantic import ValidationError

from dataforge import cli
from dataforge.arithmetic import (approximate_answer, check_steps, parse_number, percent_answer, plain_text,
                                  proportion_for_percent, quantities_agree, shown_number, whole_answer, written_result)
from dataforge.dedup import dedup_keys
from dataforge.readings import scales_written
from dataforge.tokens import stated_numbers
from dataforge.runs import domain_key, dumps, parse_line, raw_lines
from dataforge.schema import Sample, validation_problems

SAMPLE_CHECKS = ("rules", "arithmetic", "consistency", "quality", "domain")

# Numbers a solution may use without the question stating them (grounding is a soft signal).
COMMON_CONSTANTS = {Fraction(n) for n in (0, 1, 2, 3, 4, 5, 6, 7, 10, 12, 24, 30, 31, 52, 60, 100, 365, 1000)}

# template and chat leftovers, matched as words ("as an aide", "mastodon", "here is your budget" are not),
# then bracketed placeholders
_LEFTOVER = re.compile(r"\{\{|\}\}|\b(?:todo|xxx|lorem ipsum|as an ai|as a language model|i cannot help|i['’]m sorry|"
                       r"here is (?:a sample|the question|the json|your (?:question|problem|word problem|sample|math problem)))\b",
                       re.I)
# substrings that each of those contains: looked for first (fast), the words only when one is there
_LEFTOVER_HINTS = ("{{", "}}", "todo", "xxx", "lorem ipsum", "as an ai", "as a language model", "i cannot help", "sorry",
                   "here is")
# characters that make what a reviewer sees differ from what is trained: NUL, and bidirectional
# embeddings, overrides and isolates (U+202E shows the text after it reversed)
_HIDDEN = re.compile("[\x00\u202a-\u202e\u2066-\u2069]")
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}|\[(?:insert|name|domain|number|your)[^\]]*\]|<(?:domain|name|number|question)>", re.I)
_ASKS = re.compile(r"\?|\b(?:how|what|find|calculate|determine|compute|which|who|when)\b", re.I)
_MONEY = re.compile(r"[$€£¥₹]|\b(?:dollars?|euros?|pounds? sterling|cents?|budget|salary|cost|revenue|profit)\b", re.I)
_COUNTABLE = re.compile(r"\b(?:people|persons?|employees?|hires?|workers?|engineers?|students?|headcount|staff|"
                        r"interns?|members?|customers?|users?|children|kids|cars?|boxes|items?|units?)\b", re.I)
_DIGIT = re.compile(r"[0-9]")
_STOPWORDS = set("the a an and or of for to in on at by with from per each is are was be this that its their".split())


@dataclass
class SampleReport:
    reasons: list = field(default_factory=list)  # hard: the sample is rejected
    warnings: list = field(default_factory=list)  # soft: counted in the report only
    steps_verified: int = 0
    steps_unverifiable: int = 0


def reason(check: str, message: str, step: int | None = None) -> dict:
    return {"check": check, "message": message, "step": step}


def check_sample(record: dict, enabled=SAMPLE_CHECKS, domain_keywords: dict | None = None,
                 strict_domain: bool = False) -> SampleReport:
    """Run the enabled per-sample checks on one record."""
    rep = SampleReport()
    try:
        sample = Sample.model_validate(record)
    except ValidationError as e:
        rep.reasons += [reason("rules", m) for m in validation_problems(e)]
        return rep
    answer, problem = parse_number(sample.answer)
    if "rules" in enabled:
        if problem:
            rep.reasons.append(reason("rules", f"answer {sample.answer!r} {problem}"))
        if len(sample.question.split()) < 8:
            rep.reasons.append(reason("rules", f"question is only {len(sample.question.split())} words"))

    steps = check_steps(sample.reasoning, sample.question)
    rep.steps_verified = sum(1 for s in steps if s.status == "verified")
    rep.steps_unverifiable = sum(1 for s in steps if s.status == "unverifiable")
    if "arithmetic" in enabled:
        for i, s in enumerate(steps):
            rep.reasons += [reason("arithmetic", f"step {i + 1} {m}", i) for m in s.wrong]
            rep.reasons += [reason("arithmetic", f"the equations contradict each other: {m}", i) for m in s.contradicts]
        if rep.steps_verified == 0 and not any(s.wrong or s.contradicts for s in steps):
            # policy: a sample none of whose steps can be checked is not trusted
            rep.reasons.append(reason("arithmetic", "no step's arithmetic could be verified"))

    if "consistency" in enabled and answer is not None:
        k = last_solving_step(sample.reasoning)  # "Check: 15 + 19 = 34, which matches" after it is no result
        # rounding is read where it is written: in the answer ("about 4") or at the last step's '≈ 4'
        approx = approximate_answer(sample.answer) or steps[k].result_approx
        last = steps[k].result or written_result(sample.reasoning[k])  # unread arithmetic: compare what it says
        if k == len(steps) - 1 and (m := _CHECK_AFTER.search(sample.reasoning[k])) and (
                before := written_result(sample.reasoning[k][:m.start()])):
            last = before  # "x = 15. Check: 15 + 19 = 34": the result before the check
        bound = whole_bound(sample.reasoning[k])
        if bound is not None:  # "x <= 2.4": the answer is the whole number the bound allows
            if answer.decimals != 0 or answer.value != bound[1]:
                rep.reasons.append(reason("consistency", f"answer {sample.answer!r} is not the whole number the last "
                                                         f"step's bound ({bound[0]}) allows: {bound[1]}", k))
        elif last is None:
            rep.warnings.append(reason("consistency", "the last step's result could not be read", k))
        elif proportion_for_percent(sample.question, answer, last) or not (
                quantities_agree(answer, last, approx, scales_written(sample.question + "\n" + "\n".join(sample.reasoning)))
                or percent_answer(sample.question, answer, last)
                or whole_answer(sample.question, answer, last, sample.answer + " " + sample.reasoning[k])):
            shown = f"{shown_number(last.value * 100)}%" if last.pct else shown_number(last.value)
            rep.reasons.append(reason("consistency", f"answer {sample.answer!r} does not match the last step's result "
                                                     f"{shown}", k))
        stated = stated_numbers(sample.question)
        known = stated | COMMON_CONSTANTS | {q * 100 for q in stated}  # 40 for 40%, 25 for 0.25
        for i, s in enumerate(steps):
            stray = [v for v in s.operands if v not in known]
            if stray:
                rep.warnings.append(reason("grounding", f"step {i + 1} uses {shown_number(stray[0])}, found in neither the "
                                                        f"question nor earlier steps", i))
            known.update(s.operands)
            if s.result is not None:
                known.add(s.result.value)

    if "quality" in enabled:
        rep.reasons += quality_reasons(sample)
    if "domain" in enabled:
        if signal := off_domain(sample, domain_keywords, record.get("subtopic") or ""):
            (rep.reasons if strict_domain else rep.warnings).append(signal)  # soft unless --strict-domain
        rep.reasons += domain_validators(sample, answer.value if answer else None)
    return rep


_CHECK = r"(?:check(?:ing)?|verif(?:y|ying|ication)|double[- ]check(?:ing)?)"
# a step that checks the answer: it starts so, or says so ("Wait, let me verify: ...", "..., which confirms the total")
_CHECKING = re.compile(rf"^\W*(?:{_CHECK}|sanity check|to (?:check|verify))\b|\blet(?:'s| me| us) {_CHECK}\b|"
                       r"\b(?:which|this|that|it) (?:matches|confirms|checks out)\b|\bas expected\b",
                       re.I)  # not "which is correct" or ✓: a result may say so of itself
_CHECK_AFTER = re.compile(rf"[.;,:]\s*(?:wait,?\s*)?(?:let(?:'s| me| us)\s+)?{_CHECK}\b", re.I)  # "x = 15. Check: ..."


def last_solving_step(steps: list[str]) -> int:
    """The last step that works the answer out: the steps after it that check it ('Check: 15 + 19 = 34, which
    matches', '... which confirms the total') are not where the answer comes from. The first step at least."""
    k = len(steps) - 1
    while k > 0 and _CHECKING.search(steps[k]):
        k -= 1
    return k


_BOUND = re.compile(r"(?<![\w.])([A-Za-z])\s*([≤<≥>])\s*\$?(-?[0-9][0-9,]*(?:\.[0-9]+)?)")  # an unknown's bound


def whole_bound(step: str) -> tuple[str, int] | None:
    """A last step that ends on an unknown's bound ('x <= 2.4, and she can't invite a fraction of a person'): the
    bound as written and the whole number it allows (2; 'x > 2.4' allows 3 at least). None when it ends on no bound
    ('since 45 > 40, ...' compares two numbers: no unknown is bounded)."""
    if not any(c in step for c in "<>≤≥"):
        return None
    m = None
    for m in _BOUND.finditer(plain_text(step).rpartition("=")[2]):
        pass
    if m is None or len(m.group(3)) > 30:
        return None
    b = Fraction(m.group(3).replace(",", ""))
    allowed = {"≤": math.floor(b), "<": math.ceil(b) - 1, "≥": math.ceil(b), ">": math.floor(b) + 1}[m.group(2)]
    return f"{m.group(1)} {m.group(2)} {m.group(3)}", allowed


@dataclass(slots=True)
class LineVerdict:
    """One input line after the per-sample checks: small, because it crosses a process boundary."""
    lineno: int
    reasons: list  # empty when the line passed
    warnings: list  # check codes of soft signals
    steps_verified: int = 0
    steps_unverifiable: int = 0
    rejected_json: str | None = None  # the line for the rejected file, when there are reasons
    kept_json: str | None = None  # the line for the kept file when it differs from the input (flags)
    label: str = ""  # how duplicates name it: its id, else file:line
    words: str | None = None  # for near-duplicates (dedup.py): the masked question, one character per word
    bands: list | None = None  # and its MinHash band keys


@dataclass(frozen=True)
class FileContext:
    """What the checks need to know about the file a chunk of lines comes from."""
    name: str  # for "source": name:line
    domain: str | None  # from the domain folder, else each record's own domain
    keywords_by_domain: dict  # domain key -> its words (name and notes), by stem
    enabled: tuple
    strict_domain: bool = False  # an off-domain sample is rejected, not flagged


def check_lines(ctx: FileContext, chunk: list[tuple[int, bytes, bool]], contamination=None) -> list[LineVerdict]:
    """Parse and check a chunk of raw lines: the per-sample checks, contamination (a dedup.Contamination,
    when references were given), and what dedup needs."""
    out, survivors = [], []
    for lineno, raw, unterminated in chunk:
        source = f"{ctx.name}:{lineno}"
        line = parse_line(lineno, raw, unterminated)
        if line.record is None:
            reasons = [reason("bad_line", line.problem)]
            out.append(LineVerdict(lineno, reasons, [], rejected_json=dumps(
                {"raw_line": line.raw[:2000], "reject_reasons": reasons, "source": source})))
            continue
        record = line.record
        domain = ctx.domain or (domain_key(record["domain"]) if isinstance(record.get("domain"), str) else "")
        try:
            rep = check_sample(record, ctx.enabled, ctx.keywords_by_domain.get(domain), ctx.strict_domain)
        except Exception as e:  # a bug in a check must cost one sample, named, not the run
            if cli.tracebacks_wanted():
                raise
            rep = SampleReport(reasons=[reason("internal", f"{type(e).__name__}: {e}"[:500])])
        if not rep.reasons and contamination is not None and (hit := contamination.match(record["question"])):
            rep.reasons.append(reason("contamination", hit))
        label = record["id"] if isinstance(record.get("id"), str) and record["id"] else source
        verdict = LineVerdict(lineno, rep.reasons, [w["check"] for w in rep.warnings], rep.steps_verified,
                              rep.steps_unverifiable, label=label)
        if rep.reasons:
            verdict.rejected_json = dumps({**record, "reject_reasons": rep.reasons, "source": source})
            out.append(verdict)
            continue
        if rep.warnings or "flags" in record:  # the soft signals travel with the kept sample (to score, audit)
            verdict.kept_json = dumps({**record, "flags": rep.warnings}) if rep.warnings else dumps(
                {k: v for k, v in record.items() if k != "flags"})
        if "duplicate" in ctx.enabled:
            survivors.append((verdict, record["question"]))
        out.append(verdict)
    if survivors:
        words, bands = dedup_keys([q for _, q in survivors])
        for (verdict, _), w, b in zip(survivors, words, bands.tolist()):
            verdict.words, verdict.bands = w, b
    return out


class LineChecker:
    """check_lines over whole files, in order, on every core when the input is large.

    At most a few chunks are in flight, so memory stays flat however long the file is.
    """

    CHUNK = 500

    def __init__(self, contamination=None, workers: int | None = None):
        self.contamination = contamination
        self.workers = workers or os.cpu_count() or 1
        self.pool = None

    def verdicts(self, path, ctx: FileContext):
        """Yield (raw line, verdict) for every non-blank line of path."""
        if self.pool is None and self.workers > 1 and os.path.getsize(path) > 4_000_000:  # ~4,000 samples
            # starting costs ~0.1 s; the references go to each worker once, as it starts (forked: not copied)
            self.pool = multiprocessing.get_context("fork").Pool(self.workers, initializer=_start_worker,
                                                                 initargs=(self.contamination,))
        pending = deque()
        for chunk in _chunks(raw_lines(path), self.CHUNK):
            if self.pool is None:
                yield from zip((raw for _, raw, _ in chunk), check_lines(ctx, chunk, self.contamination))
                continue
            pending.append((chunk, self.pool.apply_async(_check_in_worker, (ctx, chunk))))
            if len(pending) >= 4 * self.workers:
                done, result = pending.popleft()
                yield from zip((raw for _, raw, _ in done), result.get())
        while pending:
            done, result = pending.popleft()
            yield from zip((raw for _, raw, _ in done), result.get())

    def close(self, interrupted: bool = False):
        """Ctrl-C: stop the workers now. Otherwise let each take its end-of-work sentinel and exit: terminate()
        signals them, and a signal that reaches a worker just forked is lost (CPython clears it after fork),
        which left filter.py waiting for that worker forever (1 run in 10-30 of a small file > 4 MB)."""
        if self.pool is None:
            return
        if interrupted:
            self.pool.terminate()
        else:
            self.pool.close()
            self.pool.join()


_worker_contamination = None  # a worker process's own copy of LineChecker.contamination, from _start_worker


def _start_worker(contamination) -> None:
    global _worker_contamination
    _worker_contamination = contamination
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle (no tracebacks)


def _check_in_worker(ctx: FileContext, chunk: list) -> list[LineVerdict]:
    return check_lines(ctx, chunk, _worker_contamination)


def _chunks(items, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def quality_reasons(sample: Sample) -> list[dict]:
    out = []
    everything = "\n".join([sample.question, sample.answer, *sample.reasoning])
    if _HIDDEN.search(everything):
        out += _hidden_characters([("question", sample.question), ("answer", sample.answer)]
                                  + [(f"step {i + 1}", s) for i, s in enumerate(sample.reasoning)])
    lower = everything.lower()
    if ((any(map(lower.__contains__, _LEFTOVER_HINTS)) and _LEFTOVER.search(everything))
            or (("{" in everything or "[" in everything or "<" in everything) and _PLACEHOLDER.search(everything))):
        # rare: find which part has them; LaTeX braces ({Change}, }}) are not leftovers
        out += _leftovers([("question", sample.question), ("answer", plain_text(sample.answer))] + [
            (f"step {i + 1}", plain_text(s)) for i, s in enumerate(sample.reasoning)])
    if "?" not in sample.question and not _ASKS.search(sample.question):
        out.append(reason("quality", "the question asks nothing (no '?' or question word)"))
    if "=" in sample.question or "the answer is" in sample.question.lower():
        out.append(reason("quality", "the question gives away the working ('=' or 'the answer is')"))
    # A value or formula stated again to use it next is how people write (`D = 180 - C` before
    # substituting); the same step twice in a row is a model looping.
    for i in range(1, len(sample.reasoning)):
        s, before = sample.reasoning[i], sample.reasoning[i - 1]
        if _DIGIT.search(s) and " ".join(s.lower().split()) == " ".join(before.lower().split()):
            out.append(reason("quality", f"step {i + 1} repeats step {i}", i))
    return out


def _hidden_characters(texts: list[tuple[str, str]]) -> list[dict]:
    out = []
    for where, text in texts:
        if m := _HIDDEN.search(text):
            what = "a NUL character" if m.group() == "\x00" else "a bidirectional control character"
            out.append(reason("quality", f"{where} has {what} (U+{ord(m.group()):04X}): what is shown is not what is trained",
                              int(where.split()[1]) - 1 if where.startswith("step") else None))
    return out


def _leftovers(texts: list[tuple[str, str]]) -> list[dict]:
    out = []
    for where, text in texts:
        found = m.group().lower() if (m := _LEFTOVER.search(text)) else None
        if found is None and ("{" in text or "[" in text or "<" in text) and (m := _PLACEHOLDER.search(text)):
            found = m.group()
        if found:
            out.append(reason("quality", f"{where} has template or chat leftovers: {found!r}",
                              int(where.split()[1]) - 1 if where.startswith("step") else None))
    return out


@functools.lru_cache(maxsize=1024)  # one domain, many samples
def keywords(*texts: str) -> dict[str, str]:
    """Content words of a domain name, its notes or a sub-topic, by stem:
    'Jobs at startup' -> {'job': 'jobs', 'startup': 'startup'}."""
    return {_stem(w): w for w in _words(" ".join(texts)) if len(w) > 2 and w not in _STOPWORDS}


def _words(text: str) -> list[str]:
    """Lower-case words: every ASCII character that is not a letter separates words (faster than a regex)."""
    return text.lower().translate(_NOT_LETTERS).split()


def _stem(word: str) -> str:
    """Porter2 (Snowball) stem: orders/order, shifts/shift, hiring/hire. Cached: a run's vocabulary is small."""
    stem = _STEMS.get(word)
    if stem is None:
        if len(_STEMS) > 200_000:
            _STEMS.clear()
        stem = _STEMS[word] = _STEMMER.stemWord(word)
    return stem


_STEMMER = snowballstemmer.stemmer("english")
_STEMS: dict[str, str] = {}
_NOT_LETTERS = {c: " " for c in range(128) if not chr(c).isalpha()}


def off_domain(sample: Sample, domain_keywords: dict | None, subtopic: str = "") -> dict | None:
    """A sample that mentions none of its domain's words (name, notes, the sub-topic it was asked for)."""
    kws = domain_keywords if domain_keywords is not None else keywords(sample.domain)
    if subtopic:
        kws = {**kws, **keywords(subtopic)}
    words = set(_words(sample.question + " " + " ".join(sample.reasoning)))
    stems = set(map(_STEMS.get, words))  # no Python loop per word when every stem is known: this runs on every sample
    if None in stems:
        stems = set(map(_stem, words))
    if not kws or not kws.keys().isdisjoint(stems):
        return None
    return reason("domain", f"mentions none of the domain's words ({', '.join(sorted(kws.values())[:8])})")


def domain_validators(sample: Sample, answer: Fraction | None) -> list[dict]:
    if answer is None:
        return []
    return [reason("domain", message) for validator in DOMAIN_VALIDATORS if (message := validator(sample, answer))]


def money_not_negative(sample: Sample, answer: Fraction) -> str | None:
    if answer < 0 and _MONEY.search(sample.answer):
        return f"a negative amount of money: {sample.answer!r}"


def headcount_whole(sample: Sample, answer: Fraction) -> str | None:
    if answer.denominator != 1 and _COUNTABLE.search(sample.answer):
        return f"a count of people or things that is not whole: {sample.answer!r}"


# Add a validator here: a function (sample, answer value) -> message or None.
DOMAIN_VALIDATORS = [money_not_negative, headcount_whole]

