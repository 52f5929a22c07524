"""generate.py's throughput against the test Ollama server with a fixed 200 ms latency.

    python bench/bench_concurrency.py

1. --concurrency 1 vs 8 against one host (target speedup >= 6.5x).
2. one host vs two hosts (OLLAMA_HOST=a,b), each serving 4 requests at once like
   OLLAMA_NUM_PARALLEL=4, at --concurrency 8.
"""

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fake_ollama import FakeOllama  # noqa: E402

SAMPLES = 96  # enough that process start-up (~0.5 s) does not dominate


def server(latency: float, parallel: int) -> FakeOllama:
    s = FakeOllama().start()
    s.faults.latency = latency
    s.faults.parallel = threading.BoundedSemaphore(parallel)
    return s


def timed_generate(hosts: str, concurrency: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "generate.py"), "--domains", "Retail", "--samples-per-domain",
                        str(SAMPLES), "--concurrency", str(concurrency), "--runs-dir", tmp],
                       env={**os.environ, "OLLAMA_HOST": hosts}, check=True, capture_output=True)
        return time.perf_counter() - started


def main() -> None:
    a = server(0.2, parallel=1000)
    t1, t8 = timed_generate(a.url, 1), timed_generate(a.url, 8)
    print(f"{SAMPLES} samples, 200 ms per request, one host: concurrency 1 {t1:.2f}s, concurrency 8 {t8:.2f}s, "
          f"speedup {t1 / t8:.2f}x (ideal 8x, target >= 6.5x)")
    a.stop()
    a, b = server(0.2, parallel=4), server(0.2, parallel=4)
    one, two = timed_generate(a.url, 8), timed_generate(f"{a.url},{b.url}", 8)
    print(f"each host serving 4 at once, concurrency 8: one host {one:.2f}s, two hosts {two:.2f}s, "
          f"speedup {one / two:.2f}x (ideal 2x)")
    a.stop()
    b.stop()


if __name__ == "__main__":
    main()
