"""Reasoning ("thinking") models, run as users run the scripts, against the test server acting as one:
it reasons for 1,500 tokens before each answer, counted in the token limit as Ollama counts them."""

import json

import pytest

from conftest import only_run, read_lines

DOMAIN, FOLDER, SLUG = "Jobs at startup", "Jobs at startup data samples", "jobs_at_startup"


def model_args(form, ollama):
    """The reasoning_content form is an OpenAI-compatible server's; the other two are Ollama's."""
    if form == "reasoning_content":
        return ["--model", "openai://llama2"], {"OPENAI_BASE_URL": ollama.url + "/v1"}
    return [], {}


@pytest.mark.parametrize("form", ["field", "tags", "reasoning_content"])
def test_a_thinking_model_works_with_default_flags(run, tmp_path, ollama, form):
    ollama.reasoning = form
    args, env = model_args(form, ollama)
    proc = run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "4", *args, env=env, check_rc=0)
    folder = only_run(tmp_path) / FOLDER
    raw = read_lines(folder / f"raw_{SLUG}.jsonl")
    assert len(raw) == 4, proc.stderr
    for s in raw:  # the reasoning never leaks into the sample, and its tokens are counted apart
        assert "step0" not in json.dumps(s) and "<think>" not in json.dumps(s)
        assert s["reasoning_tokens"] >= 1400 and 0 < s["completion_tokens"] < 400
    assert "reasoning" in proc.stderr.split("tokens:")[1]
    totals = json.loads((folder.parent / "run.json").read_text())["stages"]["generate"]["totals"]
    assert totals["reasoning_tokens"] == sum(s["reasoning_tokens"] for s in raw)

    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", env=env, check_rc=0)
    proc = run("score.py", "--input", "latest", env=env, check_rc=0)
    assert len(read_lines(folder / f"final_{SLUG}.jsonl")) == 4, proc.stderr
    scored = read_lines(folder / f"scored_{SLUG}.jsonl")
    assert all(s["judge_reasoning_tokens"] >= 2 * 1400 for s in scored)  # the judge and its re-solve reasoned too
    generated = {s["id"]: s["reasoning_tokens"] for s in raw}
    assert {s["id"]: s["reasoning_tokens"] for s in scored} == generated  # the generation's own, kept apart
    report = (folder.parent / "report.md").read_text()
    assert "reasoning" in report.split("## Cost")[1]


def test_think_off_is_sent_and_the_model_answers_at_once(run, tmp_path, ollama):
    ollama.reasoning = "field"
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", "--think", "off", check_rc=0)
    chats = [r["body"] for r in ollama.model_requests()]
    assert chats and all(b["think"] is False and b["options"]["num_predict"] == 800 for b in chats)
    raw = read_lines(only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl")
    assert len(raw) == 2 and all(s["reasoning_tokens"] == 0 for s in raw)


def test_a_limit_too_small_to_reason_fails_each_sample_with_the_fix(run, tmp_path, ollama):
    ollama.reasoning = "field"
    proc = run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", "--max-tokens", "800", check_rc=0)
    folder = only_run(tmp_path) / FOLDER
    assert not (folder / f"raw_{SLUG}.jsonl").exists() or read_lines(folder / f"raw_{SLUG}.jsonl") == []
    failed = read_lines(folder / f"failed_{SLUG}.jsonl")
    assert len(failed) == 2
    for record in failed:
        for attempt in record["attempt_errors"]:
            assert attempt["error"].startswith("reply cut off at 800 tokens while the model was still reasoning")
            assert "--max-tokens" in attempt["error"] and "--think low" in attempt["error"]
    assert "0 valid" in proc.stderr

    proc = run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", "--max-tokens", "800", "--think", "low",
               check_rc=0)
    assert "2 valid" in proc.stderr  # the fix the message names works


def test_an_openai_server_that_reasons_is_learned_from_its_first_reply(run, tmp_path, ollama):
    """An OpenAI-compatible server cannot say whether its model thinks: the first reply cut off while
    reasoning is asked again at once with room to reason, and later requests get that room from the start."""
    ollama.reasoning = "reasoning_content"
    args, env = model_args("reasoning_content", ollama)
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "3", *args, env=env, check_rc=0)
    limits = [r["body"]["max_tokens"] for r in ollama.model_requests()]
    assert limits == [800, 800 + 2048, 800 + 2048, 800 + 2048]
    raw = read_lines(only_run(tmp_path) / FOLDER / f"raw_{SLUG}.jsonl")
    assert [s["attempts"] for s in raw] == [1, 1, 1]


def test_the_progress_bar_says_thinking_while_the_model_reasons(run, tmp_path, ollama):
    ollama.reasoning = "field"
    proc = run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "1", env={"DATAFORGE_PROGRESS": "1"},
               check_rc=0)
    assert "thinking… " in proc.stderr and " tok/s" in proc.stderr


@pytest.mark.parametrize("reply, expected", [
    ('<think>12 * 3 is 36</think>{"a": 1}', ("12 * 3 is 36", '{"a": 1}', False)),
    ('\n<thinking>\nfirst\n</thinking>\n{"a": 1}', ("first", '{"a": 1}', False)),
    ("<think>12 * 3 is", ("12 * 3 is", "", True)),  # cut off while reasoning
    ('the prompt opened the tag</think>{"a": 1}', ("the prompt opened the tag", '{"a": 1}', False)),
    ('{"a": "<think> inside a string is content"}', ("", '{"a": "<think> inside a string is content"}', False)),
])
def test_reasoning_is_taken_out_of_content_in_every_form_servers_write(reply, expected):
    from local_llm import split_reasoning

    assert split_reasoning(reply) == expected
