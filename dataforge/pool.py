"""The one worker pool the stages that call a model (generate.py, score.py) send requests through.

Requests run `concurrency` at once and their results come back to the main thread as each
finishes, so only the main thread writes files. A request's own failure (a 4xx, a malformed reply,
a timeout) is part of its result: the stage records it and goes on. Two things stop the stage at
once: a UserError from any request (the model is gone, the key is refused, the server was
unreachable 3 times in a row) and Ctrl-C (or SIGTERM). Then the queued requests are cancelled, the stage
prints its summary and the pool raises cli.Stopped(2, 130 or 143); cli.run exits with it at once, without
waiting for the requests in flight: their samples are simply missing, and the command that finishes the
work redoes them.
"""

import sys
from concurrent.futures import ThreadPoolExecutor, as_completed

from dataforge import UserError, cli


class RequestPool:
    """with RequestPool(4, summary, "finish with `python generate.py --resume`") as pool:
           for result in pool.results(work, items, "Coffee shop"): ...
       On Ctrl-C or a fatal error, summary(status) prints what was done: status "interrupted" or "stopped"."""

    def __init__(self, concurrency: int, summary, finish_with: str):
        self.executor = ThreadPoolExecutor(max_workers=concurrency)  # at least 1: the flag's type says so (cli.number_in)
        self.summary, self.finish_with = summary, finish_with
        self.live = None  # the progress bar's live token count, for the batch being run

    def results(self, work, items: list, desc: str):
        """Run work(item, live) for each item; yield each result as it finishes, behind one progress bar.
        `live` is a cli.LiveTokens: each request takes live.request() as its Options.on_tokens."""
        bar = cli.progress(len(items), desc[:30])
        self.live = cli.LiveTokens(bar)
        try:
            for future in as_completed([self.executor.submit(work, item, self.live) for item in items]):
                yield future.result()
                bar.update(1)
        finally:
            bar.close()

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if kind is None:
            self.executor.shutdown()
            return False
        self.executor.shutdown(wait=False, cancel_futures=True)
        if not issubclass(kind, (KeyboardInterrupt, UserError)):
            return False  # a bug: the traceback is shown (after the requests in flight, not all those queued)
        interrupted = issubclass(kind, KeyboardInterrupt)  # Ctrl-C, or SIGTERM (cli.Terminated)
        if self.live:
            self.live.bar.close()
        try:
            self.summary("interrupted" if interrupted else "stopped")
        except UserError as also:  # the disk that stopped the stage may refuse the summary's files too
            cli.say(f"Error: {also}")
        if interrupted:
            cli.say(f"interrupted: what was written is kept; {self.finish_with}")
        else:
            cli.say(f"Error: {error}", f"stopped: what was written is kept; once that is fixed, {self.finish_with}")
        sys.stderr.flush()
        raise cli.Stopped(cli.interrupted_status() if interrupted else cli.EXIT_USAGE) from error
