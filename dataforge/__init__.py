"""Shared code for DataForge's scripts (generate.py, filter.py, score.py, audit.py).

One module per concern: schema (the sample), runs (folders, JSONL, run.json),
arithmetic (exact step checker), checks (the filter's checks), dedup (near-duplicates
and contamination), prompts (generation templates and the judge rubric), cli (the
user-facing error and summaries).
"""

__version__ = "0.2.0"


class UserError(Exception):
    """A problem the user can fix. Scripts print it as `Error: ...` and exit non-zero."""

    exit_code = 2
