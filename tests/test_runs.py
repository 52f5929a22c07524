"""Run folders that two processes, a re-run or a clumsy input cannot corrupt: the scripts run as users
run them, against the test Ollama server."""

import csv
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT, ctrl_c_after, only_run, read_lines, scored_run

DOMAIN, FOLDER, SLUG = "Jobs at startup", "Jobs at startup data samples", "jobs_at_startup"


def test_a_second_process_on_the_same_run_is_refused_and_told_who_holds_it(run, tmp_path, ollama):
    ollama.faults.latency = 0.3
    env = {**os.environ, "OLLAMA_HOST": ollama.url, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen([sys.executable, str(ROOT / "generate.py"), "--domains", DOMAIN, "--samples-per-domain", "8"],
                             cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not list((tmp_path / "runs").glob("run_*/*/raw_*.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.05)
    second = run("generate.py", "--resume", check_rc=2)
    filtering = run("filter.py", "--input", "latest", check_rc=2)  # it would read a raw file still being written
    assert first.poll() is None, "the first run must still be running: the refusals were mid-run"
    assert "is in use by pid" in second.stderr and "generate.py" in second.stderr
    assert "is in use by pid" in filtering.stderr
    first.communicate(timeout=60)
    assert first.returncode == 0
    ids = [s["id"] for s in read_lines(only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl")]
    assert len(ids) == len(set(ids)) == 8
    run("generate.py", "--resume", check_rc=0)  # the lock went with the process


def test_a_complete_last_line_without_a_newline_is_not_glued_to_the_next_on_resume(run, tmp_path, ollama):
    ollama.faults.queue = ["invalid_json"] * 3  # slot 0 fails: the resume has one sample to write
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "3", check_rc=0)
    raw = only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl"
    raw.write_bytes(raw.read_bytes().rstrip(b"\n"))  # another tool saved it without the final newline
    run("generate.py", "--resume", check_rc=0)
    lines = raw.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["question"] for line in lines)


def test_re_filtering_or_re_scoring_a_derived_file_leaves_its_siblings_alone(run, tmp_path, ollama):
    ollama.faults.queue = [None, "wrong_math", None]
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "3", "--repairs", "0", check_rc=0)  # unrepaired: the filter rejects it
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    run("score.py", "--input", "latest", check_rc=0)
    folder = only_run(tmp_path) / FOLDER
    before = {p.name: p.read_bytes() for p in folder.glob("*.jsonl")}
    assert len(read_lines(folder / f"rejected_{SLUG}.jsonl")) == 1
    run("filter.py", "--input", str(folder / f"filtered_{SLUG}.jsonl"), "--skip-checks", "duplicate", check_rc=0)
    run("score.py", "--input", str(folder / f"final_{SLUG}.jsonl"), check_rc=0)
    assert {p.name: p.read_bytes() for p in folder.glob("*.jsonl") if p.name in before} == before
    assert len(read_lines(folder / f"filtered_{SLUG}.filtered.jsonl")) == 2  # the new outputs go beside the input
    assert len(read_lines(folder / f"final_{SLUG}.final.jsonl")) == 2


def test_a_second_judge_keeps_the_first_judges_scores_and_the_first_is_not_asked_again(run, tmp_path, ollama):
    scored_run(run, tmp_path, DOMAIN, 3)
    run("score.py", "--input", "latest", "--judge-model", "ollama://mistral", check_rc=0)
    scored = read_lines(only_run(tmp_path) / FOLDER / f"scored_{SLUG}.jsonl")
    assert sorted(s["judge_model"] for s in scored) == ["ollama://llama2"] * 3 + ["ollama://mistral"] * 3
    before = len(ollama.model_requests())
    proc = run("score.py", "--input", "latest", check_rc=0)
    assert len(ollama.model_requests()) == before and "3" in proc.stderr.split("cached")[1]


def test_duplicate_ids_and_lines_are_named_and_no_sample_takes_anothers_place(run, tmp_path, ollama):
    question = "A startup hires {} engineers at $5,000 each per month. What is the monthly payroll in dollars?"

    def sample(n, sample_id):
        return {"id": sample_id, "question": question.format(n), "reasoning": [f"{n} * 5,000 = {n * 5000:,}"],
                "answer": f"${n * 5000:,}", "difficulty": "easy", "domain": DOMAIN, "num_steps": 1}

    src = tmp_path / "in.jsonl"
    lines = [sample(2, "a"), sample(3, "a"), sample(4, "b"), sample(4, "b")]
    src.write_text("".join(json.dumps(s) + "\n" for s in lines))
    ollama.answers.update({question.format(n): str(n * 5000) for n in (2, 3, 4)})  # the judge's re-solve agrees
    proc = run("score.py", "--input", str(src), "--threshold", "1", check_rc=0)
    assert "in.jsonl:2: id 'a' is also on line 1" in proc.stderr
    assert "in.jsonl:4: the same sample as line 3; skipped" in proc.stderr
    final = read_lines(tmp_path / "in.final.jsonl")
    assert [s["question"] for s in final] == [question.format(n) for n in (2, 3, 4)]


def test_outputs_are_readable_as_the_umask_says(run, tmp_path, ollama):
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", check_rc=0)
    old = os.umask(0o022)
    try:
        run("filter.py", "--input", "latest", check_rc=0)
    finally:
        os.umask(old)
    for name in ("filtered", "rejected"):
        assert (only_run(tmp_path) / FOLDER / f"{name}_{SLUG}.jsonl").stat().st_mode & 0o777 == 0o644
    assert (only_run(tmp_path) / "run.json").stat().st_mode & 0o777 == 0o644


def test_what_is_not_a_regular_file_in_a_run_is_named_and_skipped(run, tmp_path, ollama):
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", check_rc=0)
    other = only_run(tmp_path) / "Pipes data samples"
    other.mkdir()
    os.mkfifo(other / "raw_pipes.jsonl")  # opening it for reading would wait for a writer forever
    (other / "raw_dir.jsonl").mkdir()
    proc = run("filter.py", "--input", "latest", "--skip-checks", "duplicate", timeout=60, check_rc=0)
    assert "raw_pipes.jsonl: not a regular file; skipped" in proc.stderr
    assert "raw_dir.jsonl: not a regular file; skipped" in proc.stderr
    assert len(read_lines(only_run(tmp_path) / FOLDER / f"filtered_{SLUG}.jsonl")) == 2


def test_a_comma_inside_a_domain_name_is_written_as_backslash_comma(run, tmp_path, ollama):
    run("generate.py", "--domains", "Sales\\, Marketing,Ops", "--samples-per-domain", "1", check_rc=0)
    folders = sorted(p.name for p in only_run(tmp_path).glob("* data samples"))
    assert folders == ["Ops data samples", "Sales, Marketing data samples"]


def test_usage_that_can_never_work_is_refused_with_the_flag_named(run, tmp_path):
    for args, flag in ((["--temperature", "nan"], "--temperature nan"), (["--max-attempts", "0"], "--max-attempts"),
                       (["--difficulty", "easy=10000000000"], "--difficulty")):
        proc = run("generate.py", "--domains", "Ops", *args, check_rc=2)
        assert flag in proc.stderr and "Traceback" not in proc.stderr
    assert "--sample -1" in run("audit.py", "export", "--sample", "-1", check_rc=2).stderr
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_a_broken_token_count_or_run_json_is_named_not_a_traceback(run, tmp_path, ollama):
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", check_rc=0)
    raw = only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl"
    records = read_lines(raw)
    records[0]["prompt_tokens"], records[1]["completion_tokens"] = "many", float("nan")
    raw.write_text("".join(json.dumps(r) + "\n" for r in records))
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)  # the report writer reads those counts
    (only_run(tmp_path) / "run.json").write_text("[]")
    proc = run("filter.py", "--input", "latest", check_rc=2)
    assert "run.json: not a run manifest" in proc.stderr and "Traceback" not in proc.stderr


def test_a_request_the_server_refuses_costs_that_attempt_and_a_lost_model_stops_the_run_at_once(run, tmp_path, ollama):
    ollama.faults.queue = ["400"]
    proc = run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "3", check_rc=0)
    assert "3 valid" in proc.stderr and "4 attempts" in proc.stderr  # the refused request was retried as a new attempt

    ollama.faults.queue = [None, None, "gone"] + ["gone"] * 20
    before = len(ollama.model_requests())
    proc = run("generate.py", "--domains", "Ops", "--samples-per-domain", "10", check_rc=2)
    assert len(ollama.model_requests()) - before <= 4  # the queue is cancelled: only the one in flight went out
    assert "is not pulled" in proc.stderr and "python generate.py --resume" in proc.stderr
    runs = sorted((tmp_path / "runs").glob("run_*"))
    assert len(read_lines(runs[-1] / "Ops data samples" / "raw_ops.jsonl")) == 2


def test_a_server_that_never_answers_or_trickles_costs_the_deadline_twice_not_forever(run, tmp_path, ollama):
    ollama.faults.queue = ["hang", "hang", "trickle", "trickle"]
    started = time.monotonic()
    proc = run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", "--max-attempts", "1",
               env={"OLLAMA_TIMEOUT": "1", "DATAFORGE_PROGRESS": "1"}, check_rc=0)
    assert time.monotonic() - started < 15  # 2 samples x 2 tries x 1 s, and start-up
    assert len(ollama.model_requests()) == 4  # each timed-out request tried once more, no more
    failed = read_lines(only_run(tmp_path) / FOLDER / f"failed_{SLUG}.jsonl")
    assert [a["error"] for r in failed for a in r["attempt_errors"]] == [
        f"request failed: {ollama.url}: no complete reply within 1 s (OLLAMA_TIMEOUT)"] * 2  # silent or trickling
    assert "waiting for the model…" in proc.stderr


def test_seed_makes_the_prompts_repeatable_whatever_order_workers_finish_in(run, tmp_path, ollama):
    def prompts():
        return sorted(json.dumps(r["body"]["messages"]) for r in ollama.model_requests())

    ollama.faults.latency = 0.05
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "6", "--seed", "5", "--concurrency", "3", check_rc=0)
    first = prompts()
    ollama.requests.clear()
    ollama.faults.queue = ["slow:0.3"]  # the first request now finishes last
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "6", "--seed", "5", "--concurrency", "3", check_rc=0)
    assert prompts() == first


@pytest.mark.needs_shared
def test_ctrl_c_in_filter_exits_130_with_a_summary_and_leaves_outputs_as_they_were(tmp_path):
    import signal

    from synthetic import synthesize

    src = tmp_path / "big.jsonl"
    src.write_text("".join(json.dumps(s) + "\n" for s in synthesize(30000)))  # worker processes, and a few seconds
    (tmp_path / "big.filtered.jsonl").write_text("an earlier run's output\n")
    proc = subprocess.Popen([sys.executable, str(ROOT / "filter.py"), "--input", str(src), "--skip-checks", "domain"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(2.5)
    assert proc.poll() is None, "filter.py must still be running when Ctrl-C comes"
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal sends it: to the workers too
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err[-2000:]
    assert "(checked so far; not written)" in err and "interrupted" in err
    assert (tmp_path / "big.filtered.jsonl").read_text() == "an earlier run's output\n"
    assert not list(tmp_path.glob(".big.*.tmp"))  # no temporary file left behind


def test_malformed_lines_are_named_in_every_stage_never_a_traceback(run, tmp_path, ollama):
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", check_rc=0)
    folder = only_run(tmp_path) / FOLDER
    good = read_lines(folder / f"raw_{SLUG}.jsonl")[0]

    def bad(**changes):
        return json.dumps({**good, **changes, "question": good["question"] + f" ({len(changes)} {sorted(changes)})"})

    missing = {k: v for k, v in good.items() if k not in ("answer", "domain", "difficulty")}
    lines = [bad(answer="1" + "0" * 5000), '{"question": ' + "[" * 100000 + "]" * 100000 + "}", bad(answer=[1, 2]),
             json.dumps(missing), bad(id=["x"]), bad(reasoning=5), bad(score=float("nan")), bad(prompt_tokens="many")]
    with open(folder / f"raw_{SLUG}.jsonl", "a") as f:
        f.write("\n".join(lines) + "\n")
    proc = run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    assert "JSON nested too deeply to read" in proc.stderr
    (folder / f"filtered_{SLUG}.jsonl").write_text((folder / f"raw_{SLUG}.jsonl").read_text())  # as if they got through
    proc = run("score.py", "--input", "latest", check_rc=0)
    for problem in ("not a sample: answer: Input should be a valid string", "not a sample: answer: Field required",
                    "not a sample: reasoning: Input should be a valid list"):
        assert problem in proc.stderr
    (folder / f"decisions_{SLUG}.jsonl").write_text(json.dumps({"id": good["id"], "question": good["question"]}) + "\n")
    for args in (["export", "--sample", "5"], ["export-train", "--format", "alpaca"]):
        proc = run("audit.py", *args, "--input", "latest", check_rc=0)
        assert "Traceback" not in proc.stderr
    assert "feedback from" in run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "1", "--feedback",
                                  str(only_run(tmp_path)), check_rc=0).stderr  # a decision without `decision`


def test_a_server_that_goes_away_stops_the_stage_after_three_requests_not_every_sample(run, tmp_path, ollama):
    ollama.faults.queue = [None, None] + ["drop"] * 100  # the server dies after two samples
    proc = run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "10", check_rc=2)
    assert "3 requests in a row could not reach the server: is it still running?" in proc.stderr
    assert "python generate.py --resume" in proc.stderr
    assert len(ollama.model_requests()) <= 2 + 4 * 3  # 3 failed requests of 3 tries each, one more in flight at most
    assert len(read_lines(only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl")) == 2


def test_a_full_disk_stops_generate_with_the_file_named_and_resume_finishes_once_there_is_room(tmp_path, ollama):
    """generate.py on a 48 KB filesystem (a tmpfs in a private mount namespace): exit 2 naming the file,
    the summary so far, every line written is whole; after the disk is grown, --resume completes the run
    with each sample once."""
    small, out = tmp_path / "small", tmp_path / "out"
    small.mkdir()
    py, generate = sys.executable, ROOT / "generate.py"
    script = f"""
mount -t tmpfs -o size=48k tmpfs "{small}" || exit 99
cd "{small}"
"{py}" "{generate}" --domains "{DOMAIN}" --samples-per-domain 120 --plan off --out-dir runs 2>"{tmp_path}/full.err"
echo "$?" >"{tmp_path}/full.rc"
cp -r runs "{out}"
mount -o remount,size=4m "{small}"
"{py}" "{generate}" --resume --out-dir runs 2>"{tmp_path}/resume.err"
echo "$?" >"{tmp_path}/resume.rc"
cp -r runs "{out}/after"
"""
    env = {**os.environ, "OLLAMA_HOST": ollama.url, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script], env=env,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode == 99 or "Operation not permitted" in proc.stderr:
        pytest.skip(f"cannot mount a small filesystem here: {proc.stderr.strip()[:200]}")
    err = (tmp_path / "full.err").read_text()
    assert (tmp_path / "full.rc").read_text().strip() == "2", err
    assert "Traceback" not in err
    assert f"raw_{SLUG}.jsonl; what was written before is kept" in err
    assert "requested" in err and "--resume" in err  # the summary so far, and how to finish
    raw = next(out.glob(f"run_*/{FOLDER}/raw_{SLUG}.jsonl")).read_text(encoding="utf-8")
    assert raw.endswith("\n")
    kept = [json.loads(line) for line in raw.splitlines()]  # every line whole: no half record left behind
    assert 10 < len(kept) < 120
    assert (tmp_path / "resume.rc").read_text().strip() == "0", (tmp_path / "resume.err").read_text()
    after = read_lines(next(out.glob(f"after/run_*/{FOLDER}/raw_{SLUG}.jsonl")))
    assert len(after) == len({r["id"] for r in after}) == 120
    assert after[: len(kept)] == kept


def test_malformed_replies_cost_a_retry_and_a_server_that_is_not_ollama_is_named(run, tmp_path, ollama):
    # a proxy's HTML page with 200, a stream line that is a JSON array, a message that is null
    ollama.faults.queue = ["html", "array_line", "null_message"]
    proc = run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", check_rc=0)
    assert "Traceback" not in proc.stderr
    assert len(read_lines(only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl")) == 2  # retried, then valid

    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)  # a web server
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{web.server_address[1]}"
        proc = run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", env={"OLLAMA_HOST": url}, check_rc=2)
    finally:
        web.shutdown()
        web.server_close()
    assert f"not an Ollama server at {url}" in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------- hostile input, round two (issue 24)

def test_only_the_schemas_fields_are_kept_from_a_models_json(run, tmp_path, ollama):
    ollama.faults.queue = ["extra_keys", "extra_keys"]  # its own score, rejected, flags, judge_model, and a lone surrogate
    proc = run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", check_rc=0)
    assert "Traceback" not in proc.stderr
    raw = read_lines(only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl")
    assert len(raw) == 2
    for record in raw:
        assert not {"score", "rejected", "flags", "judge_model", "note"} & set(record) and record["attempts"] == 1


def script_env(ollama) -> dict:
    return {**os.environ, "OLLAMA_HOST": ollama.url, "DATAFORGE_RETRIES": "2", "PYTHONUNBUFFERED": "1"}


def test_a_run_file_that_is_a_symlink_is_never_written_through(run, tmp_path, ollama):
    ollama.faults.queue = ["invalid_json"] * 3  # slot 0 fails: --resume has a sample to write
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "3", check_rc=0)
    folder = only_run(tmp_path) / FOLDER
    raw, outside = folder / f"raw_{SLUG}.jsonl", tmp_path / "elsewhere.jsonl"
    outside.write_bytes(raw.read_bytes() + b'{"question": "torn')  # a torn tail: resume would cut it off
    raw.unlink()
    raw.symlink_to(outside)
    before = outside.read_bytes()
    proc = run("generate.py", "--resume", check_rc=2)
    assert f"{FOLDER}/raw_{SLUG}.jsonl is a symbolic link (to {outside})" in proc.stderr and "Traceback" not in proc.stderr
    assert outside.read_bytes() == before

    raw.unlink()
    raw.write_bytes(before[: before.rfind(b"\n") + 1])
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    scored, other = folder / f"scored_{SLUG}.jsonl", tmp_path / "other.jsonl"
    other.write_text("someone else's file\n")
    scored.symlink_to(other)
    proc = run("score.py", "--input", "latest", check_rc=2)
    assert f"{FOLDER}/scored_{SLUG}.jsonl is a symbolic link" in proc.stderr and other.read_text() == "someone else's file\n"


def test_a_jsonl_with_a_utf8_bom_keeps_its_first_line(run, tmp_path, ollama):
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", check_rc=0)
    raw = only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl"
    raw.write_bytes(b"\xef\xbb\xbf" + raw.read_bytes())  # as Notepad saves it
    proc = run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    assert "BOM" not in proc.stderr and len(read_lines(raw.with_name(f"filtered_{SLUG}.jsonl"))) == 2


def test_a_line_of_2_gb_is_named_without_being_read_whole(tmp_path, ollama):
    import resource

    from fake_ollama import FakeOllama

    big = tmp_path / "big.jsonl"
    with open(big, "wb") as f:
        f.truncate(2 << 30)  # 2 GB of NUL bytes on one line (sparse: no disk used)
        f.seek(0, os.SEEK_END)
        f.write(b"\n" + json.dumps({**FakeOllama().make_sample(), "domain": "Ops"}).encode() + b"\n")
    limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # 1 GB of memory: not enough for it
    proc = subprocess.run([sys.executable, str(ROOT / "filter.py"), "--input", str(big), "--workers", "1"], cwd=tmp_path,
                          env=script_env(ollama), capture_output=True, text=True, timeout=300, preexec_fn=limit)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "big.jsonl:1: line is longer than 1,000,000 bytes" in proc.stderr
    assert len(read_lines(tmp_path / "big.filtered.jsonl")) == 1


def test_a_read_only_run_folder_is_named_with_what_to_do(run, tmp_path, ollama):
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", check_rc=0)
    runs, py = tmp_path / "runs", sys.executable
    script = f"""
mount --bind "{runs}" "{runs}" && mount -o remount,ro,bind "{runs}" || exit 99
cd "{tmp_path}"
"{py}" "{ROOT / 'filter.py'}" --input latest
"""
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script], env=script_env(ollama),
                          capture_output=True, text=True, timeout=120)
    if proc.returncode == 99 or "Operation not permitted" in proc.stderr:
        pytest.skip(f"cannot mount read-only here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert f"{only_run(tmp_path).name} is read-only" in proc.stderr and "copy the run" in proc.stderr


def test_a_domain_name_too_long_for_a_sample_is_refused_before_the_run(run, tmp_path):
    proc = run("generate.py", "--domains", "x" * 230, "--samples-per-domain", "1", check_rc=2)
    assert "230 characters" in proc.stderr and "200" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_an_output_that_is_an_input_or_a_runs_own_file_is_refused_before_anything_is_written(run, tmp_path, ollama):
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", check_rc=0)
    folder = only_run(tmp_path) / FOLDER
    src = tmp_path / "in.jsonl"
    src.write_bytes((folder / f"raw_{SLUG}.jsonl").read_bytes())
    before = src.read_bytes()
    for args in (["--output", str(src)], ["--rejected", "./in.jsonl"], ["--output", "k.jsonl", "--rejected", "k.jsonl"]):
        proc = run("filter.py", "--input", str(src), *args, check_rc=2)
        assert "Traceback" not in proc.stderr and ("is the input" in proc.stderr or "both" in proc.stderr), proc.stderr
    assert src.read_bytes() == before and not (tmp_path / "k.jsonl").exists()
    proc = run("score.py", "--input", str(src), "--output", str(src), check_rc=2)
    assert "is the input" in proc.stderr and src.read_bytes() == before

    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    run("score.py", "--input", "latest", check_rc=0)
    files = {p: p.read_bytes() for p in folder.iterdir()}
    for target in (folder / f"final_{SLUG}.jsonl", folder / f"raw_{SLUG}.jsonl", only_run(tmp_path) / "run.json"):
        proc = run("audit.py", "export-train", "--input", "latest", "--format", "openai", "--output", str(target),
                   check_rc=2)
        # final_ is export-train's input (it reads final_, #25): refused as an input, the others as run files
        assert ("is a file of the run" in proc.stderr or "replaced while it is read" in proc.stderr) \
            and "Traceback" not in proc.stderr
    assert {p: p.read_bytes() for p in folder.iterdir()} == files


def test_sigterm_is_treated_like_ctrl_c_in_generate(tmp_path, ollama):
    import signal

    ollama.faults.latency = 0.3
    proc = subprocess.Popen([sys.executable, str(ROOT / "generate.py"), "--domains", DOMAIN, "--samples-per-domain", "8"],
                            cwd=tmp_path, env=script_env(ollama), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not [p for p in (tmp_path / "runs").glob(f"run_*/{FOLDER}/raw_*.jsonl") if p.stat().st_size] \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # what `kill` and `timeout` send
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "Traceback" not in err, err
    assert "requested" in err and "interrupted: what was written is kept" in err  # the summary, and how to finish
    raw = only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl"
    assert raw.read_bytes().endswith(b"\n") and 1 <= len(read_lines(raw)) < 8
    subprocess.run([sys.executable, str(ROOT / "generate.py"), "--resume"], cwd=tmp_path, env=script_env(ollama),
                   capture_output=True, timeout=120, check=True)
    assert len({r["id"] for r in read_lines(raw)}) == 8


def test_sigterm_in_filter_exits_143_without_worker_tracebacks_and_leaves_outputs_as_they_were(tmp_path):
    import signal

    from fake_ollama import FakeOllama

    fake = FakeOllama(seed=1)
    src = tmp_path / "big.jsonl"
    src.write_text("".join(json.dumps({**fake.make_sample(), "domain": "Ops"}) + "\n" for _ in range(40000)))
    (tmp_path / "big.filtered.jsonl").write_text("an earlier run's output\n")
    proc = subprocess.Popen([sys.executable, str(ROOT / "filter.py"), "--input", str(src), "--workers", "2"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    assert proc.poll() is None, "filter.py must still be running when SIGTERM comes"
    proc.send_signal(signal.SIGTERM)  # to the main process only, as `kill PID` does
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "Traceback" not in err and "BrokenPipe" not in err, err[-2000:]
    assert "interrupted" in err
    assert (tmp_path / "big.filtered.jsonl").read_text() == "an earlier run's output\n"
    assert not list(tmp_path.glob(".big.*.tmp"))  # no temporary file left behind


def test_a_torn_tail_is_cut_off_in_place_not_by_rewriting_the_file(tmp_path, ollama):
    import resource

    ollama.faults.queue = ["invalid_json"] * 3  # slot 0 fails: --resume has a sample to write
    subprocess.run([sys.executable, str(ROOT / "generate.py"), "--domains", DOMAIN, "--samples-per-domain", "10"],
                   cwd=tmp_path, env=script_env(ollama), capture_output=True, timeout=120, check=True)
    raw = only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl"
    whole = raw.read_bytes()
    raw.write_bytes(whole + b'{"question": "torn')
    size = len(whole) - 100  # a rewrite of the file cannot finish under this limit (as a crash mid-rewrite)
    assert (only_run(tmp_path) / "run.json").stat().st_size < size - 500
    limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    proc = subprocess.run([sys.executable, str(ROOT / "generate.py"), "--resume"], cwd=tmp_path, env=script_env(ollama),
                          capture_output=True, text=True, timeout=120, preexec_fn=limit)
    assert raw.read_bytes() == whole, proc.stderr[-2000:]  # every complete line kept
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "file size limit" in proc.stderr


def test_resume_of_a_run_json_from_an_older_version_uses_defaults_or_names_what_is_missing(run, tmp_path, ollama):
    ollama.faults.queue = ["invalid_json"] * 3  # slot 0 fails: --resume has a sample to write
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "3", check_rc=0)
    manifest_path = only_run(tmp_path) / "run.json"
    manifest = json.loads(manifest_path.read_text())
    settings = manifest["stages"]["generate"]["settings"]
    for key in ("templates", "think", "max_attempts", "difficulty"):
        del settings[key]
    settings["temp"] = settings.pop("temperature")  # renamed
    settings["domains"] = [{"name": DOMAIN}]  # no notes
    manifest_path.write_text(json.dumps(manifest))
    proc = run("generate.py", "--resume", check_rc=0)
    assert "Traceback" not in proc.stderr
    assert len(read_lines(only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl")) == 3
    del settings["samples_per_domain"]
    manifest_path.write_text(json.dumps(manifest))
    proc = run("generate.py", "--resume", check_rc=2)
    assert "lack samples_per_domain" in proc.stderr and "Traceback" not in proc.stderr


def test_a_renamed_run_folder_resumes_with_the_ids_of_its_own_record(run, tmp_path, ollama):
    ollama.faults.queue = ["invalid_json"] * 3  # slot 0 fails: --resume has one sample to write
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "6", check_rc=0)
    renamed = tmp_path / "runs" / "coffee batch 1"
    only_run(tmp_path).rename(renamed)
    run("generate.py", "--resume", str(renamed), check_rc=0)
    ids = [r["id"] for r in read_lines(renamed / FOLDER / f"raw_{SLUG}.jsonl")]
    assert len(ids) == len(set(ids)) == 6


def test_latest_is_the_newest_time_stamp_counted_as_numbers(run, tmp_path, ollama):
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "1", check_rc=0)
    made = only_run(tmp_path)
    later = time.strftime("run_%Y%m%d_%H%M%S", time.localtime(time.time() + 3600))  # newer, and not in the future
    for n in ("", "_2", "_10"):  # three runs in one second: run_X, run_X_2 ... run_X_10
        shutil.copytree(made, tmp_path / "runs" / f"{later}{n}")
    proc = run("filter.py", "--input", "latest", check_rc=0)
    assert f"runs/{later}_10/{FOLDER}/filtered_{SLUG}.jsonl" in proc.stderr


@pytest.mark.parametrize("script, args, named", [
    ("generate.py", ["--resume", "/nope"], "--resume /nope: no such run folder"),
    ("generate.py", ["--domains", "Ops", "--concurrency", "0"], "--concurrency: 0: use a whole number from 1"),
    ("generate.py", ["--domains", "Ops", "--concurrency", "-3"], "--concurrency: -3: use a whole number from 1"),
    ("score.py", ["--concurrency", "0"], "--concurrency: 0: use a whole number from 1"),
    ("score.py", ["--threshold", "60"], "--threshold: 60: use a number from 0 to 10"),
    ("score.py", ["--min-relevance", "11"], "--min-relevance: 11: use a whole number from 0 to 10"),
])
def test_bad_settings_exit_2_naming_the_setting_and_its_range(run, tmp_path, script, args, named):
    proc = run(script, *args, check_rc=2)
    assert named in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------- what a person reads (issue 24, section 5)

def test_the_html_report_escapes_everything_it_shows(run, tmp_path, ollama):
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", check_rc=0)
    raw = only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl"
    records = read_lines(raw)
    records[0]["score"] = "<img src=x onerror=alert(1)>"  # what a model's own key carried before extras were dropped
    raw.write_text("".join(json.dumps(r) + "\n" for r in records))
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    page = (only_run(tmp_path) / "report.html").read_text()
    assert "<img src=x" not in page and "score &lt;img src=x onerror=alert(1)&gt;" in page


def test_report_md_counts_records_not_newlines(run, tmp_path, ollama):
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "3", check_rc=0)
    raw = only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl"
    lines = raw.read_text().splitlines()
    raw.write_text(lines[0] + "\n\n\n" + "\n".join(lines[1:]))  # two blank lines; the last line has no newline
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    funnel = next(line for line in (only_run(tmp_path) / "report.md").read_text().splitlines()
                  if line.startswith(f"| {DOMAIN} |"))
    assert funnel.startswith(f"| {DOMAIN} | 3 | 3 | 3 |"), funnel


@pytest.mark.parametrize("name", ["train #2.jsonl", "v2: math.jsonl", "it's \"x\".jsonl"])
def test_the_dataset_cards_yaml_names_the_export_file_whatever_its_name(run, tmp_path, ollama, name):
    import yaml

    scored_run(run, tmp_path, DOMAIN, 2)
    (tmp_path / "out").mkdir()
    run("audit.py", "export-train", "--input", "latest", "--format", "openai", "--output", str(tmp_path / "out" / name),
        check_rc=0)
    header = (tmp_path / "out" / "README.md").read_text().split("---")[1]
    paths = [f["path"] for c in yaml.safe_load(header)["configs"] for f in c["data_files"]]
    assert paths == [name]


def quality_rejections(run, tmp_path, samples: list[dict]) -> list[list[str]]:
    """Each sample's quality messages after filter.py's quality check (a loose file: nothing else asked of it)."""
    src = tmp_path / "q.jsonl"
    src.write_text("".join(json.dumps({**s, "id": f"q{i}"}) + "\n" for i, s in enumerate(samples)))
    run("filter.py", "--input", str(src), "--checks", "quality", check_rc=0)
    rejected = {r["id"]: r["reject_reasons"] for r in read_lines(tmp_path / "q.rejected.jsonl")}
    return [[r["message"] for r in rejected.get(f"q{i}", [])] for i in range(len(samples))]


def test_nul_and_bidirectional_overrides_are_named_by_the_quality_check(run, tmp_path):
    from fake_ollama import FakeOllama

    fake = FakeOllama(seed=2)
    a, b, c = (fake.make_sample() for _ in range(3))
    a["question"] = a["question"].replace("How much", "How \u202emuch")  # shown reversed to a reviewer
    b["reasoning"][0] = b["reasoning"][0] + "\x00"
    found = quality_rejections(run, tmp_path, [a, b, c])
    assert found[0] == ["question has a bidirectional control character (U+202E): what is shown is not what is trained"]
    assert found[1] == ["step 1 has a NUL character (U+0000): what is shown is not what is trained"]
    assert found[2] == []


def test_the_quality_check_matches_leftover_phrases_as_words(run, tmp_path):
    from fake_ollama import FakeOllama

    fake = FakeOllama(seed=3)
    samples = [fake.make_sample() for _ in range(6)]
    for s, text in zip(samples, ["Priya works as an aide.", "The mastodon fund pays out.", "Here is your budget: $5,000.",
                                 "As an AI, I wrote this.", "TODO: add the fee.", "Here is your question:"]):
        s["question"] = text + " " + s["question"]
    found = quality_rejections(run, tmp_path, samples)
    assert found[:3] == [[], [], []]  # "as an ai" is not in "as an aide", nor "todo" in "mastodon"
    assert all(found[3:]) and "'as an ai'" in found[3][0] and "'todo'" in found[4][0]


def test_an_edited_difficulty_or_domain_is_judged_again(run, tmp_path, ollama):
    filtered = scored_run(run, tmp_path, DOMAIN, 2) / FOLDER / f"filtered_{SLUG}.jsonl"
    records = read_lines(filtered)
    records[0]["difficulty"] = "hard" if records[0]["difficulty"] != "hard" else "easy"  # what the judge rates it against
    records[1]["domain"] = "Jobs at a startup"
    filtered.write_text("".join(json.dumps(r) + "\n" for r in records))
    before = len(ollama.model_requests())
    run("score.py", "--input", "latest", check_rc=0)
    assert len(ollama.model_requests()) - before == 4  # the judge and the re-solve, for each edited sample
    final = {r["id"]: r for r in read_lines(filtered.with_name(f"final_{SLUG}.jsonl"))}
    assert final[records[0]["id"]]["difficulty"] == records[0]["difficulty"]
    assert final[records[1]["id"]]["domain"] == "Jobs at a startup"


def test_a_crashing_check_costs_one_sample_for_a_user_but_raises_under_tests_and_dataforge_traceback(monkeypatch):
    """A bug in a check rejects its sample as 'internal' and the run goes on; under pytest
    (PYTEST_CURRENT_TEST, which the scripts the tests run inherit) and with DATAFORGE_TRACEBACK=1 it
    raises instead, so the tests fail on it rather than count it."""
    from dataforge.checks import FileContext, check_lines
    from fake_ollama import FakeOllama

    line = (1, json.dumps(FakeOllama().make_sample(domain="Bakery")).encode(), False)
    broken = FileContext("in.jsonl", "Bakery", {"Bakery": 42}, ("domain",))  # keywords not a dict: the domain check crashes
    monkeypatch.delenv("DATAFORGE_TRACEBACK", raising=False)
    with pytest.raises(AttributeError):
        check_lines(broken, [line])
    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # as a user runs filter.py
    [verdict] = check_lines(broken, [line])
    assert verdict.reasons[0]["check"] == "internal" and "AttributeError" in verdict.reasons[0]["message"]
    monkeypatch.setenv("DATAFORGE_TRACEBACK", "1")
    with pytest.raises(AttributeError):
        check_lines(broken, [line])


def test_contamination_is_checked_in_the_worker_processes_too(run, tmp_path):
    """Above ~4 MB the checks run in worker processes: the references reach each worker as it starts."""
    from fake_ollama import FakeOllama

    fake = FakeOllama()
    samples = [dict(fake.make_sample(), id=f"s-{i}") for i in range(12_000)]
    leaked = "A baker in Oslo bakes 12 loaves of rye bread before dawn every morning and sells 7 of them. How many are left?"
    samples[9_000]["question"] = leaked
    (tmp_path / "benchmark.jsonl").write_text(json.dumps({"question": leaked}) + "\n")
    src = tmp_path / "big.jsonl"
    src.write_text("".join(json.dumps(s) + "\n" for s in samples))
    assert src.stat().st_size > 4_000_000
    run("filter.py", "--input", str(src), "--workers", "2", "--skip-checks", "domain,duplicate",
        "--reference", str(tmp_path / "benchmark.jsonl"), check_rc=0)
    contaminated = [r["id"] for r in read_lines(tmp_path / "big.rejected.jsonl")
                    if r["reject_reasons"][0]["check"] == "contamination"]
    assert contaminated == ["s-9000"]


def test_the_dataset_card_says_only_what_was_done(run, tmp_path, ollama):
    """#31 item 10: the card names the export just written and its rows (not a stale train_ file beside it),
    the checks that ran (near-duplicates not checked here), and the cost of the judges whose verdicts stand
    (a first judge's, replaced, is counted only in the total)."""
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "3", check_rc=0)
    generated = ollama.tokens_reported
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    run("score.py", "--input", "latest", check_rc=0)
    first_judge = ollama.tokens_reported - generated
    run("score.py", "--input", "latest", "--judge-model", "mistral", check_rc=0)
    second_judge = ollama.tokens_reported - generated - first_judge
    run_dir = only_run(tmp_path)
    (run_dir / "train_alpaca.jsonl").write_text("{}\n" * 50)  # a stale export of another day
    run("audit.py", "export-train", "--input", "latest", "--format", "openai", check_rc=0)
    card = (run_dir / "README.md").read_text()
    assert "train_alpaca" not in card and "- `train_openai.jsonl`: messages (role, content), 3 rows" in card
    assert "every equation was checked exactly" in card and "near-duplicates" not in card
    assert f"Cost per sample that reached final: {(generated + second_judge) / 3:,.1f} tokens (generation and the judges" in card
    assert f"in all, {(generated + first_judge + second_judge) / 3:,.1f} tokens per final sample were spent" in card


def test_report_md_escapes_a_bar_in_a_domain_name_and_resume_without_runs_names_resume(run, tmp_path, ollama):
    """#31 item 11: 'Tea|Coffee' is one cell of the funnel table; `generate.py --resume` with no runs speaks of
    --resume, not of `--input latest`."""
    run("generate.py", "--domains", "Tea|Coffee", "--samples-per-domain", "1", check_rc=0)
    report = (only_run(tmp_path) / "report.md").read_text()
    assert "| Tea\\|Coffee | 1 |" in report
    proc = run("generate.py", "--resume", "--runs-dir", "none-yet", check_rc=2)
    assert "--resume: no runs in none-yet/" in proc.stderr and "--input latest" not in proc.stderr


def test_hostile_values_in_run_json_are_named_with_the_file_and_what_to_do(run, tmp_path):
    """Issue #32: a number of 5,000 digits, 100k-deep nesting, NaN, 1e999, a quoted number, settings and records
    of the wrong kind: each exit 2 naming run.json and what is wrong, never a traceback (nor a run for ever)."""
    run_dir = scored_run(run, tmp_path, DOMAIN, 1)
    path = run_dir / "run.json"
    good = path.read_text()
    n = '"samples_per_domain": 1'
    cases = [(n, n[:-1] + "9" * 5000, "5,000 digits"), (n, n[:-1] + str(10 ** 4000), "4,001 digits"),
             (n, n[:-1] + "NaN", "NaN"), (n, n[:-1] + "1e999", "1e999"), (n, n[:-1] + '"5"', '"5" (str)'),
             ('"temperature": 0.8', '"temperature": "hot"', '"hot"'), ('"seed": null', '"seed": "7"', '"7"'),
             ('"domains": [', '"domains": "Retail", "x": [', "domains"), ('"model": "llama2"', '"model": 5', "model is 5")]
    for old, new, named in cases:
        assert old in good
        path.write_text(good.replace(old, new, 1))
        for args in (("generate.py", "--resume"), ("filter.py", "--input", "latest")):
            proc = run(*args, check_rc=2, timeout=60)
            assert f"{path.relative_to(tmp_path)}: " in proc.stderr and named in proc.stderr, proc.stderr
            assert "correct it by hand" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    path.write_text('{"stages": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert "nested too deeply" in run("score.py", "--input", "latest", check_rc=2).stderr


@pytest.mark.parametrize("name, kind, args", [
    ("filtered_", "folder", ("filter.py", "--input", "latest")),
    ("report.md", "folder", ("filter.py", "--input", "latest")),
    (".lock", "folder", ("filter.py", "--input", "latest")),
    ("final_", "folder", ("score.py", "--input", "latest")),
    ("scored_", "fifo", ("score.py", "--input", "latest")),
    ("filter_report.json", "fifo", ("score.py", "--input", "latest")),
    ("run.json", "fifo", ("filter.py", "--input", "latest")),
    ("decisions_", "fifo", ("generate.py", "--domains", DOMAIN, "--samples-per-domain", "1", "--feedback", "RUN")),
])
def test_a_folder_or_a_fifo_where_a_run_file_belongs_is_named_and_no_temp_file_is_left(run, tmp_path, name, kind, args):
    """Issue #32: a FIFO blocked for ever; a folder was a traceback that left .tmp files behind."""
    run_dir = scored_run(run, tmp_path, DOMAIN, 1)
    path = run_dir / (FOLDER + "/" + name + SLUG + ".jsonl" if name.endswith("_") else name)
    path.unlink(missing_ok=True)
    path.mkdir() if kind == "folder" else os.mkfifo(path)
    proc = run(*(str(run_dir) if a == "RUN" else a for a in args), check_rc=2, timeout=60)
    assert f"{path.relative_to(tmp_path)} is {'a folder' if kind == 'folder' else 'a pipe (FIFO)'} where a file belongs" \
           in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not list(run_dir.rglob("*.tmp"))


def test_a_run_file_without_read_permission_is_named(run, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("run as root, which reads a file of mode 000 anyway; the folder and FIFO cases above cover the class")
    run_dir = scored_run(run, tmp_path, DOMAIN, 1)
    (run_dir / FOLDER / f"filtered_{SLUG}.jsonl").chmod(0)
    proc = run("score.py", "--input", "latest", check_rc=2)
    assert "cannot be read (Permission denied)" in proc.stderr and "chmod u+r" in proc.stderr


def test_one_id_names_one_sample_from_the_filter_on(run, tmp_path):
    """Issue #32: 'C' and 'C++' gave the same ids; two samples with one id in raw_ were dropped together by a
    reviewer's decision on one of them, the kept one missing from export-train."""
    proc = run("generate.py", "--domains", "C,C++", "--samples-per-domain", "1", check_rc=2)
    assert "domains 'C' and 'C++' would give their samples the same ids" in proc.stderr
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "3", check_rc=0)
    raw = only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl"
    samples = read_lines(raw)
    samples[1]["id"] = samples[0]["id"]
    raw.write_text("".join(json.dumps(s) + "\n" for s in samples))
    proc = run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    assert f"raw_{SLUG}.jsonl:2: id '{samples[0]['id']}' is also on line 1; this sample is kept as " \
           f"'{samples[0]['id']}-2'" in proc.stderr
    run("score.py", "--input", "latest", check_rc=0)
    run("audit.py", "export", "--input", "latest", check_rc=0)
    path = only_run(tmp_path) / FOLDER / f"audit_{SLUG}.csv"
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    row = next(r for r in rows if r[0] == samples[0]["id"])
    row[8] = "drop"
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows(rows)
    run("audit.py", "apply", "--input", "latest", "--decisions", str(path), check_rc=0)
    run("audit.py", "export-train", "--input", "latest", "--format", "alpaca", check_rc=0)
    exported = read_lines(only_run(tmp_path) / "train_alpaca.jsonl")
    assert len(exported) == 2 and samples[1]["question"] in {e["instruction"] for e in exported}


def test_report_md_shows_a_models_markdown_and_html_as_text(run, tmp_path, ollama):
    """Issue #32: a model's `![x](http://...)` and `<img onerror>` were written into report.md as they were, and
    Markdown viewers fetch the image."""
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", check_rc=0)
    raw = only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl"
    records = read_lines(raw)
    for r in records:
        r["question"] = "![x](http://127.0.0.1:9/track.png) <img src=x onerror=alert(1)> [see](http://127.0.0.1:9) " + r["question"]
    records[1]["reasoning"][0] += " = 1"  # rejected: its question is shown with the reason
    raw.write_text("".join(json.dumps(r) + "\n" for r in records))
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    report = (only_run(tmp_path) / "report.md").read_text()
    assert report.count(r"\!\[x\](http://127.0.0.1:9/track.png) &lt;img src=x onerror=alert(1)&gt; \[see\]") == 2, report
    assert "![" not in report and "<img" not in report and "](http" not in report.replace(r"\](http", "")
    page = (only_run(tmp_path) / "report.html").read_text()
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_a_run_dated_in_the_future_is_not_latest_and_the_choice_is_said(run, tmp_path):
    """Issue #32: run_2099... was silently `latest` for ever after (every new run sorts before it)."""
    real = scored_run(run, tmp_path, DOMAIN, 1)
    future = tmp_path / "runs" / "run_20990101_000000"
    shutil.copytree(real, future)
    proc = run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    assert f"warning: {future.name} is dated in the future" in proc.stderr
    assert f"latest is runs/{real.name}" in proc.stderr and f"next: python score.py --input runs/{real.name}" in proc.stderr


def test_no_lock_file_is_left_when_a_stage_is_done(run, tmp_path, ollama):
    """Issue #32: every stage left a .lock naming a dead process in the run folder."""
    run_dir = scored_run(run, tmp_path, DOMAIN, 1)
    assert not (run_dir / ".lock").exists()
    run("audit.py", "export", "--input", "latest", check_rc=0)
    assert not (run_dir / ".lock").exists()
    ollama.faults.latency = 0.3  # stopped by Ctrl-C
    proc = subprocess.Popen([sys.executable, str(ROOT / "score.py"), "--input", "latest", "--judge-model", "ollama://mistral"],
                            cwd=tmp_path, env={**os.environ, "OLLAMA_HOST": ollama.url}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctrl_c_after(proc, ollama, requests=len(ollama.model_requests()) + 1)
    assert proc.returncode == 130 and not (run_dir / ".lock").exists()


def test_a_hand_edited_cached_score_is_named_and_scored_again_not_a_traceback(run, tmp_path, ollama):
    """Issue #32: a cached score holding NaN, 5,000 digits, deep nesting or a quoted number was a traceback
    (or silently taken)."""
    run_dir = scored_run(run, tmp_path, DOMAIN, 6)
    scored = run_dir / FOLDER / f"scored_{SLUG}.jsonl"
    lines = scored.read_text().splitlines()
    record = json.loads(lines[0])
    lines[0] = json.dumps(record).replace('"correctness": ', '"correctness": NaN, "x": ', 1)
    lines[1] = json.dumps(record).replace('"correctness": ', f'"correctness": {"9" * 5000}, "x": ', 1)
    lines[2] = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    lines[3] = json.dumps({**record, "scores": {**record["scores"], "correctness": "8"}})
    lines[4] = json.dumps({**record, "scores": "high"})
    scored.write_text("\n".join(lines) + "\n")
    before = len(ollama.model_requests())
    proc = run("score.py", "--input", "latest", check_rc=0)
    for n, named in ((1, "NaN is not a number"), (2, "5,000 digits"), (3, "nested too deeply"), (4, "scores are not whole"),
                     (5, "scores are not whole")):
        said = next(line for line in proc.stderr.splitlines() if f"scored_{SLUG}.jsonl:{n}: " in line)
        assert named in said and said.endswith("not reused (its sample is scored again)")
    assert "Traceback" not in proc.stderr and len(ollama.model_requests()) > before
    assert len(read_lines(run_dir / FOLDER / f"final_{SLUG}.jsonl")) == 6
