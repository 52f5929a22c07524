"""What the four scripts (generate, filter, score, audit) share at the command line: error handling, summaries,
the progress bar."""

import argparse
import os
import signal
import shlex
import sys
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from dataforge import UserError

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130  # 1 is left to Python: an unexpected crash
EXIT_TERMINATED = 143  # 128 + SIGTERM: what a shell reports for a process `kill` or `timeout` ended


class Stopped(Exception):
    """A stage stopped early (Ctrl-C, SIGTERM, a fatal UserError) and has printed what it kept and how to
    finish: cli.run exits with `code`; a caller of main() in the same process gets it as an exception."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: every stage handles it where it handles Ctrl-C (summary, files
    whole or as they were), and exits 143 instead of 130."""


_main_pid = os.getpid()
_terminated = False


def _on_sigterm(_signum, _frame):
    global _terminated
    if os.getpid() != _main_pid:  # a forked worker (filter.py's pool): end quietly, the main process reports
        os._exit(EXIT_TERMINATED)  # not an exception: it has no cli.run, and a raise prints a worker traceback
    _terminated = True
    raise Terminated()


def interrupted_status() -> int:
    """The exit status of a stage stopped by Ctrl-C (130) or by SIGTERM (143)."""
    return EXIT_TERMINATED if _terminated else EXIT_INTERRUPTED


_at_end = []  # what cli.run does as the stage ends, however it ends (lock files removed)


def at_end(action) -> None:
    _at_end.append(action)


def _ending() -> None:
    while _at_end:
        try:
            _at_end.pop()()
        except OSError:
            pass  # a lock file already gone, a folder made read-only: nothing to tidy


def run(main) -> int:
    """Call main(); a UserError becomes `Error: ...` on stderr and exit 2. Tracebacks stay for real bugs.
    The one place a stage ends the process: a stage stopped early (cli.Stopped) exits here with its status."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _run(main)
    finally:
        _ending()


def _run(main) -> int:
    try:
        status = main() or EXIT_OK
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit ("Exception ignored ...")
        return interrupted_status() if status == EXIT_INTERRUPTED else status
    except UserError as e:
        print(f"Error: {e}", file=sys.stderr)
        if os.environ.get("DATAFORGE_TRACEBACK") == "1":
            raise
        return e.exit_code
    except Stopped as e:  # the stage has said what it kept; requests may still be in flight in worker threads
        sys.stdout.flush()
        sys.stderr.flush()
        _ending()
        # not a wait for them (a hung server would hold the exit for minutes), nor the interpreter's teardown
        # under them: with the embedded model in llama.cpp's C code, a normal exit crashed (SIGSEGV)
        os._exit(e.code)
    except BrokenPipeError:  # `python filter.py ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # what is left unwritten goes nowhere at exit
        return EXIT_OK
    except KeyboardInterrupt:  # a stage with more to say about what it kept handles Ctrl-C itself
        print("interrupted: files being written were left as they were", file=sys.stderr)
        return interrupted_status()


def number_in(low, high=None, kind=int):
    """An argparse type: a number from low to high, else exit 2 with the flag and its range
    ("argument --concurrency: 0: use a whole number from 1 up")."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value != value or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text}: use a {'whole number' if kind is int else 'number'} from {low}"
                                             + (f" to {high}" if high is not None else " up"))
        return value

    return parse


def progress(total: int, desc: str, unit: str = "sample"):
    """A tqdm bar on stderr; quiet when stderr is not a terminal unless DATAFORGE_PROGRESS=1."""
    disable = not sys.stderr.isatty() and os.environ.get("DATAFORGE_PROGRESS") != "1"
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, mininterval=0.3, disable=disable)


MATH_MODEL = "qwen2.5"  # the README's advice (Models); the default stays llama2, as the original had it


def _scheme(model: str | None) -> str:
    """The backend a model spec names, as local_llm reads it: 'embedded', 'ollama', 'openai', ..."""
    return "embedded" if model == "embedded" else model.partition("://")[0] if "://" in (model or "") else "ollama"


def better_model(model: str | None) -> str | None:
    """A model that writes better math, in the form --model takes, on a backend where DataForge can name one
    (README, Models); None on openai:// and llamacpp:// (their models are the user's own)."""
    if _scheme(model) not in ("embedded", "ollama", "ollama-cli"):
        return None
    name = MATH_MODEL if not (model or "").removeprefix("ollama://").startswith(MATH_MODEL) else "llama3.1"
    return f"ollama-cli://{name}" if _scheme(model) == "ollama-cli" else name


def model_hint(model: str | None) -> str:
    """What to try when a stage ends with nothing, by the model that made the data (per backend)."""
    better = better_model(model)
    if model == "embedded":
        return ("The embedded 135M model rarely writes correct math; it shows the pipeline working. For real data "
                f"use Ollama with a larger model: `ollama pull {MATH_MODEL}`, then `--model {MATH_MODEL}` "
                "(README, Models: which models write good math).")
    if better:
        return (f"Generate with a model that writes better math: `ollama pull {better.partition('://')[2] or better}`, "
                f"then `generate.py --model {better}` (README, Models), or read the reasons above to see what the "
                "model gets wrong.")
    if _scheme(model) == "openai":
        return ("Generate with a larger model your server serves (generate.py --model openai://NAME), or read the "
                "reasons above to see what the model gets wrong.")
    return ("Generate with a larger GGUF (generate.py --model llamacpp:///path/to/model.gguf), or read the reasons "
            "above to see what the model gets wrong.")


def domains_arg(domains: list[dict]) -> str:
    """A run's domains ({"name": ...} each) as --domains takes them: 'Retail,Sales\\, Marketing'."""
    return ",".join(d["name"].replace(",", "\\,") for d in domains)


def retry_next(model: str | None, domains: list[dict], samples: int | None, run_dir) -> str:
    """The `next:` line after a run that kept nothing: a new run of the same domains in the same folder of runs,
    with a better model where one can be named (else the same one, with more repairs of each wrong step)."""
    better = better_model(model)
    args = ["generate.py", "--model", better or model or "llama2", "--domains", domains_arg(domains)]
    if any(d.get("notes") for d in domains):
        args += [arg for d in domains for arg in ("--domain-notes", d.get("notes") or "")]
    args += (["--samples-per-domain", str(samples)] if samples else []) + ([] if better else ["--repairs", "3"])
    if run_dir is not None and Path(run_dir).parent != Path("runs"):
        args += ["--runs-dir", str(Path(run_dir).parent)]
    return "  next: python " + shlex.join(args)


class Failures:
    """Failed attempts by kind, with the first reason of each kind: a summary shows both, so the user sees what
    went wrong without opening a file."""

    def __init__(self):
        self.counts, self.first = Counter(), {}

    def add(self, kind: str, reason: str) -> None:
        self.counts[kind] += 1
        self.first.setdefault(kind, " ".join(str(reason).split())[:300])

    def update(self, other: "Failures") -> None:
        for kind, n in other.counts.items():
            self.counts[kind] += n
            self.first.setdefault(kind, other.first[kind])

    def lines(self, title: str) -> list[str]:
        """'  failed attempts (each ... in failed_<domain>.jsonl):', then '    3 invalid JSON; the first: ...' a kind."""
        if not self.counts:
            return []
        return [f"  {title}:", *(f"    {n} {kind}; the first: {self.first[kind]}" for kind, n in self.counts.most_common())]


def quoted(path) -> str:
    """A path as a shell command line needs it: run folders hold spaces ("Coffee shop data samples")."""
    return shlex.quote(str(path))


def say(*lines: str) -> None:
    """Chatter goes to stderr; stdout is left for data."""
    for line in lines:
        print(line, file=sys.stderr)


def table(rows: list[list], header: list[str]) -> str:
    """A plain aligned text table for summaries."""
    cells = [[str(c) for c in r] for r in [header] + rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(cells[0]), fmt(["-" * w for w in widths])] + [fmt(r) for r in cells[1:]])


class LiveTokens:
    """The progress bar's live part while a reply streams: 'thinking… 350 tok, 41 tok/s' or
    'writing 120 tok', so a stage is never silent while a slow model works. Refreshed at most
    twice a second; `counts` is the part the stage itself keeps up to date (valid 3, failed 0)."""

    def __init__(self, bar):
        self.bar, self.counts, self._shown, self._phase = bar, "", 0.0, ""

    def request(self):
        """A callback for one request's Options.on_tokens."""
        started = time.monotonic()

        def on_tokens(phase: str, n: int) -> None:
            now = time.monotonic()
            if now - self._shown >= 0.5 or phase != self._phase:  # a new phase shows at once
                self._shown, self._phase = now, phase
                rate = n / (now - started) if now > started else 0.0
                live = ("waiting for the model…" if phase == "waiting" else
                        f"{'thinking…' if phase == 'thinking' else 'writing'} {n} tok, {rate:.0f} tok/s")
                self.bar.set_postfix_str(", ".join(p for p in (self.counts, live) if p))

        return on_tokens

    def set_counts(self, counts: str) -> None:
        self.counts = counts
        self.bar.set_postfix_str(counts, refresh=False)


def tracebacks_wanted() -> bool:
    """Should a bug a stage would count and carry on past (a crashed check costs one sample, named) raise
    instead? Under tests (pytest sets PYTEST_CURRENT_TEST, and the scripts they run inherit it), so a bug
    fails them, and with DATAFORGE_TRACEBACK=1."""
    return os.environ.get("DATAFORGE_TRACEBACK") == "1" or "PYTEST_CURRENT_TEST" in os.environ
