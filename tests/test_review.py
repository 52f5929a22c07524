"""audit.py review: the review page, served as users start it and driven by keys in a real headless Chromium
(Debian's chromium and chromium-driver, through Selenium), against runs made with the test Ollama server."""

import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, read_lines, scored_run

DOMAIN, SLUG = "Jobs at startup", "jobs_at_startup"
RIGHT, LEFT, ESC = "\ue014", "\ue012", "\ue00c"  # selenium's Keys.ARROW_RIGHT, ARROW_LEFT, ESCAPE
# Debian's Chromium, headless, with nothing that reaches for the network (this machine has none)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1200,1000"]


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -r requirements-dev.txt)"
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        return "chromium is not installed (apt-get install chromium)"
    if not shutil.which("chromedriver"):
        return "chromedriver is not installed (apt-get install chromium-driver)"
    return None


@pytest.fixture(scope="module")
def chrome(tmp_path_factory):
    if why := missing_browser():
        if os.environ.get("CI"):
            pytest.fail(f".ci/run must install it: {why}")
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for flag in [*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chrome-profile')}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # the system chromedriver, named: Selenium Manager (which downloads drivers) is never asked
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def browser(chrome):
    """The browser for one test; after it, the console must hold no error (and the test's extra tabs are closed)."""
    chrome.get_log("browser")  # an earlier test's messages
    yield chrome
    errors = [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"]
    for handle in chrome.window_handles[1:]:
        chrome.switch_to.window(handle)
        chrome.close()
    chrome.switch_to.window(chrome.window_handles[0])
    assert not errors, errors


class Review:
    """`python audit.py review ... --no-browser` in the background, as a user starts it; stopped with SIGTERM."""

    def __init__(self, tmp_path: Path, run_dir: Path, *flags: str, browser=False):
        self.log = tmp_path / f"review-{len(list(tmp_path.glob('review-*')))}.log"
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "audit.py"), "review", "--input", str(run_dir),
                                      *([] if browser else ["--no-browser"]), *flags], cwd=tmp_path, stdout=subprocess.PIPE,
                                     stderr=open(self.log, "w"), text=True, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        assert line.startswith("review page: http://127.0.0.1:"), (line, self.log.read_text())
        self.url = line.split("review page: ")[1].strip()
        self.base, self.token = self.url.split("/?token=")

    def stop(self, sig=signal.SIGTERM) -> str:
        self.proc.send_signal(sig)
        assert self.proc.wait(timeout=30) == 0
        return self.log.read_text()


@pytest.fixture
def review(tmp_path):
    started = []

    def start(run_dir, *flags, browser=False):
        started.append(Review(tmp_path, run_dir, *flags, browser=browser))
        return started[-1]

    yield start
    for r in started:
        if r.proc.poll() is None:
            assert "review page stopped" in r.stop()


def startup_run(run, tmp_path, n=6):
    return scored_run(run, tmp_path, DOMAIN, n, "--domain-notes", "budget, headcount, runway")


def decisions(run_dir: Path) -> dict:
    path = run_dir / f"{DOMAIN} data samples" / f"decisions_{SLUG}.jsonl"
    return {d["id"]: d for d in read_lines(path)} if path.exists() else {}


def text(driver, element_id: str) -> str:
    return driver.find_element("id", element_id).text


def wait(driver, condition, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 30).until(lambda d: condition(d), message=what)


def open_page(driver, url: str, position: str = "1 of"):
    driver.get(url)
    wait(driver, lambda d: text(d, "position").startswith(position), f"the page shows sample {position}")


def press(driver, *keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(*keys).perform()


def decide(driver, key: str, decision: str) -> str:
    """Press a decision's key on the sample shown; wait until the server says it is saved. Its id."""
    sample_id = text(driver, "sample-id")
    press(driver, key)
    wait(driver, lambda d: text(d, "status") == f"saved: {decision} {sample_id}", f"{decision} {sample_id} saved")
    return sample_id


def ctrl_enter(driver) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(driver).key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()


def replace_text(driver, element_id: str, new: str) -> None:
    field = driver.find_element("id", element_id)
    field.clear()
    field.send_keys(new)


def test_keys_drop_keep_and_fix_samples_and_a_reload_shows_them(run, tmp_path, browser, review):
    run_dir = startup_run(run, tmp_path)
    page = review(run_dir, "--order", "file", "--reviewer", "ana")
    open_page(browser, page.url)
    press(browser, "c", "too easy", "\n")  # a comment, then back to the keys
    dropped = decide(browser, "d", "drop")
    kept = decide(browser, "k", "keep")
    press(browser, "f")
    question = browser.find_element("id", "edit-question").get_attribute("value")
    replace_text(browser, "edit-question", question.replace("In Jobs", "At Jobs"))
    fixed = text(browser, "sample-id")
    ctrl_enter(browser)
    wait(browser, lambda d: text(d, "status") == f"saved: fix {fixed}", "the fix saved")

    saved = decisions(run_dir)  # written when made, by apply's code: its fields
    assert {i: (d["decision"], d["comment"], d["reviewer"]) for i, d in saved.items()} == \
        {dropped: ("drop", "too easy", "ana"), kept: ("keep", "", "ana"), fixed: ("fix", "", "ana")}
    assert saved[fixed]["fixed"]["question"].startswith("At Jobs") and saved[fixed]["fixed"]["audit"] == "fixed"
    assert set(saved[kept]) == {"id", "domain", "decision", "comment", "question", "reviewer", "judge_score", "applied_at"}
    audited = read_lines(run_dir / f"{DOMAIN} data samples" / f"audited_{SLUG}.jsonl")
    assert [s["id"] for s in audited] == [kept, fixed]
    assert json.loads((run_dir / "run.json").read_text())["stages"]["audit"]["decisions"] == {"drop": 1, "keep": 1, "fix": 1}

    browser.refresh()  # the page is where it was, and shows every decision from the file
    wait(browser, lambda d: text(d, "position") == "4 of 6", "the page back at sample 4")
    assert text(browser, "fig-overall") == "3 reviewed, 3 to review"
    press(browser, LEFT, LEFT, LEFT)
    assert text(browser, "decision").startswith("dropped — “too easy” by ana")
    press(browser, RIGHT)
    assert text(browser, "decision").startswith("kept") and text(browser, "position") == "2 of 6"
    press(browser, RIGHT)
    assert text(browser, "decision").startswith("fixed") and text(browser, "question").startswith("At Jobs")
    press(browser, "l")  # the list view holds them too
    rows = [r.text for r in browser.find_elements("css selector", "#rows tr")]
    assert rows[0].endswith("drop") and rows[1].endswith("keep") and rows[2].endswith("fix") and len(rows) == 6


def test_a_fix_that_breaks_the_arithmetic_is_refused_on_the_page_with_the_checkers_message(run, tmp_path, browser, review):
    run_dir = startup_run(run, tmp_path, n=2)
    page = review(run_dir, "--order", "file")
    open_page(browser, page.url)
    press(browser, "f")
    steps = browser.find_element("id", "edit-steps").get_attribute("value").split("\n")
    result = re.search(r"= (\d+)$", steps[0])[1]
    steps[0] = steps[0][: -len(result)] + str(int(result) + 1)  # "33 * 54 = 1783"
    replace_text(browser, "edit-steps", "\n".join(steps))
    ctrl_enter(browser)
    wait(browser, lambda d: "Not saved" in text(d, "fix-problems"), "the refusal shown")
    assert f"arithmetic: step 1 says {steps[0].split(': ')[-1]}" in text(browser, "fix-problems")
    assert text(browser, "position") == "1 of 2" and browser.find_element("id", "edit-steps").is_displayed()
    assert decisions(run_dir) == {}  # nothing saved: the reviewer corrects it or leaves it
    press(browser, ESC)  # the sample as it was
    assert text(browser, "decision") == "not reviewed yet" and not browser.find_element("id", "editor").is_displayed()


def test_every_request_needs_the_token_and_only_this_machine_can_connect(run, tmp_path, review):
    run_dir = startup_run(run, tmp_path, n=2)
    page = review(run_dir)
    sample_id = read_lines(run_dir / f"{DOMAIN} data samples" / f"scored_{SLUG}.jsonl")[0]["id"]
    body = json.dumps({"id": sample_id, "domain": DOMAIN, "decision": "drop"}).encode()
    for url, data in [(page.base + "/", None), (page.base + "/?token=wrong", None), (page.base + "/api/samples", None),
                      (page.base + "/favicon.ico", None), (page.base + "/api/decide", body),
                      (page.base + "/api/decide?token=" + page.token[:-1], body)]:
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403, url
    for data in (b"{not json", json.dumps({"id": sample_id, "domain": DOMAIN, "decision": "maybe"}).encode(),
                 json.dumps({"id": "no-such-id", "domain": DOMAIN, "decision": "drop"}).encode()):
        request = urllib.request.Request(page.base + "/api/decide?token=" + page.token, data=data,
                                         headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as bad:  # with the token, but not a decision
            urllib.request.urlopen(request, timeout=10)
        assert bad.value.code == 400 and "error" in json.loads(bad.value.read())
    assert decisions(run_dir) == {}
    with urllib.request.urlopen(page.url, timeout=10) as ok:
        assert ok.status == 200 and "default-src 'none'" in ok.headers["Content-Security-Policy"]
    port = int(page.base.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):  # bound to 127.0.0.1, not to every address of the machine
        socket.create_connection(("127.0.0.2", port), timeout=5)


def test_html_in_a_sample_is_shown_as_text(run, tmp_path, browser, review):
    run_dir = startup_run(run, tmp_path, n=2)
    scored = run_dir / f"{DOMAIN} data samples" / f"scored_{SLUG}.jsonl"
    samples = read_lines(scored)
    attack = '<img src=x onerror="document.title=\'pwned\'"><b>bold</b>'
    samples[0]["question"] += " " + attack
    samples[0]["rationale"] = "<script>document.title='pwned'</script> fine"
    samples[0]["jury"][0]["judge"] = "<i>juror</i>"
    scored.write_text("".join(json.dumps(s) + "\n" for s in samples))
    page = review(run_dir, "--order", "file")
    open_page(browser, page.url)
    assert text(browser, "question").endswith(attack)
    assert not browser.find_elements("css selector", "#question *, #details script, #details i")
    details = text(browser, "details")
    assert "<script>document.title='pwned'</script> fine" in details and "<i>juror</i>" in details
    press(browser, "l")
    assert attack in browser.find_elements("css selector", "#rows td.q")[0].text
    assert not browser.find_elements("css selector", "#rows img") and "pwned" not in browser.title


def test_a_second_tabs_decision_is_not_overwritten(run, tmp_path, browser, review):
    run_dir = startup_run(run, tmp_path, n=3)
    page = review(run_dir, "--order", "file")
    open_page(browser, page.url)
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    open_page(browser, page.url)
    press(browser, RIGHT)
    second = decide(browser, "d", "drop")  # the second tab drops sample 2
    browser.switch_to.window(first)  # the first tab still shows sample 1, loaded before that drop
    kept = decide(browser, "k", "keep")
    assert {i: d["decision"] for i, d in decisions(run_dir).items()} == {second: "drop", kept: "keep"}
    assert text(browser, "sample-id") == second and text(browser, "decision").startswith("dropped")  # it learned of it
    browser.refresh()
    wait(browser, lambda d: text(d, "position") == "2 of 3", "the page back at sample 2")
    press(browser, LEFT)
    assert text(browser, "decision").startswith("kept") and text(browser, "fig-overall") == "2 reviewed, 1 to review"


def test_a_run_another_stage_holds_is_refused_and_the_page_holds_its_run(run, tmp_path, review):
    run_dir = startup_run(run, tmp_path, n=2)
    page = review(run_dir)
    proc = run("audit.py", "review", "--input", str(run_dir), "--no-browser", check_rc=2)
    assert f"Error: {run_dir} is in use by pid {page.proc.pid} (audit.py review" in proc.stderr
    proc = run("audit.py", "apply", "--input", str(run_dir), "--decisions", "audit.csv", check_rc=2)  # nor a CSV
    assert f"Error: {run_dir} is in use by pid {page.proc.pid}" in proc.stderr
    log = page.stop(signal.SIGINT)  # Ctrl-C ends it cleanly (exit 0, checked by stop), and frees the run
    assert "review page stopped: 0 reviewed, 2 to review" in log and "Traceback" not in log
    run("audit.py", "export", "--input", str(run_dir), check_rc=0)


def test_the_error_of_final_after_30_reviews_on_the_page_is_the_one_apply_gives(run, tmp_path, browser, review):
    run_dir = startup_run(run, tmp_path, n=36)
    copy = tmp_path / "copy" / run_dir.name
    shutil.copytree(run_dir, copy)
    page = review(run_dir, "--sample", "30", "--seed", "3", "--order", "file")
    open_page(browser, page.url)
    for i in range(30):
        decide(browser, "d" if i % 4 == 1 else "k", "drop" if i % 4 == 1 else "keep")
    shown = text(browser, "fig-error")
    page.stop()
    on_page = decisions(run_dir)
    assert len(on_page) == 30 and sum(d["decision"] == "drop" for d in on_page.values()) == 8

    run("audit.py", "export", "--input", str(copy), "--sample", "30", "--seed", "3", check_rc=0)  # the same 30
    path = copy / f"{DOMAIN} data samples" / f"audit_{SLUG}.csv"
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert {r[0] for r in rows[1:]} == set(on_page)
    for r in rows[1:]:
        r[8] = on_page[r[0]]["decision"]
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows(rows)
    run("audit.py", "apply", "--input", str(copy), "--decisions", str(path), check_rc=0)

    audit = lambda d: json.loads((d / "run.json").read_text())["stages"]["audit"]  # noqa: E731
    assert audit(run_dir)["error_of_final"] == audit(copy)["error_of_final"]
    assert audit(run_dir)["error_of_final"]["reviewed"] == 30
    assert audit(run_dir)["judge_human_agreement"] == audit(copy)["judge_human_agreement"]
    report = (copy / "report.md").read_text().split("Error of final: ")[1].split("\n")[0]
    assert shown == f"error of final: {report}"
    assert (run_dir / "report.md").read_text().split("Error of final: ")[1].split("\n")[0] == report


def test_make_review_shot_draws_the_page_of_a_copy_of_a_real_run(run, tmp_path, chrome):
    run_dir = startup_run(run, tmp_path, n=3)
    before = sorted(p.name for p in (run_dir / f"{DOMAIN} data samples").iterdir())
    out = tmp_path / "review.png"
    run("docs/make_review_shot.py", "--run", str(run_dir), "--output", str(out), check_rc=0)
    assert out.read_bytes().startswith(b"\x89PNG") and out.stat().st_size > 10_000
    assert sorted(p.name for p in (run_dir / f"{DOMAIN} data samples").iterdir()) == before  # decided on a copy


def ask(page: "Review", method: str, path: str, body=None, headers=None) -> tuple[int, str]:
    """One request to the page's server as any local program can send it: (status, body)."""
    import http.client

    port = int(page.base.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    connection.request(method, f"{path}?token={page.token}", body=data,
                       headers={"Content-Type": "application/json", **(headers or {})})
    answer = connection.getresponse()
    return answer.status, answer.read().decode()


def test_a_request_for_another_host_or_from_another_origin_is_refused_even_with_the_token(run, tmp_path, review):
    run_dir = startup_run(run, tmp_path, n=2)
    page = review(run_dir)
    sample_id = read_lines(run_dir / f"{DOMAIN} data samples" / f"scored_{SLUG}.jsonl")[0]["id"]
    drop = {"id": sample_id, "domain": DOMAIN, "decision": "drop"}
    port = page.base.rsplit(":", 1)[1]
    # DNS rebinding: evil.example made to resolve to 127.0.0.1 sends its own name; a page there posting here, its origin
    assert ask(page, "GET", "/api/samples", headers={"Host": f"evil.example:{port}"})[0] == 403
    assert ask(page, "POST", "/api/decide", drop, {"Host": f"evil.example:{port}"})[0] == 403
    assert ask(page, "POST", "/api/decide", drop, {"Origin": "http://evil.example"})[0] == 403
    assert ask(page, "POST", "/api/decide", drop, {"Origin": "null"})[0] == 403  # a sandboxed frame or a file
    assert decisions(run_dir) == {}
    assert ask(page, "GET", "/api/samples", headers={"Host": f"localhost:{port}"})[0] == 200
    assert ask(page, "POST", "/api/decide", drop, {"Origin": page.base})[0] == 200  # the page's own fetch


def test_two_domains_with_odd_names_and_decisions_that_name_no_sample_of_theirs(run, tmp_path, review):
    run_dir = scored_run(run, tmp_path, "Bob's \"café\" / ünï, Coffee shop", 2)
    folders = sorted(p for p in run_dir.iterdir() if p.is_dir())
    page = review(run_dir, "--order", "file")
    status, body = ask(page, "GET", "/api/samples")
    assert status == 200, body
    samples = json.loads(body)["samples"]
    odd, coffee = samples[0], samples[2]
    assert [s["domain"] for s in samples] == [odd["domain"]] * 2 + ["Coffee shop"] * 2 and "ünï" in odd["domain"]
    for bad in ({**odd, "domain": "Coffee shop"}, {"id": [odd["id"]], "domain": odd["domain"]},
                {"id": odd["id"], "domain": {"a": 1}}, {"id": odd["id"], "domain": odd["domain"], "decision": ["keep"]}):
        status, body = ask(page, "POST", "/api/decide", {"decision": "drop", **bad, "comment": "x"})
        assert status == 400 and "error" in json.loads(body), (bad, status, body)
    assert not list(run_dir.glob("*/decisions_*"))
    for s in (odd, coffee):
        status, body = ask(page, "POST", "/api/decide", {"id": s["id"], "domain": s["domain"], "decision": "keep",
                                                         "comment": "odd \ud800 but kept"})
        assert status == 200 and json.loads(body)["saved"], body
    status, body = ask(page, "GET", "/api/samples")  # a lone surrogate (JSON's "\ud800") is no UTF-8: sent escaped
    assert status == 200 and json.loads(body)["decisions"][odd["id"]]["comment"] == "odd \ud800 but kept"
    figures = json.loads(body)["figures"]
    assert {d: (f["reviewed"], f["to_review"]) for d, f in figures["domains"].items()} == \
        {odd["domain"]: (1, 1), "Coffee shop": (1, 1)}
    assert [len(read_lines(next(f.glob("decisions_*.jsonl")))) for f in folders] == [1, 1]


def test_a_key_pressed_twice_decides_one_sample_and_letters_typed_in_the_boxes_decide_nothing(run, tmp_path, browser, review):
    run_dir = startup_run(run, tmp_path, n=3)
    page = review(run_dir, "--order", "file")
    open_page(browser, page.url)
    first = text(browser, "sample-id")
    press(browser, "k", "d")  # faster than the save: the second press must not decide sample 1 again, nor skip 2
    wait(browser, lambda d: text(d, "status") == f"saved: keep {first}", "the keep saved")
    browser.execute_script("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'k', repeat: true}))")  # k held
    press(browser, "c", "kdf l? bad", "\n")
    assert {i: d["decision"] for i, d in decisions(run_dir).items()} == {first: "keep"}
    assert text(browser, "position") == "2 of 3" and text(browser, "decision") == "not reviewed yet"
    press(browser, "f")
    browser.find_element("id", "edit-answer").send_keys("kd")  # typed into the fix, not decisions
    press(browser, ESC, RIGHT)
    assert text(browser, "position") == "3 of 3" and len(decisions(run_dir)) == 1
    last = decide(browser, "D", "drop")  # the last sample (and Caps Lock on): decided, and the page stays on it
    assert text(browser, "position") == "3 of 3" and text(browser, "decision").startswith("dropped")
    assert {i: (d["decision"], d["comment"]) for i, d in decisions(run_dir).items()} == \
        {first: ("keep", ""), last: ("drop", "")}
    press(browser, LEFT)  # a Russian keyboard: the k key types л
    browser.execute_script("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'л', code: 'KeyK'}))")
    wait(browser, lambda d: text(d, "status").startswith("saved: keep"), "the keep of sample 2 saved")  # answered too
    assert len(decisions(run_dir)) == 3


def test_a_very_long_line_in_a_sample_wraps_on_the_page(run, tmp_path, browser, review):
    run_dir = startup_run(run, tmp_path, n=1)
    scored = run_dir / f"{DOMAIN} data samples" / f"scored_{SLUG}.jsonl"
    sample = read_lines(scored)[0]
    sample["question"] += " " + "x" * 3000
    sample["rationale"] = "y" * 3000
    scored.write_text(json.dumps(sample) + "\n")
    page = review(run_dir)
    open_page(browser, page.url)
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def test_the_browser_opened_is_not_given_the_token_on_its_command_line(run, tmp_path, review, monkeypatch):
    run_dir = startup_run(run, tmp_path, n=1)
    seen = tmp_path / "browser.json"  # a browser that notes what it was given ($BROWSER, as webbrowser reads it)
    fake = tmp_path / "browser.py"
    fake.write_text("import json, os, sys\nfrom urllib.parse import urlsplit, unquote\n"
                    "path = unquote(urlsplit(sys.argv[1]).path) if sys.argv[1].startswith('file:') else None\n"
                    "given = {'argv': sys.argv, 'mode': path and os.stat(path).st_mode & 0o777, 'page': path and open(path).read()}\n"
                    "import re, urllib.request\n"  # and it loads the page at once, as a browser in the terminal (w3m) does
                    "url = re.search('url=([^\"]+)', given['page'] or '')\n"
                    "try: given['status'] = urllib.request.urlopen(url[1].replace('&amp;', '&'), timeout=10).status\n"
                    "except Exception as e: given['status'] = repr(e)\n"
                    f"json.dump(given, open({str(seen)!r}, 'w'))\n")
    monkeypatch.setenv("BROWSER", f"{sys.executable} {fake} %s")
    page = review(run_dir, browser=True)
    deadline = time.monotonic() + 30
    while not seen.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    given = json.loads(seen.read_text())
    assert not any(page.token in arg for arg in given["argv"])  # `ps` shows a command line to every user
    assert given["mode"] == 0o600 and f'content="0;url={page.url}"' in given["page"]
    assert given["status"] == 200  # served while the browser waits for it
    page.stop()
    assert not (run_dir / "review_page.html").exists()


def test_a_comment_typed_is_kept_when_the_reviewer_looks_elsewhere_before_deciding(run, tmp_path, browser, review):
    run_dir = startup_run(run, tmp_path, n=2)
    page = review(run_dir, "--order", "file")
    open_page(browser, page.url)
    press(browser, "c", "check the fee", "\n", RIGHT, LEFT)  # a look at the next sample, then back
    assert browser.find_element("id", "comment").get_attribute("value") == "check the fee"
    press(browser, "l")
    browser.find_elements("css selector", "#rows tr")[0].click()  # and through the list
    dropped = decide(browser, "d", "drop")
    assert decisions(run_dir)[dropped]["comment"] == "check the fee"
    assert browser.find_element("id", "comment").get_attribute("value") == ""  # sample 2 has none


def test_space_after_a_click_on_keep_scrolls_and_decides_nothing(run, tmp_path, browser, review):
    run_dir = startup_run(run, tmp_path, n=3)
    page = review(run_dir, "--order", "file")
    open_page(browser, page.url)
    kept = text(browser, "sample-id")
    browser.find_element("id", "keep").click()
    wait(browser, lambda d: text(d, "status") == f"saved: keep {kept}", "the click's keep saved")
    press(browser, " ")  # the page's scroll key: the button clicked last must not keep sample 2 unread
    time.sleep(1)  # a second save would be done by now
    assert list(decisions(run_dir)) == [kept] and text(browser, "position") == "2 of 3"


def test_a_decisions_file_edited_by_hand_is_shown_as_far_as_it_goes(run, tmp_path, review):
    run_dir = startup_run(run, tmp_path, n=3)
    ids = [s["id"] for s in read_lines(run_dir / f"{DOMAIN} data samples" / f"scored_{SLUG}.jsonl")]
    (run_dir / f"{DOMAIN} data samples" / f"decisions_{SLUG}.jsonl").write_text(
        json.dumps({"id": ids[0], "decision": "fix", "fixed": "see the sheet", "comment": 5}) + "\n"
        + json.dumps({"id": ids[1], "decision": "fix", "fixed": {"question": "Q?", "reasoning": None}}) + "\n")
    page = review(run_dir)
    status, body = ask(page, "GET", "/api/samples")
    assert status == 200, body
    shown = json.loads(body)["decisions"]
    assert shown[ids[0]]["comment"] == "5" and shown[ids[0]]["fixed"] is None
    assert shown[ids[1]]["fixed"] is None  # a "fixed" that is no sample is read as a fix not made, as export-train reads it


def test_a_run_with_nothing_in_final_says_why_there_is_nothing_to_sample(run, tmp_path):
    run_dir = startup_run(run, tmp_path, n=2)
    (run_dir / f"{DOMAIN} data samples" / f"final_{SLUG}.jsonl").write_text("")
    proc = run("audit.py", "review", "--input", str(run_dir), "--no-browser", "--sample", "30", check_rc=2)
    assert "no sample reached final; leave out --sample to review every scored sample" in proc.stderr
    assert not (run_dir / "review_page.html").exists()


def test_a_fix_the_filter_refused_in_an_applied_csv_is_not_shown_as_fixed(run, tmp_path, browser, review):
    run_dir = startup_run(run, tmp_path, n=2)
    run("audit.py", "export", "--input", str(run_dir), check_rc=0)
    path = run_dir / f"{DOMAIN} data samples" / f"audit_{SLUG}.csv"
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    rows[1][3], rows[1][8] = "1. 2 + 2 = 5", "fix"  # steps: a fix that breaks the arithmetic
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows(rows)
    run("audit.py", "apply", "--input", str(run_dir), "--decisions", str(path), check_rc=0)
    assert decisions(run_dir)[rows[1][0]]["fix_problems"]  # apply keeps it, without a fixed sample

    page = review(run_dir, "--order", "file")
    open_page(browser, page.url)
    assert text(browser, "sample-id") == rows[1][0]
    assert text(browser, "decision").startswith("fix refused by the filter (arithmetic: step 1 says 2 + 2 = 5")
