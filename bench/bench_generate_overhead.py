"""generate.py on the embedded model vs the same requests made directly with llama-cpp-python.

    python bench/bench_generate_overhead.py

Same prompts, schema, seeds and token cap; prints completion tokens/s of each and the ratio
(target >= 0.9: DataForge's validation, retries and file writing cost little next to the model).
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dataforge.schema import generation_schema  # noqa: E402
from generate import first_prompt, request_options  # noqa: E402  the prompt and seed recipe generate.py sends
from local_llm import embedded_model_path  # noqa: E402

N, MAX_TOKENS, SEED = 6, 300, 1
SETTINGS = {"templates": ["detailed"], "difficulty": "easy", "seed": SEED, "temperature": 0.8, "max_tokens": MAX_TOKENS}
DOMAIN = {"name": "Coffee shop", "notes": ""}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, str(ROOT / "generate.py"), "--model", "embedded", "--domains", DOMAIN["name"],
                        "--samples-per-domain", str(N), "--max-attempts", "1", "--max-tokens", str(MAX_TOKENS),
                        "--seed", str(SEED), "--templates", "detailed", "--difficulty", "easy", "--runs-dir", tmp],
                       check=True, capture_output=True)
        totals = json.loads(next(Path(tmp).glob("run_*/run.json")).read_text())["stages"]["generate"]["totals"]
    ours = totals["completion_tokens"] / totals["seconds"]

    from llama_cpp import Llama

    started = time.perf_counter()
    llm = Llama(model_path=str(embedded_model_path()), n_ctx=2048, n_threads=2, seed=SEED, verbose=False)
    tokens = 0
    for slot in range(N):
        # with --seed a prompt lists only the questions written before this session: in a new run, none
        messages, _, _ = first_prompt(SETTINGS, DOMAIN, slot, recent=[])
        options = request_options(SETTINGS, slot, attempt=0)
        out = llm.create_chat_completion(messages=messages, max_tokens=options.max_tokens, temperature=options.temperature,
                                         seed=options.seed, repeat_penalty=1.15,
                                         response_format={"type": "json_object", "schema": generation_schema(patterns=True)})
        tokens += out["usage"]["completion_tokens"]
    direct = tokens / (time.perf_counter() - started)
    print(f"generate.py: {totals['completion_tokens']} tokens in {totals['seconds']:.1f}s = {ours:.1f} tokens/s")
    print(f"direct llama-cpp: {tokens} tokens = {direct:.1f} tokens/s")
    print(f"ratio {ours / direct:.2f} (target >= 0.9)")


if __name__ == "__main__":
    main()
