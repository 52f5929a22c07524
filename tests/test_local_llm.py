"""local_llm.py against real servers on 127.0.0.1 (and the real embedded model)."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, need_embedded
from dataforge import UserError
from dataforge.schema import generation_schema
from fake_ollama import FakeOllama
from local_llm import ModelCallFailed, OllamaHTTP, Options, get_backend


@pytest.fixture
def env(monkeypatch, ollama):
    monkeypatch.setenv("OLLAMA_HOST", ollama.url.removeprefix("http://"))  # host:port without scheme, as Ollama allows
    monkeypatch.setenv("DATAFORGE_RETRIES", "3")
    return monkeypatch


def test_model_specs_pick_backends():
    assert get_backend("llama2").scheme == get_backend("ollama://llama2").scheme == "ollama"
    assert get_backend("ollama-cli://llama2").scheme == "ollama-cli"
    assert get_backend("openai://gpt-4o-mini").scheme == "openai"
    assert get_backend("llamacpp:///models/x.gguf").path.name == "x.gguf"
    with pytest.raises(UserError, match="unknown model spec"):
        get_backend("bogus://x")


def test_ollama_chat_sends_schema_options_and_reports_stats(env, ollama):
    schema = generation_schema()
    reply = get_backend("llama2").complete([{"role": "user", "content": "hi"}], schema=schema,
                                           options=Options(temperature=0.3, top_p=0.9, seed=7, max_tokens=256,
                                                           num_ctx=4096, keep_alive="10m"))
    body = ollama.model_requests()[-1]["body"]
    assert ollama.model_requests()[-1]["path"] == "/api/chat"
    assert body["format"] == schema  # the schema object, not just "json"
    assert body["options"] == {"temperature": 0.3, "top_p": 0.9, "seed": 7, "num_predict": 256, "num_ctx": 4096}
    assert body["keep_alive"] == "10m" and body["stream"] is True
    assert json.loads(reply.text)["question"]  # reassembled from the NDJSON stream
    assert (reply.finish, reply.prompt_tokens) == ("stop", 50) and reply.completion_tokens > 0


def test_length_stop_is_reported_as_truncated(env, ollama):
    ollama.faults.queue = ["length"]
    reply = get_backend("llama2").complete([{"role": "user", "content": "x"}], schema=generation_schema())
    assert reply.truncated


@pytest.mark.parametrize("fault", ["500", "503", "drop", "truncate"])
def test_server_faults_are_retried(env, ollama, fault):
    ollama.faults.queue = [fault, fault]
    reply = get_backend("llama2").complete([{"role": "user", "content": "x"}], schema=generation_schema())
    assert json.loads(reply.text)["reasoning"]
    assert len(ollama.model_requests()) == 3


def test_retries_give_up_with_a_recorded_failure(env, ollama):
    env.setenv("DATAFORGE_RETRIES", "1")
    ollama.faults.queue = ["500"] * 5
    with pytest.raises(ModelCallFailed, match="500"):
        get_backend("llama2").complete([{"role": "user", "content": "x"}])
    assert len(ollama.model_requests()) == 2


def test_model_not_pulled_is_not_retried_and_says_what_to_run(env, ollama):
    with pytest.raises(UserError, match=r"model 'nope' is not pulled .* run `ollama pull nope`"):
        get_backend("nope").check()
    with pytest.raises(UserError, match="ollama pull nope"):
        get_backend("nope").complete([{"role": "user", "content": "x"}])
    assert len(ollama.model_requests()) == 1


def test_ollama_down_says_how_to_start_it(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    with pytest.raises(UserError, match=r"Ollama is not running at http://127.0.0.1:9 — start it with `ollama serve`"):
        get_backend("llama2").check()


def test_requests_spread_over_several_hosts(monkeypatch):
    a, b = FakeOllama().start(), FakeOllama().start()
    try:
        monkeypatch.setenv("OLLAMA_HOST", f"{a.url},{b.url.removeprefix('http://')}")
        backend = OllamaHTTP("llama2")
        for _ in range(6):
            backend.complete([{"role": "user", "content": "x"}])
        assert len(a.model_requests()) == 3 and len(b.model_requests()) == 3
    finally:
        a.stop()
        b.stop()


def test_openai_compatible_sends_key_and_schema_but_never_logs_the_key(monkeypatch, capfd):
    server = FakeOllama(api_key="sk-test-secret").start()
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
        monkeypatch.setenv("DATAFORGE_DEBUG_HTTP", "1")
        backend = get_backend("openai://llama2")
        backend.check()
        reply = backend.complete([{"role": "user", "content": "x"}], schema=generation_schema(), options=Options(seed=3))
        req = server.model_requests()[-1]
        assert req["headers"]["Authorization"] == "Bearer sk-test-secret"
        assert req["body"]["response_format"]["json_schema"]["schema"] == generation_schema()
        assert req["body"]["seed"] == 3 and json.loads(reply.text)["answer"]
        assert "sk-test-secret" not in capfd.readouterr().err
        monkeypatch.setenv("OPENAI_API_KEY", "wrong")
        with pytest.raises(UserError, match="refused the API key"):
            get_backend("openai://llama2").check()
    finally:
        server.stop()


def test_ollama_cli_strips_spinner_and_names_missing_flags(monkeypatch, ollama):
    monkeypatch.setenv("OLLAMA_BIN", str(ROOT / "tests" / "bin" / "ollama"))
    monkeypatch.setenv("OLLAMA_HOST", ollama.url)
    backend = get_backend("ollama-cli://llama2")
    backend.check()
    reply = backend.complete([{"role": "user", "content": "Write a problem."}], schema=generation_schema())
    assert json.loads(reply.text)["question"]  # no spinner or escape codes left
    assert ollama.model_requests()[-1]["body"]["format"] == "json"
    assert backend.unsupported_options(Options(temperature=0.5, top_p=0.9)) == ["--temperature", "--top-p"]
    with pytest.raises(UserError, match="ollama pull nope"):
        get_backend("ollama-cli://nope").complete([{"role": "user", "content": "x"}])


def test_embedded_model_answers_in_schema():
    need_embedded()
    backend = get_backend("embedded")
    backend.check()
    reply = backend.complete([{"role": "user", "content": "Give a number."}],
                             schema={"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]},
                             options=Options(temperature=0, seed=1, max_tokens=30))
    assert isinstance(json.loads(reply.text)["answer"], int)  # the grammar enforces the schema
    assert reply.completion_tokens > 0


def test_command_line_check_of_a_backend(ollama):
    out = subprocess.run([sys.executable, str(ROOT / "local_llm.py"), "llama2", "hello"], capture_output=True, text=True,
                         env={**os.environ, "OLLAMA_HOST": ollama.url}, timeout=60)
    assert out.returncode == 0 and "Hello from the fake Ollama" in out.stdout
