"""What the three scripts share at the command line: error handling, summaries, the progress bar."""

import os
import sys

from tqdm import tqdm

from dataforge import UserError

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130  # 1 is left to Python: an unexpected crash


def run(main) -> int:
    """Call main(); a UserError becomes `Error: ...` on stderr and exit 2. Tracebacks stay for real bugs."""
    try:
        return main() or EXIT_OK
    except UserError as e:
        print(f"Error: {e}", file=sys.stderr)
        if os.environ.get("DATAFORGE_TRACEBACK") == "1":
            raise
        return e.exit_code
    except BrokenPipeError:  # `python filter.py ... | head`
        return EXIT_OK


def progress(total: int, desc: str, unit: str = "sample"):
    """A tqdm bar on stderr; quiet when stderr is not a terminal unless DATAFORGE_PROGRESS=1."""
    disable = not sys.stderr.isatty() and os.environ.get("DATAFORGE_PROGRESS") != "1"
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, mininterval=0.3, disable=disable)


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
