"""filter.py run as users run it: every line ends in kept or rejected, with reasons."""

import json

import pytest

from conftest import GSM8K, read_lines
from corruptions import corrupt_answer, corrupt_step
from dataforge.gsm8k import gsm8k_samples
from synthetic import synthesize

GOOD = {"question": "A startup pays 4 engineers $5,000 each per month. How much is the monthly payroll?",
        "reasoning": ["Payroll: 4 * $5,000 = $20,000"], "answer": "$20,000", "difficulty": "easy",
        "domain": "Jobs at startup", "num_steps": 1, "id": "s-1"}


def write_run(tmp_path, samples, extra_lines=(), domain="Jobs at startup", notes="budget, headcount, runway"):
    """A run folder as generate.py leaves it."""
    run_dir = tmp_path / "runs" / "run_20261125_120000"
    folder = run_dir / f"{domain} data samples"
    folder.mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({"stages": {"generate": {"domains": [{"name": domain, "notes": notes}]}}}))
    slug = domain.lower().replace(" ", "_")
    data = "".join(json.dumps(s) + "\n" for s in samples).encode() + b"".join(extra_lines)
    (folder / f"raw_{slug}.jsonl").write_bytes(data)
    return folder, slug


def variant(**changes):
    return {**GOOD, **changes}


def test_readme_command_sorts_every_line_with_reasons(run, tmp_path):
    samples = [
        GOOD,
        variant(id="wrong-step", question="A startup hires 3 interns at $2,000 each for the summer budget. What do they cost?",
                reasoning=["Interns: 3 * $2,000 = $7,000"], answer="$7,000"),
        variant(id="inconsistent", question="The runway is 18 months and 6 have passed at the startup. How many months remain?",
                reasoning=["Months left: 18 - 6 = 12"], answer="14 months"),
        variant(id="dup", question="A startup pays 7 engineers $3,000 each per month. How much is the monthly payroll?",
                reasoning=["Payroll: 7 * $3,000 = $21,000"], answer="$21,000"),
        variant(id="offtopic", question="A farmer plants 12 rows of 8 corn plants in his field. How many plants are there?",
                reasoning=["12 * 8 = 96"], answer="96 plants"),
        variant(id="leftover", question="As an AI, I wrote: a startup budget of $900 split over 3 teams. How much per team?",
                reasoning=["900 / 3 = 300"], answer="$300"),
        variant(id="no-eq", reasoning=["Payroll is large"], num_steps=1),
    ]
    folder, slug = write_run(tmp_path, samples, [b"{not json\n", b"\xff\xfe bad bytes\n"])
    proc = run("filter.py", "--input", "latest", check_rc=0)
    raw_lines = (folder / f"raw_{slug}.jsonl").read_text(errors="replace").splitlines()
    kept_text = (folder / f"filtered_{slug}.jsonl").read_text().splitlines()
    rejected = read_lines(folder / f"rejected_{slug}.jsonl")
    assert kept_text[0] == raw_lines[0]  # kept lines unchanged...
    offtopic = json.loads(kept_text[1])  # ...but for the soft signals: off-domain is flagged, the judge decides
    assert offtopic["id"] == "offtopic" and offtopic["flags"] == [{
        "check": "domain", "step": None, "message": "mentions none of the domain's words (budget, headcount, jobs, runway, startup)"}]
    assert len(rejected) == len(raw_lines) - 2  # every other line is in rejected
    by_id = {r.get("id", r["source"]): r["reject_reasons"] for r in rejected}
    assert by_id["wrong-step"][0] == {"check": "arithmetic", "step": 0,
                                      "message": "step 1 says 3 * 2,000 = 7,000, but 3 * 2,000 = 6,000"}
    assert by_id["inconsistent"][0]["check"] == "consistency"
    assert by_id["dup"][0]["check"] == "duplicate" and "s-1" in by_id["dup"][0]["message"]
    assert any(r["check"] == "quality" for r in by_id["leftover"])
    assert by_id["no-eq"][0]["check"] == "rules"
    bad = [r for r in rejected if r["reject_reasons"][0]["check"] == "bad_line"]
    assert sorted(r["source"] for r in bad) == [f"raw_{slug}.jsonl:8", f"raw_{slug}.jsonl:9"]
    assert f"raw_{slug}.jsonl:9: not UTF-8" in proc.stderr  # file and line named
    report = json.loads((folder.parent / "filter_report.json").read_text())
    assert report["total"]["in"] == 9 and report["total"]["kept"] == 2 and report["total"]["warnings"] == {"domain": 1}
    assert report["total"]["rejected_by_check"]["arithmetic"] == 1
    assert "kept with flags (soft signals, see `flags`): domain 1" in proc.stderr
    assert "Kept with flags (soft signals): domain 1" in (folder.parent / "report.md").read_text()

    run("filter.py", "--input", "latest", "--strict-domain", check_rc=0)
    rejected = {r.get("id"): r["reject_reasons"] for r in read_lines(folder / f"rejected_{slug}.jsonl")}
    assert rejected["offtopic"][0]["check"] == "domain"
    assert (folder / f"filtered_{slug}.jsonl").read_text() == raw_lines[0] + "\n"


@pytest.mark.needs_shared
def test_contamination_names_the_matching_benchmark_item(run, tmp_path):
    test_q = json.loads((GSM8K / "test.jsonl").read_text().splitlines()[5])["question"]
    copied = variant(id="copied", question=test_q, domain="GSM8K")
    copied["reasoning"], copied["answer"] = ["2 * 3 = 6"], "6"
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(copied) + "\n")
    run("filter.py", "--input", str(src), "--reference", str(GSM8K / "test.jsonl"), "--skip-checks", "domain", check_rc=0)
    rejected = read_lines(tmp_path / "in.rejected.jsonl")
    assert rejected[0]["reject_reasons"][0]["check"] == "contamination"
    assert "test.jsonl:6" in rejected[0]["reject_reasons"][0]["message"]


def test_file_input_with_named_outputs_and_check_selection(run, tmp_path):
    src = tmp_path / "samples.jsonl"
    src.write_text(json.dumps(GOOD) + "\n" + json.dumps(variant(id="x", reasoning=["2 * 2 = 5"], answer="5")) + "\n")
    run("filter.py", "--input", str(src), "--output", "kept.jsonl", "--rejected", "rej.jsonl", "--checks", "rules", check_rc=0)
    assert len(read_lines(tmp_path / "kept.jsonl")) == 2  # arithmetic not selected
    run("filter.py", "--input", str(src), "--output", "kept.jsonl", "--rejected", "rej.jsonl", check_rc=0)
    assert [r["id"] for r in read_lines(tmp_path / "rej.jsonl")] == ["x"]
    assert "unknown check bogus" in run("filter.py", "--input", str(src), "--checks", "bogus", check_rc=2).stderr


def test_bad_paths_are_named(run, tmp_path):
    assert "no runs in runs/ yet" in run("filter.py", "--input", "latest", check_rc=2).stderr
    assert "--input nope.jsonl: no such file" in run("filter.py", "--input", "nope.jsonl", check_rc=2).stderr
    (tmp_path / "empty.jsonl").write_text("")
    run("filter.py", "--input", "empty.jsonl", check_rc=0)
    assert (tmp_path / "empty.filtered.jsonl").read_text() == ""


def test_huge_line_is_rejected_with_its_line_number(run, tmp_path):
    src = tmp_path / "big.jsonl"
    src.write_text(json.dumps(GOOD) + "\n" + json.dumps(variant(question="x" * 10_000_000)) + "\n")
    proc = run("filter.py", "--input", str(src), check_rc=0)
    assert "big.jsonl:2: line is" in proc.stderr
    assert read_lines(tmp_path / "big.rejected.jsonl")[0]["source"] == "big.jsonl:2"


def test_a_small_file_over_the_worker_threshold_never_leaves_filter_waiting(run, tmp_path):
    """Two lines, 10 MB: the worker pool starts and is done at once. Ending it with terminate() sent a signal a
    just-forked worker could lose, and filter.py then waited for it forever (1 run in 10-30; seen in CI).
    A race: this run of 25 fails on the old code most of the time, not always."""
    src = tmp_path / "big.jsonl"
    src.write_text(json.dumps(GOOD) + "\n" + json.dumps(variant(question="x" * 10_000_000)) + "\n")
    for _ in range(25):
        run("filter.py", "--input", str(src), "--workers", "2", check_rc=0, timeout=30)


@pytest.mark.needs_shared
def test_gsm8k_solutions_are_kept_and_corruptions_caught(run, tmp_path):
    """The verifier on real solutions: keep >= 98%; a changed step result or final answer is caught."""
    samples = gsm8k_samples()
    src = tmp_path / "gsm.jsonl"
    src.write_text("".join(json.dumps(s) + "\n" for s in samples))
    run("filter.py", "--input", str(src), "--skip-checks", "domain,duplicate", check_rc=0)
    kept = len(read_lines(tmp_path / "gsm.filtered.jsonl"))
    assert kept / len(samples) >= 0.98
    bad = [corrupt_step(s, i) for i, s in enumerate(samples[:300])] + [corrupt_answer(s) for s in samples[:300]]
    src.write_text("".join(json.dumps(s) + "\n" for s in bad))
    run("filter.py", "--input", str(src), "--skip-checks", "domain,duplicate", check_rc=0)
    assert len(read_lines(tmp_path / "gsm.rejected.jsonl")) / len(bad) >= 0.99


@pytest.mark.needs_shared
def test_large_input_gives_the_same_result_on_every_core_and_every_hash_seed(run, tmp_path):
    """Above ~4 MB the checks run in worker processes; the output must not depend on that or on PYTHONHASHSEED."""
    src = tmp_path / "big.jsonl"
    src.write_text("".join(json.dumps(s) + "\n" for s in synthesize(5000)))
    assert src.stat().st_size > 4_000_000
    outputs = []
    for workers, seed in (("1", "1"), ("2", "2")):
        proc = run("filter.py", "--input", str(src), "--workers", workers, "--skip-checks", "domain",
                   env={"PYTHONHASHSEED": seed}, check_rc=0)
        outputs.append(((tmp_path / "big.filtered.jsonl").read_bytes(), (tmp_path / "big.rejected.jsonl").read_bytes()))
        assert "5000" in proc.stderr
    assert outputs[0] == outputs[1]
    kept, rejected = outputs[0][0].count(b"\n"), outputs[0][1].count(b"\n")
    assert kept + rejected == 5000 and b'"check": "duplicate"' in outputs[0][1]


@pytest.mark.needs_shared
def test_retold_questions_are_near_duplicates_even_when_every_question_shares_the_domain_words(run, tmp_path):
    """Questions of one domain share its words (crowded LSH buckets); a retold one must still be found."""
    prefix = "At the startup, with its budget, headcount and runway in mind:"
    samples = [dict(s, id=f"q-{i}", question=f"{prefix} {s['question']}") for i, s in enumerate(gsm8k_samples()[:400])]
    retold = []
    for k in range(0, 400, 10):
        words = samples[k]["question"].split()
        words = [w + (" quite" if i % 5 == 4 else "") for i, w in enumerate(words)]  # a word added after every fifth
        retold.append(dict(samples[k], id=f"retold-{k}", question=" ".join(words)))
    src = tmp_path / "domain.jsonl"
    src.write_text("".join(json.dumps(s) + "\n" for s in samples + retold))
    run("filter.py", "--input", str(src), "--skip-checks", "domain", check_rc=0)
    kept_ids = {r["id"] for r in read_lines(tmp_path / "domain.filtered.jsonl")}
    assert len(kept_ids & {s["id"] for s in samples}) >= 390  # distinct questions on one topic are kept
    rejected = {r["id"]: r["reject_reasons"] for r in read_lines(tmp_path / "domain.rejected.jsonl")}
    checked = [k for k in range(0, 400, 10) if f"q-{k}" in kept_ids]
    assert len(checked) >= 35
    for k in checked:
        reason = rejected[f"retold-{k}"][0]
        assert reason["check"] == "duplicate" and f"near-duplicate of q-{k} " in reason["message"], reason


def test_real_model_forms_and_huge_values_never_stop_the_run(run, tmp_path):
    """LaTeX and algebra written by real models are verified; a step whose value overflows a float
    (which stopped the whole run before) is rejected with its exact value, and the rest goes on."""
    q = "A startup budget pays {} for {} interns each month. How much does the startup pay in total?"
    samples = [
        variant(id="latex", question=q.format("$2,000", 3), reasoning=["\\text{Payroll} = 3 \\times \\$2,000 = \\boxed{6000}"],
                answer="$6,000"),
        variant(id="algebra", question=q.format("$2,000", 3), reasoning=["Let x be the payroll: x / 3 = 2000", "x = 6000"],
                answer="$6,000", num_steps=2),
        variant(id="algebra-wrong", question=q.format("$2,000", 3), reasoning=["x / 3 = 2000", "x = 7000"], answer="$7,000",
                num_steps=2),
        variant(id="huge", question=q.format("$10", 3), reasoning=["10^300 * 10^10 / 3 = 5"], answer="5"),
        variant(id="x100", question=q.format("$5", 4), reasoning=["4 * 5 = 20"], answer="$2,000"),
    ]
    folder, slug = write_run(tmp_path, samples)
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    kept = {r["id"] for r in read_lines(folder / f"filtered_{slug}.jsonl")}
    rejected = {r["id"]: r["reject_reasons"] for r in read_lines(folder / f"rejected_{slug}.jsonl")}
    assert kept == {"latex", "algebra"}
    assert rejected["algebra-wrong"][0]["message"] == "step 2 says x = 7000, but x = 6,000 (from step 1: x / 3 = 2000)"
    assert "3.33333e+309" in rejected["huge"][0]["message"]
    assert rejected["x100"][0]["check"] == "consistency"


@pytest.mark.needs_shared
def test_gsm8k_as_grade_school_math_keeps_98_percent_with_default_flags(run, tmp_path):
    """GSM8K never says 'grade', 'school' or 'math': relevance by words is a flag, not a rejection."""
    samples = [dict(s, domain="grade school math") for s in gsm8k_samples()]
    src = tmp_path / "gsm.jsonl"
    src.write_text("".join(json.dumps(s) + "\n" for s in samples))
    proc = run("filter.py", "--input", str(src), check_rc=0)
    kept = read_lines(tmp_path / "gsm.filtered.jsonl")
    assert len(kept) / len(samples) >= 0.98
    lost = {r["check"] for s in read_lines(tmp_path / "gsm.rejected.jsonl") for r in s["reject_reasons"]}
    assert lost <= {"arithmetic", "consistency", "duplicate"}, lost  # one GSM8K item retells another
    assert "domain" in proc.stderr.split("kept with flags")[1]


def test_domain_words_match_by_stem_under_the_domain_folder_name(run, tmp_path):
    """'Jobs/startups' lives in 'Jobs_startups data samples': its notes are still found by that folder."""
    def sample(i, question, steps, answer):
        return {"id": f"s{i}", "question": question, "reasoning": steps, "answer": answer, "difficulty": "easy",
                "domain": "Jobs/startups", "num_steps": len(steps)}

    samples = [
        sample(1, "The company has $600,000 in the bank and spends $50,000 a month. How many months of runway are left?",
               ["Months: 600,000 / 50,000 = 12"], "12 months"),
        sample(2, "Dana is hiring 3 engineers at $9,000 a month each. What is the yearly cost of the new hires?",
               ["Monthly: 3 * 9,000 = 27,000", "Yearly: 27,000 * 12 = 324,000"], "$324,000"),  # hiring/hires: one stem
        sample(3, "A farmer plants 12 rows of 8 corn plants in his field. How many plants are there in the field?",
               ["Plants: 12 * 8 = 96"], "96 plants"),
    ]
    run_dir = tmp_path / "runs" / "run_20261125_120000"
    folder = run_dir / "Jobs_startups data samples"
    folder.mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({"stages": {"generate": {"domains": [
        {"name": "Jobs/startups", "notes": "runway, hiring"}]}}}))
    (folder / "raw_jobs_startups.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    run("filter.py", "--input", "latest", check_rc=0)
    kept = {s["id"]: s for s in read_lines(folder / "filtered_jobs_startups.jsonl")}
    assert set(kept) == {"s1", "s2", "s3"}
    assert "flags" not in kept["s1"] and "flags" not in kept["s2"]  # s2's step 2 uses step 1's result: grounded
    assert kept["s3"]["flags"] == [{"check": "domain", "step": None,
                                    "message": "mentions none of the domain's words (hiring, jobs, runway, startups)"}]


def test_modern_model_solutions_are_read_and_their_holes_closed(run, tmp_path):
    """#22: what Llama-3 / Qwen2.5 write is read (13 steps, continuation lines, bracketed labels, a LaTeX unit in
    the answer, a percent question answered in points, whole packs rounded up); a prose word does not make a wrong step right, and an
    answer is compared with a last step the checker cannot read."""
    q = "A startup budget pays {} for {} interns each month. How much does the startup pay in total?"
    long = ["Cost of one intern = Budget per intern", "= $2,000", *[f"Month {m} total = 3 x $2,000 = $6,000" for m in range(1, 11)],
            "Total for the month = $6,000"]
    samples = [
        variant(id="13-steps", question=q.format("$2,000", 3), reasoning=long, answer="$6,000", num_steps=13),
        variant(id="chained", question=q.format("$2,000", 3), reasoning=["Payroll = Interns x Pay", "= 3 x $2,000", "= $6,000"],
                answer="$6,000", num_steps=3),
        variant(id="labels", question=q.format("$2,000", 3),
                reasoning=["$2,000 (Ann) + $2,000 (Bo) + $2,000 (Cy) = $6,000"], answer="$6,000 \\text{ dollars}"),
        variant(id="labels-wrong", question=q.format("$640 and $180", 2), reasoning=["$640 (savings) + $180 (gift) = $830"],
                answer="$830"),
        variant(id="percent", question="A startup has 1000 staff and 100 are interns. What percent of the staff are interns?",
                reasoning=["100 / 1000 = 0.1"], answer="10"),
        variant(id="points", question="A startup has 1000 staff and 100 are interns. What percent of the staff are interns?",
                reasoning=["100 / 1000 x 100 = 10%"], answer="10"),
        variant(id="proportion", question="A startup has 1000 staff and 100 are interns. What percent of the staff are "
                "interns?", reasoning=["100 / 1000 x 100 = 10%"], answer="0.1"),  # bench_verifier's x100 slip (was: kept)
        variant(id="as-a-decimal", question="A startup gives a 10% discount. Write the percentage of the price kept as a "
                "decimal. What is it?", reasoning=["100% - 10% = 90%"], answer="0.9"),  # asked as a decimal: 0.9 is right
        variant(id="whole-packs", question="A startup needs 54 pens for its staff and pens come in packs of 8. How many "
                "packs must it buy if it can only buy whole packs?", reasoning=["54 pens / 8 pens per pack = 6.75 packs"],
                answer="7"),
        variant(id="around", question="A startup team walks around the lake: 2.6 km and then 1.8 km. How far is the walk?",
                reasoning=["They walk around the lake: 2.6 + 1.8 = 4 km"], answer="4 km"),
        variant(id="unread-last", question=q.format("$19", 3), reasoning=["3 * $19 = $57", "So the startup pays in total = 57"],
                answer="0.57", num_steps=2),
    ]
    folder, slug = write_run(tmp_path, samples)
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    kept = {r["id"] for r in read_lines(folder / f"filtered_{slug}.jsonl")}
    rejected = {r["id"]: r["reject_reasons"] for r in read_lines(folder / f"rejected_{slug}.jsonl")}
    assert kept == {"13-steps", "chained", "labels", "percent", "points", "as-a-decimal", "whole-packs"}, rejected
    assert rejected["proportion"][0] == {"check": "consistency", "step": 0,
                                         "message": "answer '0.1' does not match the last step's result 10%"}
    assert rejected["labels-wrong"][0]["message"] == "step 1 says 640 + 180 = 830, but 640 + 180 = 820"
    assert rejected["around"][0]["message"] == "step 1 says 2.6 + 1.8 = 4, but 2.6 + 1.8 = 4.4"
    assert rejected["unread-last"][0] == {"check": "consistency", "step": 1,
                                          "message": "answer '0.57' does not match the last step's result 57"}


@pytest.mark.needs_shared
def test_modern_model_solutions_with_right_answers_are_kept(run, tmp_path):
    """#22: of the Llama-3.2-3B solutions whose final answer is right, >= 97% are kept (86% before)."""
    real = GSM8K.parent / "real-solutions"
    labels = [json.loads(line) for line in (real / "modern_labels.jsonl").open(encoding="utf-8")]
    right = {r["id"] for r in labels if r["correct"]}
    run("filter.py", "--input", str(real / "modern_samples.jsonl"), "--output", str(tmp_path / "kept.jsonl"),
        "--rejected", str(tmp_path / "rejected.jsonl"), "--skip-checks", "domain,duplicate,contamination", check_rc=0)
    kept = {r["id"] for r in read_lines(tmp_path / "kept.jsonl")}
    assert len(kept & right) / len(right) >= 0.97


@pytest.mark.needs_shared
def test_newer_model_solutions_with_right_answers_are_kept(run, tmp_path):
    """#33: of the right-answer solutions by seven newer local models (ZeroEval's six and Llama-3.2-3B), >= 98.5% are
    kept (98.3% before; bench/bench_real.py --show rejected-right prints the rest, each read by hand in #33's note)."""
    real = GSM8K.parent / "real-solutions"
    right, kept = set(), set()
    for name in ("zeroeval", "modern"):
        ids = {json.loads(line)["id"] for line in (real / f"{name}_samples.jsonl").open(encoding="utf-8")}  # with a step
        right |= {r["id"] for line in (real / f"{name}_labels.jsonl").open(encoding="utf-8")
                  if (r := json.loads(line))["correct"] and r["id"] in ids}
        run("filter.py", "--input", str(real / f"{name}_samples.jsonl"), "--output", str(tmp_path / f"{name}.kept.jsonl"),
            "--rejected", str(tmp_path / f"{name}.rejected.jsonl"), "--skip-checks", "domain,duplicate,contamination",
            check_rc=0)
        kept |= {r["id"] for r in read_lines(tmp_path / f"{name}.kept.jsonl")}
    assert len(kept & right) / len(right) >= 0.985, len(kept & right)


def test_a_value_stated_again_is_kept_and_a_step_written_twice_in_a_row_is_not(run, tmp_path):
    """Llama-3 restates `D = 180 - C` before substituting into it; only a looping model writes a step twice running."""
    question = "A herd has 180 heads and 304 humps; camels have two humps, dromedaries one. How many dromedaries?"
    restated = ["2C + D = 304", "C + D = 180", "D = 180 - C", "2C + (180 - C) = 304", "C + 180 = 304", "C = 124",
                "D = 180 - C", "D = 180 - 124 = 56"]
    looping = ["C + D = 180", "D = 180 - 124 = 56", "D = 180 - 124 = 56"]
    src = tmp_path / "herd.jsonl"
    src.write_text("".join(json.dumps(variant(id=i, question=question, reasoning=r, answer="56", num_steps=len(r)))
                           + "\n" for i, r in (("restated", restated), ("looping", looping))))
    run("filter.py", "--input", str(src), "--skip-checks", "domain", check_rc=0)
    assert [s["id"] for s in read_lines(tmp_path / "herd.filtered.jsonl")] == ["restated"]
    [looped] = read_lines(tmp_path / "herd.rejected.jsonl")
    assert {"check": "quality", "message": "step 3 repeats step 2", "step": 2} in looped["reject_reasons"]


def test_grounding_reads_the_question_as_the_steps_are_read(run, tmp_path):
    """#27: the grounding signal reads the question's numbers with the tokenizer, as the steps are read: '1.2 million'
    is 1,200,000 and '40%' is 0.4 (was: both flagged); a number found in neither is still flagged."""
    q = "A startup raised 1.2 million dollars and spends 40% of it on 4 teams equally. How much does each team get?"
    samples = [variant(id="grounded", question=q, reasoning=["0.4 x 1,200,000 = 480,000", "480,000 / 4 = 120,000"],
                       answer="$120,000", num_steps=2),
               variant(id="stray", question=q, reasoning=["0.45 x 1,200,000 = 540,000", "540,000 / 4 = 135,000"],
                       answer="$135,000", num_steps=2)]
    folder, slug = write_run(tmp_path, samples)
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    kept = {r["id"]: r for r in read_lines(folder / f"filtered_{slug}.jsonl")}
    assert set(kept) == {"grounded", "stray"} and "flags" not in kept["grounded"], kept["grounded"].get("flags")
    assert kept["stray"]["flags"] == [{"check": "grounding", "step": 0,
                                       "message": "step 1 uses 0.45, found in neither the question nor earlier steps"}]


def test_a_solution_whose_equations_contradict_each_other_is_rejected(run, tmp_path):
    """#22: no step of a two-unknown system is called wrong, but a solution whose own equations cannot all hold (here
    c = 125: then d = 55 and 2c + d = 305) holds a wrong step (was: kept); the right one is kept."""
    question = "A herd has 180 heads and 304 humps; camels have two humps, dromedaries one. How many camels?"
    src = tmp_path / "herd.jsonl"
    src.write_text("".join(json.dumps(variant(id=i, question=question, reasoning=["c + d = 180", "2c + d = 304", f"c = {c}"],
                                              answer=str(c), num_steps=3)) + "\n" for i, c in (("right", 124), ("wrong", 125))))
    run("filter.py", "--input", str(src), "--skip-checks", "domain", check_rc=0)
    assert [s["id"] for s in read_lines(tmp_path / "herd.filtered.jsonl")] == ["right"]
    [wrong] = read_lines(tmp_path / "herd.rejected.jsonl")
    assert wrong["reject_reasons"] == [{"check": "arithmetic", "step": 1, "message": "the equations contradict each other: step 2 "
                                        "says 2c + d = 304, but with c = 125 (step 3) and d = 55 (step 1) 2c + d = 305"}]


def test_newer_models_notation_is_read_and_each_wrong_twin_rejected(run, tmp_path):
    """#33: the notation newer models write (R1 distills, QwQ, Gemma, Qwen2, Yi; the `real-` rows are their text from
    ../shared/data/real-solutions/zeroeval_*) is read: each right form kept (all were rejected before), its wrong twin
    rejected."""
    q = "A shop sells toys, books and snacks to its many customers every day. How much is it in total?"
    guests = "A room holds 12 chairs and each guest needs 5 chairs. How many guests can she invite at most?"
    forms = {  # id: (steps, answer, question); the wrong twin is "<id>-wrong"
        "latex-thousands": (["\\$1,\\!000 + \\$300 = \\$1,\\!300"], "\\$1,\\!300", q),
        "latex-thousands-wrong": (["\\$1,\\!000 + \\$300 = \\$1,\\!400"], "\\$1,\\!400", q),
        "latex-brace-comma": (["2{,}000 + 400 = 2{,}400"], "2{,}400", q),
        "latex-brace-comma-wrong": (["2{,}000 + 400 = 2{,}500"], "2{,}500", q),
        "latex-thin-space": (["\\$1\\,000 + \\$300 = \\$1\\,300", "3 \\times 4\\, km/h = 12\\, km/h"], "12\\, km/h", q),
        "latex-thin-space-wrong": (["\\$1\\,000 + \\$300 = \\$1\\,400"], "\\$1\\,400", q),
        "letter-units": (["9 km/h × 5 h = 45 km"], "45 km", q),  # read before too
        "letter-units-wrong": (["9 km/h × 5 h = 40 km"], "40 km", q),
        "fraction-divisor": (["7.5 pounds / 1/2 pound per toy = 15 toys"], "15", q),
        "fraction-divisor-wrong": (["7.5 pounds / 1/2 pound per toy = 16 toys"], "16", q),
        "K-unknown": (["2K + 3K = 25", "K = 5"], "5", q),
        "K-unknown-wrong": (["2K + 3K = 25", "K = 6"], "6", q),
        "dozen-unknown": (["x + 2 dozen = 60", "x = 36"], "36", q),
        "dozen-unknown-wrong": (["x + 2 dozen = 60", "x = 58"], "58", q),  # was: kept (x + 2 = 60)
        "dozen-rate": (["x = 3 dozen * $2/dozen", "x = 6"], "$6", q),  # a rate counts the dozens: not 36 * 2
        "dozen-rate-wrong": (["x = 3 dozen * $2/dozen", "x = 72"], "$72", q),
        "minus-going-on": (["$85 - $15 = $70", "- $5 = $65"], "$65", q),
        "minus-going-on-wrong": (["$85 - $15 = $70", "- $5 = $60"], "$60", q),
        "day-label": (["Day 1 100 + 200 = 300", "Day 2 300 + 50 = 350"], "350", q),
        "day-label-wrong": (["Day 1 100 + 200 = 300", "Day 2 300 + 50 = 360"], "360", q),
        "check-line": (["x + 19 = 34", "x = 15", "Check: 15 + 19 = 34, which matches"], "15", q),
        "check-line-wrong": (["x + 19 = 34", "x = 15", "Check: 15 + 19 = 34, which matches"], "16", q),
        "check-in-step": (["x + 19 = 34", "x = 15. Check: 15 + 19 = 34"], "15", q),
        "check-in-step-wrong": (["x + 19 = 34", "x = 15. Check: 15 + 19 = 34"], "34", q),
        "let-me-verify": (["34 - 19 = 15", "Wait, let me verify: 15 + 19 = 34. Yes, that matches."], "15", q),
        "let-me-verify-wrong": (["34 - 19 = 15", "Wait, let me verify: 15 + 19 = 34. Yes, that matches."], "34", q),
        "which-confirms": (["34 - 19 = 15", "15 + 19 = 34, which confirms the total"], "15", q),
        "which-confirms-wrong": (["34 - 19 = 15", "15 + 19 = 34, which confirms the total"], "34", q),  # was: kept
        "kg-and-g": (["1 kg + 500 g = 1,500 g"], "1,500 g", q),
        "kg-and-g-wrong": (["1 kg + 500 g = 1,600 g"], "1,600 g", q),
        "dollars-and-cents": (["$3 + 25 cents = $3.25"], "$3.25", q),
        "dollars-and-cents-wrong": (["$3 + 25 cents = $3.50"], "$3.50", q),
        "count-label": (["(4 quarters) would be 3 novels * 4 = 12"], "12", q),
        "count-label-wrong": (["(4 quarters) would be 3 novels * 4 = 13"], "13", q),
        "short-unknown": (["2(tw + 7) + 3tw = 44", "5tw + 14 = 44", "tw = 6"], "6", q),
        "short-unknown-wrong": (["2(tw + 7) + 3tw = 44", "5tw + 14 = 44", "tw = 7"], "7", q),
        "bound": (["Each guest needs 5 chairs: 12 / 5 = 2.4", "x <= 2.4, and she can't invite a fraction of a person"],
                  "2", guests),
        "bound-wrong": (["Each guest needs 5 chairs: 12 / 5 = 2.4", "x <= 2.4, and she can't invite a fraction of a "
                         "person"], "3", guests),
        "real-count-label": (["$1,100 (computer) - $400 = $700 (printer)",  # yi15-34b-533
                              "$2,400 (total) - $1,100 (computer) - $700 (printer) = $600 (2 monitors)",
                              "$600 (2 monitors) / 2 = $300"], "300", q),
        "real-count-label-wrong": (["$600 (2 monitors) / 2 = $200"], "200", q),
        "real-percent-label": (["So, the total cost of the travel tickets is $400 (supplies) + $200 (50% more) = $600."],
                               "$600", q),  # yi15-9b-962
        "real-percent-label-wrong": (["So, the total cost of the travel tickets is $400 (supplies) + $200 (50% more) = "
                                      "$700."], "$700", q),
        "real-repeating": (["This means each nephew would get 100 / 6 = 16.666... cookies.",  # yi15-34b-899
                            "However, her husband took 4 cookies, leaving Susan with 100 - 4 = 96 cookies.",
                            "So, each nephew will get 96 / 6 = 16 cookies."], "16", q),
        "real-repeating-wrong": (["This means each nephew would get 100 / 6 = 16.555... cookies."], "16.555", q),
        "real-or-points": (["The overall pass rate is 700/1000 = 0.7, or 70%."], "70", q),  # qwen2-72b-806
        "real-or-points-wrong": (["The overall pass rate is 700/1000 = 0.7, or 60%."], "60", q),
        "real-bracketed-equals": (["For the shoes, 40% off $40 means Jake pays $24 (=$40 × 0.6)."], "$24", q),  # athene-70b-1294
        "real-bracketed-equals-wrong": (["For the shoes, 40% off $40 means Jake pays $26 (=$40 × 0.6)."], "$26", q),
    }
    src = tmp_path / "forms.jsonl"
    src.write_text("".join(json.dumps(variant(id=i, question=question, reasoning=steps, answer=answer, num_steps=len(steps)))
                           + "\n" for i, (steps, answer, question) in forms.items()))
    run("filter.py", "--input", str(src), "--skip-checks", "domain,duplicate", check_rc=0)
    kept = {s["id"] for s in read_lines(tmp_path / "forms.filtered.jsonl")}
    rejected = {r["id"]: r["reject_reasons"] for r in read_lines(tmp_path / "forms.rejected.jsonl")}
    assert kept == {i for i in forms if not i.endswith("-wrong")}, rejected
    assert rejected["fraction-divisor-wrong"][0]["message"] == "step 1 says 7.5 / ( 1 / 2 ) = 16, but 7.5 / ( 1 / 2 ) = 15"
    assert rejected["day-label-wrong"][0]["message"] == "step 2 says 300 + 50 = 360, but 300 + 50 = 350"
    assert rejected["minus-going-on-wrong"][0]["message"] == "step 2 says 70 - 5 = 60, but 70 - 5 = 65"
    assert rejected["which-confirms-wrong"] == [{"check": "consistency", "step": 0,
                                                 "message": "answer '34' does not match the last step's result 15"}]
    assert rejected["bound-wrong"] == [{"check": "consistency", "step": 1, "message":
                                        "answer '3' is not the whole number the last step's bound (x ≤ 2.4) allows: 2"}]


def test_the_checker_has_a_work_bound_and_reads_a_power(run, tmp_path):
    """#32: a hostile sample is checked in bounded time and never stops a check with an error: 64 steps of
    `x=1=x=1...` (~3 minutes before: equations compared pairwise), a judge's re-solve of 60,000 steps (ran for ever),
    `10^1000` multiplied up (was: "internal", the int-string limit); and `3**2` between numbers is a power (was: bold)."""
    import time
    from score import checked_resolve

    q = "A startup budget pays {} for {} interns each month. How much does the startup pay in total?"
    hostile = "=".join(["x", "1"] * 500)[:1000]
    samples = [
        variant(id="pairwise", reasoning=[hostile] * 64, answer="1", num_steps=64),
        variant(id="huge", question=q.format("$10", 3), reasoning=["10^1000 * 10^1000 * 10^1000 * 10^1000 * 10^1000 = 5",
                                                                  "(10^1000)(10^1000)(10^1000)(10^1000)(10^1000) = 5"],
                answer="5", num_steps=2),
        variant(id="power", question=q.format("$3", 4), reasoning=["3**2 + 4**2 = 25"], answer="25"),
        variant(id="power-wrong", question=q.format("$3", 4), reasoning=["3**2 + 4**2 = 26"], answer="26"),
    ]
    src = tmp_path / "hostile.jsonl"
    src.write_text("".join(json.dumps(s) + "\n" for s in samples))
    start = time.monotonic()
    run("filter.py", "--input", str(src), "--skip-checks", "domain,duplicate", check_rc=0)
    assert time.monotonic() - start < 20
    assert [s["id"] for s in read_lines(tmp_path / "hostile.filtered.jsonl")] == ["power"]
    rejected = {r["id"]: r["reject_reasons"] for r in read_lines(tmp_path / "hostile.rejected.jsonl")}
    assert rejected["huge"] == [{"check": "arithmetic", "step": None, "message": "no step's arithmetic could be verified"}]
    assert rejected["power-wrong"][0]["message"] == "step 1 says 3 ^ 2 + 4 ^ 2 = 26, but 3 ^ 2 + 4 ^ 2 = 25"

    start = time.monotonic()
    value, bad = checked_resolve(q.format("$12", 3))({"steps": ["x = 3 * 12", "x + 1 = 37"] * 30_000, "answer": "36"})
    assert time.monotonic() - start < 5 and value.value == 36 and bad is None
