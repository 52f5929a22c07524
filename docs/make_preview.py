"""Make docs/assets/image.png, the README's sample preview: the Samples section of a run's
report.html (kept samples with each step's verdict, rejected ones with the reason), as headless
Chromium draws it.

    python docs/make_preview.py                                  # the latest run in runs/
    python docs/make_preview.py --run runs/run_20261125_161500 --output docs/assets/image.png

The picture in the README comes from a run against the test server (a real HTTP server that speaks
Ollama's API and writes correct problems), so that it shows kept and rejected samples side by side:

    python tests/fake_ollama.py --port 11500 &
    export OLLAMA_HOST=127.0.0.1:11500
    python generate.py --domains "Jobs at startup" --domain-notes "budget, headcount, runway" --samples-per-domain 6
    python filter.py --input latest && python score.py --input latest && python docs/make_preview.py
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dataforge import UserError, cli  # noqa: E402
from dataforge.runs import DEFAULT_RUNS_DIR, latest_run  # noqa: E402

# Debian's Chromium, headless, with nothing that reaches for the network (this machine has none)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--hide-scrollbars",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def preview_page(report_html: str) -> str:
    """The report's styles and its Samples section, alone on a page."""
    head = report_html.split("</head>")[0]
    if '<section id="samples">' not in report_html:
        raise UserError("this report.html has no Samples section: run any stage again to rewrite it")
    section = report_html.split('<section id="samples">')[1].split("</section>")[0]
    return f'{head}</head><body><h2>Sample preview</h2><section id="samples">{section}</section></body></html>'


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", help="a run folder (default: the latest in runs/)")
    p.add_argument("--output", default=str(ROOT / "docs" / "assets" / "image.png"), help="the PNG to write")
    p.add_argument("--size", default="1000,1100", help="window width,height in pixels (default 1000,1100)")
    args = p.parse_args(argv)
    run_dir = Path(args.run) if args.run else latest_run(DEFAULT_RUNS_DIR)
    report = run_dir / "report.html"
    if not report.exists():
        raise UserError(f"{report}: no report yet; run generate.py, filter.py and score.py first")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise UserError("headless Chromium is needed: `apt-get install chromium`")
    output = Path(args.output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "preview.html"
        page.write_text(preview_page(report.read_text(encoding="utf-8")), encoding="utf-8")
        proc = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", f"--window-size={args.size}",
                               f"--screenshot={output}", page.as_uri()], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not output.exists():
        raise UserError(f"chromium could not draw the page (exit {proc.returncode}): {proc.stderr[-500:]}")
    cli.say(f"sample preview of {run_dir.name} -> {output}")
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(lambda: main()))
