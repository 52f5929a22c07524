"""The run report: report.md and a self-contained report.html (inline SVG, no scripts, no network)
in the run folder, rewritten at the end of every stage.

What it shows, per domain and in total: the funnel (requested -> valid -> filtered -> final ->
audited), why samples were rejected, the score histogram, tokens and seconds per sample that
reached final, the models used, and judge-human agreement once an audit is applied.
"""

import html
import json
from pathlib import Path

from dataforge.runs import count_lines, read_jsonl, read_manifest, stage_file, write_atomic

FUNNEL = (("requested", None), ("valid", "raw"), ("filtered", "filtered"), ("final", "final"), ("audited", "audited"))


def gather(run_dir: Path) -> dict:
    """Everything the report shows, from run.json and the files of the run."""
    manifest = read_manifest(run_dir)
    stages = manifest.get("stages", {})
    generate = stages.get("generate", {})
    requested = generate.get("settings", {}).get("samples_per_domain", 0)
    domains, tokens, reasoning = {}, {"generate": 0, "score": 0}, 0
    for d in generate.get("domains", []):
        counts = {"requested": requested}
        for name, prefix in FUNNEL[1:]:
            path = stage_file(run_dir, d["name"], prefix)
            counts[name] = count_lines(path) if path.exists() else None
        domains[d["name"]] = counts
        for stage, prefixes in (("generate", ("raw", "failed")), ("score", ("scored",))):
            for prefix in prefixes:
                path = stage_file(run_dir, d["name"], prefix)
                if path.exists():  # tokens are in every record, so resumed and re-run stages all count
                    records = [line.record for line in read_jsonl(path) if line.record]
                    tokens[stage] += sum(int(r.get(k, 0)) for r in records
                                         for k in ("prompt_tokens", "completion_tokens", "reasoning_tokens"))
                    reasoning += sum(int(r.get("reasoning_tokens", 0)) for r in records)
    total = {name: sum(c[name] or 0 for c in domains.values()) if any(c[name] is not None for c in domains.values()) else None
             for name, _ in FUNNEL}
    filter_report = run_dir / "filter_report.json"
    filter_total = json.loads(filter_report.read_text())["total"] if filter_report.exists() else {}
    rejected = filter_total.get("rejected_by_check") if filter_report.exists() else None
    score_domains = stages.get("score", {}).get("per_domain", {}).values()
    not_final = {why: sum(d.get(why, 0) for d in score_domains) for why in ("off_domain", "incorrect", "low_score")}
    seconds = {s: stages.get(s, {}).get("seconds_all_sessions", 0.0) for s in ("generate", "filter", "score")}
    final = total["final"] or 0
    return {
        "run": Path(run_dir).name, "domains": domains, "total": total, "rejected_by_check": rejected,
        "flagged": filter_total.get("warnings", {}), "not_final": not_final if score_domains else None,
        "histogram": stages.get("score", {}).get("histogram", {}),
        "models": {"generation": generate.get("model"), "judge": stages.get("score", {}).get("judge_model")},
        "tokens": tokens, "seconds": seconds,
        "reasoning_tokens": reasoning,
        "per_final_sample": {"tokens": round(sum(tokens.values()) / final, 1) if final else None,
                             "reasoning_tokens": round(reasoning / final, 1) if final else None,
                             "seconds": round(sum(seconds.values()) / final, 2) if final else None},
        "judge_human_agreement": stages.get("audit", {}).get("judge_human_agreement"),
    }


def write_report(run_dir: Path) -> dict:
    info = gather(Path(run_dir))
    write_atomic(Path(run_dir) / "report.md", markdown(info))
    write_atomic(Path(run_dir) / "report.html", page(info))
    return info


def _n(v) -> str:
    return "–" if v is None else f"{v:,}" if isinstance(v, int) else str(v)


def markdown(info: dict) -> str:
    names = [n for n, _ in FUNNEL]
    lines = [f"# DataForge run {info['run']}", "",
             f"Models: generation `{info['models']['generation']}`, judge `{info['models']['judge'] or '–'}`", "",
             "## Funnel", "", "| domain | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for name, counts in list(info["domains"].items()) + [("**total**", info["total"])]:
        lines.append(f"| {name} | " + " | ".join(_n(counts[n]) for n in names) + " |")
    lines += ["", "## Rejected by the filter", ""]
    rejected = info["rejected_by_check"]
    lines += (["(filter not run yet)"] if rejected is None else
              [f"- {check}: {n:,}" for check, n in rejected.items()] or ["nothing rejected"])
    if info["flagged"]:
        lines += ["", "Kept with flags (soft signals): " + ", ".join(f"{k} {n:,}" for k, n in info["flagged"].items())]
    if info["not_final"] is not None:
        lines += ["", "## Kept out of final by the judge", ""] + [f"- {why}: {n:,}" for why, n in info["not_final"].items()]
    lines += ["", "## Scores (floor)", ""]
    lines += [" ".join(f"{b}:{info['histogram'].get(str(b), 0)}" for b in range(1, 11)) if info["histogram"] else "(not scored yet)"]
    per = info["per_final_sample"]
    lines += ["", "## Cost", "",
              f"- tokens: {info['tokens']['generate']:,} generation + {info['tokens']['score']:,} judging"
              + (f", of which {info['reasoning_tokens']:,} reasoning" if info["reasoning_tokens"] else ""),
              f"- seconds: " + ", ".join(f"{s} {v:.1f}" for s, v in info["seconds"].items()),
              f"- per sample that reached final: {_n(per['tokens'])} tokens"
              + (f" ({_n(per['reasoning_tokens'])} of them reasoning)" if info["reasoning_tokens"] else "")
              + f", {_n(per['seconds'])} s"]
    if info["judge_human_agreement"] is not None:
        lines += ["", f"Judge-human agreement: {info['judge_human_agreement']:.0%}"]
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
    table = "".join(f"<tr><td>{e(name)}</td>" + "".join(f"<td>{_n(c[n])}</td>" for n in names) + "</tr>"
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
    agreement = ("" if info["judge_human_agreement"] is None
                 else f"<p>Judge-human agreement: <b>{info['judge_human_agreement']:.0%}</b></p>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>DataForge {e(info['run'])}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}
td:first-child,th:first-child{{text-align:left}}</style></head>
<body><h1>DataForge run {e(info['run'])}</h1>
<p>Models: generation <code>{e(str(info['models']['generation']))}</code>, judge <code>{e(str(info['models']['judge'] or '–'))}</code></p>
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
{agreement}
</body></html>
"""
