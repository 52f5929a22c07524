"""The run report: report.md and a self-contained report.html (inline SVG, no JavaScript, nothing
fetched from the network) in the run folder, rewritten by every stage that writes in the run.

What it shows, per domain and in total: the funnel (requested -> valid -> filtered -> final ->
audited), why samples were rejected, the score histogram, tokens and seconds per sample that
reached final, the models used (and a warning when the generation model judged itself), judge-human
agreement and the error of final once an audit is applied (else the jurors' disagreement, as a signal).
"""

import html
import itertools
import json
import re
from pathlib import Path

from dataforge.arithmetic import check_steps
from dataforge.judge import NOT_FINAL, error_of_final_text, limits_of, self_judging_text
from dataforge.ledger import per_domain_lines, scored_records
from dataforge.runs import (TOKEN_FIELDS, TOKEN_LOG, count_records, iter_records, open_run_file, read_json_file, stage_file,
                            stage_record, write_atomic)
from dataforge.variety import card_line, html_section, markdown_lines

SAMPLES_SHOWN = 3  # per domain, kept and rejected each: enough to see what the data looks like
STAGE_TOKENS = (("generate", "raw"), ("generate", "failed"), ("score", "scored"))  # where a run without a log kept them
FUNNEL = (("requested", None), ("valid", "raw"), ("filtered", "filtered"), ("final", "final"), ("audited", "audited"))


def gather(run_dir: Path) -> dict:
    """Everything the report shows, from run.json and the files of the run."""
    generate, filtered, score, audit = (stage_record(run_dir, s) for s in ("generate", "filter", "score", "audit"))
    requested = generate.get("settings", {}).get("samples_per_domain", 0)
    domains, tokens, reasoning, repairs = {}, {"generate": 0, "score": 0}, 0, {"asked": 0, "passed": 0}
    repaired = {}  # per funnel stage, samples in it that a repair fixed (generate.py --repairs)
    for d in generate.get("domains", []):
        counts = {"requested": requested}
        for name, prefix in FUNNEL[1:]:
            path = stage_file(run_dir, d["name"], prefix)
            counts[name] = count_records(path) if path.exists() else None
            if path.exists():
                repaired[name] = repaired.get(name, 0) + _repaired(path)
        domains[d["name"]] = counts
    if (run_dir / TOKEN_LOG).exists():
        spent = ((r.get("stage"), r) for r in iter_records(run_dir / TOKEN_LOG))
    else:  # a run made before the log: the counts in its records
        spent = ((stage, r) for d in domains for stage, prefix in STAGE_TOKENS
                 if stage_file(run_dir, d, prefix).exists() for r in iter_records(stage_file(run_dir, d, prefix)))
    for stage, r in spent:
        if stage in tokens:
            tokens[stage] += sum(_count(r.get(k)) for k in TOKEN_FIELDS)
            reasoning += _count(r.get("reasoning_tokens"))
            repairs["asked"] += _count(r.get("repairs"))  # the log's count; a record's own list counts 0 here
            repairs["passed"] += r.get("repaired") is True
    total = {name: sum(c[name] or 0 for c in domains.values()) if any(c[name] is not None for c in domains.values()) else None
             for name, _ in FUNNEL}
    filter_report = run_dir / "filter_report.json"
    filter_total = read_json_file(filter_report).get("total", {}) if filter_report.exists() else {}
    rejected = filter_total.get("rejected_by_check") if filter_report.exists() else None
    per_domain = {d: v for d, v in (score.get("per_domain") or {}).items() if isinstance(v, dict)}
    score_domains = per_domain.values()
    not_final = {why: sum(d.get(why, 0) for d in score_domains) for why in NOT_FINAL}  # counted by judge.why_not_final
    histogram = {str(b): sum(d.get("histogram", {}).get(str(b), 0) for d in score_domains) for b in range(1, 11)} \
        if any("histogram" in d for d in score_domains) else score.get("histogram", {})  # older runs: the stage's
    judges = sorted({d["judge"]["judge_model"] for d in score_domains if isinstance(d.get("judge"), dict)}) \
        or ([score["judge_model"]] if score.get("judge_model") else [])
    standing = sum(_standing_tokens(run_dir, d) for d in domains)  # the judges whose verdicts are final's
    self_judged = sorted({j for d in score_domains for j in d.get("self_judged") or []}
                         if any("self_judged" in d for d in score_domains) else score.get("self_judged") or [])
    seconds = {s: r.get("seconds_all_sessions", 0.0) for s, r in (("generate", generate), ("filter", filtered), ("score", score))}
    final = total["final"] or 0
    return {
        "run": Path(run_dir).name, "domains": domains, "total": total, "rejected_by_check": rejected,
        "flagged": filter_total.get("warnings", {}), "not_final": not_final if score_domains else None,
        "histogram": histogram,
        "models": {"generation": generate.get("model"), "judge": "; ".join(judges) or None},
        "tokens": tokens, "seconds": seconds, "judge_tokens_standing": standing,
        "reasoning_tokens": reasoning, "repairs": {**repairs, "repaired": repaired},
        "per_final_sample": {"tokens": round((tokens["generate"] + standing) / final, 1) if final else None,
                             "tokens_spent": round(sum(tokens.values()) / final, 1) if final else None,
                             "reasoning_tokens": round(reasoning / final, 1) if final else None,
                             "seconds": round(sum(seconds.values()) / final, 2) if final else None},
        "judge_human_agreement": audit.get("judge_human_agreement"),
        "self_judging": self_judging_text(self_judged) if self_judged else None,
        "error_of_final": error_of_final_text(audit, score) if score or audit.get("error_of_final") else None,
        "error_per_domain": per_domain_lines(audit.get("error_of_final")),
        "samples": {d["name"]: _examples(run_dir, d["name"]) for d in generate.get("domains", [])},
        "variety": generate.get("variety") or {},  # generate.py measures it (dataforge/variety.py)
    }


def _standing_tokens(run_dir: Path, domain: str) -> int:
    """Tokens the judges whose verdicts stand (the domain's current scored_ records) spent on them."""
    path = stage_file(run_dir, domain, "scored")
    if not path.exists():
        return 0
    return sum(_count(r.get(f"judge_{k}")) for r in scored_records(path, run_dir, domain) for k in TOKEN_FIELDS)


def _examples(run_dir: Path, domain: str) -> dict:
    """A few kept samples (final, else filtered, else raw) with each step's verdict, and a few
    rejected ones with their reasons: what the data of this domain looks like."""
    kept = []
    for prefix in ("final", "filtered", "raw"):
        path = stage_file(run_dir, domain, prefix)
        if path.exists():
            kept = list(itertools.islice(iter_records(path), SAMPLES_SHOWN))
            break
    for sample in kept:
        steps = sample.get("reasoning") if isinstance(sample.get("reasoning"), list) else []
        sample["_verdicts"] = [c.status for c in check_steps([str(s) for s in steps], str(sample.get("question", "")))]
    path = stage_file(run_dir, domain, "rejected")
    rejected = list(itertools.islice((r for r in iter_records(path) if "question" in r), SAMPLES_SHOWN)) \
        if path.exists() else []
    return {"kept": kept, "kept_from": prefix if kept else None, "rejected": rejected}


def _repaired(path: Path) -> int:
    """Lines of a stage file whose sample was repaired: a byte count, as count_lines (a key's quotes
    are never escaped, so a question that quotes one cannot match)."""
    with open_run_file(path) as f:
        return sum(block.count(b'"repairs": [{') for block in iter(lambda: f.read(1 << 20), b""))


def _repair_line(info: dict) -> str:
    """'repairs: 12 asked, 10 passed; repaired samples: valid 10, filtered 10, final 9', or '' when none."""
    r = info["repairs"]
    if not r["asked"] and not any(r["repaired"].values()):
        return ""
    return (f"repairs (a step the checker found wrong, sent back with the fix): {r['asked']:,} asked, {r['passed']:,} passed; "
            "repaired samples: " + ", ".join(f"{stage} {n:,}" for stage, n in r["repaired"].items()))


def _count(value) -> int:
    """A token count as recorded; anything else (a string, NaN, a list someone wrote in) counts 0."""
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value \
        and abs(value) < 1e15 else 0


def write_report(run_dir: Path) -> dict:
    info = gather(Path(run_dir))
    write_atomic(Path(run_dir) / "report.md", markdown(info))
    write_atomic(Path(run_dir) / "report.html", page(info))
    return info


def _n(v) -> str:
    return "–" if v is None else f"{v:,}" if isinstance(v, int) else str(v)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]!|~])")  # what makes a link, an image, emphasis, code or a table cell


def md(text) -> str:
    """Text shown as itself in Markdown: no link, image (`![x](http://...)` is fetched by viewers), HTML tag,
    emphasis or table cell of a model's (or anyone's) making; one line."""
    text = _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(name) -> str:
    """A model's name as a Markdown code span (nothing in one is a link or a tag; a backtick would end it)."""
    return f"`{str(name).replace('`', '')}`"


def markdown(info: dict) -> str:
    names = [n for n, _ in FUNNEL]
    lines = [f"# DataForge run {md(info['run'])}", "",
             f"Models: generation {_code(info['models']['generation'])}, judge {_code(info['models']['judge'] or '–')}", "",
             *([f"**Warning, {info['self_judging']}.**", ""] if info["self_judging"] else []),  # DataForge's own words
             "## Funnel", "", "| domain | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for name, counts in [(md(d), c) for d, c in info["domains"].items()] + [("**total**", info["total"])]:
        lines.append(f"| {name} | " + " | ".join(_n(counts[n]) for n in names) + " |")
    lines += ["", "## Rejected by the filter", ""]
    rejected = info["rejected_by_check"]
    lines += (["(filter not run yet)"] if rejected is None else
              [f"- {md(check)}: {n:,}" for check, n in rejected.items()] or ["nothing rejected"])
    if info["flagged"]:
        lines += ["", "Kept with flags (soft signals): " + ", ".join(f"{md(k)} {n:,}" for k, n in info["flagged"].items())]
    if info["not_final"] is not None:
        lines += ["", "## Kept out of final by the judge", ""] + [f"- {why}: {n:,}" for why, n in info["not_final"].items()]
    lines += ["", "## Scores (floor)", ""]
    lines += [" ".join(f"{b}:{info['histogram'].get(str(b), 0)}" for b in range(1, 11)) if info["histogram"] else "(not scored yet)"]
    per = info["per_final_sample"]
    lines += ["", "## Cost", "",
              f"- tokens: {info['tokens']['generate']:,} generation + {info['tokens']['score']:,} judging"
              + (f", of which {info['reasoning_tokens']:,} reasoning" if info["reasoning_tokens"] else "")
              + f" (spent in all; {info['judge_tokens_standing']:,} of the judging by the judges whose verdicts stand)",
              "- seconds: " + ", ".join(f"{s} {v:.1f}" for s, v in info["seconds"].items()),
              f"- per sample that reached final: {_n(per['tokens'])} tokens (generation and the judges whose verdicts "
              f"stand; {_n(per['tokens_spent'])} with every token spent)"
              + (f" ({_n(per['reasoning_tokens'])} of them reasoning)" if info["reasoning_tokens"] else "")
              + f", {_n(per['seconds'])} s"]
    if repair := _repair_line(info):
        lines.append(f"- {repair}")
    if info["judge_human_agreement"] is not None:
        lines += ["", f"Judge-human agreement: {info['judge_human_agreement']:.0%}"]
    if info["error_of_final"]:
        lines += ["", f"Error of final: {md(info['error_of_final'])}"] + [f"- {md(line)}" for line in info["error_per_domain"]]
    lines += markdown_lines(info["variety"])
    lines += ["", "## Samples", ""]
    for domain, ex in info["samples"].items():
        for s in ex["kept"]:
            lines.append(f"- {md(domain)}, {ex['kept_from']}: {md(str(s.get('question', ''))[:200])} → {md(s.get('answer', ''))} "
                         f"({sum(v == 'verified' for v in s['_verdicts'])} of {len(s['_verdicts'])} steps verified)")
        for s in ex["rejected"]:
            reason = (s.get("reject_reasons") or [{}])[0]
            lines.append(f"- {md(domain)}, rejected: {md(str(s.get('question', ''))[:200])} — {md(reason.get('check'))}: "
                         f"{md(reason.get('message'))}")
    return "\n".join(lines) + "\n"


def _bars(items: list[tuple[str, float]], width: int = 520, bar_h: int = 22) -> str:
    """Horizontal bars with their labels and numbers, as inline SVG."""
    top = max((v for _, v in items), default=0) or 1
    rows = []
    for i, (label, v) in enumerate(items):
        y = i * (bar_h + 6)
        w = max(1, int((width - 230) * v / top)) if v else 0
        rows.append(f'<text x="0" y="{y + 16}">{html.escape(label)}</text>'
                    f'<rect x="150" y="{y}" width="{w}" height="{bar_h}" fill="#4a7bd0"/>'
                    f'<text x="{156 + w}" y="{y + 16}">{v:,}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{len(items) * (bar_h + 6)}" '
            f'font-family="sans-serif" font-size="13">{"".join(rows)}</svg>')


def _histogram(hist: dict, width: int = 520, height: int = 160) -> str:
    counts = [hist.get(str(b), 0) for b in range(1, 11)]
    top = max(counts) or 1
    bw = width // 10
    cols = []
    for i, c in enumerate(counts):
        h = int((height - 40) * c / top)
        cols.append(f'<rect x="{i * bw + 4}" y="{height - 20 - h}" width="{bw - 8}" height="{h}" fill="#3a9a5b"/>'
                    f'<text x="{i * bw + bw // 2}" y="{height - 24 - h}" text-anchor="middle">{c}</text>'
                    f'<text x="{i * bw + bw // 2}" y="{height - 4}" text-anchor="middle">{i + 1}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
            f'font-size="12">{"".join(cols)}</svg>')


def page(info: dict) -> str:
    e = html.escape
    names = [n for n, _ in FUNNEL]
    funnels = "".join(
        f"<h3>{e(name)}</h3>" + _bars([(n, counts[n]) for n in names if counts[n] is not None])
        for name, counts in list(info["domains"].items()) + [("Total", info["total"])])
    table = "".join(f"<tr><td>{e(name)}</td>" + "".join(f"<td>{e(_n(c[n]))}</td>" for n in names) + "</tr>"
                    for name, c in list(info["domains"].items()) + [("Total", info["total"])])
    rejected = ("<p>Filter not run yet.</p>" if info["rejected_by_check"] is None else
                _bars(list(info["rejected_by_check"].items())) if info["rejected_by_check"] else "<p>Nothing rejected.</p>")
    if info["flagged"]:
        rejected += "<p>Kept with flags (soft signals): " + e(", ".join(f"{k} {n:,}" for k, n in info["flagged"].items())) + "</p>"
    not_final = ("" if info["not_final"] is None else
                 "<h2>Kept out of final by the judge</h2>" + _bars(list(info["not_final"].items())))
    hist = _histogram(info["histogram"]) if info["histogram"] else "<p>Not scored yet.</p>"
    reasoning = f", of which {info['reasoning_tokens']:,} reasoning" if info["reasoning_tokens"] else ""
    per = info["per_final_sample"]
    per_reasoning = f" ({_n(per['reasoning_tokens'])} of them reasoning)" if info["reasoning_tokens"] else ""
    repair = _repair_line(info)
    repairs = f'<p id="repairs">{e(repair[:1].upper() + repair[1:])}.</p>' if repair else ""
    agreement = ("" if info["judge_human_agreement"] is None
                 else f"<p>Judge-human agreement: <b>{info['judge_human_agreement']:.0%}</b></p>")
    if info["error_of_final"]:
        agreement += f'<p id="error-of-final">Error of final: {e(info["error_of_final"])}</p>'
        if info["error_per_domain"]:
            agreement += "<ul>" + "".join(f"<li>{e(line)}</li>" for line in info["error_per_domain"]) + "</ul>"
    self_judging = f'<p id="self-judging"><b>Warning, {e(info["self_judging"])}.</b></p>' if info["self_judging"] else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>DataForge {e(info['run'])}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}
td:first-child,th:first-child{{text-align:left}}
.sample{{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;margin:.6em 0}}
.sample.rejected{{border-color:#d9a3a3;background:#fdf6f6}}.sample ol{{margin:.3em 0}}
.verified{{color:#2d7a45}}.unverifiable{{color:#777}}.wrong{{color:#b02a2a;font-weight:bold}}
.tag{{font-size:.8em;padding:0 .4em;border-radius:3px;background:#eee;margin-left:.4em}}</style></head>
<body><h1>DataForge run {e(info['run'])}</h1>
<p>Models: generation <code>{e(str(info['models']['generation']))}</code>, judge <code>{e(str(info['models']['judge'] or '–'))}</code></p>
{self_judging}
<h2>Funnel</h2>
<table id="funnel"><tr><th>domain</th>{''.join(f'<th>{n}</th>' for n in names)}</tr>{table}</table>
{funnels}
<h2>Rejected by the filter</h2>{rejected}
{not_final}
<h2>Scores</h2>{hist}
<h2>Cost</h2>
<p>Tokens: {info['tokens']['generate']:,} generation + {info['tokens']['score']:,} judging{reasoning}.
Seconds: {', '.join(f'{s} {v:.1f}' for s, v in info['seconds'].items())}.</p>
<p id="cost">Per sample that reached final: <b>{_n(per['tokens'])}</b> tokens{per_reasoning}, <b>{_n(per['seconds'])}</b> s.</p>
{repairs}
{agreement}
{html_section(info["variety"])}
<h2>Samples</h2>
<section id="samples">{_samples_html(info["samples"])}</section>
</body></html>
"""


_MARK = {"verified": "✓ verified", "unverifiable": "? unverifiable", "wrong": "✗ wrong"}


def _samples_html(samples: dict) -> str:
    """Per domain: kept samples with each step's verdict, rejected ones with the failing step and why."""
    e, out = html.escape, []
    for domain, ex in samples.items():
        out.append(f"<h3>{e(domain)}</h3>")
        if not ex["kept"] and not ex["rejected"]:
            out.append("<p>No samples yet.</p>")
        for s in ex["kept"]:
            steps = "".join(f'<li>{e(str(step))} <span class="tag {v}">{_MARK[v]}</span></li>'
                            for step, v in zip(s.get("reasoning", []), s["_verdicts"]))
            score = f' <span class="tag">score {e(str(s["score"]))}</span>' if "score" in s else ""
            out.append(f'<div class="sample kept"><b>{e(ex["kept_from"])}</b>{score}<p>{e(str(s.get("question", "")))}</p>'
                       f'<ol>{steps}</ol><p>Answer: <b>{e(str(s.get("answer", "")))}</b></p></div>')
        for s in ex["rejected"]:
            reasons = s.get("reject_reasons") or []
            failing = {r.get("step") for r in reasons if isinstance(r, dict)}
            steps = "".join(f'<li class="{"wrong" if i in failing else ""}">{e(str(step))}</li>'
                            for i, step in enumerate(s.get("reasoning", []) if isinstance(s.get("reasoning"), list) else []))
            why = "".join(f"<li>{e(str(r.get('check')))}: {e(str(r.get('message')))}</li>" for r in reasons if isinstance(r, dict))
            out.append(f'<div class="sample rejected"><b>rejected</b><p>{e(str(s.get("question", "")))}</p><ol>{steps}</ol>'
                       f'<p>Answer: {e(str(s.get("answer", "")))}</p><ul class="wrong">{why}</ul></div>')
    return "".join(out)


# ---------------------------------------------------------------- dataset card

CARD_MARK = "<!-- written by DataForge: audit.py export-train -->"
CHECKED = (("arithmetic", "every equation was checked exactly, "), ("consistency", "the answer against the last step, "),
           ("duplicate", "near-duplicates removed, "), ("contamination", "overlap with the --reference set removed, "))
FORMAT_FIELDS = {"alpaca": "instruction, input, output", "sharegpt": "conversations (from, value)",
                 "openai": "messages (role, content)"}


def dataset_card(run_dir: Path, fmt: str, path: Path) -> str:
    """A Hugging Face dataset card (README.md) for the training export just written (`path`, in `fmt`): the
    YAML header that `datasets.load_dataset(folder)` reads, then what made the data and what it cost. It
    says only what was done: this file and its count, the checks that ran, the judges whose verdicts stand."""
    info = gather(Path(run_dir))
    generate, score = stage_record(run_dir, "generate"), stage_record(run_dir, "score")
    settings = generate.get("settings", {})
    rows = count_records(path) if path.exists() else 0
    size = next(label for limit, label in ((1e3, "n<1K"), (1e4, "1K<n<10K"), (1e5, "10K<n<100K"), (1e6, "100K<n<1M"),
                                           (float("inf"), "n>1M")) if rows < limit)
    configs = (f"- config_name: {fmt}\n  default: true\n"
               f"  data_files:\n  - split: train\n    path: {json.dumps(path.name)}\n")  # quoted: '#', ': ' ...
    rejected = info["rejected_by_check"] or {}
    checks = stage_record(run_dir, "filter").get("checks", [])
    per = info["per_final_sample"]
    domains = ", ".join(d["name"] + (f" ({d['notes']})" if d.get("notes") else "") for d in settings.get("domains", []))
    # each domain's own scoring: a domain scored again alone (another threshold) leaves the others' as they were
    per_domain = {d: {**limits_of(score), **(v.get("limits") or {})} for d, v in (score.get("per_domain") or {}).items()
                  if isinstance(v, dict) and v.get("in")} or {"": limits_of(score)}
    checked = sum(v.get("resolve_checked", 0) for v in (score.get("per_domain") or {}).values() if isinstance(v, dict))
    agreement = (sum(v.get("resolve_agree", 0) for v in score["per_domain"].values() if isinstance(v, dict)) / checked
                 if checked else score.get("resolve_agreement"))
    lines = [
        "---", "license: other", "language:\n- en", "task_categories:\n- text-generation\n- question-answering",
        f"size_categories:\n- {size}", "tags:\n- math\n- synthetic\n- dataforge", "configs:\n" + configs.rstrip("\n"), "---",
        CARD_MARK, "",
        f"# Math word problems with step-by-step solutions ({info['run']})", "",
        f"{rows:,} samples, made by DataForge: a local model wrote each problem and its solution; "
        + "".join(what for check, what in CHECKED if check in checks)
        + ("a judge scored what was left." if score else "no judge scored them."),
        "", "## Files", "",
        f"- `{path.name}`: {FORMAT_FIELDS.get(fmt, fmt)}, {rows:,} rows",
        "", "## How it was made", "",
        f"- Domains: {domains or '–'}",
        f"- Generation model: `{info['models']['generation']}`, templates {', '.join(settings.get('templates', []))}, "
        f"temperature {settings.get('temperature')}, seed {_n(settings.get('seed'))}",
        "- Funnel: " + ", ".join(f"{name} {_n(n)}" for name, n in info["total"].items()),
        f"- Filter checks: {', '.join(stage_record(run_dir, 'filter').get('checks', [])) or '–'}; rejected by check: "
        + (", ".join(f"{c} {n:,}" for c, n in rejected.items()) or "none"),
        f"- Judge: `{info['models']['judge'] or '–'}`, rubric {score.get('rubric_version', '–')}, final at score ≥ "
        f"{_per_domain(per_domain, 'threshold')} with domain relevance ≥ {_per_domain(per_domain, 'min_relevance')} "
        f"and correctness ≥ {_per_domain(per_domain, 'min_correctness')}"
        + (f", a jury of {len(score['jurors'])} (--agree {score.get('agree')})" if len(score.get("jurors", [])) > 1 else "")
        + f"; re-solve agreement {_pct(agreement)}" + (f" of {checked:,}" if checked else ""),
        *([f"- Warning, {info['self_judging']}"] if info["self_judging"] else []),
        f"- Error of final: {info['error_of_final'] or '–'}",
        *[f"  - {line}" for line in info["error_per_domain"]],
        *card_line(info["variety"]),
        f"- Human audit: judge-human agreement {_pct(info['judge_human_agreement'])}",
        f"- Cost per sample that reached final: {_n(per['tokens'])} tokens (generation and the judges whose verdicts "
        "stand)" + (f" ({_n(per['reasoning_tokens'])} reasoning)" if info["reasoning_tokens"] else "")
        + f", {_n(per['seconds'])} s" + " (repairs included)" * bool(info["repairs"]["asked"])
        + f"; in all, {_n(per['tokens_spent'])} tokens per final sample were spent, judges replaced since included",
        *([f"- Repaired: {info['repairs']['repaired'].get('final', 0):,} of the samples that reached final had a step "
           f"the checker found wrong, fixed by the model when told the error (each sample's `repairs` says which); "
           f"{info['repairs']['asked']:,} repairs asked, {info['repairs']['passed']:,} passed. "
           "`filter.py --skip-repaired` leaves them out."] if _repair_line(info) else []),
        "", "The run's own report (`report.md`, `report.html`) and `run.json` hold the details.", "",
    ]
    return "\n".join(lines)


def _per_domain(limits: dict[str, dict], key: str) -> str:
    """One limit as each domain's final was made with it: `6.0`, or `6.0 (Alpha), 9.0 (Beta)` when they differ."""
    values = {d: limits[d][key] for d in limits}
    if len(set(values.values())) == 1:
        return str(next(iter(values.values())))
    return ", ".join(f"{v} ({d})" for d, v in values.items())


def _pct(v) -> str:
    return "–" if v is None else f"{v:.0%}"
