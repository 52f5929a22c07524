"""Make docs/assets/review.png, the README's picture of the review page (`audit.py review`): a copy of a run
reviewed for a moment in headless Chromium (one sample dropped with a comment, one kept), then the next
sample as the reviewer sees it. The run itself is not touched: the decisions go to a copy.

    python docs/make_review_shot.py                                  # the latest run in runs/
    python docs/make_review_shot.py --run runs/run_20261125_161500 --output docs/assets/review.png

The picture in the README comes from a run against the test server, judged by a jury of two:

    python tests/fake_ollama.py --port 11500 &
    export OLLAMA_HOST=127.0.0.1:11500
    python generate.py --domains "Jobs at startup" --domain-notes "budget, headcount, runway" --samples-per-domain 8
    python filter.py --input latest --skip-checks duplicate   # the test server's problems share one pattern
    python score.py --input latest --judge-model llama2,mistral
    python docs/make_review_shot.py

Needs Debian's chromium and chromium-driver, and selenium (requirements-dev.txt).
"""

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dataforge import UserError, cli  # noqa: E402
from dataforge.runs import DEFAULT_RUNS_DIR, latest_run  # noqa: E402
from make_preview import CHROMIUM_FLAGS  # noqa: E402


def browser(profile: str, size: str):
    """Headless Chromium driven through the system's chromedriver (Selenium Manager would download one)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise UserError("selenium is needed: pip install -r requirements-dev.txt") from None
    chromium, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not (chromium and driver):
        raise UserError("headless Chromium and its driver are needed: `apt-get install chromium chromium-driver`")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={size}"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", help="a scored run folder (default: the latest in runs/)")
    p.add_argument("--output", default=str(ROOT / "docs" / "assets" / "review.png"), help="the PNG to write")
    p.add_argument("--size", default="1100,960", help="window width,height in pixels (default 1100,960)")
    args = p.parse_args(argv)
    run_dir = Path(args.run) if args.run else latest_run(DEFAULT_RUNS_DIR)
    output = Path(args.output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / run_dir.name
        shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns(".lock"))
        command = ["review", "--input", str(copy), "--no-browser", "--reviewer", "ana", "--order", "file", "--sample", "30"]
        server = subprocess.Popen([sys.executable, str(ROOT / "audit.py"), *command], stdout=subprocess.PIPE, text=True)
        try:
            line = server.stdout.readline()
            if not line.startswith("review page: "):
                raise UserError(f"audit.py review did not start on {run_dir} (see above)")
            driver = browser(f"{tmp}/profile", args.size)
            try:
                shoot(driver, line.split("review page: ")[1].strip(), output)
            finally:
                driver.quit()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    cli.say(f"review page of {run_dir.name} -> {output}")
    return cli.EXIT_OK


def shoot(driver, url: str, output: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import WebDriverWait

    status = lambda d: d.find_element("id", "status").text  # noqa: E731
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.find_element("id", "position").text.startswith("1 of"))
    for keys in (["c", "the same budget story as sample 3", "\n", "d"], ["k"]):
        driver.execute_script("document.getElementById('status').textContent = ''")
        ActionChains(driver).send_keys(*keys).perform()
        WebDriverWait(driver, 30).until(lambda d: status(d).startswith("saved: "))
    driver.save_screenshot(str(output))


if __name__ == "__main__":
    sys.exit(cli.run(lambda: main()))
