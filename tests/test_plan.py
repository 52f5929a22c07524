"""The plan per domain (dataforge/plan.py) and the variety measures (dataforge/variety.py), as users see them:
generate.py against the test server in its collapsing mode (the same brief gives the same problem)."""

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

from conftest import ROOT, only_run, read_lines
from dataforge.plan import brief_counts, leaves, next_briefs, notes_plan
from dataforge.report import dataset_card
from dataforge.variety import distinct_ngrams, distinct_questions, measure, spread, vendi_score

COFFEE = ["--domains", "Coffee shop", "--domain-notes", "prices, orders, staff shifts"]
# questions with no word in common: every measure at its top
WORDS = ["".join(w) for w in itertools.product("bcdfgklmnprstvz", "aeiou", "bcdfgklmnprstvz")]
ALL_DIFFERENT = [" ".join(WORDS[i * 8:(i + 1) * 8]) + "?" for i in range(12)]
ALL_IDENTICAL = ["Dana buys 4 lattes at $3 each and a $2 muffin. How much does she spend?"] * 12


def folder(tmp_path):
    return only_run(tmp_path) / "Coffee shop data samples"


def plan_requests(ollama):
    return [r for r in ollama.model_requests() if "subtopics" in json.dumps(r["body"].get("format"))]


# ---------------------------------------------------------------- the measures, on sets whose value is known

def test_each_variety_measure_on_identical_and_all_different_questions():
    assert distinct_questions(ALL_IDENTICAL) == 1 and distinct_questions(ALL_DIFFERENT) == 12
    assert distinct_ngrams(ALL_IDENTICAL) == round(1 / 12, 3) and distinct_ngrams(ALL_DIFFERENT) == 1.0
    assert vendi_score(ALL_IDENTICAL) == 1.0 and vendi_score(ALL_DIFFERENT) == 12.0
    # six alike and six different: eigenvalues 1/2 and six of 1/12, so exp(entropy) = sqrt(2 * 12)
    assert vendi_score(ALL_IDENTICAL[:6] + ALL_DIFFERENT[:6]) == round(24 ** 0.5, 2)
    assert spread([7] * 12)["evenness"] == 0.0 and spread([1, 2, 3, 4] * 3)["evenness"] == 1.0
    samples = [{"question": q, "answer": f"${10 ** (i % 4)}", "reasoning": ["1 + 1 = 2"] * (1 + i % 4),
                "plan": {"leaf": "prices / a"}} for i, q in enumerate(ALL_DIFFERENT)]
    v = measure(samples, ["prices / a", "prices / b"])
    assert v["leaves"] == {"prices / a": 12, "prices / b": 0} and v["leaves_covered"] == 1
    assert v["answer_magnitudes"] == {"histogram": {"0": 3, "1": 3, "2": 3, "3": 3}, "evenness": 1.0}
    assert v["step_counts"]["evenness"] == 1.0


def test_briefs_never_repeat_until_they_must_and_follow_the_seed():
    plan = {**notes_plan("Coffee shop", ["prices", "orders"]), "tree": {"prices": ["a", "b"], "orders": ["c"]}}
    choices = {"difficulty": ["easy", "medium", "hard"], "template": ["detailed", "minimal"]}
    briefs = next_briefs(plan, list(range(300)), Counter(), choices, seed=5)
    combos = [json.dumps(b, sort_keys=True) for b in briefs.values()]
    assert len(set(combos)) == 300  # 3 leaves x 3 x 2 x 6 x 6 x 3 = 3,888 combinations: none asked twice
    assert set(Counter(b["leaf"] for b in briefs.values()).values()) == {100}  # each leaf its share
    assert next_briefs(plan, list(range(300)), Counter(), choices, seed=5) == briefs
    # a resumed session goes on from what is written: the balance is the same as in one go
    first = next_briefs(plan, list(range(100)), Counter(), choices, seed=5)
    rest = next_briefs(plan, list(range(100, 300)), brief_counts(first.values()), choices, seed=5)
    assert {**first, **rest} == briefs


# ---------------------------------------------------------------- generate.py with a collapsing model

def test_a_collapsing_model_gives_distinct_samples_with_a_plan_and_few_without(run, tmp_path, ollama):
    """The issue's case: 200 samples of one domain from a model that writes the same problem for the same brief."""
    ollama.collapsing = True
    proc = run("generate.py", *COFFEE, "--samples-per-domain", "200", "--plan", "off", "--concurrency", "4", check_rc=0)
    assert "leaves" not in proc.stderr and not plan_requests(ollama)
    run("filter.py", "--input", "latest", check_rc=0)
    off = len(read_lines(folder(tmp_path) / "filtered_coffee_shop.jsonl"))
    assert off <= 20  # three notes, templates and difficulties in step: a handful of different briefs
    os.rename(only_run(tmp_path), tmp_path / "plan_off")

    proc = run("generate.py", *COFFEE, "--samples-per-domain", "200", "--concurrency", "4", check_rc=0)
    assert "leaves in 3 sub-topics for 200 samples, written by the model" in proc.stderr
    run("filter.py", "--input", "latest", check_rc=0)
    kept = len(read_lines(folder(tmp_path) / "filtered_coffee_shop.jsonl"))
    assert kept >= 180, kept
    generate = json.loads((only_run(tmp_path) / "run.json").read_text())["stages"]["generate"]
    spent = sum(generate["totals"][k] for k in ("prompt_tokens", "completion_tokens", "reasoning_tokens"))
    assert sum(generate["plan_tokens"].values()) > 0  # the plan's own tokens are counted
    assert spent / kept <= 1.5 * spent / generate["totals"]["valid"]
    [request] = plan_requests(ollama)
    assert request["body"]["messages"][1]["content"].startswith("Domain: Coffee shop\nUse exactly these sub-topics")
    samples = read_lines(folder(tmp_path) / "raw_coffee_shop.jsonl")
    plan = json.loads((folder(tmp_path) / "plan_coffee_shop.json").read_text())
    assert list(plan["tree"]) == ["prices", "orders", "staff shifts"]
    assert {s["plan"]["leaf"] for s in samples} == set(leaves(plan))  # every leaf covered
    assert len({json.dumps(s["plan"], sort_keys=True) for s in samples}) == 200
    variety = generate["variety"]["Coffee shop"]
    assert variety["distinct"] >= 180 and variety["leaves_covered"] == len(leaves(plan))
    assert f"variety, Coffee shop: distinct {variety['distinct']} of 200" in proc.stderr
    assert f"the plan's {sum(generate['plan_tokens'].values()):,} included, over {variety['distinct']} distinct" in proc.stderr


def test_a_hand_edited_plan_is_used_as_written(run, tmp_path, ollama):
    run("generate.py", *COFFEE, "--samples-per-domain", "20", check_rc=0)
    path = folder(tmp_path) / "plan_coffee_shop.json"
    plan = json.loads(path.read_text())
    plan["tree"] = {"espresso machines": ["descaling on a Sunday", "a broken grinder"], "loyalty cards": ["stamp cards"]}
    plan["askers"], plan["quantities"] = ["the night manager"], ["a unit conversion"]
    edited = tmp_path / "my_plan.json"
    edited.write_text(json.dumps(plan, indent=2))
    os.rename(only_run(tmp_path), tmp_path / "first")
    before = len(plan_requests(ollama))

    proc = run("generate.py", *COFFEE, "--samples-per-domain", "9", "--plan", str(edited), check_rc=0)
    assert f"plan: 3 leaves, from {edited}" in proc.stderr and len(plan_requests(ollama)) == before  # not asked again
    samples = read_lines(folder(tmp_path) / "raw_coffee_shop.jsonl")
    assert Counter(s["plan"]["leaf"] for s in samples) == {"espresso machines / descaling on a Sunday": 3,
                                                           "espresso machines / a broken grinder": 3,
                                                           "loyalty cards / stamp cards": 3}
    assert {(s["plan"]["asker"], s["plan"]["quantity"]) for s in samples} == {("the night manager", "a unit conversion")}
    prompts = [r["body"]["messages"][1]["content"] for r in ollama.model_requests()[-9:]]
    assert sum("descaling on a Sunday" in p for p in prompts) == 3 and all("the night manager" in p for p in prompts)
    assert json.loads((folder(tmp_path) / "plan_coffee_shop.json").read_text())["tree"] == plan["tree"]

    edited.write_text('{"tree": {"espresso": "not a list"}}')
    proc = run("generate.py", *COFFEE, "--plan", str(edited), check_rc=2)
    assert f"Error: {edited}: sub-topic 'espresso': its situations must be a list of non-empty strings" in proc.stderr


def test_resume_after_a_kill_keeps_the_plan_and_the_balance(tmp_path, ollama):
    ollama.collapsing, ollama.faults.latency = True, 0.05
    env = {**os.environ, "OLLAMA_HOST": ollama.url, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, str(ROOT / "generate.py"), *COFFEE, "--samples-per-domain", "60", "--concurrency", "3"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(ollama.model_requests()) < 25 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    plan_file = folder(tmp_path) / "plan_coffee_shop.json"
    plan_before, written = plan_file.read_text(), len(read_lines(folder(tmp_path) / "raw_coffee_shop.jsonl"))
    assert 0 < written < 60
    done = subprocess.run(cmd[:2] + ["--resume"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "kept from" in done.stderr and plan_file.read_text() == plan_before and len(plan_requests(ollama)) == 1
    samples = read_lines(folder(tmp_path) / "raw_coffee_shop.jsonl")
    per_leaf = Counter(s["plan"]["leaf"] for s in samples)
    assert len(samples) == 60 and set(per_leaf) == set(leaves(json.loads(plan_before)))
    assert max(per_leaf.values()) - min(per_leaf.values()) <= 1  # balanced as if never killed
    assert len({json.dumps(s["plan"], sort_keys=True) for s in samples}) == 60


def test_an_unusable_plan_reply_is_said_and_the_notes_make_the_plan(run, tmp_path, ollama):
    ollama.faults.queue = ["invalid_json", "offschema"]  # the plan request and its one retry
    proc = run("generate.py", *COFFEE, "--samples-per-domain", "21", check_rc=0)
    assert "warning: the model's plan for 'Coffee shop' could not be used (no 'subtopics' list); the notes alone " \
           "make the plan (3 leaves)" in proc.stderr
    plan = json.loads((folder(tmp_path) / "plan_coffee_shop.json").read_text())
    assert plan["source"] == "notes: the model's plan could not be used (no 'subtopics' list)"
    assert len(read_lines(folder(tmp_path) / "raw_coffee_shop.jsonl")) == 21


def test_a_leaf_that_keeps_repeating_is_retired(run, tmp_path, ollama):
    """Two leaves with a single brief each: every sample after a leaf's first is a near-duplicate."""
    ollama.collapsing = True
    plan = {**notes_plan("Coffee shop", []), "tree": {"prices": ["a menu board"], "orders": ["a queue"]},
            "askers": ["the owner"], "quantities": ["a rate"], "numbers": ["whole numbers"]}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    proc = run("generate.py", "--domains", "Coffee shop", "--samples-per-domain", "50", "--plan", "plan.json",
               "--templates", "minimal", "--difficulty", "easy", check_rc=0)
    assert "plan: leaf 'prices / a menu board' retired (0 failed and 19 near-duplicates of 20 samples)" in proc.stderr
    saved = json.loads((folder(tmp_path) / "plan_coffee_shop.json").read_text())
    assert list(saved["retired"]) == ["prices / a menu board"]  # the last live leaf is never retired
    later = [s["plan"]["leaf"] for s in read_lines(folder(tmp_path) / "raw_coffee_shop.jsonl")[40:]]
    assert set(later) == {"orders / a queue"}


def test_feedback_lowers_a_leaf_reviewers_dropped(run, tmp_path):
    plan = {**notes_plan("Coffee shop", []), "tree": {"prices": ["a menu board"], "orders": ["a queue"]}}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    run("generate.py", "--domains", "Coffee shop", "--samples-per-domain", "4", "--plan", "plan.json", check_rc=0)
    audited = only_run(tmp_path)
    samples = read_lines(folder(tmp_path) / "raw_coffee_shop.jsonl")
    drops = [s for s in samples if s["plan"]["leaf"] == "orders / a queue"]
    (folder(tmp_path) / "decisions_coffee_shop.jsonl").write_text("".join(
        json.dumps({"id": s["id"], "domain": "Coffee shop", "question": s["question"], "decision": "drop",
                    "comment": "too easy"}) + "\n" for s in drops))
    os.rename(audited, tmp_path / "audited")
    proc = run("generate.py", "--domains", "Coffee shop", "--samples-per-domain", "9", "--plan", "plan.json",
               "--feedback", str(tmp_path / "audited"), check_rc=0)
    assert "plan: 1 leaves reviewers dropped samples of are asked less (--feedback)" in proc.stderr
    assert json.loads((folder(tmp_path) / "plan_coffee_shop.json").read_text())["weights"] == {"orders / a queue": 0.333}
    per_leaf = Counter(s["plan"]["leaf"] for s in read_lines(folder(tmp_path) / "raw_coffee_shop.jsonl"))
    assert per_leaf["orders / a queue"] <= 3 and sum(per_leaf.values()) == 9  # a quarter of the share, not half


def test_variety_is_in_the_summary_run_json_report_and_card(run, tmp_path, ollama):
    """A collapsing model, one note, one template, one difficulty, no plan: 12 samples, 1 distinct question."""
    ollama.collapsing = True
    proc = run("generate.py", "--domains", "Coffee shop", "--samples-per-domain", "12", "--plan", "off",
               "--templates", "minimal", "--difficulty", "easy", check_rc=0)
    run_dir = only_run(tmp_path)
    line = "distinct 1 of 12, distinct 2-grams "
    assert f"variety, Coffee shop: {line}" in proc.stderr
    variety = json.loads((run_dir / "run.json").read_text())["stages"]["generate"]["variety"]["Coffee shop"]
    assert variety["distinct"] == 1 and variety["step_counts"]["evenness"] == 0.0 and "leaves" not in variety
    assert f"- Coffee shop: {line}" in (run_dir / "report.md").read_text()
    assert line in (run_dir / "report.html").read_text()
    assert f"- Variety of Coffee shop's generated questions: {line}" in dataset_card(run_dir, "openai", run_dir / "train_openai.jsonl")

    run("generate.py", *COFFEE, "--samples-per-domain", "6", check_rc=0)  # with a plan: its leaves, drawn
    page = (sorted((tmp_path / "runs").glob("run_*"))[-1] / "report.html").read_text()
    coverage = page.split('<section id="variety">')[1].split("</section>")[0]
    assert "leaves 3/3" in coverage and coverage.count("<rect") == 3 and "<script" not in page and "src=" not in page
