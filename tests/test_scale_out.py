"""Scale-out through an existing router (README, Scaling out): a real LiteLLM proxy from PyPI in front of
two test Ollama servers, and generate.py and score.py through `openai://`; and in front of the real
llama-cpp-python server (tests/test_llama_cpp_server.py)."""

import contextlib
import json
import os
import shutil
import subprocess
import time

import pytest
import requests

from conftest import only_run, read_lines
from fake_ollama import FakeOllama
from test_llama_cpp_server import answered_by_the_model, free_port, llama_cpp_server  # noqa: F401 - a fixture used below

KEY = "sk-dataforge-test-0123456789"  # the proxy's master key: LiteLLM refuses to start without one


@contextlib.contextmanager
def litellm(tmp_path, model_list: str):
    """A LiteLLM proxy serving `model_list` (config.yaml's entries): yields its base URL (…/v1)."""
    binary = shutil.which("litellm")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install requirements-dev.txt: litellm[proxy] is missing")
        pytest.skip("LiteLLM's proxy is not installed (pip install -r requirements-dev.txt)")
    config = tmp_path / "litellm.yaml"
    config.write_text("model_list:\n" + model_list + "router_settings:\n  routing_strategy: simple-shuffle\n")
    port = free_port()
    env = {**os.environ, "LITELLM_MASTER_KEY": KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download at start
           "NO_PROXY": "127.0.0.1,localhost"}
    log = open(tmp_path / "litellm.log", "w")
    proxy = subprocess.Popen([binary, "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
                             cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180  # it imports a great deal: seconds alone, longer on a busy machine
    try:
        while True:
            try:
                if requests.get(f"{url}/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if proxy.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"LiteLLM's proxy did not start:\n{(tmp_path / 'litellm.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proxy.terminate()
        try:
            proxy.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proxy.kill()
        log.close()


@pytest.fixture
def litellm_proxy(tmp_path):
    """(proxy base URL, [two test Ollama servers behind it])."""
    backends = [FakeOllama(seed=i).start() for i in range(2)]
    backends[1].answers = backends[0].answers  # one model on two hosts: either re-solves what the other wrote
    try:
        with litellm(tmp_path, "".join(f"  - model_name: llama2\n    litellm_params: {{model: ollama_chat/llama2, "
                                       f"api_base: \"{b.url}\"}}\n" for b in backends)) as url:
            yield url, backends
    finally:
        for b in backends:
            b.stop()


def test_generate_and_score_through_a_litellm_proxy_over_two_ollama_hosts(run, tmp_path, litellm_proxy):
    url, backends = litellm_proxy
    env = {"OPENAI_BASE_URL": url, "OPENAI_API_KEY": KEY}
    proc = run("generate.py", "--model", "openai://llama2", "--domains", "Retail", "--samples-per-domain", "8",
               "--concurrency", "4", env=env, check_rc=0)
    assert "8 valid, 0 failed" in proc.stderr
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    proc = run("score.py", "--input", "latest", "--concurrency", "4", env=env, check_rc=0)
    folder = only_run(tmp_path) / "Retail data samples"
    final = read_lines(folder / "final_retail.jsonl")
    assert len(final) == 8 and all(s["judge_model"] == "openai://llama2" for s in final)
    # the judge's own solution was checked against what the generation wrote, whichever host wrote it
    assert all(s["resolve_agrees"] is True for s in final), proc.stderr
    served = [len(b.model_requests()) for b in backends]
    assert all(n > 0 for n in served) and sum(served) == 24, served  # 8 samples, 8 judge and 8 re-solve requests
    assert all(r["path"] == "/api/chat" and r["body"]["model"] == "llama2" for b in backends for r in b.model_requests())


def test_generate_through_litellm_in_front_of_the_real_llama_cpp_python_server(run, tmp_path, llama_cpp_server):
    """LiteLLM passes response_format on, and llama-cpp-python's refusal of json_schema back (a 500 in LiteLLM's words
    that still names response_format): DataForge learns json_object with a schema through the proxy too."""
    entry = f"  - model_name: smol\n    litellm_params: {{model: openai/smol, api_base: \"{llama_cpp_server}\", api_key: none}}\n"
    with litellm(tmp_path, entry) as url:
        proc = run("generate.py", "--model", "openai://smol", "--domains", "Coffee shop", "--samples-per-domain", "2",
                   "--max-attempts", "2", "--seed", "1", "--repairs", "0", "--concurrency", "1",
                   env={"OPENAI_BASE_URL": url, "OPENAI_API_KEY": KEY}, timeout=1200, check_rc=0)
    assert "sending json_object with schema from now on" in proc.stderr, proc.stderr
    samples, failed = answered_by_the_model(only_run(tmp_path) / "Coffee shop data samples")
    assert len(samples) + len(failed) == 2 and samples, proc.stderr
    assert json.loads((only_run(tmp_path) / "run.json").read_text())["stages"]["generate"]["totals"]["completion_tokens"] > 0
