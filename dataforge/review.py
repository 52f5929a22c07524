"""The review page: the human audit in a browser (`python audit.py review --input latest`).

A local server (the standard library's, bound to 127.0.0.1 only) serves one page, review.html beside
this module (its HTML, CSS and JavaScript inline: nothing is fetched from anywhere else), and two JSON
endpoints. Every request must carry the random token printed with the URL, and name this server as its
Host (and Origin, when it sends one), else 403: another user of the machine, or a web page posting to
127.0.0.1 or rebinding its own name to it, cannot read samples or post decisions.

    GET  /?token=T               the page
    GET  /api/samples?token=T    the samples to review, their decisions as on disk now, the live figures
    POST /api/decide?token=T     {"id", "domain", "decision": keep|drop|fix, "comment", and for fix:
                                  "question", "steps": [...], "answer"} -> {"saved": true, ...} or, for a
                                  fix the filter rejects, {"saved": false, "problems": [...]} (nothing written)

A decision is saved when it is made, by audit.py's own apply code (see the seam below): decisions_<slug>
.jsonl merged by id (the last decision wins, written atomically), audited_ rebuilt, run.json's audit
record and the report rewritten. The samples are model output: the page shows them with textContent only.
"""

import hmac
import html
import json
import os
import secrets
import threading
import webbrowser
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import audit  # the seam below: audit.py's own code (the script beside this package; it imports this module late)
from dataforge import UserError, cli
from dataforge.arithmetic import check_steps
from dataforge.judge import error_of_final_text, jurors_split, limits_of, why_not_final
from dataforge.ledger import audit_facts, final_ids, read_decisions
from dataforge.runs import StageInput, domain_key, stage_record

PAGE = Path(__file__).with_name("review.html")
MAX_BODY = 1_000_000  # bytes of one POST: a decision with a fixed sample is a few kilobytes
# the page may talk to this server and nothing else; no frames, no forms, no images but the blank favicon
HEADERS = {"Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                      "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
                                      "frame-ancestors 'none'",
           "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


# ---------------------------------------------------------------- the seam: today's audit.py code
# The page saves, chooses and counts through these three functions only, so a new owner of the audit's
# decisions and of the error of final (issue #31) is one change here.

def samples_to_review(inputs: list[StageInput], sample: int | None, seed: int, stratify: bool) -> dict[str, list[dict]]:
    """Per domain, what `audit.py export` would put in its CSV: every sample, or a --sample N draw of the
    undecided samples of final (the same draw, recorded in run.json as a round of the audit)."""
    by_domain = {inp.domain: audit.records(inp, inp.path) for inp in inputs}
    if sample:
        by_domain = audit.draw({inp.domain: audit.undecided_final(inp, by_domain[inp.domain]) for inp in inputs},
                               sample, seed, stratify)
        audit.record_draw(inputs, by_domain, stratify)
    return {d: [s for s in samples if isinstance(s.get("id"), str)] for d, samples in by_domain.items()}


def save_decision(inp: StageInput, row: dict, reviewer: str) -> dict:
    """One decision, as a row of the audit CSV, saved as `audit.py apply` saves it (decisions_ merged by id,
    audited_ rebuilt, the run's audit and report refreshed). A fix the filter rejects is returned with its
    fix_problems and not saved: the reviewer corrects it on the page."""
    by_id = {s["id"]: s for s in audit.records(inp, inp.path) if isinstance(s.get("id"), str)}
    record = audit.decide("review page", row, by_id, reviewer, inp.domain, Counter())
    if record is None or record.get("fix_problems"):
        return record or {}
    audit.save_decisions(inp, [record], by_id)
    audit.refresh_audit(inp.run_dir, [str(inp.output("decisions"))])
    return decisions_of(inp)[record["id"]]


def error_of_final(inputs: list[StageInput]) -> dict:
    """The run's audit as apply records it in run.json (ledger.audit_facts: every domain's decisions, every
    round of the draw), and the error of final of each domain under review."""
    record = audit_facts(inputs[0].run_dir)
    per_domain = (record["error_of_final"] or {}).get("per_domain") or {}
    return {"audit": record, "domains": {inp.domain: per_domain.get(inp.domain) for inp in inputs}}


# ---------------------------------------------------------------- what the page shows

def decisions_of(inp: StageInput) -> dict[str, dict]:
    """A domain's decisions on disk, by sample id (read fresh: a second tab or an earlier apply wrote them)."""
    return read_decisions(inp.output("decisions"))


def shown(sample: dict, domain: str, limits: dict) -> dict:
    """A sample as the page shows it: each step with its verdict and the checker's messages, the flags, the
    judge's scores and decision, each juror's answers and vote, the repairs made."""
    steps = [str(s) for s in sample.get("reasoning", [])] if isinstance(sample.get("reasoning"), list) else []
    checks = check_steps(steps, str(sample.get("question", "")))
    flags = [f for f in sample.get("flags") or [] if isinstance(f, dict)]
    scored = isinstance(sample.get("scores"), dict)
    judged = why_not_final(sample, limits) if scored else None
    return {"id": sample["id"], "domain": domain, "question": str(sample.get("question", "")),
            "steps": [{"text": s, "verdict": c.status, "messages": [str(m) for m in c.wrong]} for s, c in zip(steps, checks)],
            "answer": str(sample.get("answer", "")), "flags": [f"{f.get('check')}: {f.get('message')}" for f in flags],
            "score": sample.get("score"), "scores": sample.get("scores") if scored else None,
            "rationale": str(sample.get("rationale", "")), "judge": ("final" if judged is None else f"not final: {judged}")
            if scored else None,
            "jury": [{"judge": str(j.get("judge")), "answers": [str(a) for a in j.get("answers") or []], "vote": j.get("vote")}
                     for j in sample.get("jury") or [] if isinstance(j, dict)],
            "split": bool(jurors_split(sample)) if scored else False,
            "repairs": [f"step {r.get('step')}: {r.get('check')}: {r.get('message')}" for r in sample.get("repairs") or []
                        if isinstance(r, dict)]}


def review_order(samples: list[dict]) -> list[dict]:
    """Samples the jury split on first, then flagged ones, then the rest; file order within each."""
    return sorted(samples, key=lambda s: (not s["split"], not s["flags"]))


class Review:
    """The run under review: its samples (chosen once, at start) and what is decided about them (read from disk)."""

    def __init__(self, inputs: list[StageInput], sample: int | None, seed: int, stratify: bool, order: str,
                 reviewer: str):
        self.inputs, self.reviewer, self.sampled = {inp.domain: inp for inp in inputs}, reviewer, bool(sample)
        self.run_dir = inputs[0].run_dir
        score = stage_record(self.run_dir, "score")
        per_domain = score.get("per_domain") if isinstance(score.get("per_domain"), dict) else {}
        limits = {inp.domain: {**limits_of(score), **((per_domain.get(domain_key(inp.domain)) or {}).get("limits") or {})}
                  for inp in inputs}  # each domain's own: one scored again with another threshold keeps its own
        drawn = samples_to_review(inputs, sample, seed, stratify)
        samples = [shown(s, inp.domain, limits[inp.domain]) for inp in inputs for s in drawn[inp.domain]]
        self.samples = samples if order == "file" else review_order(samples)
        self.lock = threading.Lock()  # one save at a time: each reads, merges and rewrites the domain's files

    def state(self, estimate: dict | None = None) -> dict:
        """Every decision on the samples under review, and the live figures."""
        decisions = {d: decisions_of(inp) for d, inp in self.inputs.items()}
        estimate = estimate or error_of_final(list(self.inputs.values()))
        figures = {}
        for domain in self.inputs:
            ids = [s["id"] for s in self.samples if s["domain"] == domain]
            reviewed = sum(i in decisions[domain] for i in ids)
            figures[domain] = {"reviewed": reviewed, "to_review": len(ids) - reviewed,
                               "error_of_final": estimate["domains"][domain]}
        record = estimate["audit"]
        return {"decisions": {i: summary(d) for ds in decisions.values() for i, d in ds.items()},
                "figures": {"domains": figures, "reviewed": sum(f["reviewed"] for f in figures.values()),
                            "to_review": sum(f["to_review"] for f in figures.values()),
                            "error_of_final": record["error_of_final"], "error_text": error_of_final_text(record, {})}}

    def decide(self, body: dict) -> dict:
        """A decision from the page -> saved (and the run's audit record and report brought up to date)."""
        domain, sample_id, decision = body.get("domain"), body.get("id"), body.get("decision")
        # compared, not looked up: the body is anyone's JSON (a list is no key), and ids are a domain's own
        if not any(s["id"] == sample_id and s["domain"] == domain for s in self.samples):
            raise UserError(f"sample {sample_id!r} of domain {domain!r} is not under review here")
        if decision not in ("keep", "drop", "fix"):
            raise UserError(f"decision {decision!r} is not keep, drop or fix")
        row = {"id": sample_id, "decision": decision, "comment": str(body.get("comment", ""))}
        if decision == "fix":  # as a CSV row: steps numbered, question and answer as export's cells
            if not isinstance(body.get("steps"), list):
                raise UserError("a fix needs its steps, a list of strings")
            steps = [str(s).strip() for s in body["steps"] if str(s).strip()]
            row.update(question=audit.cell(body.get("question", "")), answer=audit.cell(body.get("answer", "")),
                       steps="\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1)))
        with self.lock:
            record = save_decision(self.inputs[domain], row, self.reviewer)
            if record.get("fix_problems"):
                return {"saved": False, "problems": [f"{p.get('check')}: {p.get('message')}" for p in record["fix_problems"]],
                        **self.state()}
            return {"saved": True, **self.state()}


def summary(d: dict) -> dict:
    """A decision as the page shows it (as text: a decisions file may have been edited by hand)."""
    fixed = d.get("fixed") if isinstance(d.get("fixed"), dict) else {}
    steps = fixed.get("reasoning") if isinstance(fixed.get("reasoning"), list) else []
    problems = d.get("fix_problems") if isinstance(d.get("fix_problems"), list) else []  # a CSV's fix apply refused
    return {"decision": d["decision"], "comment": str(d.get("comment", "")), "reviewer": str(d.get("reviewer", "")),
            "at": str(d.get("applied_at", "")),
            "problems": [f"{p.get('check')}: {p.get('message')}" if isinstance(p, dict) else str(p) for p in problems],
            "fixed": {"question": str(fixed.get("question", "")), "steps": [str(s) for s in steps],
                      "answer": str(fixed.get("answer", ""))} if fixed else None}


# ---------------------------------------------------------------- the server

class Handler(BaseHTTPRequestHandler):
    server: "ReviewServer"

    def log_message(self, *args):  # one line per request on stderr would bury the URL line
        pass

    def send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        for k, v in {**HEADERS, "Content-Type": content_type, "Content-Length": str(len(body))}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, obj: dict, status: int = 200) -> None:
        # ASCII: model output may hold a lone surrogate ("\ud800" in its JSON), which UTF-8 cannot encode
        self.send(status, json.dumps(obj).encode("ascii"), "application/json; charset=utf-8")

    def authorized(self) -> bool:
        """The token, asked for by this page's own address: a web page whose name was made to point at
        127.0.0.1 (DNS rebinding) sends its own Host, and a page elsewhere posting here its own Origin."""
        token = parse_qs(urlsplit(self.path).query).get("token", [""])[0]
        ours = self.headers.get("Host") in self.server.hosts \
            and self.headers.get("Origin") in (None, *(f"http://{h}" for h in self.server.hosts))
        if ours and hmac.compare_digest(token.encode(), self.server.token.encode()):
            return True
        self.send(403, b"403: open the page with the URL audit.py review printed (it holds the token)\n", "text/plain")
        return False

    def do_GET(self):
        if not self.authorized():
            return
        path = urlsplit(self.path).path
        if path == "/":
            self.send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
        elif path == "/api/samples":
            review = self.server.review
            with review.lock:
                state = review.state()
            self.send_json({"run": review.run_dir.name, "reviewer": review.reviewer, "sampled": review.sampled,
                            "samples": review.samples, **state})
        else:
            self.send(404, b"404\n", "text/plain")

    def do_POST(self):
        if not self.authorized():
            return
        if urlsplit(self.path).path != "/api/decide":
            return self.send(404, b"404\n", "text/plain")
        length = self.headers.get("Content-Length", "")
        if not (length.isdigit() and 0 < int(length) <= MAX_BODY) \
                or not self.headers.get("Content-Type", "").startswith("application/json"):
            return self.send_json({"error": "a decision is a JSON body of at most 1 MB"}, 400)
        try:
            body = json.loads(self.rfile.read(int(length)))
            if not isinstance(body, dict):
                raise UserError("a decision is a JSON object")
            self.send_json(self.server.review.decide(body))
        except (json.JSONDecodeError, UnicodeDecodeError, UserError) as e:
            self.send_json({"error": str(e)}, 400)


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True  # a browser's idle keep-alive connection must not hold up the exit

    def __init__(self, review: Review, port: int):
        self.review, self.token = review, secrets.token_urlsafe(24)
        try:
            super().__init__(("127.0.0.1", port), Handler)  # this machine only
        except OSError as e:
            raise UserError(f"--port {port}: cannot listen on 127.0.0.1:{port} ({e.strerror}); "
                            "give another port, or 0 for any free one") from None

    @property
    def hosts(self) -> tuple[str, str]:
        """The Host a browser sends for this page."""
        return f"127.0.0.1:{self.server_address[1]}", f"localhost:{self.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/?token={self.token}"


def open_browser(url: str, opener: Path) -> None:
    """The default browser opens a file only this user can read, which sends it on to url: a browser given
    url itself holds the token on its command line, which every user of the machine can read (ps). The file
    is in the run folder, not /tmp, which a browser packaged as a snap cannot see."""
    opener.unlink(missing_ok=True)  # one left by a review that was killed: made afresh with our permissions
    fd = os.open(opener, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={html.escape(url)}">'
                f'<title>DataForge review</title>\n<a href="{html.escape(url)}">the review page</a>\n')
    webbrowser.open(opener.resolve().as_uri())


def serve(inputs: list[StageInput], sample: int | None, seed: int, stratify: bool, order: str, reviewer: str,
          port: int, browser: bool) -> int:
    """Serve the page until Ctrl-C or SIGTERM; each decision is on disk when the page shows it saved."""
    review = Review(inputs, sample, seed, stratify, order, reviewer)
    if not review.samples:
        why = ("--sample draws from final, and no sample reached final" if not any(
            final_ids(inp.output("final")) for inp in inputs) else
            "--sample draws from the samples of final no reviewer has decided on, and every one is decided")
        raise UserError(f"{review.run_dir}: no samples to review" + (
            f": {why}; leave out --sample to review every scored sample" if sample else ""))
    server = ReviewServer(review, port)
    state = review.state()["figures"]
    cli.say(f"{len(review.samples)} samples to review in {review.run_dir} ({state['reviewed']} decided already); "
            "decisions are saved as they are made. Ctrl-C stops the page.")
    print(f"review page: {server.url}", flush=True)  # stdout: the one line a caller needs
    opener = review.run_dir / "review_page.html"
    try:
        if browser:  # from a thread: a browser in this terminal (w3m, lynx) holds open() until it has the page
            threading.Thread(target=open_browser, args=(server.url, opener), daemon=True).start()
        server.serve_forever()
    except KeyboardInterrupt:  # Ctrl-C, and SIGTERM (cli.Terminated): the way a review ends
        pass
    finally:
        server.server_close()
        opener.unlink(missing_ok=True)
        with review.lock:  # a save under way finishes (its files are written whole either way)
            state = review.state()["figures"]
    cli.say(f"review page stopped: {state['reviewed']} reviewed, {state['to_review']} to review; "
            f"decisions in {', '.join(i.output('decisions').name for i in review.inputs.values())}",
            f"  next: python audit.py export-train --input {cli.quoted(review.run_dir)} --format openai")
    return cli.EXIT_OK
