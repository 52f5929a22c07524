"""score.py run as users run it, against the test Ollama server and the embedded model."""

import json

from conftest import need_embedded, only_run, read_lines
from dataforge.prompts import JUDGE_SCHEMA, RESOLVE_DISAGREE_CAP, RESOLVE_SCHEMA


def make_filtered_run(run, tmp_path, n=4):
    run("generate.py", "--domains", "Jobs at startup", "--domain-notes", "budget, headcount, runway",
        "--samples-per-domain", str(n), check_rc=0)
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    folder = only_run(tmp_path) / "Jobs at startup data samples"
    return folder, len(read_lines(folder / "filtered_jobs_at_startup.jsonl"))


def test_readme_command_scores_with_the_generation_model(run, tmp_path, ollama):
    folder, n = make_filtered_run(run, tmp_path)
    assert n == 4
    before = len(ollama.model_requests())
    proc = run("score.py", "--input", "latest", "--threshold", "6.0", check_rc=0)
    judge_requests = ollama.model_requests()[before:]
    assert {r["body"]["model"] for r in judge_requests} == {"llama2"}
    assert sum(r["body"]["format"] == JUDGE_SCHEMA for r in judge_requests) == 4
    assert sum(r["body"]["format"] == RESOLVE_SCHEMA for r in judge_requests) == 4
    assert "separate judge" in proc.stderr
    final = read_lines(folder / "final_jobs_at_startup.jsonl")
    assert len(final) == 4
    for s in final:
        assert s["score"] >= 6.0 and s["resolve_agrees"] is True and s["judge_model"] == "ollama://llama2"
        assert set(s["scores"]) == {"correctness", "clarity", "domain_relevance", "difficulty_match", "reasoning_quality"}
        assert s["rationale"]
    assert len(read_lines(folder / "scored_jobs_at_startup.jsonl")) == 4
    manifest = json.loads((only_run(tmp_path) / "run.json").read_text())["stages"]["score"]
    assert manifest["resolve_agreement"] == 1.0 and manifest["histogram"]["8"] == 4


def test_file_input_with_a_separate_judge_and_cache(run, tmp_path, ollama):
    folder, n = make_filtered_run(run, tmp_path, n=3)
    before = len(ollama.model_requests())
    args = ["--input", str(folder / "filtered_jobs_at_startup.jsonl"), "--output", "final.jsonl", "--judge-model", "ollama://mistral"]
    run("score.py", *args, check_rc=0)
    assert {r["body"]["model"] for r in ollama.model_requests()[before:]} == {"mistral"}
    assert len(read_lines(tmp_path / "final.jsonl")) == n
    before = len(ollama.model_requests())
    proc = run("score.py", *args, check_rc=0)
    assert len(ollama.model_requests()) == before  # already scored by this judge and rubric: not sent again
    assert len(read_lines(tmp_path / "final.jsonl")) == n and "cached" in proc.stderr


def test_unscorable_sample_is_written_as_unscored_not_dropped(run, tmp_path, ollama):
    folder, n = make_filtered_run(run, tmp_path, n=1)
    ollama.faults.queue = ["invalid_json", "offschema", "length"]
    proc = run("score.py", "--input", "latest", check_rc=0)
    scored = read_lines(folder / "scored_jobs_at_startup.jsonl")
    assert scored[0]["unscored"] is True and "judge:" in scored[0]["score_error"]
    assert read_lines(folder / "final_jobs_at_startup.jsonl") == []
    assert "unscored" in proc.stderr
    run("score.py", "--input", "latest", check_rc=0)  # a re-run tries the unscored sample again
    assert len(read_lines(folder / "final_jobs_at_startup.jsonl")) == 1


def test_votes_and_disagreement_cap(run, tmp_path, ollama):
    folder, n = make_filtered_run(run, tmp_path, n=1)
    ollama.answers.clear()  # the judge now "solves" 42: disagreement
    before = len(ollama.model_requests())
    run("score.py", "--input", "latest", "--votes", "3", check_rc=0)
    resolves = [r for r in ollama.model_requests()[before:] if r["body"]["format"] == RESOLVE_SCHEMA]
    assert len(resolves) == 3
    scored = read_lines(folder / "scored_jobs_at_startup.jsonl")[0]
    assert scored["resolve_agrees"] is False and scored["score"] <= RESOLVE_DISAGREE_CAP
    assert read_lines(folder / "final_jobs_at_startup.jsonl") == []


def test_embedded_model_scores_a_handful(run, tmp_path):
    need_embedded()
    src = tmp_path / "filtered.jsonl"
    sample = {"question": "A cafe sells 12 muffins at $3 each. How much money does it make?", "reasoning": ["12 * 3 = 36"],
              "answer": "$36", "difficulty": "easy", "domain": "Coffee shop", "num_steps": 1}
    src.write_text("".join(json.dumps({**sample, "id": f"c{i}"}) + "\n" for i in range(3)))
    proc = run("score.py", "--input", str(src), "--judge-model", "embedded", "--max-attempts", "2", timeout=600)
    assert proc.returncode == 0, proc.stderr
    scored = read_lines(tmp_path / "filtered.scored.jsonl")
    assert len(scored) == 3
    assert all("score" in s or s.get("unscored") for s in scored)
    assert all(s["judge_model"] == "embedded" for s in scored)
