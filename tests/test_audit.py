"""audit.py and the run report, run as users run them against the test Ollama server."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, only_run, read_lines, scored_run

DOMAIN, SLUG = "Jobs at startup", "jobs_at_startup"


def startup_run(run, tmp_path, n=6):
    return scored_run(run, tmp_path, DOMAIN, n, "--domain-notes", "budget, headcount, runway")


def read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows(rows)


def test_export_review_apply_then_feedback_reaches_the_next_generation(run, tmp_path, ollama):
    run_dir = startup_run(run, tmp_path)
    folder = run_dir / f"{DOMAIN} data samples"
    proc = run("audit.py", "export", "--input", "latest", "--sample", "5", "--seed", "1", check_rc=0)
    path = folder / f"audit_{SLUG}.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets read UTF-8
    rows = read_csv(path)
    assert rows[0] == ["id", "domain", "question", "steps", "answer", "score", "judge_rationale", "filter_flags",
                       "decision", "comment"]
    assert len(rows) == 6 and all(r[3].startswith("1. ") and float(r[5]) > 0 and r[8] == "" for r in rows[1:])

    rows[1][8], rows[2][8], rows[2][9] = "keep", "DROP", "same budget story every time"
    rows[3][8], rows[3][4] = "fix", "$1"  # a fix the filter rejects: the answer no longer matches
    rows[4][8] = "maybe"
    rows.append(["no-such-id", DOMAIN, "q", "1. 1 + 1 = 2", "2", "", "", "", "keep", ""])
    write_csv(path, rows)
    proc = run("audit.py", "apply", "--input", "latest", "--decisions", str(path), "--reviewer", "ana", check_rc=0)
    assert "row 4: the fix of" in proc.stderr and "does not pass the filter" in proc.stderr
    assert "row 5: decision 'maybe' is not keep, drop or fix" in proc.stderr
    assert "row 7: unknown id 'no-such-id'" in proc.stderr
    audited = read_lines(folder / f"audited_{SLUG}.jsonl")
    assert [s["id"] for s in audited] == [rows[1][0]] and audited[0]["audit"] == "kept"
    decisions = {d["id"]: d for d in read_lines(folder / f"decisions_{SLUG}.jsonl")}
    assert decisions[rows[2][0]]["decision"] == "drop" and decisions[rows[2][0]]["reviewer"] == "ana"
    assert decisions[rows[3][0]]["fix_problems"][0]["check"] == "consistency"
    audit = json.loads((run_dir / "run.json").read_text())["stages"]["audit"]
    assert audit["judge_human_agreement"] == pytest.approx(2 / 3)  # the judge kept all three; the reviewer dropped one
    assert "| 1 |" in (run_dir / "report.md").read_text().split("| **total**")[1]  # audited column

    before = len(ollama.model_requests())
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "1", "--feedback", str(run_dir), check_rc=0)
    prompt = ollama.model_requests()[before]["body"]["messages"][-1]["content"]
    assert rows[2][2][:100] in prompt and "same budget story every time" in prompt  # dropped, with the comment
    assert rows[1][2][:100] in prompt  # kept: a style example


def test_fixed_sample_round_trips_and_formula_cells_are_defused(run, tmp_path):
    run_dir = tmp_path / "runs" / "run_20261125_120000"
    folder = run_dir / f"{DOMAIN} data samples"
    folder.mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({"stages": {"generate": {"domains": [{"name": DOMAIN, "notes": ""}],
                                                                         "settings": {"samples_per_domain": 1}}}}))
    sample = {"id": "s1", "question": "@Dana: the startup budget buys 3 laptops at $5 each. What is the total cost?",
              "reasoning": ["-5 + 20 = 15"], "answer": "$15", "difficulty": "easy", "domain": DOMAIN, "num_steps": 1}
    (folder / f"filtered_{SLUG}.jsonl").write_text(json.dumps(sample) + "\n")
    run("audit.py", "export", "--input", "latest", check_rc=0)
    path = folder / f"audit_{SLUG}.csv"
    rows = read_csv(path)
    assert rows[1][2].startswith("'@Dana") and rows[1][3] == "1. -5 + 20 = 15"
    rows[1][8], rows[1][3], rows[1][4] = "fix", "1. 3 * 5 = 15", "$15"
    write_csv(path, rows)
    run("audit.py", "apply", "--input", "latest", "--decisions", str(path), check_rc=0)
    fixed = read_lines(folder / f"audited_{SLUG}.jsonl")[0]
    assert fixed["question"] == sample["question"] and fixed["reasoning"] == ["3 * 5 = 15"] and fixed["audit"] == "fixed"


def test_apply_names_missing_columns(run, tmp_path):
    run_dir = startup_run(run, tmp_path, n=1)
    path = run_dir / f"{DOMAIN} data samples" / f"audit_{SLUG}.csv"
    write_csv(path, [["id", "verdict"], ["x", "keep"]])
    proc = run("audit.py", "apply", "--input", "latest", "--decisions", str(path), check_rc=2)
    assert "missing column(s) decision, comment" in proc.stderr


@pytest.mark.parametrize("fmt", ["alpaca", "sharegpt", "openai"])
def test_training_exports_load_with_hugging_face_datasets(run, tmp_path, fmt):
    datasets = pytest.importorskip("datasets") if not os.environ.get("CI") else __import__("datasets")
    run_dir = startup_run(run, tmp_path, n=3)
    run("audit.py", "export-train", "--input", "latest", "--format", fmt, check_rc=0)
    path = run_dir / f"train_{fmt}.jsonl"
    loaded = datasets.load_dataset(str(run_dir), split="train", cache_dir=str(tmp_path / "hf"))  # through the card
    assert loaded.num_rows == 3
    first = loaded[0]
    text = json.dumps(first)
    assert "Answer: " in text and first == read_lines(path)[0]

    import yaml

    card = (run_dir / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert header["configs"] == [{"config_name": fmt, "default": True,
                                  "data_files": [{"split": "train", "path": f"train_{fmt}.jsonl"}]}]
    assert header["size_categories"] == ["n<1K"] and header["license"] and header["task_categories"]
    report = json.loads((run_dir / "filter_report.json").read_text())["total"]
    assert f"filtered {report['kept']}, final 3" in card  # the run's real counts
    assert "- Warning, self-judging: the judge `ollama://llama2` is the generation model" in card  # the default judge
    assert "- Error of final: not estimated (no audit yet" in card
    assert "Judge: `ollama://llama2`, rubric" in card and "Cost per sample that reached final" in card


def test_report_html_renders_in_headless_chromium_with_the_funnel(run, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail(".ci/run must install Debian's chromium")
        pytest.skip("chromium not installed")
    run_dir = startup_run(run, tmp_path, n=4)
    counts = {name: sum(1 for _ in open(run_dir / f"{DOMAIN} data samples" / f"{name}_{SLUG}.jsonl"))
              for name in ("raw", "filtered", "final")}
    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'chrome'}", "--dump-dom", (run_dir / "report.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    assert "<svg" in dom and 'id="funnel"' in dom, proc.stderr[-2000:]
    row = dom.split('id="funnel"')[1].split("</table>")[0].split("<td>Total</td>")[1]
    cells = [c.split("</td>")[0] for c in row.split("<td>")[1:]]
    assert cells[:4] == ["4", str(counts["raw"]), str(counts["filtered"]), str(counts["final"])]
    assert "Per sample that reached final" in dom


def test_feedback_reaches_the_domain_it_was_given_for_under_its_folder_name(run, tmp_path, ollama):
    """'Jobs/startups' is audited in 'Jobs_startups data samples': --feedback still finds its own decisions."""
    run_dir = scored_run(run, tmp_path, "Jobs/startups,Bakery", 2)
    run("audit.py", "export", "--input", "latest", check_rc=0)
    csvs = []
    for folder, comment in (("Jobs_startups", "too easy for a startup"), ("Bakery", "bread again")):
        path = run_dir / f"{folder} data samples" / f"audit_{folder.lower()}.csv"
        rows = read_csv(path)
        rows[1][8], rows[1][9] = "drop", comment
        write_csv(path, rows)
        csvs += ["--decisions", str(path)]
    run("audit.py", "apply", "--input", "latest", *csvs, check_rc=0)

    before = len(ollama.model_requests())
    proc = run("generate.py", "--domains", "Jobs/startups", "--samples-per-domain", "1", "--feedback", str(run_dir),
               check_rc=0)
    prompt = ollama.model_requests()[before]["body"]["messages"][-1]["content"]
    assert "too easy for a startup" in prompt and "bread again" not in prompt
    assert "Jobs/startups: 1 to avoid" in proc.stderr

    proc = run("generate.py", "--domains", "Sales/Marketing,Sales?Marketing", check_rc=2)
    assert "share the folder 'Sales_Marketing data samples'" in proc.stderr
    assert len(list((tmp_path / "runs").glob("run_*"))) == 2  # no run folder made for the refused list


def test_make_preview_draws_the_samples_section_of_a_real_run(run, tmp_path, ollama):
    if shutil.which("chromium") is None and not os.environ.get("CI"):
        pytest.skip("chromium not installed")
    ollama.faults.queue = [None, "wrong_math"]  # one sample kept, one rejected: both kinds in the picture
    run("generate.py", "--domains", DOMAIN, "--samples-per-domain", "2", "--repairs", "0", check_rc=0)  # unrepaired: the filter rejects it
    run("filter.py", "--input", "latest", check_rc=0)
    run_dir = only_run(tmp_path)
    html = (run_dir / "report.html").read_text()
    samples = html.split('<section id="samples">')[1]
    assert "✓ verified" in samples and "arithmetic: step 2 says" in samples and 'class="wrong"' in samples
    out = tmp_path / "image.png"
    proc = run("docs/make_preview.py", "--run", str(run_dir), "--output", str(out), "--size", "800,600", check_rc=0)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", proc.stderr
    assert int.from_bytes(data[16:20], "big") == 800 and int.from_bytes(data[20:24], "big") == 600
    assert len(data) > 20_000  # a drawn page, not a blank one


def test_reviews_accumulate_across_csvs_and_applies_and_export_never_erases_one(run, tmp_path, ollama):
    run_dir = startup_run(run, tmp_path, n=6)
    folder = run_dir / f"{DOMAIN} data samples"
    run("audit.py", "export", "--input", "latest", "--sample", "4", "--seed", "1", check_rc=0)
    path = folder / f"audit_{SLUG}.csv"
    rows = read_csv(path)
    rows[1][8], rows[1][9] = "drop", "café prices are wrong"  # a comment with a character cp1252 writes as one byte
    write_csv(path, rows)
    proc = run("audit.py", "export", "--input", "latest", check_rc=0)  # a second export must not erase the review
    assert read_csv(path)[1][8] == "drop" and f"audit_{SLUG}_2.csv" in proc.stderr
    assert len(read_csv(folder / f"audit_{SLUG}_2.csv")) == 7

    saved_as = tmp_path / "my review (Excel).csv"  # renamed by "Save As", in Windows' encoding, columns reordered
    order = [4, 0, 1, 2, 3, 5, 6, 7, 8, 9]
    with open(saved_as, "w", encoding="cp1252", newline="") as f:
        csv.writer(f).writerows([[r[i] for i in order] for r in rows[:2]])
    second = [rows[0], rows[2], rows[2][:9], rows[3]]  # one id twice (the last wins), once as a short row
    second[1][8], second[2][8], second[3][8] = "keep", "drop", "keep"
    second[3][9] = "a long note pasted in. " * 9_000  # 207 KB in one cell: over csv's 128 KB default limit
    write_csv(tmp_path / "second.csv", second)
    run("audit.py", "apply", "--input", "latest", "--decisions", str(saved_as), "--decisions", str(tmp_path / "second.csv"),
        check_rc=0)
    decisions = {d["id"]: d for d in read_lines(folder / f"decisions_{SLUG}.jsonl")}
    assert {i: d["decision"] for i, d in decisions.items()} == {rows[1][0]: "drop", rows[2][0]: "drop", rows[3][0]: "keep"}
    assert decisions[rows[1][0]]["comment"] == "café prices are wrong"
    assert len(decisions[rows[3][0]]["comment"]) > 200_000

    third = [rows[0], rows[4]]
    third[1][8] = "keep"
    write_csv(tmp_path / "third.csv", third)
    run("audit.py", "apply", "--input", "latest", "--decisions", str(tmp_path / "third.csv"), check_rc=0)
    assert len(read_lines(folder / f"decisions_{SLUG}.jsonl")) == 4  # added to the first apply's, not instead

    run("audit.py", "export-train", "--input", "latest", "--format", "alpaca", check_rc=0)
    final = read_lines(folder / f"final_{SLUG}.jsonl")
    train = read_lines(run_dir / "train_alpaca.jsonl")
    assert len(train) == len(final) - 2  # every final sample but the two dropped, reviewed or not


def test_an_export_killed_or_interrupted_midway_leaves_no_partial_csv(tmp_path):
    """30,000 samples to export; kill -9 at moments spread over the run, then Ctrl-C: the CSV is never
    half written (a reviewer would take a partial file for the whole), and Ctrl-C exits 130 with no traceback."""
    folder = tmp_path / "runs" / "run_20261125_000000" / f"{DOMAIN} data samples"
    folder.mkdir(parents=True)
    lines = "".join(json.dumps({"id": f"s{i}", "question": f"A team buys {i} laptops at $3 each. What is the cost?",
                                "reasoning": [f"{i} * 3 = {i * 3}"], "answer": f"${i * 3}", "difficulty": "easy",
                                "domain": DOMAIN, "num_steps": 1, "score": 7.5}) + "\n" for i in range(30_000))
    for stage in ("filtered", "scored", "final"):
        (folder / f"{stage}_{SLUG}.jsonl").write_text(lines)
    cmd = [sys.executable, str(ROOT / "audit.py"), "export", "--input", "latest"]
    csv_path, lock, landed = folder / f"audit_{SLUG}.csv", folder.parent / ".lock", 0

    def started():  # once the export holds the run's lock, it is past Python's start and into the work
        proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while f"pid {proc.pid} " not in (lock.read_text() if lock.exists() else "") and time.monotonic() < deadline:
            time.sleep(0.005)
        return proc

    (folder / f".audit_{SLUG}.csv.k1ll3d.tmp").write_text("id,domain\n")  # as a writer killed mid-write leaves it
    for delay in (0.0, 0.1, 0.2, 0.3, 0.4, None):
        proc = started()
        if delay is None:
            proc.communicate(timeout=60)  # one export that completes, so later kills have a file to spoil
        else:
            time.sleep(delay)
            landed += proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
        if csv_path.exists():
            assert len(read_csv(csv_path)) == 30_001  # whole, or not there at all
    assert landed >= 3, "the kills must land while the export runs"
    assert not list(folder.glob(".*.tmp"))  # a killed writer's temporary file is cleared by the next one
    proc = started()
    time.sleep(0.1)
    running = proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert running and proc.returncode == 130 and "Traceback" not in err, err
    assert len(read_csv(csv_path)) == 30_001


def test_an_audit_of_a_random_sample_of_final_gives_its_error_with_a_wilson_interval_in_report_and_card(run, tmp_path, ollama):
    ollama.off_domain_every = 4  # two of eight score 7.1 yet stay out of final (off-domain): not in the sample
    run_dir = startup_run(run, tmp_path, n=8)
    folder = run_dir / f"{DOMAIN} data samples"
    final = {s["id"] for s in read_lines(folder / f"final_{SLUG}.jsonl")}
    assert len(final) == 6
    run("audit.py", "export", "--input", "latest", "--sample", "5", "--seed", "3", check_rc=0)
    path = folder / f"audit_{SLUG}.csv"
    rows = read_csv(path)
    assert len(rows) == 6 and {r[0] for r in rows[1:]} <= final  # drawn from final only
    for r in rows[1:]:
        r[8] = "keep"
    rows[2][8] = "drop"
    write_csv(path, rows)
    proc = run("audit.py", "apply", "--input", "latest", "--decisions", str(path), check_rc=0)
    # 1 of 5 of 6, by hand: drawn without replacement, n counts as n(N-1)/(N-n) = 25; p = 0.2, z = 1.96:
    # (p + z²/2n ∓ z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n) = 0.088606 .. 0.391310 (the truth is 1/6 or 2/6)
    line = ("20.0% of final is wrong (95% Wilson interval 8.9%–39.1%), from a human audit of 5 of 6 samples of final "
            "(1 dropped; a simple random sample of all of final)")
    assert line in proc.stderr
    est = json.loads((run_dir / "run.json").read_text())["stages"]["audit"]["error_of_final"]
    assert est["reviewed"] == 5 and est["dropped"] == 1
    assert est["low"] == pytest.approx(0.088606, abs=1e-6) and est["high"] == pytest.approx(0.391310, abs=1e-6)
    assert f"Error of final: {line}" in (run_dir / "report.md").read_text()
    assert "8.9%–39.1%" in (run_dir / "report.html").read_text()
    run("audit.py", "export-train", "--input", "latest", "--format", "openai", check_rc=0)
    assert f"- Error of final: {line}" in (run_dir / "README.md").read_text()  # the estimate and its sample size


def test_judge_human_agreement_counts_the_judges_real_decision_not_its_score(run, tmp_path, ollama):
    """Off-domain samples score 7.1, above the threshold, but never reach final: a reviewer who keeps
    them disagrees with the judge."""
    ollama.off_domain_every = 3
    run_dir = startup_run(run, tmp_path, n=6)
    folder = run_dir / f"{DOMAIN} data samples"
    run("audit.py", "export", "--input", "latest", check_rc=0)  # every scored sample, final or not
    path = folder / f"audit_{SLUG}.csv"
    rows = read_csv(path)
    for r in rows[1:]:
        r[8] = "keep"
    write_csv(path, rows)
    run("audit.py", "apply", "--input", "latest", "--decisions", str(path), check_rc=0)
    audit = json.loads((run_dir / "run.json").read_text())["stages"]["audit"]
    assert audit["judge_human_agreement"] == pytest.approx(4 / 6)
    assert audit["error_of_final"]["reviewed"] == 4 and audit["error_of_final"]["dropped"] == 0


def test_a_long_cell_is_read_without_changing_csvs_limit_for_the_rest_of_the_process(tmp_path):
    """apply lifts csv's 128 KB cell limit for its own read only: whatever else reads CSV in the process
    (a caller of audit.main, a test) keeps the limit it had."""
    import audit

    path = tmp_path / f"audit_{SLUG}.csv"
    write_csv(path, [audit.COLUMNS, ["id-1", DOMAIN, "q", "1. 2 + 2 = 4", "4", "", "", "", "keep", "x" * 200_000]])
    before = csv.field_size_limit()
    [(row_no, row)] = audit.read_rows(path)
    assert (row_no, len(row["comment"])) == (2, 200_000)
    assert csv.field_size_limit() == before


def review(run_dir, csvs, drop_domain):
    """A reviewer: drops every sample of drop_domain, keeps the rest. The ids reviewed."""
    ids = set()
    for path in csvs:
        rows = read_csv(path)
        for r in rows[1:]:
            r[8] = "drop" if r[1] == drop_domain else "keep"
            ids.add(r[0])
        write_csv(path, rows)
    return ids


def audit_record(run_dir):
    audit = json.loads((run_dir / "run.json").read_text())["stages"]["audit"]
    return {k: v for k, v in audit.items() if k not in ("files", "command", "finished_at", "seconds_all_sessions")}


def test_the_error_of_final_of_two_domains_is_one_estimate_over_all_of_final_and_every_round(run, tmp_path, ollama):
    """#31 items 1-3, the issue's scenario: 40 samples of final in one domain, 4 in the other; the reviewer
    drops the small domain's and keeps the rest (the true error is 4/44 = 9.1%). The stated interval holds
    it, applying one domain's CSV again changes nothing, and a second draw is new samples."""
    run("generate.py", "--domains", "Big shop,Small shop", "--samples-per-domain", "40", check_rc=0)
    run("filter.py", "--input", "latest", "--skip-checks", "duplicate", check_rc=0)
    run_dir = only_run(tmp_path)
    for domain, keep in (("Big shop", 40), ("Small shop", 4)):
        path = run_dir / f"{domain} data samples" / f"filtered_{domain.lower().replace(' ', '_')}.jsonl"
        lines = path.read_text().splitlines(keepends=True)
        assert len(lines) >= keep
        path.write_text("".join(lines[:keep]))
    run("score.py", "--input", "latest", check_rc=0)
    big, small = (run_dir / f"{d} data samples" for d in ("Big shop", "Small shop"))
    assert [len(read_lines(f / f"final_{s}.jsonl")) for f, s in ((big, "big_shop"), (small, "small_shop"))] == [40, 4]

    run("audit.py", "export", "--input", "latest", "--sample", "14", "--seed", "3", check_rc=0)  # 1 of Small shop's 4
    csvs = [big / "audit_big_shop.csv", small / "audit_small_shop.csv"]
    first = review(run_dir, csvs, "Small shop")
    assert len(first) == 14  # 14 of all of final, not 14 of each domain
    proc = run("audit.py", "apply", "--input", "latest", *(a for p in csvs for a in ("--decisions", str(p))), check_rc=0)
    est = audit_record(run_dir)["error_of_final"]
    assert est["design"] == "random" and est["final"] == 44 and est["reviewed"] == 14 and est["undecided"] == 0
    assert est["low"] <= 4 / 44 <= est["high"], est
    assert est["per_domain"]["Small shop"]["rate"] == 1 and est["per_domain"]["Big shop"]["rate"] == 0
    assert est["dropped"] == 1 and est["rate"] == pytest.approx(1 / 14)
    assert "simple random sample of all of final" in proc.stderr and "Small shop: 100.0%" in proc.stderr

    before = audit_record(run_dir)
    run("audit.py", "apply", "--input", "latest", "--decisions", str(csvs[0]), check_rc=0)  # one domain's CSV again
    assert audit_record(run_dir) == before

    run("audit.py", "export", "--input", "latest", "--sample", "14", "--seed", "3", check_rc=0)  # the same seed, round 2
    second_csvs = [big / "audit_big_shop_2.csv", small / "audit_small_shop_2.csv"]
    second = review(run_dir, [p for p in second_csvs if p.exists()], "Small shop")
    assert len(second) == 14 and not second & first  # only samples no reviewer has decided on
    run("audit.py", "apply", "--input", "latest", *(a for p in second_csvs if p.exists() for a in ("--decisions", str(p))),
        check_rc=0)
    est = audit_record(run_dir)["error_of_final"]
    assert est["reviewed"] == 28 and est["low"] <= 4 / 44 <= est["high"]  # both rounds
    assert "from a human audit of 28 of 44 samples of final" in (run_dir / "report.md").read_text()


@pytest.mark.parametrize("stratify", [False, True])
def test_the_95_percent_interval_holds_a_known_error_rate_in_95_percent_of_simulated_audits(stratify):
    """#31: 2,000 audits of a final whose error is known (9.1%), drawn by audit.py's own draw and estimated by
    the ledger as apply estimates it: the interval holds the true rate in 93-97% of them. Stratified: a
    small domain (100 samples, 73% wrong) beside a large one (900, 2% wrong), 10 and 90 reviewed."""
    import random

    import audit
    from dataforge.ledger import error_of_final

    sizes, wrong = ({"a": 900, "b": 100}, {"a": 18, "b": 73}) if stratify else ({"a": 1000}, {"a": 91})
    pools = {d: [{"id": f"{d}{i}", "wrong": i < wrong[d]} for i in range(n)] for d, n in sizes.items()}
    truth, rng, held = sum(wrong.values()) / sum(sizes.values()), random.Random(1), 0
    for _ in range(2000):
        drawn = audit.draw(pools, 100, rng.randrange(1 << 30), stratify)
        strata = {d: {"final": sizes[d], "reviewed": len(s), "dropped": sum(x["wrong"] for x in s), "undecided": 0}
                  for d, s in drawn.items()}
        est = error_of_final(strata, "stratified" if stratify else "random")
        held += est["low"] <= truth <= est["high"]
    assert 0.93 <= held / 2000 <= 0.97, held / 2000


def hand_made_run(tmp_path, sizes: dict[str, int]):
    """A run folder written by hand: filtered_ and final_ of each domain (no scores), as audit.py reads it."""
    run_dir = tmp_path / "runs" / "run_20261125_120000"
    for domain, n in sizes.items():
        folder = run_dir / f"{domain} data samples"
        folder.mkdir(parents=True)
        slug = domain.lower().replace(" ", "_")
        lines = "".join(json.dumps({"id": f"{slug}-{i}", "question": f"A shop sells {i} cups at $3 each. What is the total?",
                                    "reasoning": [f"{i} * 3 = {i * 3}"], "answer": f"${i * 3}", "difficulty": "easy",
                                    "domain": domain, "num_steps": 1}) + "\n" for i in range(1, n + 1))
        for stage in ("filtered", "final"):
            (folder / f"{stage}_{slug}.jsonl").write_text(lines)
    (run_dir / "run.json").write_text(json.dumps({"stages": {"generate": {
        "domains": [{"name": d, "notes": ""} for d in sizes], "settings": {"samples_per_domain": max(sizes.values())}}}}))
    return run_dir


def test_a_stratified_audit_weights_each_domain_by_its_size(run, tmp_path):
    """#31 item 2, asked for: --stratify shares --sample out by domain size (10 and 1 of 40 and 4); the
    reviewer drops the small domain's: each domain weighted by its size gives the true 9.1%."""
    run_dir = hand_made_run(tmp_path, {"Big shop": 40, "Small shop": 4})
    run("audit.py", "export", "--input", "latest", "--sample", "11", "--stratify", check_rc=0)
    csvs = [run_dir / f"{d} data samples" / f"audit_{d.lower().replace(' ', '_')}.csv" for d in ("Big shop", "Small shop")]
    assert [len(read_csv(p)) - 1 for p in csvs] == [10, 1]
    review(run_dir, csvs, "Small shop")
    proc = run("audit.py", "apply", "--input", "latest", *(a for p in csvs for a in ("--decisions", str(p))), check_rc=0)
    est = audit_record(run_dir)["error_of_final"]
    assert est["design"] == "stratified" and est["rate"] == pytest.approx(4 / 44) and est["low"] <= 4 / 44 <= est["high"]
    assert "9.1% of final is wrong (95% stratified Wilson interval" in proc.stderr
    assert "a sample of each domain, weighted by its size" in (run_dir / "report.md").read_text()

    run("audit.py", "export", "--input", str(run_dir / "Big shop data samples"), "--sample", "5", check_rc=0)
    drawn = json.loads((run_dir / "run.json").read_text())["stages"]["audit_sample"]
    assert drawn["rounds"] == 2 and len(drawn["drawn"]["Big shop"]) == 15  # both rounds; a domain's draw stays stratified
    assert audit_record(run_dir)["error_of_final"]["rate"] == pytest.approx(4 / 44)


def test_audit_reads_each_domains_current_judge_and_rubric(run, tmp_path, ollama):
    """#31 item 4: a second judge scores one domain: the other's samples still export (its scores are still
    current); after a rubric version change every sample appears once. run.json keeps both domains' part."""
    run_dir = scored_run(run, tmp_path, "Bakery,Jobs at startup", 2)
    run("score.py", "--input", str(run_dir / "Bakery data samples"), "--judge-model", "mistral", check_rc=0)
    per_domain = json.loads((run_dir / "run.json").read_text())["stages"]["score"]["per_domain"]
    assert {d: p["judge"]["judge_model"] for d, p in per_domain.items()} == {"Bakery": "ollama://mistral",
                                                                            DOMAIN: "ollama://llama2"}
    assert "judge `ollama://llama2; ollama://mistral`" in (run_dir / "report.md").read_text()  # each domain's
    folder = run_dir / f"{DOMAIN} data samples"
    scored = folder / f"scored_{SLUG}.jsonl"
    scored.write_text("".join(json.dumps({**r, "rubric_version": "0-older"}) + "\n" for r in read_lines(scored)))
    run("score.py", "--input", str(folder), check_rc=0)  # the new rubric: scored again, the old records kept
    assert len(read_lines(scored)) == 4
    run("audit.py", "export", "--input", "latest", check_rc=0)
    assert len(read_csv(run_dir / "Bakery data samples" / "audit_bakery.csv")) == 3
    assert len(read_csv(folder / f"audit_{SLUG}.csv")) == 3


def test_a_decision_edited_by_hand_into_a_fix_that_is_no_sample_is_named_and_never_exported(run, tmp_path):
    run_dir = startup_run(run, tmp_path, n=2)
    folder = run_dir / f"{DOMAIN} data samples"
    final = read_lines(folder / f"final_{SLUG}.jsonl")
    (folder / f"decisions_{SLUG}.jsonl").write_text(
        json.dumps({"id": final[0]["id"], "domain": DOMAIN, "decision": "fix", "fixed": "oops"}) + "\n")
    proc = run("audit.py", "export-train", "--input", str(run_dir), "--format", "alpaca", check_rc=0)
    assert f"decisions_{SLUG}.jsonl:1: the fix is not a sample" in proc.stderr
    rows = read_lines(run_dir / "train_alpaca.jsonl")
    assert len(rows) == len(final) - 1  # a fix that is not there leaves the sample out, as a refused fix does


def test_a_domain_scored_again_after_an_audit_has_its_error_and_agreement_counted_over_the_new_final(run, tmp_path, ollama):
    """Re-scoring one domain changes final under an audit: run.json's audit and the report count the error of
    final and the judge-human agreement again over the final that is now, not the one reviewed."""
    run_dir = scored_run(run, tmp_path, "Alpha,Beta", 3)
    run("audit.py", "export", "--input", "latest", check_rc=0)
    csvs = [run_dir / f"{d} data samples" / f"audit_{d.lower()}.csv" for d in ("Alpha", "Beta")]
    rows = read_csv(csvs[0])
    rows[1][8], rows[2][8], rows[3][8] = "drop", "keep", "keep"
    write_csv(csvs[0], rows)
    review(run_dir, [csvs[1]], "nobody")
    run("audit.py", "apply", "--input", "latest", *(a for p in csvs for a in ("--decisions", str(p))), check_rc=0)
    assert audit_record(run_dir)["error_of_final"]["final"] == 6

    # Beta scored again by a stricter threshold: none of it reaches final, and its 3 keeps now disagree with the judge
    proc = run("score.py", "--input", str(run_dir / "Beta data samples"), "--threshold", "9", check_rc=0)
    audit = audit_record(run_dir)
    est = audit["error_of_final"]
    assert (est["final"], est["reviewed"], est["dropped"], est["low"], est["high"]) == (3, 3, 1, 1 / 3, 1 / 3), est
    assert audit["judge_human_agreement"] == 2 / 6  # Alpha judged by its own threshold (6), Beta by 9
    assert "33.3% of final is wrong" in (run_dir / "report.md").read_text()
    assert "33.3% of final is wrong" in proc.stderr and "no audit yet" not in proc.stderr


def test_the_card_states_each_domains_own_threshold_and_the_re_solve_agreement_of_every_domain(run, tmp_path, ollama):
    """A domain scored again with another threshold: the card says what made each domain's final, not the
    last score stage's threshold for all of them."""
    run_dir = scored_run(run, tmp_path, "Alpha,Beta", 3)
    run("score.py", "--input", str(run_dir / "Beta data samples"), "--threshold", "9", "--judge-model", "mistral", check_rc=0)
    run("audit.py", "export-train", "--input", str(run_dir), "--format", "alpaca", check_rc=0)
    card = (run_dir / "README.md").read_text()
    assert "final at score ≥ 6.0 (Alpha), 9.0 (Beta) with domain relevance ≥ 5 and correctness ≥ 5" in card
    assert "re-solve agreement 100% of 6" in card  # both domains' re-solves, not Beta's 3 alone


def test_decisions_a_reviewer_chose_rather_than_drew_are_said_to_be_no_random_sample(run, tmp_path, ollama):
    """A reviewer who exports everything and decides the few that looked wrong has no random sample: the
    error of final says how many of its samples were chosen, not drawn, instead of calling them one."""
    run_dir = startup_run(run, tmp_path, n=8)
    run("audit.py", "export", "--input", "latest", check_rc=0)  # every sample, no --sample
    path = run_dir / f"{DOMAIN} data samples" / f"audit_{SLUG}.csv"
    rows = read_csv(path)
    rows[1][8], rows[2][8] = "drop", "drop"
    write_csv(path, rows)
    proc = run("audit.py", "apply", "--input", "latest", "--decisions", str(path), check_rc=0)
    assert audit_record(run_dir)["error_of_final"]["chosen"] == 2
    assert "2 of them chosen by a reviewer, not drawn at random" in proc.stderr

    run("audit.py", "export", "--input", "latest", "--sample", "3", check_rc=0)
    second = run_dir / f"{DOMAIN} data samples" / f"audit_{SLUG}_2.csv"
    review(run_dir, [second], "nobody")
    run("audit.py", "apply", "--input", "latest", "--decisions", str(second), check_rc=0)
    est = audit_record(run_dir)["error_of_final"]
    assert (est["reviewed"], est["chosen"]) == (5, 2)


def test_a_stratified_sample_is_as_many_as_asked_one_each_while_it_lasts(run, tmp_path):
    """--sample 3 --stratify over domains of 40, 6 and 3 samples of final: one each (not 2 + 1 + 1); --sample 5:
    3 + 1 + 1; --sample 2: the two largest domains."""
    run_dir = hand_made_run(tmp_path, {"Big": 40, "Mid": 6, "Tiny": 3})
    manifest = (run_dir / "run.json").read_text()
    for n, want in ((3, [1, 1, 1]), (5, [3, 1, 1]), (2, [1, 1, 0])):
        for f in run_dir.glob("*/audit_*.csv"):
            f.unlink()
        (run_dir / "run.json").write_text(manifest)  # each draw a first round
        run("audit.py", "export", "--input", "latest", "--sample", str(n), "--stratify", check_rc=0)
        got = [len(read_csv(run_dir / f"{d} data samples" / f"audit_{d.lower()}.csv")) - 1 for d in ("Big", "Mid", "Tiny")]
        assert got == want, (n, got)
