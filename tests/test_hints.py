"""Issue #25: every command a stage prints names the run it means, `latest` finds the run a stage can
read, records say only what is true, and a newcomer's first mistakes get a fix, not a traceback."""

import csv
import json
import os
import pty
import re
import shlex
import socket
import subprocess
import sys
import time

from conftest import ROOT, ctrl_c_after, need_embedded, only_run, read_lines, scored_run

DOMAIN, SLUG, FOLDER = "Retail", "retail", "Retail data samples"


def next_command(stderr: str) -> list[str]:
    """The `next:` line a stage printed, as the arguments after `python`."""
    lines = [line for line in stderr.splitlines() if line.strip().startswith("next: python ")]
    assert len(lines) == 1, stderr
    return shlex.split(lines[0].split("next: python ", 1)[1], comments=True)  # as a shell runs it: '# why' is a comment


def runs_in(folder):
    return sorted(folder.glob("run_*"))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- 2. hints that point at the right run

def test_each_next_line_runs_as_printed_on_the_run_it_names(run, tmp_path):
    """generate (in a folder of one's own) -> filter -> score -> audit export -> apply, each started from the
    `next:` line the one before printed. An older finished run in runs/ must not be picked up on the way."""
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", check_rc=0)  # a decoy in runs/
    proc = run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "3", "--runs-dir", "mine", check_rc=0)
    mine = runs_in(tmp_path / "mine")[0]
    step = next_command(proc.stderr)
    assert step == ["filter.py", "--input", f"mine/{mine.name}"]
    proc = run(*step, "--skip-checks", "duplicate", check_rc=0)
    step = next_command(proc.stderr)
    assert step == ["score.py", "--input", f"mine/{mine.name}"]
    proc = run(*step, check_rc=0)
    step = next_command(proc.stderr)
    assert step[:3] == ["audit.py", "export", "--input"] and step[3] == f"mine/{mine.name}"
    proc = run(*step, check_rc=0)
    step = next_command(proc.stderr)
    assert step[:4] == ["audit.py", "apply", "--input", f"mine/{mine.name}"]
    assert step[5] == str(mine / FOLDER / f"audit_{SLUG}.csv").removeprefix(str(tmp_path) + "/")
    proc = run(*step, check_rc=0)
    step = next_command(proc.stderr)
    assert step == ["generate.py", "--feedback", f"mine/{mine.name}", "--domains", DOMAIN]  # the real domains (#32)
    assert (mine / FOLDER / f"decisions_{SLUG}.jsonl").exists()
    run(*step, check_rc=0)
    proc = run("audit.py", "export-train", "--input", f"mine/{mine.name}", "--format", "openai", check_rc=0)
    shown = re.search(r"next: (head .+)", proc.stderr).group(1)
    shown = subprocess.run(shown, shell=True, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert len(shown.splitlines()) == 2 and json.loads(shown.splitlines()[0])["messages"][0]["role"] == "user"
    decoy = runs_in(tmp_path / "runs")[0]
    assert not list(decoy.glob("*/filtered_*.jsonl"))  # the decoy was never touched
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "1", "--out-dir", "old", check_rc=0)
    assert len(runs_in(tmp_path / "old")) == 1  # the old flag still works


def test_resume_after_ctrl_c_finishes_the_interrupted_run_not_a_finished_one(run, tmp_path, ollama):
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", check_rc=0)  # finished, in runs/
    ollama.faults.latency = 0.2
    env = {**os.environ, "OLLAMA_HOST": ollama.url, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "generate.py"), "--domains", DOMAIN, "--samples-per-domain", "12",
                             "--runs-dir", "elsewhere"], cwd=tmp_path, env=env, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    err = ctrl_c_after(proc, ollama, requests=5)
    assert proc.returncode == 130
    interrupted = runs_in(tmp_path / "elsewhere")[0]
    resume = re.search(r"finish with `python (.+?)`", err).group(1)
    assert shlex.split(resume) == ["generate.py", "--resume", f"elsewhere/{interrupted.name}"]
    ollama.faults.latency = 0.0
    run(*shlex.split(resume), check_rc=0)
    assert len(read_lines(interrupted / FOLDER / f"raw_{SLUG}.jsonl")) == 12

    # --resume alone: the newest unfinished run, even with a finished one after it
    ollama.faults.latency = 0.2
    proc = subprocess.Popen([sys.executable, str(ROOT / "generate.py"), "--domains", DOMAIN, "--samples-per-domain", "12"],
                            cwd=tmp_path, env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    ctrl_c_after(proc, ollama, requests=len(ollama.model_requests()) + 4)
    assert proc.returncode == 130
    ollama.faults.latency = 0.0
    unfinished = runs_in(tmp_path / "runs")[-1]
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "1", check_rc=0)  # a newer, finished run
    proc = run("generate.py", "--resume", check_rc=0)
    assert f"run: runs/{unfinished.name}" in proc.stderr
    assert len(read_lines(unfinished / FOLDER / f"raw_{SLUG}.jsonl")) == 12


def test_the_readme_audit_steps_in_order_work_end_to_end(run, tmp_path):
    """README: export, apply, generate --feedback, export-train --input latest: the last one exports the
    audited run, the newest that score.py finished, not the --feedback run made after it."""
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "4", check_rc=0)
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    run("score.py", "--input", "latest", check_rc=0)
    audited = only_run(tmp_path)
    proc = run("audit.py", "export", "--input", "latest", "--sample", "30", check_rc=0)
    assert f"apply --input runs/{audited.name} " in proc.stderr  # not `--input latest`
    path = audited / FOLDER / f"audit_{SLUG}.csv"
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    rows[1][8], rows[1][9] = "drop", "too easy"
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows(rows)
    run("audit.py", "apply", "--input", "latest", "--decisions", str(path), check_rc=0)
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", "--feedback", f"runs/{audited.name}", check_rc=0)
    proc = run("audit.py", "export-train", "--input", "latest", "--format", "openai", check_rc=0)
    assert f"runs/{audited.name}, the newest run with final_" in proc.stderr  # the choice is said
    assert len(read_lines(audited / "train_openai.jsonl")) == 3  # 4 final, 1 dropped by the reviewer


# ---------------------------------------------------------------- 3. records that say only what is true

def test_scoring_a_run_file_into_an_output_elsewhere_leaves_the_runs_records_alone(run, tmp_path):
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "3", check_rc=0)
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    run("score.py", "--input", "latest", check_rc=0)
    run_dir = only_run(tmp_path)
    before = {p.relative_to(run_dir): p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.name != ".lock"}
    (tmp_path / "elsewhere").mkdir()
    run("score.py", "--input", str(run_dir / FOLDER / f"filtered_{SLUG}.jsonl"), "--output", "elsewhere/final.jsonl",
        "--judge-model", "ollama://mistral", check_rc=0)
    after = {p.relative_to(run_dir): p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before  # run.json, report.md, tokens.jsonl, scored_ and final_ as they were
    assert len(read_lines(tmp_path / "elsewhere" / "final.jsonl")) == 3
    assert "mistral" not in (run_dir / "report.md").read_text()


def test_the_dataset_card_lists_contamination_only_when_it_was_checked(run, tmp_path):
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", check_rc=0)
    proc = run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    assert "contamination: not checked" in proc.stderr
    run("score.py", "--input", "latest", check_rc=0)
    run("audit.py", "export-train", "--input", "latest", "--format", "alpaca", check_rc=0)
    card = (only_run(tmp_path) / "README.md").read_text()
    checks = next(line for line in card.splitlines() if line.startswith("- Filter checks:"))
    assert "arithmetic" in checks and "contamination" not in checks

    reference = tmp_path / "benchmark.jsonl"
    reference.write_text(json.dumps({"question": "A farmer has 3 cows and buys 2 more. How many cows now?"}) + "\n")
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", "--reference", str(reference), check_rc=0)
    run("audit.py", "export-train", "--input", "latest", "--format", "alpaca", check_rc=0)
    assert "contamination" in (only_run(tmp_path) / "README.md").read_text().split("- Filter checks:")[1].splitlines()[0]


def test_the_judges_token_counts_do_not_overwrite_the_generations(run, tmp_path):
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", check_rc=0)
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    run("score.py", "--input", "latest", check_rc=0)
    folder = only_run(tmp_path) / FOLDER
    raw = {s["id"]: s for s in read_lines(folder / f"raw_{SLUG}.jsonl")}
    for name in (f"scored_{SLUG}.jsonl", f"final_{SLUG}.jsonl"):
        for s in read_lines(folder / name):
            assert (s["prompt_tokens"], s["completion_tokens"]) == (raw[s["id"]]["prompt_tokens"],
                                                                    raw[s["id"]]["completion_tokens"])
            assert s["judge_prompt_tokens"] == 100  # judge and re-solve: 50 prompt tokens each at the test server
            assert s["judge_completion_tokens"] > 0


def test_feedback_quotes_no_failed_fix_as_approved_and_cuts_quotes_at_a_word(run, tmp_path, ollama):
    run_dir = scored_run(run, tmp_path, DOMAIN, 3)
    run("audit.py", "export", "--input", "latest", check_rc=0)
    path = run_dir / FOLDER / f"audit_{SLUG}.csv"
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    comment = "a" * 157 + " $313 is not what the budget says"  # a cut at 160 characters falls inside $313
    rows[1][8], rows[1][9] = "drop", comment
    rows[2][8], rows[2][4] = "fix", "$1"  # the filter rejects this fix: the answer no longer matches
    rows[3][8] = "keep"
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows(rows)
    proc = run("audit.py", "apply", "--input", "latest", "--decisions", str(path), check_rc=0)
    assert "does not pass the filter" in proc.stderr
    before = len(ollama.model_requests())
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "1", "--feedback", str(run_dir), check_rc=0)
    prompt = ollama.model_requests()[before]["body"]["messages"][-1]["content"]
    approved = prompt.split("A reviewer approved these")[1]
    assert rows[3][2][:100] in approved and rows[2][2][:100] not in approved
    quoted = re.search(r"\(reviewer: (.*?)\)", prompt).group(1).removesuffix("…")
    assert comment.startswith(quoted) and comment[len(quoted)] == " "  # whole words only: no "$31"


def test_run_json_shows_max_tokens(run, tmp_path):
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "1", "--max-tokens", "900", check_rc=0)
    command = json.loads((only_run(tmp_path) / "run.json").read_text())["stages"]["generate"]["command"]
    assert command[command.index("--max-tokens") + 1] == "900"


def test_score_ctrl_c_summary_counts_what_was_scored(run, tmp_path, ollama):
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "8", check_rc=0)
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    ollama.faults.latency = 0.2
    env = {**os.environ, "OLLAMA_HOST": ollama.url, "PYTHONUNBUFFERED": "1"}
    before = len(ollama.model_requests())
    proc = subprocess.Popen([sys.executable, str(ROOT / "score.py"), "--input", "latest"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    err = ctrl_c_after(proc, ollama, requests=before + 7)
    assert proc.returncode == 130
    scored = len(read_lines(only_run(tmp_path) / FOLDER / f"scored_{SLUG}.jsonl"))
    assert scored >= 1
    row = next(line.split() for line in err.splitlines() if line.startswith(f"{DOMAIN} "))
    assert row[1] == "8" and row[-1] == str(scored)  # in, and kept so far: every one scored passes
    assert f"8:{scored}" in err  # the histogram


def test_score_with_nothing_to_score_says_so(run, tmp_path, ollama):
    ollama.faults.queue = ["wrong_math"] * 2
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", "--repairs", "0", check_rc=0)
    run("filter.py", "--input", "latest", check_rc=0)
    proc = run("score.py", "--input", "latest", check_rc=0)
    assert "nothing to score" in proc.stderr and "filter.py kept none" in proc.stderr


# ---------------------------------------------------------------- 4. a newcomer's first mistakes

def test_the_backend_check_by_hand_says_what_is_wrong_without_a_traceback(ollama):
    def check(*args, host=ollama.url):
        return subprocess.run([sys.executable, str(ROOT / "local_llm.py"), *args], capture_output=True, text=True,
                              env={**os.environ, "OLLAMA_HOST": host}, timeout=60, stdin=subprocess.DEVNULL)

    down = check("llama2", "hello", host=f"127.0.0.1:{closed_port()}")
    assert down.returncode == 2 and "Error: Ollama is not running" in down.stderr and "Traceback" not in down.stderr
    missing = check("qwen9", "hello")
    assert missing.returncode == 2 and "Error: model 'qwen9' is not pulled" in missing.stderr
    assert "Traceback" not in missing.stderr
    helped = check("--help")
    assert helped.returncode == 0 and "usage:" in helped.stdout and not ollama.model_requests()


def test_a_mistyped_model_gets_did_you_mean_and_the_servers_list(run):
    proc = run("generate.py", "--model", "embeded", "--domains", DOMAIN, check_rc=2)
    assert "did you mean --model embedded?" in proc.stderr
    assert "has: llama2, mistral" in proc.stderr
    assert "did you mean --model llama2?" in run("generate.py", "--model", "lama2", "--domains", DOMAIN, check_rc=2).stderr


def test_interactive_asks_again_after_a_bad_answer(run, tmp_path):
    proc = run("generate.py", "--interactive", "--ask-samples", input="Retail\n\nten\n0\n3\n", check_rc=0)
    assert proc.stderr.count("try again") == 2
    assert len(read_lines(only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl")) == 3


def test_the_model_advice_is_the_readmes(run, tmp_path, ollama):
    ollama.faults.queue = ["wrong_math"] * 2
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", "--repairs", "0", check_rc=0)
    manifest_path = only_run(tmp_path) / "run.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["stages"]["generate"]["model"] = "embedded"  # as if the embedded model had written them
    manifest_path.write_text(json.dumps(manifest))
    proc = run("filter.py", "--input", "latest", check_rc=0)
    advised = re.search(r"`ollama pull ([\w.:-]+)`", proc.stderr).group(1)
    readme = (ROOT / "README.md").read_text()
    assert f"ollama pull {advised}" in readme
    assert "The default stays `llama2`" in readme and advised in readme.split("The default stays `llama2`")[0][-600:]


def test_the_embedded_model_takes_generates_context_and_a_longer_prompt_is_a_failed_attempt(run, tmp_path):
    need_embedded()
    over = subprocess.run([sys.executable, str(ROOT / "local_llm.py"), "embedded", "apple " * 6000], capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert over.returncode == 2 and "Error: prompt too long for the model" in over.stderr
    assert "Traceback" not in over.stderr
    # notes appear twice in the prompt (as notes and as the sub-topic): about 2,500 tokens, over the old 2,048
    for notes, runs_dir in (("apple " * 1100, "fits"), ("apple " * 3000, "over")):
        proc = run("generate.py", "--model", "embedded", "--domains", DOMAIN, "--domain-notes", notes, "--runs-dir", runs_dir,
                   "--samples-per-domain", "1", "--max-attempts", "1", "--max-tokens", "20", timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        failed = read_lines(runs_in(tmp_path / runs_dir)[0] / FOLDER / f"failed_{SLUG}.jsonl")  # 20 tokens hold no sample
        error = failed[0]["attempt_errors"][0]["error"]
        assert ("prompt too long for the model" in error) == (runs_dir == "over"), error


# ---------------------------------------------------------------- 5. issue #32: --interactive as a newcomer meets it

def test_interactive_with_stdin_closed_names_the_flag(tmp_path, ollama):
    proc = subprocess.run(f"{shlex.quote(sys.executable)} {shlex.quote(str(ROOT / 'generate.py'))} --interactive <&-",
                          shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "OLLAMA_HOST": ollama.url})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "no answer on standard input for 'Domains (comma-separated):'; pass --domains instead" in proc.stderr


def test_interactive_checks_the_model_first_asks_again_for_a_domain_and_ctrl_d_takes_the_default(run, tmp_path, ollama):
    missing = run("generate.py", "--interactive", "--model", "qwen9", input="Retail\n\n", check_rc=2)
    assert "model 'qwen9' is not pulled" in missing.stderr and "Domains" not in missing.stderr  # nothing asked in vain
    # at a terminal: two empty answers, a domain, then Ctrl-D for its notes and for the number of samples
    main, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, str(ROOT / "generate.py"), "--interactive", "--ask-samples"], cwd=tmp_path,
                            stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OLLAMA_HOST": ollama.url})
    os.close(terminal)
    for answer in (b"\n", b"  \n", b"Retail\n", b"\x04", b"\x04"):
        time.sleep(0.5)  # each read waits at its question: a Ctrl-D typed ahead would end an answer, not the input
        os.write(main, answer)
    err = proc.communicate(timeout=120)[1]
    os.close(main)
    assert proc.returncode == 0 and err.count("a domain is needed") == 2, err
    assert len(read_lines(only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl")) == 10  # the default of [10]


def test_feedback_reuses_the_audited_runs_domain_notes(run, tmp_path, ollama):
    run_dir = scored_run(run, tmp_path, DOMAIN, 2, "--domain-notes", "gift cards and layaway")
    run("audit.py", "export", "--input", "latest", check_rc=0)
    run("audit.py", "apply", "--input", "latest", "--decisions", str(run_dir / FOLDER / f"audit_{SLUG}.csv"), check_rc=0)
    before = len(ollama.model_requests())
    proc = run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "1", "--feedback", str(run_dir), check_rc=0)
    assert f"notes from {run_dir}: {DOMAIN}: gift cards and layaway" in proc.stderr
    assert "gift cards and layaway" in ollama.model_requests()[before]["body"]["messages"][-1]["content"]


def test_after_nothing_valid_kept_or_final_the_next_line_runs_as_printed(run, tmp_path, ollama):
    """Issue #32: a stage that ends with nothing says what to try as a runnable command: the same domains again
    (in the same folder of runs) with a model that writes better math."""
    ollama.models.append("qwen2.5:latest")
    ollama.faults.queue = ["invalid_json"] * 2
    proc = run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", "--max-attempts", "1", check_rc=0)
    assert "0 of 2 valid" in proc.stderr and "`ollama pull qwen2.5`" in proc.stderr
    step = next_command(proc.stderr)
    assert step == ["generate.py", "--model", "qwen2.5", "--domains", DOMAIN, "--samples-per-domain", "2"]
    run(*step, check_rc=0)

    ollama.faults.queue = ["wrong_math"] * 2
    run("generate.py", "--domains", DOMAIN, "--domain-notes", "tills, refunds", "--samples-per-domain", "2", "--repairs",
        "0", "--runs-dir", "zero", check_rc=0)
    proc = run("filter.py", "--input", "latest", "--runs-dir", "zero", check_rc=0)
    step = next_command(proc.stderr)
    assert "0 of 2 kept" in proc.stderr and step == ["generate.py", "--model", "qwen2.5", "--domains", DOMAIN,
                                                     "--domain-notes", "tills, refunds", "--samples-per-domain", "2",
                                                     "--runs-dir", "zero"]
    run(*step, check_rc=0)
    run("filter.py", "--input", "latest", "--runs-dir", "zero", "--skip-checks", "duplicate", check_rc=0)
    proc = run("score.py", "--input", "latest", "--runs-dir", "zero", "--threshold", "10", check_rc=0)
    assert "nothing reached final" in proc.stderr  # with qwen2.5 already: the README's other model
    assert next_command(proc.stderr) == [a.replace("qwen2.5", "llama3.1") for a in step]
    ollama.models.append("llama3.1:latest")
    run(*next_command(proc.stderr), check_rc=0)


def test_self_judging_advice_fits_the_backend(run, tmp_path, ollama):
    """Issue #32: `ollama pull` was advised to a user of openai:// (and embedded)."""
    ollama.models[:] = ["llama2:latest"]  # no other model to name: the advice is how to get one
    run("generate.py", "--model", "openai://llama2", "--domains", DOMAIN, "--samples-per-domain", "1",
        env={"OPENAI_BASE_URL": ollama.url + "/v1"}, check_rc=0)
    run("filter.py", "--input", "latest", check_rc=0)
    proc = run("score.py", "--input", "latest", env={"OPENAI_BASE_URL": ollama.url + "/v1"}, check_rc=0)
    assert "self-judging" in proc.stderr and "ollama pull" not in proc.stderr
    assert "serve another model and pass it as --judge-model openai://NAME" in proc.stderr
