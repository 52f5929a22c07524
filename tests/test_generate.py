"""generate.py run as users run it, against the test Ollama server and the embedded model."""

import json
import os
import random
import signal
import subprocess
import sys
import time

from conftest import ROOT, ctrl_c_after, need_embedded, only_run, read_lines
from dataforge.schema import Sample, generation_schema

README_COMMAND = ["--domains", "Jobs at startup", "--domain-notes", "budget, headcount, runway", "--samples-per-domain", "15"]


def test_readme_command_writes_valid_samples(run, tmp_path, ollama):
    proc = run("generate.py", *README_COMMAND, check_rc=0)
    run_dir = only_run(tmp_path)
    raw = run_dir / "Jobs at startup data samples" / "raw_jobs_at_startup.jsonl"
    samples = read_lines(raw)
    assert len(samples) == 15 and len({s["id"] for s in samples}) == 15
    for s in samples:
        Sample.model_validate(s)
        assert s["domain"] == "Jobs at startup"  # the requested domain, whatever the model said
        assert {"template", "model", "created_at", "prompt_tokens", "completion_tokens"} <= set(s)
    assert {s["template"] for s in samples} == {"detailed", "conversational", "minimal"}
    bodies = [r["body"] for r in ollama.model_requests()]
    assert all(b["model"] == "llama2" and b["format"] == generation_schema(patterns=True) for b in bodies)
    assert all("budget, headcount, runway" in b["messages"][1]["content"] for b in bodies)
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["stages"]["generate"]["totals"]["valid"] == 15
    assert "15 valid, 0 failed" in proc.stderr


def test_interactive_answers_from_stdin(run, tmp_path):
    run("generate.py", "--interactive", "--ask-samples", input="Retail, Farming\ninventory, discounts\ncrops\n4\n", check_rc=0)
    run_dir = only_run(tmp_path)
    assert len(read_lines(run_dir / "Retail data samples" / "raw_retail.jsonl")) == 4
    assert len(read_lines(run_dir / "Farming data samples" / "raw_farming.jsonl")) == 4
    settings = json.loads((run_dir / "run.json").read_text())["stages"]["generate"]["settings"]
    assert settings["domains"] == [{"name": "Retail", "notes": "inventory, discounts"}, {"name": "Farming", "notes": "crops"}]


def test_never_waits_for_input_when_stdin_is_not_a_terminal(run):
    proc = run("generate.py", "--interactive", check_rc=2)
    assert "pass --domains instead" in proc.stderr
    proc = run("generate.py", "--domains", "Retail", "--ask-samples", check_rc=2)
    assert "pass --samples-per-domain instead" in proc.stderr
    assert "no domains given" in run("generate.py", check_rc=2).stderr


def test_invalid_replies_are_retried_with_a_repair_hint(run, tmp_path, ollama):
    ollama.faults.queue = ["invalid_json", "length", "offschema"]
    run("generate.py", "--domains", "Retail", "--samples-per-domain", "1", "--max-attempts", "4", check_rc=0)
    sample = read_lines(only_run(tmp_path) / "Retail data samples" / "raw_retail.jsonl")[0]
    assert sample["attempts"] == 4
    last = ollama.model_requests()[-1]["body"]["messages"]
    assert last[-1]["role"] == "user" and "could not be used" in last[-1]["content"]


def test_what_stays_invalid_goes_to_failed_with_raw_text_and_error(run, tmp_path, ollama):
    ollama.faults.queue = ["invalid_json", "offschema", "500", "503", "500"]  # (3 same 500s in a row stop the stage)
    proc = run("generate.py", "--domains", "Retail", "--samples-per-domain", "2", "--max-attempts", "2", check_rc=0)
    folder = only_run(tmp_path) / "Retail data samples"
    failed = read_lines(folder / "failed_retail.jsonl")
    assert len(failed) + len(read_lines(folder / "raw_retail.jsonl")) == 2
    errors = [a["error"] for f in failed for a in f["attempt_errors"]]
    assert any(e.startswith("invalid JSON") for e in errors) and any(e.startswith("off-schema") for e in errors)
    assert all(a["raw"] for f in failed for a in f["attempt_errors"] if not a["error"].startswith("request failed"))
    assert "1 failed" in proc.stderr


def test_server_down_at_start_is_a_clear_error(run):
    proc = run("generate.py", "--domains", "Retail", env={"OLLAMA_HOST": "127.0.0.1:9"}, check_rc=2)
    assert "Error: Ollama is not running at http://127.0.0.1:9 — start it with `ollama serve`" in proc.stderr


def test_model_not_pulled_is_a_clear_error(run):
    proc = run("generate.py", "--domains", "Retail", "--model", "mixtral", check_rc=2)
    assert "run `ollama pull mixtral`" in proc.stderr


def test_concurrency_keeps_requests_in_flight(run, tmp_path, ollama):
    ollama.faults.latency = 0.3
    run("generate.py", "--domains", "Retail", "--samples-per-domain", "8", "--concurrency", "8", check_rc=0)
    assert len(read_lines(only_run(tmp_path) / "Retail data samples" / "raw_retail.jsonl")) == 8
    assert ollama.max_in_flight == 8  # the server saw all eight at once


def test_domain_names_cannot_escape_the_run_folder(run, tmp_path):
    run("generate.py", "--domains", "../../escape,/etc/passwd", "--samples-per-domain", "1", check_rc=0)
    run_dir = only_run(tmp_path)
    assert not (tmp_path / "escape data samples").exists()
    folders = sorted(p.name for p in run_dir.iterdir() if p.is_dir())
    assert folders == ["escape data samples", "etc_passwd data samples"]


def test_ollama_cli_backend_end_to_end(run, tmp_path):
    proc = run("generate.py", "--model", "ollama-cli://llama2", "--domains", "Retail", "--samples-per-domain", "2",
               "--temperature", "0.5", env={"OLLAMA_BIN": str(ROOT / "tests" / "bin" / "ollama")}, check_rc=0)
    assert "ollama-cli has no --temperature" in proc.stderr
    assert len(read_lines(only_run(tmp_path) / "Retail data samples" / "raw_retail.jsonl")) == 2


def kill_9_and_resume(tmp_path, ollama, args: list[str], runs: int, before_kill) -> int:
    """Start `generate.py args`, SIGKILL it once before_kill(proc) returns, then the same with --resume, `runs`
    times in all (a run that finishes first ends the series); a last --resume finishes the run. Returns the kills."""
    env = {**os.environ, "OLLAMA_HOST": ollama.url, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, str(ROOT / "generate.py"), *args]
    kills = 0
    for i in range(runs):
        proc = subprocess.Popen(cmd + (["--resume"] if i else []), cwd=tmp_path, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        before_kill(proc)
        if proc.poll() is not None:
            break  # it finished first: a kill now would prove nothing
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    subprocess.run(cmd + ["--resume"], cwd=tmp_path, env=env, check=True, capture_output=True, timeout=120)
    return kills


def test_kill_9_then_resume_gives_exactly_the_requested_samples(tmp_path, ollama):
    """SIGKILL generate.py at random moments, resume each time: N samples, unique ids, no torn lines."""
    ollama.faults.latency = 0.2
    rng = random.Random(7)
    kills = kill_9_and_resume(tmp_path, ollama, ["--domains", "Retail,Farming", "--samples-per-domain", "12",
                                                 "--concurrency", "3"], 6, lambda proc: time.sleep(0.6 + rng.random() * 0.5))
    assert kills >= 3  # each of them landed while the run was writing
    run_dir = only_run(tmp_path)
    for folder, slug in (("Retail", "retail"), ("Farming", "farming")):
        text = (run_dir / f"{folder} data samples" / f"raw_{slug}.jsonl").read_text()
        assert text.endswith("\n")
        ids = [json.loads(line)["id"] for line in text.splitlines()]
        assert len(ids) == 12 and len(set(ids)) == 12


def test_a_lost_model_stops_at_once_past_a_hung_request_and_main_raises_stopped_to_its_caller(run, tmp_path, ollama):
    """cli.run ends the process without waiting for a request a hung server holds; main() called in a program
    of one's own raises cli.Stopped to it instead of ending that program."""
    ollama.faults.queue = ["hang"] + ["gone"] * 20  # "hang": the server holds that request 30 s
    started = time.monotonic()
    proc = run("generate.py", "--domains", "Ops", "--samples-per-domain", "4", "--concurrency", "2", check_rc=2)
    assert time.monotonic() - started < 20 and "is not pulled" in proc.stderr

    ollama.faults.queue = ["gone"] * 20
    program = ("import sys; sys.path.insert(0, sys.argv[1]); import generate; from dataforge import cli\n"
               "try:\n    generate.main(sys.argv[2:])\nexcept cli.Stopped as stop:\n    print('stopped', stop.code)\n")
    proc = subprocess.run([sys.executable, "-c", program, str(ROOT), "--domains", "Ops", "--samples-per-domain", "4",
                           "--runs-dir", "mine"], cwd=tmp_path, env={**os.environ, "OLLAMA_HOST": ollama.url},
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.stdout == "stopped 2\n" and proc.returncode == 0, proc.stderr
    assert "is not pulled" in proc.stderr and "python generate.py --resume mine/run_" in proc.stderr
    manifest = json.loads(next((tmp_path / "mine").glob("run_*/run.json")).read_text())
    assert manifest["stages"]["generate"]["status"] == "stopped"


def test_torn_last_line_is_set_aside_and_redone(run, tmp_path):
    run("generate.py", "--domains", "Retail", "--samples-per-domain", "3", check_rc=0)
    raw = only_run(tmp_path) / "Retail data samples" / "raw_retail.jsonl"
    raw.write_bytes(raw.read_bytes()[:-40])  # a crash in the middle of writing the last line
    proc = run("generate.py", "--resume", check_rc=0)
    assert "unfinished line from a crash set aside" in proc.stderr
    assert len(read_lines(raw)) == 3
    assert (raw.parent / "torn_retail.jsonl").exists()


def test_embedded_model_runs_the_stage(run, tmp_path):
    need_embedded()
    proc = run("generate.py", "--model", "embedded", "--domains", "Coffee shop", "--samples-per-domain", "2",
               "--max-attempts", "2", "--seed", "1", "--repairs", "0", env={"DATAFORGE_PROGRESS": "1"}, timeout=600)
    assert proc.returncode == 0, proc.stderr
    folder = only_run(tmp_path) / "Coffee shop data samples"
    assert len(read_lines(folder / "raw_coffee_shop.jsonl")) == 2  # the grammar keeps even a 135M model in format
    assert "writing " in proc.stderr and " tok/s" in proc.stderr  # the bar moves while a sample is written
    manifest = json.loads((only_run(tmp_path) / "run.json").read_text())["stages"]["generate"]
    assert manifest["model"] == "embedded" and manifest["totals"]["completion_tokens"] > 0


def test_ctrl_c_stops_cleanly_with_a_summary_and_the_run_resumes(tmp_path, ollama):
    env = {**os.environ, "OLLAMA_HOST": ollama.url, "PYTHONUNBUFFERED": "1"}
    ollama.faults.latency = 0.2
    cmd = [sys.executable, str(ROOT / "generate.py"), "--domains", "Retail", "--samples-per-domain", "20"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    err = ctrl_c_after(proc, ollama, requests=3)
    assert proc.returncode == 130
    assert "interrupted" in err and "requested" in err  # the summary so far, and right:
    written = len(read_lines(only_run(tmp_path) / "Retail data samples" / "raw_retail.jsonl"))
    row = next(line.split() for line in err.splitlines() if line.startswith("Retail "))
    assert row[1:3] == ["20", str(written)] and f"20 requested, {written} valid" in err
    subprocess.run(cmd[:2] + ["--resume"], cwd=tmp_path, env=env, check=True, capture_output=True, timeout=120)
    ids = [s["id"] for s in read_lines(only_run(tmp_path) / "Retail data samples" / "raw_retail.jsonl")]
    assert len(ids) == 20 and len(set(ids)) == 20


def test_a_stage_that_ends_with_nothing_says_why_and_what_to_do(run, tmp_path, ollama):
    ollama.faults.queue = ["no_equals", "no_equals", "length", "invalid_json"]
    proc = run("generate.py", "--domains", "Coffee shop", "--samples-per-domain", "2", "--max-attempts", "2", check_rc=0)
    assert "0 of 2 valid" in proc.stderr
    assert "  failed attempts (each, with the reply, in failed_<domain>.jsonl):" in proc.stderr
    for kind in ("2 step without '='; the first: ", "1 cut off at the token limit; the first: ", "1 invalid JSON; the first: "):
        assert f"\n    {kind}" in proc.stderr, proc.stderr
    assert "Generate with a model that writes better math: `ollama pull qwen2.5`" in proc.stderr
    assert "next: python filter.py" not in proc.stderr

    ollama.faults.queue = ["wrong_math"] * 3
    run("generate.py", "--domains", "Coffee shop", "--samples-per-domain", "3", "--repairs", "0", check_rc=0)
    proc = run("filter.py", "--input", "latest", check_rc=0)
    assert "0 of 3 kept: the reasons above" in proc.stderr and "arithmetic" in proc.stderr

    run("generate.py", "--domains", "Coffee shop", "--samples-per-domain", "3", check_rc=0)
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    ollama.answers.clear()  # the judge's own solution now disagrees with every sample
    proc = run("score.py", "--input", "latest", check_rc=0)
    assert ("nothing reached final: 0 off-domain, 0 incorrect, 3 turned down by the re-solve, 0 unresolved (no juror's "
            "re-solve could vote), 0 below --threshold; the judge's own solution disagreed on 3 of 3") in proc.stderr


# ---------------------------------------------------------------- repairs: a step the checker found wrong, sent back

def slipped_math(step: str) -> tuple[str, int]:
    """'Total: 1392 + 166 = 1568' -> ('1392 + 166', 1568): the test server's steps are 'label: a op b = c'."""
    math, _, result = step.split(": ", 1)[1].rpartition(" = ")
    return math, int(result)


def test_a_slipped_step_is_sent_back_with_the_checkers_message_and_the_steps_to_keep(run, tmp_path, ollama):
    ollama.slipping.share, ollama.slipping.step = 1.0, 1  # step 2 of every sample is off; told where, it fixes it
    proc = run("generate.py", "--domains", "Retail", "--samples-per-domain", "1", check_rc=0)  # --repairs 1 by default
    first, repair = [r["body"]["messages"] for r in ollama.model_requests()]
    assert repair[:2] == first and repair[2]["role"] == "assistant" and repair[3]["role"] == "user"  # one conversation
    slipped = json.loads(repair[2]["content"])
    math, wrong = slipped_math(slipped["reasoning"][1])
    a, _, c = math.partition(" + ")
    assert repair[3]["content"].startswith(f"Step 2 says {math} = {wrong}, but {math} = {int(a) + int(c):,}. "
                                           "Keep step 1 as it is, redo the solution from step 2, and make the answer "
                                           "equal the last step's result.")
    folder = only_run(tmp_path) / "Retail data samples"
    [sample] = read_lines(folder / "raw_retail.jsonl")
    assert sample["question"] == slipped["question"] and sample["reasoning"][0] == slipped["reasoning"][0]
    assert sample["repairs"] == [{"step": 2, "check": "arithmetic", "message": repair[3]["content"], "attempt": 1}]
    assert sample["attempts"] == 2 and sample["prompt_tokens"] + sample["completion_tokens"] == ollama.tokens_reported
    [before] = read_lines(folder / "failed_retail.jsonl")  # the failing version, with its reason: nothing hidden
    assert before["repaired"] is True and before["id"] == sample["id"]
    assert json.loads(before["attempt_errors"][0]["raw"]) == slipped
    assert before["attempt_errors"][0]["error"] == f"arithmetic: step 2 says {math} = {wrong}, but {math} = {int(a) + int(c):,}"
    assert "repairs: 1 asked (a step the checker found wrong, sent back with the fix), 1 passed" in proc.stderr
    assert "1 valid, 0 failed, 2 attempts" in proc.stderr


def test_a_repaired_sample_passes_the_filter_and_is_counted_in_report_and_card(run, tmp_path, ollama):
    ollama.slipping.share = 1.0
    run("generate.py", "--domains", "Retail", "--samples-per-domain", "3", check_rc=0)
    proc = run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)  # every check but duplicates
    run_dir = only_run(tmp_path)
    folder = run_dir / "Retail data samples"
    assert [s["repairs"][0]["attempt"] for s in read_lines(folder / "filtered_retail.jsonl")] == [1, 1, 1]
    assert "repairs (a step the checker found wrong, sent back with the fix): 3 asked, 3 passed; repaired samples: " \
           "valid 3, filtered 3" in (run_dir / "report.md").read_text()
    run("score.py", "--input", "latest", check_rc=0)
    run("audit.py", "export-train", "--input", "latest", "--format", "openai", check_rc=0)
    card = (run_dir / "README.md").read_text()
    assert "- Repaired: 3 of the samples that reached final" in card and "3 repairs asked, 3 passed" in card

    proc = run("filter.py", "--input", "latest", "--skip-checks", "duplicate", "--skip-repaired", check_rc=0)
    rejected = read_lines(folder / "rejected_retail.jsonl")
    assert [r["reject_reasons"][0]["check"] for r in rejected] == ["repaired"] * 3
    assert "left out by --skip-repaired" in proc.stderr and not read_lines(folder / "filtered_retail.jsonl")


def test_a_repair_that_still_fails_ends_in_failed_with_both_versions_reasons(run, tmp_path, ollama):
    # it fixes step 2 when told, and breaks step 1 doing so
    ollama.slipping.share, ollama.slipping.step, ollama.slipping.breaks = 1.0, 1, 1.0
    proc = run("generate.py", "--domains", "Retail", "--samples-per-domain", "1", check_rc=0)
    folder = only_run(tmp_path) / "Retail data samples"
    assert not read_lines(folder / "raw_retail.jsonl")
    [failed] = read_lines(folder / "failed_retail.jsonl")
    assert [a["error"].split(" says ")[0] for a in failed["attempt_errors"]] == ["arithmetic: step 2", "arithmetic: step 1"]
    assert len({json.loads(a["raw"])["question"] for a in failed["attempt_errors"]}) == 1  # the question stayed
    assert failed["repairs"][0]["step"] == 2 and len(ollama.model_requests()) == 2
    assert "0 valid, 1 failed, 2 attempts" in proc.stderr and "1 asked (a step" in proc.stderr and "0 passed" in proc.stderr
    assert "\n    2 failed the arithmetic check; the first: arithmetic: step 2" in proc.stderr, proc.stderr


def test_repairs_0_sends_no_repair_and_the_filter_rejects_the_slip(run, tmp_path, ollama):
    ollama.slipping.share = 1.0
    proc = run("generate.py", "--domains", "Retail", "--samples-per-domain", "2", "--repairs", "0", check_rc=0)
    assert [len(r["body"]["messages"]) for r in ollama.model_requests()] == [2, 2]
    folder = only_run(tmp_path) / "Retail data samples"
    assert all("repairs" not in s for s in read_lines(folder / "raw_retail.jsonl"))
    assert not read_lines(folder / "failed_retail.jsonl") and "repairs:" not in proc.stderr
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    assert [r["reject_reasons"][0]["check"] for r in read_lines(folder / "rejected_retail.jsonl")] == ["arithmetic"] * 2


def test_kill_9_during_a_repair_then_resume_gives_exactly_the_requested_samples(tmp_path, ollama):
    """Every sample slips and is repaired; SIGKILL lands while a repair is in flight: the slot is redone
    or its repaired sample is there, never both, and every repaired sample's failing version is in failed_."""
    ollama.slipping.share, ollama.faults.latency = 1.0, 0.2
    rng = random.Random(3)

    def during_a_repair(proc):
        seen, deadline = ollama.slipping.repairs_seen, time.monotonic() + 30
        while ollama.slipping.repairs_seen == seen and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(rng.random() * 0.15)  # the repair is in flight (0.2 s), or its sample being written

    kills = kill_9_and_resume(tmp_path, ollama, ["--domains", "Retail", "--samples-per-domain", "8", "--concurrency", "2"],
                              3, during_a_repair)
    assert kills == 3
    folder = only_run(tmp_path) / "Retail data samples"
    text = (folder / "raw_retail.jsonl").read_text()
    samples = [json.loads(line) for line in text.splitlines()]
    assert text.endswith("\n") and len(samples) == 8 and len({s["id"] for s in samples}) == 8
    assert all(s["repairs"] for s in samples)
    replaced = {f["id"] for f in read_lines(folder / "failed_retail.jsonl") if f.get("repaired")}
    assert {s["id"] for s in samples} <= replaced
