"""A real HTTP server on 127.0.0.1 that speaks Ollama's documented API (and the
OpenAI-compatible chat endpoint), with fault injection. Tests and benchmarks use it.

Replies are chosen by the JSON schema a request sends: a sample schema gets a fresh,
correct word problem; the judge schema gets scores; the re-solve schema gets the answer
of a problem this server wrote. `reasoning` makes it a thinking model that reasons for
`reasoning_tokens` tokens before each answer (fewer at think "low"; none at think false), counted
in num_predict / max_tokens as Ollama counts them, in one of three forms: "field" (Ollama's
message.thinking), "tags" (<think>...</think> at the start of the content) or "reasoning_content"
(the OpenAI-compatible field). `slipping` (class Slipping) makes a model whose steps slip and
that fixes them when told where. `collapsing` makes a small model that writes the same problem for the same
brief, names and numbers aside (generate.py's plan is what varies briefs). A plan request (a schema with
"subtopics") gets a tree of made-up situations of the size asked. Fault "wrong_step" puts a wrong equation in a re-solve's steps. Replay mode
(load_replay, --replay) answers re-solves with real models' answers (bench/bench_judges.py). Run it alone for
benchmarks:

    python tests/fake_ollama.py --port 11500 --latency 0.2
"""

import argparse
import email.utils
import json
import random
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAMES = ["Priya", "Marco", "Aiko", "Tunde", "Greta", "Omar", "Lena", "Ravi", "Sofia", "Kwame", "Ines", "Yusuf"]
NOUNS = ["laptops", "desks", "licenses", "interns", "servers", "chairs", "monitors", "mentors", "contracts", "badges"]
VERBS = ["orders", "budgets for", "plans", "signs", "hires", "leases", "assigns", "books", "buys", "tracks"]
PLACES = ["the Berlin office", "a seed-stage fintech", "the design studio", "a robotics lab", "the pop-up shop",
          "a biotech spinout", "the night shift", "a coffee roastery", "the sales team", "a climate startup"]
EXTRAS = ["after a funding round", "before the quarterly review", "during the hiring freeze", "for a new product line",
          "to cut costs", "ahead of the launch", "while moving floors", "for the summer cohort", "as a pilot", "on a tight runway"]

VOCAB = ("amber anchor apron atlas badge basket beacon bench biscuit blanket bolt bottle bracket bridge brush bucket "
         "cabinet cable candle canvas carpet cedar chalk chart cider clamp cloak clover cobalt compass copper cradle "
         "crate crystal curtain dagger denim desk dial domino drum easel ember engine fabric falcon fern fiddle flask "
         "fleece fountain gadget garnet gauge glacier globe granite gravel hammer harbor harness hatch helmet hinge "
         "hollow ivory jacket jasmine kettle kiln ladder lantern lattice ledger lemon lever linen locket magnet mallet "
         "maple marble meadow mirror mosaic nectar needle nickel oak orchard paddle parcel pebble pepper pillow pine "
         "pistol plank pocket pollen pottery prism pulley quartz quill quiver radar rafter ribbon rivet saddle satchel "
         "sickle silver socket spindle spruce stencil tablet thimble timber trellis trowel tulip tunnel velvet walnut "
         "wicker willow zinc zipper").split()  # collapsing mode's words: a brief's problem is drawn from them


# What real OpenAI-compatible servers answer to each response_format form (the forms local_llm.RESPONSE_FORMATS
# sends), from their documented request forms: {form: (status, error body)} for each form a server refuses.
# Ollama's /v1, vLLM, SGLang, llama.cpp's llama-server and LiteLLM take json_schema (and json_object).
TAKES_ALL = {}
# llama-cpp-python's server (0.3.x): response_format is a TypedDict of type 'text' or 'json_object' (+ `schema`);
# FastAPI's validation error reaches its RouteErrorHandler, which answers 500.
LLAMA_CPP_PYTHON = {"json_schema": (500, {"error": {"message": "[{'type': 'literal_error', 'loc': ('body', 'response_format', "
                                                   "'type'), 'msg': \"Input should be 'text' or 'json_object'\", "
                                                   "'input': 'json_schema'}]", "type": "internal_server_error"}})}
# LM Studio: structured output is json_schema only (its refusal as users quote it: lmstudio-bug-tracker #189, #307).
LM_STUDIO = {"json_object with schema": (400, {"error": "'response_format.type' must be 'json_schema' or 'text'"}),
             "json_object": (400, {"error": "'response_format.type' must be 'json_schema' or 'text'"})}
# A server with JSON mode only (OpenAI's older models): no json_schema, no `schema` key, and json_object asks
# for the word "json" in the messages.
JSON_MODE_ONLY = {"json_schema": (400, {"error": {"message": "Invalid parameter: 'response_format' of type 'json_schema' "
                                                            "is not supported with this model."}}),
                  "json_object with schema": (400, {"error": {"message": "Unrecognized request argument supplied: "
                                                                        "response_format.schema"}})}


def response_form(body: dict) -> str | None:
    """Which local_llm.RESPONSE_FORMATS form a request sends, if any."""
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_object":
        return "json_object with schema" if "schema" in fmt else "json_object"
    return fmt.get("type")


class Faults:
    """What goes wrong next. `queue` faults are used one per model request, in order."""

    def __init__(self):
        self.queue: list[str] = []
        self.latency = 0.0  # seconds added to every model request
        self.parallel = threading.BoundedSemaphore(1000)  # like OLLAMA_NUM_PARALLEL: requests served at once
        self.lock = threading.Lock()

    def next(self) -> str | None:
        with self.lock:
            return self.queue.pop(0) if self.queue else None


class Slipping:
    """A model that slips: `share` of the samples it writes have one step's result off (step `step`,
    0-based, or a random one), the error carried into the steps after it. Sent back with that step
    and its right value in the same conversation, it fixes the step with probability `fixes`, and then
    breaks another step with probability `breaks`; told anything less, it repeats itself. Its prompt
    tokens are the conversation's length (a repair re-reads the whole conversation)."""

    def __init__(self, server):
        self.server, self.share, self.fixes, self.breaks, self.step = server, 0.0, 1.0, 0.0, None
        self.right: dict[str, dict] = {}  # question -> the sample with every step right
        self.wrong_step: dict[str, int] = {}  # question -> the step written wrong
        self.repairs_seen = 0  # repair requests received for a slip of ours

    def slip(self, sample: dict, avoid: int | None = None) -> dict:
        with self.server._lock:
            r = self.server._rng
            if not self.share or (avoid is None and r.random() >= self.share):
                return sample
            steps = [i for i in range(len(sample["reasoning"])) if i != avoid]
            i = self.step if self.step is not None and self.step != avoid else r.choice(steps)
            off = r.randint(1, 9) * 10
        self.right[sample["question"]], self.wrong_step[sample["question"]] = sample, i
        return {**sample, **self.with_step_off(sample, i, off)}

    @staticmethod
    def with_step_off(sample: dict, i: int, off: int) -> dict:
        """Step i's result off by `off`, and every later result (and the answer) with it, as a model carries a slip."""
        steps = []
        for k, step in enumerate(sample["reasoning"]):
            head, _, result = step.rpartition(" = ")
            if k > i:  # uses the wrong value: its own arithmetic is right
                carried = sample["reasoning"][k - 1].rpartition(" = ")[2]
                label, _, math = head.rpartition(": ")
                head = f"{label}: {math.replace(carried, str(int(carried) + off), 1)}"
            steps.append(f"{head} = {int(result) + off}" if k >= i else step)
        return {"reasoning": steps, "answer": f"${int(steps[-1].rpartition(' = ')[2])}"}

    def repair(self, body: dict) -> str | None:
        """The reply to a repair request (the model's earlier reply, then a user turn), else None."""
        messages = body.get("messages") or []
        if len(messages) < 4 or messages[-2].get("role") != "assistant":
            return None
        try:
            before = json.loads(messages[-2]["content"])
        except ValueError:
            return None
        if not isinstance(before, dict):
            return None
        question, told = before.get("question"), messages[-1].get("content", "").lower()
        right, i = self.right.get(question), self.wrong_step.get(question)
        if right is None:  # not a slip of ours (a format hint after an off-schema reply): a fresh reply
            return None
        self.repairs_seen += 1
        value = int(right["reasoning"][i].rpartition(" = ")[2])
        with self.server._lock:
            fixed = f"step {i + 1} " in told and f"{value:,}" in told and self.server._rng.random() < self.fixes
            breaks = self.server._rng.random() < self.breaks
        if not fixed:
            return json.dumps(before)
        del self.right[question], self.wrong_step[question]
        return json.dumps(self.slip(right, avoid=i) if breaks and len(right["reasoning"]) > 1 else right)

    def prompt_tokens(self, body: dict) -> int:
        return len(json.dumps(body.get("messages") or body.get("prompt") or "")) // 4 if self.share else 50


class FakeOllama:
    def __init__(self, models=("llama2:latest", "mistral:latest"), port=0, api_key=None, seed=0):
        self.models = list(models)
        self.api_key = api_key  # when set, /v1 endpoints require it
        self.faults = Faults()
        self.requests: list[dict] = []  # every request body received: {"path", "body", "headers"}
        self.answers: dict[str, str] = {}  # question -> answer, for re-solve replies
        self.solutions: dict[str, list[str]] = {}  # question -> the re-solve's steps
        self.replay: dict[str, dict] = {}  # replay mode (load_replay): question -> {model: the answer it really gave}
        self.in_flight = self.max_in_flight = 0  # model requests being served at once
        self.tokens_reported = 0  # prompt + completion tokens in every reply sent: what the client spent
        self.refuses_forms = TAKES_ALL  # /v1: the response_format forms refused, as a real server (LM_STUDIO...)
        self.prefix = ""  # served under this path (an Ollama behind a reverse proxy at /ollama)
        self.reasoning: str | None = None  # None, "field", "tags" or "reasoning_content"
        self.reasoning_tokens = 1500
        self.off_domain_every = 0  # when N > 0, every Nth problem written ignores the domain (a bakery story)...
        self.off_domain: set[str] = set()  # ...and the judge rates those 2/10 on domain relevance
        self._written = 0
        self.slipping = Slipping(self)  # a model whose steps slip and that fixes them when told (off by default)
        self.collapsing = False  # the same brief (names and numbers aside) -> the same problem, as small models do
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.httpd.daemon_threads = True
        self.httpd.handle_error = self._client_went_away
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @staticmethod
    def _client_went_away(request, client_address):
        """A client killed mid-reply (the kill -9 tests) is expected; anything else is printed."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            ThreadingHTTPServer.handle_error(None, request, client_address)

    def start(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def model_requests(self):
        return [r for r in self.requests if r["path"] in ("/api/chat", "/api/generate", "/v1/chat/completions")]

    # ------------------------------------------------------------ replies

    def make_sample(self, wrong_math=False, domain="the company") -> dict:
        with self._lock:
            r = self._rng
            name, noun, verb, place, extra = (r.choice(NAMES), r.choice(NOUNS), r.choice(VERBS), r.choice(PLACES), r.choice(EXTRAS))
            a, b, c = r.randint(2, 40), r.randint(3, 90), r.randint(5, 400)
            words = " ".join(r.sample(["quickly", "carefully", "again", "finally", "jointly", "monthly", "weekly", "today"], 3))
            self._written += 1
            off_domain = self.off_domain_every > 0 and self._written % self.off_domain_every == 0
            baked = r.choice(["loaves", "croissants", "pies", "muffins"]) if off_domain else ""
        total = a * b + c
        if off_domain:  # a weak model drifting off topic: nothing of the domain in it
            noun = baked
            question = (f"At the village bakery, {name} bakes {a} {noun} {words}, each selling for ${b}, "
                        f"and adds a tip of ${c}. How much is taken in total?")
            self.off_domain.add(question)
        else:
            question = (f"In {domain}, {name} {verb} {a} {noun} at {place} {extra}, each costing ${b}, {words}, "
                        f"and pays a one-off fee of ${c}. How much is spent in total?")
        shown = total + 7 if wrong_math else total
        self.answers[question] = f"{total}"
        self.solutions[question] = [f"{a} * {b} = {a * b}", f"{a * b} + {c} = {total}"]  # the re-solve's steps
        return {"question": question,
                "reasoning": [f"Cost of {noun}: {a} * {b} = {a * b}", f"Total: {a * b} + {c} = {shown}"],
                "answer": f"${shown}", "difficulty": "easy", "domain": "whatever the model says", "num_steps": 2}

    def collapsed_sample(self, body: dict, domain: str) -> dict:
        """A problem that depends only on the brief: the first user message without the earlier problems it
        lists, its name and its numbers. Names and numbers are drawn afresh each time."""
        prompt = next((m.get("content", "") for m in body.get("messages") or [] if m.get("role") == "user"), "")
        brief = "\n".join(line for line in prompt.splitlines() if not line.startswith("- ") and "problems" not in line)
        brief = re.sub(r"[0-9][0-9,.]*", "0", re.sub(r"(name |called |name=)[A-Z][a-z]+", r"\1X", brief))
        words = random.Random(brief).sample(VOCAB, 16)
        with self._lock:
            name, a, b, c = self._rng.choice(NAMES), self._rng.randint(2, 40), self._rng.randint(3, 90), self._rng.randint(5, 400)
        question = (f"In {domain}, {name} {' '.join(words[:7])}, then {' '.join(words[7:14])}: {a} {words[14]} "
                    f"at ${b} each plus ${c} of {words[15]}. What is the total?")
        self.answers[question] = f"{a * b + c}"
        self.solutions[question] = [f"{a} * {b} = {a * b}", f"{a * b} + {c} = {a * b + c}"]
        return {"question": question, "reasoning": [f"Cost: {a} * {b} = {a * b}", f"Total: {a * b} + {c} = {a * b + c}"],
                "answer": f"${a * b + c}", "difficulty": "easy", "domain": domain, "num_steps": 2}

    def plan_reply(self, props: dict) -> str:
        """A topic tree of the size the plan schema asks for, its situations made-up and all different."""
        subs = props["subtopics"].get("maxItems", 3)
        per = props["subtopics"]["items"]["properties"]["situations"].get("maxItems", 3)
        with self._lock:
            words = self._rng.sample(VOCAB, min(len(VOCAB), 3 * subs))
        return json.dumps({"subtopics": [{"name": f"{words[i]} matters", "situations": [
            f"{words[(i + j) % len(words)]} {words[(i + 2 * j + 1) % len(words)]} case {j + 1}" for j in range(per)]}
            for i in range(subs)], "people": ["the owner", "a clerk", "a regular customer"]})

    def reply_for(self, body: dict, fault: str | None) -> str:
        fmt = body.get("response_format") or {}
        schema = body.get("format") or fmt.get("json_schema", {}).get("schema") or fmt.get("schema") or {}
        if fmt.get("type") == "json_object" and not schema:
            schema = "json"  # JSON mode: the shape is in the prompt
        props = schema.get("properties", {}) if isinstance(schema, dict) else {}
        text = json.dumps(body.get("messages") or body.get("prompt"))
        if schema == "json":  # plain JSON mode (the CLI): read the wanted shape from the prompt
            props = {k: {} for k in ("correctness", "question", "answer") if f'\\"{k}\\"' in text}
            props = {"correctness": {}} if "correctness" in props else {"question": {}} if "question" in props else props
        domain = re.search(r"Domain: ([^\\]+)|domain=([^;]+);|practice set about (.+?) \(", text)
        domain = next((g for g in domain.groups() if g), "the company") if domain else "the company"
        if fault == "invalid_json":
            return '{"question": "unterminated'
        if fault == "offschema":
            return json.dumps({"text": "not a sample"})
        if "question" in props and self.slipping.share and (fixed := self.slipping.repair(body)) is not None:
            return fixed
        if "subtopics" in props:
            return self.plan_reply(props)
        if "question" in props:
            sample = self.slipping.slip(self.collapsed_sample(body, domain) if self.collapsing else
                                        self.make_sample(wrong_math=fault == "wrong_math", domain=domain))
            if fault == "no_equals":  # what a small model writes: prose steps
                sample["reasoning"] = [step.replace(" = ", " makes ") for step in sample["reasoning"]]
            if fault == "extra_keys":  # a model that adds its own verdicts, and a key Python cannot encode
                sample.update({"score": 10, "rejected": "no", "flags": ["trust me"], "judge_model": "me", "note": "\ud800"})
            return json.dumps(sample)
        if "correctness" in props:
            off = any(json.dumps(q)[1:-1] in text for q in self.off_domain)
            return json.dumps({"correctness": 9, "clarity": 8, "domain_relevance": 2 if off else 8, "difficulty_match": 7,
                               "reasoning_quality": 8, "rationale": "Not about the domain." if off else "Steps are correct and clear."})
        if "answer" in props:
            if self.replay:
                return self.replayed(body, text)
            question = next((q for q in self.answers if json.dumps(q)[1:-1] in text), None)
            steps = self.solutions.get(question, ["40 + 2 = 42"])
            if fault == "wrong_step":  # a slip in the judge's own solution, which the exact checker sees
                steps = [steps[0].rsplit("=", 1)[0] + "= 1", *steps[1:]]
            return json.dumps({"steps": steps, "answer": self.answers.get(question, "42")})
        return "Hello from the fake Ollama."

    # ------------------------------------------------------------ replay mode (bench/bench_judges.py)

    def load_replay(self, answers_path) -> None:
        """Replay real judges: a re-solve of a GSM8K test question is answered with the final number the
        requested model (gpt-3.5-turbo, text-davinci-003, llama-3.2-3b-instruct) really gave to it, from
        ../shared/data/judges/answers.jsonl; its models are served. One answer per model and question."""
        with open(answers_path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        self.replay = {" ".join(r["question"].split()): r["answers"] for r in rows}
        self.models += sorted({m for r in rows for m in r["answers"]} - set(self.models))

    def replayed(self, body: dict, text: str) -> str:
        prompt = json.loads(text)[0]["content"] if text.startswith("[") else text
        question = " ".join(prompt.split("\n\n", 1)[-1].split())  # the re-solve prompt ends with the question
        answers = self.replay.get(question)
        if answers is None:
            raise KeyError(f"replay: no real answers for the question {question[:80]!r}")
        answer = answers.get(body["model"].removesuffix(":latest"))
        # the real answer only (its steps are not in the data): one step that states it, which the checker passes
        return json.dumps({"steps": [f"answer = {answer}"] if answer is not None else [], "answer": answer})

    def think(self, body: dict, content: str, done_reason: str) -> tuple[list[str], str, str]:
        """As a thinking model: (reasoning tokens for a separate field, content, done_reason), the reasoning
        counted in the token limit before the answer, so a small limit cuts it off while still reasoning."""
        if not self.reasoning or body.get("think") is False:
            return [], content, done_reason
        n = self.reasoning_tokens // 3 if body.get("think") == "low" else self.reasoning_tokens
        limit = (body.get("options") or {}).get("num_predict") or body.get("max_tokens") or 10**9
        thoughts = [f"step{i} " for i in range(n)]
        if limit <= n:  # cut off while reasoning: no answer at all
            thoughts, content, done_reason = thoughts[:limit], "", "length"
        elif limit < n + len(content) // 4:
            content, done_reason = content[: (limit - n) * 4], "length"
        if self.reasoning == "tags":
            closed = "</think>" if done_reason != "length" or content else ""
            return [], "<think>" + "".join(thoughts) + closed + content, done_reason
        return thoughts, content, done_reason

    # ------------------------------------------------------------ HTTP

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def parse_request(self):
                ok = super().parse_request()
                if ok and server.prefix:  # behind a reverse proxy: only paths under the prefix are this server's
                    self.path = self.path.removeprefix(server.prefix) if self.path.startswith(server.prefix + "/") else "/elsewhere"
                return ok

            def _send(self, status, obj, content_type="application/json"):
                data = (obj if isinstance(obj, str) else json.dumps(obj)).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                server.requests.append({"path": self.path, "body": None, "headers": dict(self.headers)})
                if self.path == "/":
                    return self._send(200, "Ollama is running", "text/plain")
                if self.path == "/api/version":
                    return self._send(200, {"version": "0.12.0"})
                if self.path == "/api/tags":
                    return self._send(200, {"models": [{"name": m, "model": m, "size": 1, "digest": "0" * 12,
                                                        "details": {"family": "llama"}} for m in server.models]})
                if self.path == "/v1/models":
                    if not self._authorized():
                        return
                    return self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in server.models]})
                self._send(404, {"error": "not found"})

            def _authorized(self):
                if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    self._send(401, {"error": {"message": "invalid api key"}})
                    return False
                return True

            def _known(self, model):
                return model in server.models or f"{model}:latest" in server.models

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append({"path": self.path, "body": body, "headers": dict(self.headers), "at": time.monotonic()})
                if self.path == "/api/show":
                    if not self._known(body.get("model", "")):
                        return self._send(404, {"error": f"model \"{body.get('model')}\" not found, try pulling it first"})
                    caps = ["completion", "thinking"] if server.reasoning else ["completion"]
                    return self._send(200, {"details": {"family": "llama"}, "capabilities": caps})
                if self.path not in ("/api/chat", "/api/generate", "/v1/chat/completions"):
                    return self._send(404, {"error": "not found"})
                if self.path.startswith("/v1") and not self._authorized():
                    return
                if self.path.startswith("/v1") and (refused := server.refuses_forms.get(response_form(body))):
                    return self._send(*refused)
                if response_form(body) == "json_object" and "json" not in json.dumps(body["messages"]).lower():
                    return self._send(400, {"error": {"message": "'messages' must contain the word 'json' in some form, "
                                                                 "to use 'response_format' of type 'json_object'."}})
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    with server.faults.parallel:
                        self._model_reply(body)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _model_reply(self, body):
                fault = server.faults.next()
                if fault and self._hostile_reply(fault):
                    return
                if server.faults.latency:
                    time.sleep(server.faults.latency)
                if fault and fault.startswith("slow:"):
                    time.sleep(float(fault.split(":")[1]))
                if fault == "500":
                    return self._send(500, {"error": "llama runner process has terminated: exit status 2"})
                if fault == "hang":  # accepts the request and never answers
                    time.sleep(30)
                    return
                if fault == "trickle":  # answers a little every 0.2 s, never finishing
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-ndjson")
                    self.end_headers()
                    for _ in range(150):
                        self.wfile.write(json.dumps({"model": body["model"], "message": {"role": "assistant", "content": " "},
                                                     "done": False}).encode() + b"\n")
                        self.wfile.flush()
                        time.sleep(0.2)
                    return
                if fault in ("drip_headers", "drip_body"):  # a byte every 0.2 s, for 60 s: never done
                    return self._drip(fault)
                if fault == "lt_page":  # a 1 MB error page of '<'
                    return self._send(400, "<" * 1_000_000, "text/html")
                if fault == "portal":  # a captive portal's sign-in page, sent with 200
                    return self._send(200, "<!DOCTYPE html>\n<html><head><title>Sign in to Hotel WiFi</title></head>"
                                           "<body><form>Room number</form></body></html>", "text/html")
                if fault == "400":  # one request the server cannot take: that request fails, not the run
                    return self._send(400, {"error": "prompt is too long for the context window"})
                if fault == "401":  # a proxy in front of the server that wants credentials
                    return self._send(401, {"error": "unauthorized"})
                if fault == "gone":  # the model was removed mid-run: every request will fail
                    return self._send(404, {"error": f"model \"{body.get('model')}\" not found, try pulling it first"})
                if fault == "html":  # a proxy's error page, sent with 200
                    return self._send(200, "<html><body>Bad gateway</body></html>", "text/html")
                if fault == "array_line":
                    return self._send(200, [{"done": True}], "application/x-ndjson")
                if fault == "null_message":
                    return self._send(200, {"model": body.get("model"), "message": None, "done": True})
                if fault == "503":
                    return self._send(503, {"error": "server busy, please try again. maximum pending requests exceeded"})
                if fault == "drop":
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                if not self._known(body.get("model", "")):
                    return self._send(404, {"error": f"model \"{body.get('model')}\" not found, try pulling it first"})
                content = server.reply_for(body, fault)
                done_reason = "stop"
                if fault == "length":
                    content, done_reason = content[: len(content) // 2], "length"
                thoughts, content, done_reason = server.think(body, content, done_reason)
                with server._lock:
                    prompt_tokens = server.slipping.prompt_tokens(body)
                    server.tokens_reported += prompt_tokens + max(1, len(thoughts) + len(content) // 4)  # as counted below
                if self.path == "/v1/chat/completions":
                    message = {"role": "assistant", "content": content}
                    if thoughts:
                        message["reasoning_content"] = "".join(thoughts)
                    return self._send(200, {"id": "x", "object": "chat.completion", "model": body["model"],
                                            "choices": [{"index": 0, "message": message, "finish_reason": done_reason}],
                                            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": max(1, len(thoughts) + len(content) // 4)}})
                key = "response" if self.path == "/api/generate" else "message"
                wrap = (lambda t: t) if key == "response" else (lambda t: {"role": "assistant", "content": t})
                final = {"model": body["model"], "created_at": "2026-11-25T00:00:00Z", key: wrap(""), "done": True,
                         "done_reason": done_reason, "total_duration": 1_000_000, "load_duration": 1000,
                         "prompt_eval_count": prompt_tokens, "prompt_eval_duration": 1000, "eval_count": max(1, len(thoughts) + len(content) // 4),
                         "eval_duration": 1_000_000}
                if body.get("stream", True) is False:
                    final[key] = wrap(content)
                    return self._send(200, final)
                # streaming NDJSON: a few content chunks, then the final object with the stats
                chunks = [content[i:i + 40] for i in range(0, len(content), 40)] or [""]
                lines = [json.dumps({"model": body["model"], "message": {"role": "assistant", "content": "", "thinking": t},
                                     "done": False}) + "\n" for t in thoughts]  # one reasoning token a line, as Ollama
                lines += [json.dumps({"model": body["model"], key: wrap(c), "done": False}) + "\n" for c in chunks]
                lines.append(json.dumps(final) + "\n")
                data = "".join(lines).encode()
                if fault == "truncate":  # the connection dies mid-stream
                    data = data[: len(data) // 2]
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Content-Length", str(len("".join(lines).encode())))
                self.end_headers()
                self.wfile.write(data)
                if fault == "truncate":
                    self.close_connection = True
                    self.connection.shutdown(2)

            def _drip(self, fault: str) -> None:
                """Headers, or a JSON body, a byte at a time: each read gets a byte well within any read timeout."""
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n"
                if fault == "drip_body":
                    self.wfile.write(head + b"\r\n")
                    head = b'{"choices": [{"message": {"content": "' + b"x" * 300
                else:
                    head += b"X-Slow: " + b"a" * 300
                for byte in head[:300]:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)
                self.close_connection = True

            def _hostile_reply(self, fault: str) -> bool:
                """Servers that throttle or answer in odd shapes (issue 24). True when the reply was sent.
                "429:S" / "503:S": Retry-After S seconds; "429date:S": as an HTTP date S seconds ahead;
                "raw:TEXT": a 200 whose body is TEXT exactly (latin-1, so a test can send any byte);
                "echo_key": a 400 that quotes the Authorization header back; "refusal": an OpenAI refusal."""
                kind, _, arg = fault.partition(":")
                if kind in ("429", "503", "429date") and arg:
                    wait = arg if kind != "429date" else email.utils.formatdate(time.time() + float(arg), usegmt=True)
                    data = json.dumps({"error": "rate limited, slow down"}).encode()
                    self.send_response(int(kind[:3]))
                    self.send_header("Retry-After", wait)
                elif kind == "raw":
                    data = arg.encode("latin-1")
                    self.send_response(200)
                elif kind == "echo_key":
                    data = json.dumps({"error": {"message": f"bad request from {self.headers.get('Authorization')}"}}).encode()
                    self.send_response(400)
                elif kind == "refusal":
                    message = {"role": "assistant", "content": None, "refusal": "I can't help with that request."}
                    data = json.dumps({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                                       "usage": {"prompt_tokens": 5, "completion_tokens": 7}}).encode()
                    self.send_response(200)
                else:
                    return False
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return True

        return Handler


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=11434)
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every model request")
    p.add_argument("--parallel", type=int, default=1000, help="model requests served at once (OLLAMA_NUM_PARALLEL)")
    p.add_argument("--slips", type=float, default=0.0, help="share of samples with one step's result off (a slipping model)")
    p.add_argument("--fixes", type=float, default=1.0, help="chance a slipping model fixes the step when told the exact error")
    p.add_argument("--breaks", type=float, default=0.0, help="chance its fix breaks another step")
    p.add_argument("--collapsing", action="store_true", help="the same brief, names and numbers aside, gets the same problem")
    p.add_argument("--replay", metavar="ANSWERS", help="replay real judges' re-solves, e.g. ../shared/data/judges/answers.jsonl")
    args = p.parse_args()
    server = FakeOllama(port=args.port)
    server.slipping.share, server.slipping.fixes, server.slipping.breaks = args.slips, args.fixes, args.breaks
    server.collapsing = args.collapsing
    if args.replay:
        server.load_replay(args.replay)
    server.faults.latency = args.latency
    server.faults.parallel = threading.BoundedSemaphore(args.parallel)
    print(f"fake Ollama on {server.url}", flush=True)
    server.httpd.serve_forever()
