"""local_llm.py against real servers on 127.0.0.1 (and the real embedded model)."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT, need_embedded, read_lines
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
                                                           num_ctx=4096))
    body = ollama.model_requests()[-1]["body"]
    assert ollama.model_requests()[-1]["path"] == "/api/chat"
    assert body["format"] == schema  # the schema object, not just "json"
    assert body["options"] == {"temperature": 0.3, "top_p": 0.9, "seed": 7, "num_predict": 256, "num_ctx": 4096}
    assert body["stream"] is True
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


def test_two_embedded_backends_in_threads_take_turns_with_the_one_model():
    need_embedded()
    order = []  # which request wrote each token, in the order the model wrote them

    def ask(name):
        get_backend("embedded").complete([{"role": "user", "content": "Count from one to twenty."}],
                                         options=Options(temperature=0, seed=1, max_tokens=12,
                                                         on_tokens=lambda _part, _n: order.append(name)))

    threads = [threading.Thread(target=ask, args=(name,)) for name in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(order) == ["a"] * 12 + ["b"] * 12
    assert sum(x != y for x, y in zip(order, order[1:])) == 1  # all of one request's tokens, then the other's


def test_command_line_check_of_a_backend(ollama):
    out = subprocess.run([sys.executable, str(ROOT / "local_llm.py"), "llama2", "hello"], capture_output=True, text=True,
                         env={**os.environ, "OLLAMA_HOST": ollama.url}, timeout=60)
    assert out.returncode == 0 and "Hello from the fake Ollama" in out.stdout


# ---------------------------------------------------------------- hostile servers (issue 24)

@pytest.fixture
def openai_env(monkeypatch, ollama):
    monkeypatch.setenv("OPENAI_BASE_URL", ollama.url + "/v1")
    monkeypatch.setenv("DATAFORGE_RETRIES", "3")
    return monkeypatch


def gaps(server) -> list[float]:
    at = [r["at"] for r in server.model_requests()]
    return [b - a for a, b in zip(at, at[1:])]


@pytest.mark.parametrize("spec", ["llama2", "openai://llama2"])
def test_429_is_retried_after_the_wait_the_server_asks_for(env, openai_env, ollama, spec):
    ollama.faults.queue = ["429:1", "503:1", "429date:3"]  # seconds, seconds, an HTTP date
    reply = get_backend(spec).complete([{"role": "user", "content": "x"}], schema=generation_schema())
    assert json.loads(reply.text)["question"]
    assert len(ollama.model_requests()) == 4
    waits = gaps(ollama)  # what the server asked, not the 0.5/1/2 s backoff (lower bounds: a sleep is at least that)
    assert waits[0] >= 0.95 and waits[1] >= 0.95 and waits[2] >= 1.5


@pytest.mark.parametrize("spec", ["llama2", "openai://llama2"])
def test_a_status_means_the_same_from_every_http_server(env, openai_env, ollama, spec):
    def ask():
        return get_backend(spec).complete([{"role": "user", "content": "x"}])
    ollama.faults.queue = ["400"]
    with pytest.raises(ModelCallFailed, match=r"refused the request \(400\)") as failed:
        ask()
    assert failed.value.kind == "refused"  # this request's failure, recorded with its sample
    ollama.faults.queue = ["gone"]
    with pytest.raises(UserError, match="model 'llama2'"):
        ask()
    ollama.faults.queue = ["401"]
    with pytest.raises(UserError, match=r"refused .*\(401: unauthorized\)"):
        ask()
    assert len(ollama.model_requests()) == 3  # none retried: the next try would be refused the same way


def test_a_retry_after_longer_than_the_deadline_waits_the_deadline_only(env, ollama):
    env.setenv("OLLAMA_TIMEOUT", "1")
    ollama.faults.queue = ["429:3600"]
    result = {}
    worker = threading.Thread(target=lambda: result.update(r=get_backend("llama2").complete([{"role": "user", "content": "x"}])),
                              daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive() and result["r"].text  # not an hour


@pytest.mark.parametrize("line", [
    '{"message": {"role": "assistant", "content": 123}, "done": true}\n',
    '{"message": [1, 2], "done": false}\n',
    '{"message": {"content": "\xff\xfe"}, "done": false}\n',  # bytes that are not UTF-8
    '{"message": {"content": "x"}, "done": true, "eval_count": [20]}\n',
    '{"message": {"thinking": {"a": 1}}, "done": true}\n',
])
def test_ollama_stream_lines_of_the_wrong_shape_are_a_retried_error_never_a_traceback(env, ollama, line):
    ollama.faults.queue = ["raw:" + line]
    reply = get_backend("llama2").complete([{"role": "user", "content": "x"}], schema=generation_schema())
    assert json.loads(reply.text)["question"] and len(ollama.model_requests()) == 2


def test_ollama_counts_sent_as_strings_are_read_as_numbers(env, ollama):
    ollama.faults.queue = ['raw:{"message": {"content": "hi"}, "done": true, "eval_count": "20", "prompt_eval_count": "7"}\n']
    reply = get_backend("llama2").complete([{"role": "user", "content": "x"}])
    assert (reply.text, reply.completion_tokens, reply.prompt_tokens) == ("hi", 20, 7)


@pytest.mark.parametrize("body", [
    '[{"choices": []}]', '{"message": "hello"}', '{"choices": [null]}', '{"choices": ["x"]}', '{"choices": [{"message": "hello"}]}',
    '{"choices": [{"message": {"content": 5}}]}', '{"choices": [{"message": {"content": "x"}}], "usage": [1]}',
])
def test_openai_bodies_of_the_wrong_shape_are_a_retried_error_never_a_traceback(openai_env, ollama, body):
    ollama.faults.queue = ["raw:" + body]
    reply = get_backend("openai://llama2").complete([{"role": "user", "content": "x"}], schema=generation_schema())
    assert json.loads(reply.text)["question"] and len(ollama.model_requests()) == 2


def test_openai_content_as_parts_and_counts_as_strings_are_read(openai_env, ollama):
    ollama.faults.queue = ['raw:{"choices": [{"message": {"content": [{"type": "text", "text": "Hel"}, {"type": "text", '
                           '"text": "lo"}]}, "finish_reason": "stop"}], "usage": {"prompt_tokens": "9", "completion_tokens": "4"}}']
    reply = get_backend("openai://llama2").complete([{"role": "user", "content": "x"}])
    assert (reply.text, reply.prompt_tokens, reply.completion_tokens) == ("Hello", 9, 4)


def test_an_openai_refusal_is_recorded_as_the_refusal(run, tmp_path, ollama):
    ollama.faults.queue = ["refusal"] * 3
    run("generate.py", "--model", "openai://llama2", "--domains", "Ops", "--samples-per-domain", "1",
        env={"OPENAI_BASE_URL": ollama.url + "/v1"}, check_rc=0)
    failed = read_lines(next((tmp_path / "runs").glob("run_*/Ops data samples/failed_ops.jsonl")))
    assert [a["error"] for a in failed[0]["attempt_errors"]] == ["request failed: the model refused: I can't help with that request."] * 3
    assert [a["kind"] for a in failed[0]["attempt_errors"]] == ["refusal"] * 3 and failed[0]["attempts"] == 3


def test_an_api_key_the_server_quotes_back_is_never_stored_or_printed(run, tmp_path):
    server = FakeOllama(api_key="sk-quoted-secret").start()
    try:
        server.faults.queue = ["echo_key"] * 100
        env = {"OPENAI_BASE_URL": server.url + "/v1", "OPENAI_API_KEY": "sk-quoted-secret"}
        gen = run("generate.py", "--model", "openai://llama2", "--domains", "Ops", "--samples-per-domain", "1", env=env,
                  check_rc=0)
        folder = next((tmp_path / "runs").glob("run_*/Ops data samples"))
        (tmp_path / "in.jsonl").write_text(json.dumps({"question": "A team hires 2 people at $5 each. What is the cost?",
                                                       "reasoning": ["2 * 5 = 10"], "answer": "$10", "difficulty": "easy",
                                                       "domain": "Ops", "num_steps": 1}) + "\n")
        server.faults.queue = ["echo_key"] * 2  # fewer than a juror's stop after 3 failed in a row (score.Juror)
        score = run("score.py", "--input", str(tmp_path / "in.jsonl"), "--judge-model", "openai://llama2", env=env, check_rc=0)
    finally:
        server.stop()
    stored = (folder / "failed_ops.jsonl").read_text() + (tmp_path / "in.scored.jsonl").read_text()
    assert "bad request from Bearer ***" in stored
    assert "sk-quoted-secret" not in stored + gen.stderr + score.stderr


@pytest.mark.parametrize("name, value", [("OLLAMA_TIMEOUT", "5m"), ("OLLAMA_TIMEOUT", "-1"), ("DATAFORGE_RETRIES", "x"),
                                         ("DATAFORGE_RETRIES", "-2")])
def test_a_bad_setting_in_the_environment_is_named_with_its_range(run, tmp_path, name, value):
    proc = run("generate.py", "--domains", "Ops", "--samples-per-domain", "1", env={name: value}, check_rc=2)
    assert f"{name}={value}" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_a_gguf_path_is_recorded_as_one_spec_however_it_is_written(tmp_path):
    """The spec is what records keep as `model` and what score.py's cache is keyed on: `./m.gguf` and `m.gguf` are one."""
    assert get_backend("llamacpp://./m.gguf").spec == get_backend("llamacpp://m.gguf").spec == "llamacpp://m.gguf"



# ---------------------------------------------------------------- a hostile world, round three (issue 32)

def ask_in_thread(backend, seconds: float, **kwargs) -> dict:
    """complete() in a thread, given `seconds` to end: {"error"/"reply": ..., "seconds": how long it took}."""
    result = {}

    def ask():
        started = time.monotonic()
        try:
            result["reply"] = backend.complete([{"role": "user", "content": "x"}], **kwargs)
        except Exception as e:  # noqa: BLE001 - the test looks at what it was
            result["error"] = e
        result["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=ask, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still waiting after {seconds} s"
    return result


@pytest.mark.parametrize("spec", ["llama2", "openai://llama2"])
@pytest.mark.parametrize("fault", ["drip_headers", "drip_body", "trickle"])
def test_OLLAMA_TIMEOUT_bounds_the_whole_request_of_a_server_that_trickles(env, openai_env, ollama, spec, fault):
    env.setenv("OLLAMA_TIMEOUT", "2")
    env.setenv("DATAFORGE_RETRIES", "0")
    ollama.faults.queue = [fault]  # a byte every 0.2 s: each read is quick, the reply never ends
    result = ask_in_thread(get_backend(spec), 15, schema=generation_schema())
    assert isinstance(result["error"], ModelCallFailed) and result["error"].kind == "timeout", result
    assert "within 2 s (OLLAMA_TIMEOUT)" in str(result["error"]) and result["seconds"] < 5


@pytest.mark.parametrize("spec", ["llama2", "openai://llama2"])
def test_a_megabyte_error_page_of_angle_brackets_is_read_at_once(env, openai_env, ollama, spec):
    ollama.faults.queue = ["lt_page"]
    result = ask_in_thread(get_backend(spec), 15)
    assert isinstance(result["error"], ModelCallFailed) and result["error"].kind == "refused" and result["seconds"] < 3


def test_OLLAMA_HOST_with_a_path_keeps_its_path(monkeypatch, ollama):
    ollama.prefix = "/ollama"  # behind a reverse proxy
    monkeypatch.setenv("OLLAMA_HOST", ollama.url + "/ollama/")
    backend = get_backend("llama2")
    backend.check()
    assert backend.complete([{"role": "user", "content": "x"}]).text
    assert [r["path"] for r in ollama.requests] == ["/api/tags", "/api/show", "/api/chat"]  # as the server saw them


def test_a_dead_proxy_does_not_capture_loopback_and_is_named_for_other_hosts(monkeypatch, ollama):
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("OLLAMA_HOST", ollama.url)
    monkeypatch.setenv("OPENAI_BASE_URL", ollama.url + "/v1")
    for spec in ("llama2", "openai://llama2"):
        backend = get_backend(spec)
        backend.check()
        assert backend.complete([{"role": "user", "content": "x"}]).text
    monkeypatch.setenv("OLLAMA_HOST", "http://gpu-box.invalid:11434")  # elsewhere: asked through the proxy
    with pytest.raises(UserError) as stopped:
        get_backend("llama2").check()
    assert "the proxy in HTTP_PROXY/HTTPS_PROXY failed" in str(stopped.value) and "NO_PROXY" in str(stopped.value)
    assert "not running" not in str(stopped.value)


def test_a_captive_portal_page_is_named_and_stops_the_stage(run, tmp_path, ollama):
    ollama.faults.queue = ["portal"] * 20
    proc = run("generate.py", "--domains", "Ops", "--samples-per-domain", "2", "--concurrency", "1", check_rc=2)
    assert 'answered 200 with an HTML page ("Sign in to Hotel WiFi"), not the model\'s reply' in proc.stderr
    assert "captive portal" in proc.stderr and "larger model" not in proc.stderr and "unreadable" not in proc.stderr
    assert len(ollama.model_requests()) <= 4  # 3 tries in a row, and the next sample's, already sent


def test_the_same_5xx_three_times_in_a_row_stops_the_stage_with_the_servers_reason(run, tmp_path, ollama):
    ollama.faults.queue = ["500"] * 50
    proc = run("generate.py", "--domains", "Ops", "--samples-per-domain", "4", "--concurrency", "1", check_rc=2)
    assert "answered 500: llama runner process has terminated: exit status 2" in proc.stderr
    assert "the same on 3 requests in a row" in proc.stderr and "the server's log says why" in proc.stderr
    assert len(ollama.model_requests()) <= 4 and "Traceback" not in proc.stderr  # not 4 samples x 3 tries


def test_server_failing_is_the_exception_a_stage_stops_on(env, ollama):
    from local_llm import ServerFailing

    ollama.faults.queue = ["500"] * 3
    with pytest.raises(ServerFailing, match="3 requests in a row") as stopped:
        get_backend("llama2").complete([{"role": "user", "content": "x"}])
    assert isinstance(stopped.value, UserError)
    ollama.faults.queue = ["503"] * 3  # busy: worth waiting for, whatever it says
    assert get_backend("llama2").complete([{"role": "user", "content": "x"}]).text


def test_a_password_in_a_url_is_never_stored_or_printed(run, tmp_path, ollama):
    ollama.faults.queue = ["400"] * 10
    url = ollama.url.replace("http://", "http://ann:hunter2-pw@") + "/v1"
    proc = run("generate.py", "--model", "openai://llama2", "--domains", "Ops", "--samples-per-domain", "1",
               env={"OPENAI_BASE_URL": url}, check_rc=0)
    failed = next((tmp_path / "runs").glob("run_*/Ops data samples/failed_ops.jsonl")).read_text()
    assert "ann:***@127.0.0.1" in failed
    assert "hunter2" not in failed + proc.stderr + proc.stdout
    assert ollama.model_requests()[0]["headers"]["Authorization"].startswith("Basic ")  # still sent to the server


def test_an_unclosed_think_tag_keeps_the_models_text(env, ollama):
    ollama.faults.queue = ['raw:{"message": {"content": "<think>{\\"answer\\": 42}"}, "done": true}\n']
    reply = get_backend("llama2").complete([{"role": "user", "content": "x"}])
    assert reply.text == '{"answer": 42}' and reply.reasoning == ""


def test_a_closed_pipe_on_stdout_ends_quietly(ollama):
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head` that has already exited
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffered, as a user's: written at exit
    try:
        proc = subprocess.run([sys.executable, str(ROOT / "local_llm.py"), "llama2", "hello"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, env={**env, "OLLAMA_HOST": ollama.url}, timeout=60)
    finally:
        os.close(write_end)
    assert proc.returncode == 0 and "Exception ignored" not in proc.stderr and "BrokenPipeError" not in proc.stderr


# ---------------------------------------------------------------- structured output on every server (issue 32)

@pytest.mark.parametrize("server, forms", [
    ("TAKES_ALL", ["json_schema"] * 3),  # Ollama's /v1, vLLM, SGLang, llama-server, LiteLLM
    ("LM_STUDIO", ["json_schema"] * 3),
    ("LLAMA_CPP_PYTHON", ["json_schema"] + ["json_object with schema"] * 3),
    ("JSON_MODE_ONLY", ["json_schema", "json_object with schema"] + ["json_object"] * 3),
])
def test_openai_structured_output_takes_the_form_each_server_accepts(run, tmp_path, ollama, server, forms):
    import fake_ollama

    ollama.refuses_forms = getattr(fake_ollama, server)
    proc = run("generate.py", "--model", "openai://llama2", "--domains", "Ops", "--samples-per-domain", "3",
               "--concurrency", "1", env={"OPENAI_BASE_URL": ollama.url + "/v1"}, check_rc=0)
    assert "3 valid, 0 failed" in proc.stderr
    assert [fake_ollama.response_form(r["body"]) for r in ollama.model_requests()] == forms
    for form in set(forms) - {forms[-1]}:  # each refusal is learned once, and said
        assert proc.stderr.count(f"does not take response_format {form} (") == 1
    assert proc.stderr.count("from now on") == len(set(forms)) - 1
    if forms[-1] == "json_object":
        assert "Reply with JSON only, matching this schema" in ollama.model_requests()[-1]["body"]["messages"][-1]["content"]


def test_a_stage_summary_shows_each_kind_of_failure_with_its_first_reason(run, tmp_path, ollama):
    ollama.faults.queue = ["invalid_json", "offschema", "400", "invalid_json"]
    proc = run("generate.py", "--domains", "Ops", "--samples-per-domain", "2", "--max-attempts", "2", "--concurrency", "1",
               env={"DATAFORGE_RETRIES": "0"}, check_rc=0)
    assert "  failed attempts (each, with the reply, in failed_<domain>.jsonl):" in proc.stderr
    assert "    2 invalid JSON; the first: invalid JSON: Unterminated string starting at" in proc.stderr
    assert "    1 request failed; the first: request failed: " in proc.stderr and "refused the request (400)" in proc.stderr

    (tmp_path / "in.jsonl").write_text(json.dumps({"question": "A team hires 2 people at $5 each. What is the cost?",
                                                   "reasoning": ["2 * 5 = 10"], "answer": "$10", "difficulty": "easy",
                                                   "domain": "Ops", "num_steps": 1}) + "\n")
    ollama.faults.queue = ["400"] * 2  # fewer than a juror's stop after 3 failed in a row (score.Juror)
    proc = run("score.py", "--input", str(tmp_path / "in.jsonl"), "--max-attempts", "2", env={"DATAFORGE_RETRIES": "0"},
               check_rc=0)
    assert "  unscored (each with its error in the scored file):" in proc.stderr
    assert "    1 judge: request failed; the first: judge: request failed: " in proc.stderr
