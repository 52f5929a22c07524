"""score.py run as users run it, against the test Ollama server and the embedded model."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, ctrl_c_after, need_embedded, only_run, read_lines
from fake_ollama import FakeOllama
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


def test_votes_stop_once_the_majority_is_decided_and_the_saved_requests_are_counted(run, tmp_path, ollama):
    folder, n = make_filtered_run(run, tmp_path, n=1)
    ollama.answers.clear()  # the judge now "solves" 42: disagreement
    before = len(ollama.model_requests())
    proc = run("score.py", "--input", "latest", "--votes", "3", check_rc=0)
    resolves = [r for r in ollama.model_requests()[before:] if r["body"]["format"] == RESOLVE_SCHEMA]
    assert len(resolves) == 2  # two of three disagree: the third cannot change the vote, so it is not asked
    assert all(r["body"]["options"]["temperature"] > 0 for r in resolves)
    scored = read_lines(folder / "scored_jobs_at_startup.jsonl")[0]
    assert scored["resolve_agrees"] is False and scored["score"] <= RESOLVE_DISAGREE_CAP
    assert scored["resolve_saved"] == 1 and scored["jury"][0]["answers"] == [42.0, 42.0]
    assert "1 re-solves saved" in proc.stderr
    assert json.loads((only_run(tmp_path) / "run.json").read_text())["stages"]["score"]["resolve_saved"] == 1
    assert read_lines(folder / "final_jobs_at_startup.jsonl") == []


def test_off_domain_samples_are_flagged_by_the_filter_and_kept_out_of_final_by_the_judge(run, tmp_path, ollama):
    """Every 4th problem ignores the domain; the judge rates those 2/10 on relevance (8/10 elsewhere),
    so their weighted overall is still 7.1, above the threshold: relevance itself must decide."""
    ollama.off_domain_every = 4
    folder, n = make_filtered_run(run, tmp_path, n=8)
    filtered = read_lines(folder / "filtered_jobs_at_startup.jsonl")
    off = {s["id"] for s in filtered if s["question"] in ollama.off_domain}
    assert n == 8 and len(off) == 2  # the filter flags them, it does not decide
    flagged = {s["id"] for s in filtered if any(f["check"] == "domain" for f in s.get("flags", []))}
    assert flagged == off

    proc = run("score.py", "--input", "latest", check_rc=0)
    final = read_lines(folder / "final_jobs_at_startup.jsonl")
    assert {s["id"] for s in final} == {s["id"] for s in filtered} - off
    scored = {s["id"]: s for s in read_lines(folder / "scored_jobs_at_startup.jsonl")}
    assert all(scored[i]["rejected"] == "off_domain" and scored[i]["score"] > 6.0 for i in off)
    assert "off-domain" in proc.stderr  # the summary table counts them
    row = next(line for line in proc.stderr.splitlines() if line.startswith("Jobs at startup"))
    assert row.split()[-6:] == ["2", "0", "0", "0", "0", "6"]  # off-domain, incorrect, disagreed, unresolved, low, kept
    assert "- off_domain: 2" in (folder.parent / "report.md").read_text()

    run("score.py", "--input", "latest", "--min-relevance", "1", "--min-correctness", "10", check_rc=0)  # cached scores
    scored = read_lines(folder / "scored_jobs_at_startup.jsonl")
    assert {s["rejected"] for s in scored} == {"incorrect"}  # the judge gave 9/10: below 10
    assert read_lines(folder / "final_jobs_at_startup.jsonl") == []


def test_embedded_model_scores_a_handful(run, tmp_path):
    need_embedded()
    src = tmp_path / "filtered.jsonl"
    samples = [{"id": f"c{n}", "question": f"A cafe sells {n} muffins at $3 each. How much money does it make?",
                "reasoning": [f"{n} * 3 = {n * 3}"], "answer": f"${n * 3}", "difficulty": "easy", "domain": "Coffee shop",
                "num_steps": 1} for n in (12, 15, 20)]
    src.write_text("".join(json.dumps(s) + "\n" for s in samples))
    proc = run("score.py", "--input", str(src), "--judge-model", "embedded", "--max-attempts", "2", timeout=600)
    assert proc.returncode == 0, proc.stderr
    scored = read_lines(tmp_path / "filtered.scored.jsonl")
    assert len(scored) == 3
    assert all("score" in s and 1 <= min(s["scores"].values()) <= max(s["scores"].values()) <= 10 for s in scored)  # enum: in range
    assert all(s["judge_model"] == "embedded" for s in scored)


def test_kill_9_then_rerun_scores_every_sample_once(run, tmp_path, ollama):
    """SIGKILL score.py at random moments, re-run the same command: every sample scored once, no torn lines."""
    folder, n = make_filtered_run(run, tmp_path, n=12)
    assert n == 12
    env = {**os.environ, "OLLAMA_HOST": ollama.url, "PYTHONUNBUFFERED": "1"}
    ollama.faults.latency = 0.1
    rng = random.Random(11)
    cmd = [sys.executable, str(ROOT / "score.py"), "--input", "latest", "--concurrency", "3"]
    scored_path = folder / "scored_jobs_at_startup.jsonl"
    progress = []
    for _ in range(5):
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        time.sleep(0.8 + rng.random() * 0.6)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        progress.append(len(scored_path.read_bytes().splitlines()) if scored_path.exists() else 0)
    assert any(0 < p < 12 for p in progress), progress  # killed in the middle at least once
    partial = progress[-1]
    before = len(ollama.model_requests())
    subprocess.run(cmd, cwd=tmp_path, env=env, check=True, capture_output=True, timeout=120)
    assert len(ollama.model_requests()) - before <= 2 * (12 - partial) + 2  # finished samples not asked again
    text = scored_path.read_text()
    assert text.endswith("\n")
    ids = [json.loads(line)["id"] for line in text.splitlines()]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert len(read_lines(folder / "final_jobs_at_startup.jsonl")) == 12


def test_ctrl_c_prints_the_summary_exits_130_and_the_rerun_finishes(run, tmp_path, ollama):
    folder, n = make_filtered_run(run, tmp_path, n=8)
    env = {**os.environ, "OLLAMA_HOST": ollama.url, "PYTHONUNBUFFERED": "1"}
    ollama.faults.latency = 0.2
    before = len(ollama.model_requests())
    cmd = [sys.executable, str(ROOT / "score.py"), "--input", "latest"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    err = ctrl_c_after(proc, ollama, requests=before + 5)
    assert proc.returncode == 130
    assert "interrupted" in err and "re-solve agreement" in err  # the summary so far
    done = len(read_lines(folder / "scored_jobs_at_startup.jsonl"))
    assert 1 <= done < n
    proc = run("score.py", "--input", "latest", check_rc=0)
    scored = read_lines(folder / "scored_jobs_at_startup.jsonl")
    assert len({s["id"] for s in scored}) == len(scored) == n
    assert len(read_lines(folder / "final_jobs_at_startup.jsonl")) == n


def test_report_counts_every_token_spent_when_a_sample_is_scored_again(run, tmp_path, ollama):
    """A sample left unscored is scored by the next run. Its scored_ record is replaced, but the tokens
    both runs spent on it still count: the report's totals equal what the server reported, stage by stage."""
    folder, n = make_filtered_run(run, tmp_path, n=4)
    generated = ollama.tokens_reported
    ollama.faults.queue = ["invalid_json", "invalid_json"]  # the first sample's judge replies, both tries
    run("score.py", "--input", "latest", "--max-attempts", "2", check_rc=0)
    assert sum(1 for s in read_lines(folder / "scored_jobs_at_startup.jsonl") if s.get("unscored")) == 1
    run("score.py", "--input", "latest", "--max-attempts", "2", check_rc=0)  # scores the one left
    assert not any(s.get("unscored") for s in read_lines(folder / "scored_jobs_at_startup.jsonl"))
    judged = ollama.tokens_reported - generated
    assert f"- tokens: {generated:,} generation + {judged:,} judging" in (folder.parent / "report.md").read_text()


def test_the_progress_bar_shows_the_judge_at_work(run, tmp_path, ollama):
    make_filtered_run(run, tmp_path, n=2)
    ollama.faults.latency = 0.8
    proc = run("score.py", "--input", "latest", env={"DATAFORGE_PROGRESS": "1"}, check_rc=0)
    assert "waiting for the model…" in proc.stderr  # a slow judge is never a silent bar


def test_a_re_solve_answer_that_is_no_usable_number_is_skipped_and_counted(run, tmp_path, ollama):
    folder, n = make_filtered_run(run, tmp_path, n=4)
    for question, hostile in zip(list(ollama.answers), ["1/0", "4" * 400, "1e99999999", "NaN"]):
        ollama.answers[question] = hostile  # what the judge's own solution will say
    proc = run("score.py", "--input", "latest", "--max-attempts", "1", timeout=60)
    assert proc.returncode == 0, proc.stderr
    scored = read_lines(folder / "scored_jobs_at_startup.jsonl")
    assert len(scored) == 4 and all("score" in s for s in scored)  # the judge's scores stand
    assert all(s["resolve_agrees"] is None and s["resolve_unusable"] == 1 for s in scored)  # no vote, not a disagreement
    assert "re-solve agreement: n/a of 0 (no vote: 4 re-solves gave no usable answer)" in proc.stderr


def replay_file(tmp_path, ollama, answers: dict[int, dict]):
    """Samples whose right answers are the keys, and a replay of what judges a, b, c answered to each."""
    rows, samples = [], []
    for gold, said in answers.items():
        question = f"A shop packs {gold} boxes of tea a day. How many boxes does it pack in a day?"
        rows.append({"question": question, "gold": gold, "answers": said})
        samples.append({"id": f"s{gold}", "question": question, "reasoning": [f"{gold} * 1 = {gold}"], "answer": str(gold),
                        "difficulty": "easy", "domain": "tea shop", "num_steps": 1, "model": "ollama://llama2"})
    (tmp_path / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ollama.load_replay(tmp_path / "answers.jsonl")
    src = tmp_path / "filtered.jsonl"
    src.write_text("".join(json.dumps(s) + "\n" for s in samples))
    return src


def test_a_jury_decides_by_its_policy_and_scored_records_each_jurors_answer_and_vote(run, tmp_path, ollama):
    src = replay_file(tmp_path, ollama, {10: {"a": 10, "b": 10, "c": 10},   # all re-derive it
                                          20: {"a": 20, "b": 21, "c": 20},   # a majority does
                                          30: {"a": 31, "b": 31, "c": 30}})  # a minority does
    jury = ["--judge-model", "ollama://a,ollama://b,ollama://c"]
    before = len(ollama.model_requests())
    proc = run("score.py", "--input", str(src), *jury, "--agree", "all", check_rc=0)
    sent = ollama.model_requests()[before:]
    assert sorted(r["body"]["model"] for r in sent if r["body"]["format"] == RESOLVE_SCHEMA) == ["a", "a", "a", "b", "b", "b", "c", "c", "c"]
    assert {r["body"]["model"] for r in sent if r["body"]["format"] == JUDGE_SCHEMA} == {"a"}  # rubric: the first juror
    assert "jury: ollama://a, ollama://b, ollama://c" in proc.stderr
    assert [s["id"] for s in read_lines(tmp_path / "filtered.final.jsonl")] == ["s10"]
    scored = {s["id"]: s for s in read_lines(tmp_path / "filtered.scored.jsonl")}
    assert [(j["judge"], j["answers"], j["vote"]) for j in scored["s20"]["jury"]] == [
        ("ollama://a", [20.0], True), ("ollama://b", [21.0], False), ("ollama://c", [20.0], True)]
    assert scored["s20"]["rejected"] == scored["s30"]["rejected"] == "disagreed"
    assert "signal only, not an estimate: the jurors disagreed on 67% of 3 samples" in proc.stderr

    before = len(ollama.model_requests())
    run("score.py", "--input", str(src), *jury, "--agree", "majority", check_rc=0)
    assert len(ollama.model_requests()) == before  # cached: the jury's votes are decided again under the new policy
    assert [s["id"] for s in read_lines(tmp_path / "filtered.final.jsonl")] == ["s10", "s20"]


def test_a_judge_that_wrote_the_samples_is_called_self_judging_with_the_servers_other_models(run, tmp_path, ollama):
    make_filtered_run(run, tmp_path, n=2)
    ollama.models.append("qwen2.5:7b")
    proc = run("score.py", "--input", "latest", check_rc=0)  # the README's default: the generation model judges
    assert "ollama://llama2 is the generation model judging its own samples (self-judging)" in proc.stderr
    assert "--judge-model: mistral:latest, qwen2.5:7b" in proc.stderr  # /api/tags, less the generator itself
    report = (only_run(tmp_path) / "report.md").read_text()
    assert "**Warning, self-judging: the judge `ollama://llama2` is the generation model" in report
    assert 'id="self-judging"' in (only_run(tmp_path) / "report.html").read_text()
    proc = run("score.py", "--input", "latest", "--judge-model", "llama2", check_rc=0)  # named, it is still itself
    assert "self-judging" in proc.stderr
    proc = run("score.py", "--input", "latest", "--judge-model", "mistral", check_rc=0)
    assert "self-judging" not in proc.stderr and "self-judging" not in (only_run(tmp_path) / "report.md").read_text()


def test_a_re_solve_with_a_wrong_step_is_asked_again_then_is_no_vote(run, tmp_path, ollama):
    folder, n = make_filtered_run(run, tmp_path, n=2)
    before = len(ollama.model_requests())
    # sample 1: rubric, a re-solve with a wrong step, asked again: wrong again. sample 2: wrong, then right
    ollama.faults.queue = ["none", "wrong_step", "wrong_step", "none", "wrong_step", "none"]
    proc = run("score.py", "--input", "latest", check_rc=0)
    resolves = [r["body"]["messages"] for r in ollama.model_requests()[before:] if r["body"]["format"] == RESOLVE_SCHEMA]
    assert len(resolves) == 4 and [len(m) for m in resolves] == [1, 3, 1, 3]
    assert "is wrong:" in resolves[1][-1]["content"] and "= 1" in resolves[1][-1]["content"]  # told which step
    first, second = read_lines(folder / "scored_jobs_at_startup.jsonl")
    assert first["resolve_wrong_step"] == 1 and first["resolve_agrees"] is None and first["resolve_answers"] == []
    assert second["resolve_wrong_step"] == 0 and second["resolve_agrees"] is True
    assert "(no vote: 1 re-solves had a wrong step twice)" in proc.stderr


@pytest.mark.needs_shared
def test_replay_mode_answers_a_re_solve_with_what_the_real_model_answered(run, tmp_path, ollama):
    """bench_judges.py's test server: Llama-3.2-3B's wrong solution to GSM8K test question 2 (house flipping) is
    judged by gpt-3.5-turbo and Llama-3.2-3B itself: each re-solve gets that model's real answer."""
    from dataforge.gsm8k import SHARED_DATA

    ollama.load_replay(SHARED_DATA / "judges" / "answers.jsonl")
    real = json.loads((SHARED_DATA / "judges" / "answers.jsonl").read_text(encoding="utf-8").splitlines()[2])
    sample = {"id": "house", "question": real["question"], "reasoning": ["80000 + 50000 = 130000",
              "130000 * 2.5 = 325000", "325000 - 130000 = 195000"], "answer": "195000", "difficulty": "medium",
              "domain": "grade school math", "num_steps": 3, "model": "ollama://llama-3.2-3b-instruct"}
    src = tmp_path / "filtered.jsonl"
    src.write_text(json.dumps(sample) + "\n")
    proc = run("score.py", "--input", str(src), "--judge-model", "ollama://gpt-3.5-turbo,ollama://llama-3.2-3b-instruct",
               check_rc=0)
    assert "self-judging" in proc.stderr  # the sample says Llama-3.2-3B wrote it
    jury = read_lines(tmp_path / "filtered.scored.jsonl")[0]["jury"]
    assert [j["answers"] for j in jury] == [[float(real["answers"]["gpt-3.5-turbo"])],
                                           [float(real["answers"]["llama-3.2-3b-instruct"])]]


def test_a_juror_with_no_vote_is_unresolved_never_final_under_all_and_a_minority_of_voters_does_not_decide(run, tmp_path, ollama):
    """#31 item 6: juror b has no answer to give (its re-solve is no number): with --agree all the sample is
    'unresolved' (counted), not final; with majority, one voting juror of three is no majority of the jury."""
    src = replay_file(tmp_path, ollama, {10: {"a": 10, "c": 10},   # b cannot re-solve it
                                          20: {"a": 20},            # only a can
                                          30: {"a": 30, "b": 30, "c": 30}})
    proc = run("score.py", "--input", str(src), "--judge-model", "ollama://a,ollama://b", "--agree", "all", check_rc=0)
    scored = {s["id"]: s for s in read_lines(tmp_path / "filtered.scored.jsonl")}
    assert scored["s10"]["rejected"] == scored["s20"]["rejected"] == "unresolved"
    assert [s["id"] for s in read_lines(tmp_path / "filtered.final.jsonl")] == ["s30"]
    row = next(line for line in proc.stderr.splitlines() if line.startswith("filtered.jsonl"))
    assert row.split()[-6:] == ["0", "0", "0", "2", "0", "1"]  # off-domain, incorrect, disagreed, unresolved, low, kept

    run("score.py", "--input", str(src), "--judge-model", "ollama://a,ollama://b,ollama://c", "--agree", "majority",
        check_rc=0)
    scored = {s["id"]: s for s in read_lines(tmp_path / "filtered.scored.jsonl") if s["judge_model"].count(",") == 2}
    assert scored["s20"]["rejected"] == "unresolved" and "rejected" not in scored["s10"]  # 2 of 3 voted: they decide
    assert [s["id"] for s in read_lines(tmp_path / "filtered.final.jsonl")] == ["s10", "s30"]


def test_a_juror_whose_server_fails_every_request_stops_the_stage_and_final_stays_as_it_was(run, tmp_path, ollama):
    """#31 item 7: juror openai://mistral's server answers 500 to everything: exit 2, the juror and the
    server's reason named, final_ as the last good scoring wrote it; the same when the only judge fails."""
    folder, n = make_filtered_run(run, tmp_path, n=4)
    run("score.py", "--input", "latest", check_rc=0)
    final = (folder / "final_jobs_at_startup.jsonl").read_bytes()
    assert len(final.splitlines()) == 4
    broken = FakeOllama().start()
    try:
        broken.faults.queue = ["500"] * 1000
        env = {"OPENAI_BASE_URL": broken.url + "/v1", "OPENAI_API_KEY": "sk-test", "DATAFORGE_RETRIES": "0"}
        proc = run("score.py", "--input", "latest", "--judge-model", "ollama://mistral,openai://mistral", env=env, check_rc=2)
        assert "Error: juror openai://mistral: " in proc.stderr  # whichever rule stopped it (ours, or local_llm's own)
        assert "llama runner process has terminated" in proc.stderr  # the server's own reason
        assert (folder / "final_jobs_at_startup.jsonl").read_bytes() == final
        proc = run("score.py", "--input", "latest", "--judge-model", "openai://mistral", env=env, check_rc=2)
        assert "Error: juror openai://mistral: " in proc.stderr and "llama runner process has terminated" in proc.stderr
        assert (folder / "final_jobs_at_startup.jsonl").read_bytes() == final  # not emptied (4 -> 0)
    finally:
        broken.stop()
    proc = run("score.py", "--input", "latest", "--judge-model", "ollama://mistral,ollama://llama2", check_rc=0)
    assert len(read_lines(folder / "final_jobs_at_startup.jsonl")) == 4  # the same command with a working jury


def test_judge_retries_vary_the_seed(run, tmp_path, ollama):
    """#31 item 9: a deterministic server repeats a cut-off reply to a byte-identical request."""
    make_filtered_run(run, tmp_path, n=1)
    before = len(ollama.model_requests())
    ollama.faults.queue = ["length", "length"]  # the rubric's reply cut off twice, then whole
    run("score.py", "--input", "latest", check_rc=0)
    rubric = [r["body"]["options"]["seed"] for r in ollama.model_requests()[before:] if r["body"]["format"] == JUDGE_SCHEMA]
    assert len(rubric) == 3 and len(set(rubric)) == 3


def test_votes_and_think_are_part_of_what_makes_a_cached_score_current(run, tmp_path, ollama):
    """#31 item 8: a re-score with --votes 3 (or --think off) is not served the one-vote answers of the cache."""
    folder, n = make_filtered_run(run, tmp_path, n=2)
    run("score.py", "--input", "latest", check_rc=0)
    for flags in (["--votes", "3"], ["--votes", "3", "--think", "off"]):
        before = len(ollama.model_requests())
        run("score.py", "--input", "latest", *flags, check_rc=0)
        assert len(ollama.model_requests()) > before, flags  # scored again
        before = len(ollama.model_requests())
        run("score.py", "--input", "latest", *flags, check_rc=0)
        assert len(ollama.model_requests()) == before, flags  # and then cached under those settings
    scored = read_lines(folder / "scored_jobs_at_startup.jsonl")
    assert len(scored) == 6 and {(s["votes"], s["think"]) for s in scored} == {(1, "auto"), (3, "auto"), (3, "off")}
    assert {(s["votes"], s["think"]) for s in read_lines(folder / "final_jobs_at_startup.jsonl")} == {(3, "off")}


def test_a_file_the_filter_wrote_beside_a_run_file_is_scored_as_a_loose_file(run, tmp_path, ollama):
    """#31 item 5: filtered_x.filtered.jsonl starts with filtered_ but is not the run's own input: scoring it
    leaves run.json, the report and the run's scored_/final_ alone."""
    folder, n = make_filtered_run(run, tmp_path, n=2)
    run("score.py", "--input", "latest", check_rc=0)
    run("filter.py", "--input", str(folder / "filtered_jobs_at_startup.jsonl"), "--skip-checks", "duplicate", check_rc=0)
    beside = folder / "filtered_jobs_at_startup.filtered.jsonl"
    assert beside.exists()
    run_dir = only_run(tmp_path)
    kept = {p: p.read_bytes() for p in (run_dir / "run.json", run_dir / "report.md", folder / "final_jobs_at_startup.jsonl")}
    run("score.py", "--input", str(beside), "--judge-model", "mistral", check_rc=0)
    assert {p: p.read_bytes() for p in kept} == kept
    assert len(read_lines(folder / "filtered_jobs_at_startup.filtered.final.jsonl")) == 2


def test_one_model_named_twice_is_refused_and_bad_flags_exit_2(run, tmp_path, ollama):
    """#32 (juries): llama2 and llama2:latest are one model. #31 item 11: --max-attempts 0 scores nothing."""
    make_filtered_run(run, tmp_path, n=1)
    proc = run("score.py", "--input", "latest", "--judge-model", "llama2,llama2:latest", check_rc=2)
    assert "llama2 and llama2:latest are one model" in proc.stderr
    proc = run("score.py", "--input", "latest", "--max-attempts", "0", check_rc=2)
    assert "--max-attempts: 0: use a whole number from 1 up" in proc.stderr


def test_the_self_judging_notice_never_suggests_a_model_already_on_the_jury(run, tmp_path, ollama):
    """#31 item 11: llama2 judges its own samples beside mistral: the way out is qwen2.5, not mistral."""
    make_filtered_run(run, tmp_path, n=1)
    ollama.models.append("qwen2.5:7b")
    proc = run("score.py", "--input", "latest", "--judge-model", "llama2,mistral", check_rc=0)
    assert "--judge-model: qwen2.5:7b" in proc.stderr and "mistral:latest" not in proc.stderr
