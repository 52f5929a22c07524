"""Run folders, reading and writing JSONL, and the run.json manifest.

Layout: runs/run_<YYYYmmdd_HHMMSS>/<domain> data samples/{raw,filtered,rejected,scored,final}_<slug>.jsonl
"""

import errno
import fcntl
import itertools
import json
import math
import os
import re
import secrets
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from dataforge import UserError, __version__, cli
from dataforge.schema import Sample

DEFAULT_RUNS_DIR = "runs"
MAX_LINE_BYTES = 1_000_000  # a longer line is reported, not parsed (nor read whole): no sample is that long
MAX_RUN_FILE_BYTES = 10_000_000  # run.json, filter_report.json: a few KB as DataForge writes them
MAX_INT_DIGITS = 30  # counts, scores, seeds: no number a run writes comes near; a longer one is refused, not converted
BOM = b"\xef\xbb\xbf"  # what Notepad and Excel put before the first line of a UTF-8 file
# flags whose value is a credential: --api-key, --hf-token, --password... but not --max-tokens, a number
_SECRET_WORDS = re.compile(r"key|token(?!s)|secret|password|authorization", re.I)


# ---------------------------------------------------------------- names and folders

def domain_key(domain: str) -> str:
    """The one name a domain goes by everywhere: its folder, its notes' and feedback's lookups, the audit
    and the reports. 'Jobs/startups' -> 'Jobs_startups'; '' when nothing usable is left."""
    name = re.sub(r"[^\w .,&()'+-]", "_", domain.replace("\x00", "")).strip(" ._")
    return re.sub(r"\s+", " ", name)[:80]


def domain_slug(domain: str) -> str:
    """The domain as it appears in file names: raw_<slug>.jsonl."""
    return re.sub(r"[^a-z0-9]+", "_", domain_key(domain).lower()).strip("_") or "domain"


def folder_key(domain: str) -> str:
    """domain_key, refusing a name that leaves nothing to name a folder with."""
    if not (key := domain_key(domain)):
        raise UserError(f"domain {domain!r} gives an empty folder name; use letters or digits")
    return key


def _domain_limit() -> int:
    """The longest domain name a Sample takes (its `domain` field's max_length)."""
    return next(m.max_length for m in Sample.model_fields["domain"].metadata if getattr(m, "max_length", None))


def check_domain_names(domains: list[str]) -> None:
    """Each domain gets a folder of its own, and a name every sample can carry: said before a run folder
    exists, so nothing is generated (a name too long would fail every reply, and blame the model)."""
    seen, slugs = {}, {}
    for domain in domains:
        if len(domain) > _domain_limit():
            raise UserError(f"domain {domain[:40]!r}... is {len(domain)} characters; a sample's domain holds at most "
                            f"{_domain_limit()}: shorten it (put details in --domain-notes)")
        key = folder_key(domain)
        if key in seen:
            raise UserError(f"domains {seen[key]!r} and {domain!r} share the folder '{key} data samples'; rename one")
        if (slug := domain_slug(domain)) in slugs:  # 'C' and 'C++': sample ids are made of the slug
            raise UserError(f"domains {slugs[slug]!r} and {domain!r} would give their samples the same ids "
                            f"(…-{slug}-00001); rename one so that their letters and digits differ")
        seen[key], slugs[slug] = domain, domain


def domain_dir(run_dir: Path, domain: str) -> Path:
    path = Path(run_dir) / f"{folder_key(domain)} data samples"
    if Path(run_dir).resolve() not in path.resolve().parents:  # belt and braces
        raise UserError(f"domain {domain!r} would write outside the run folder")
    return path


def stage_file(run_dir: Path, domain: str, stage: str) -> Path:
    return domain_dir(run_dir, domain) / f"{stage}_{domain_slug(domain)}.jsonl"


def new_run_dir(out_dir: str | Path) -> Path:
    base = Path(out_dir) / time.strftime("run_%Y%m%d_%H%M%S")
    path, n = base, 1
    while path.exists():  # two runs in the same second
        n += 1
        path = base.with_name(f"{base.name}_{n}")
    path.mkdir(parents=True)
    return path


def _run_order(path: Path) -> tuple:
    """run_20261125_101500_10 after run_20261125_101500_2: the time stamp and the counter as numbers. A run
    dated in the future (made while the clock was wrong, or renamed) comes before the others: it is not the
    newest, whatever its name says."""
    m = re.fullmatch(r"run_(\d{8})_(\d{6})(?:_(\d+))?", path.name)
    if not m:
        return (0, 0, 0, 0, path.name)
    return (0 if _in_future(path) else 1, int(m[1]), int(m[2]), int(m[3] or 1))


def _in_future(run: Path) -> bool:
    """Is the run's time stamp more than a day ahead of the clock (a day: time zones)?"""
    m = re.fullmatch(r"run_(\d{8})_(\d{6})(?:_\d+)?", run.name)
    return bool(m) and m[1] + m[2] > time.strftime("%Y%m%d%H%M%S", time.localtime(time.time() + 86400))


def all_runs(runs_dir: str | Path) -> list[Path]:
    """The run folders in runs_dir, oldest first."""
    return sorted((p for p in Path(runs_dir).glob("run_*") if p.is_dir()), key=_run_order)


def latest_run(runs_dir: str | Path = DEFAULT_RUNS_DIR, reads: str | None = None, flag: str = "--input latest") -> Path:
    """The newest run in runs_dir; with `reads` (raw, filtered, final), the newest that holds the files the
    stage reads: `export-train --input latest` after `generate.py --feedback` means the run score.py
    finished, not the new one. Newer runs passed over, and runs dated in the future, are named, so the
    choice is never silent."""
    runs = all_runs(runs_dir)
    if not runs:
        raise UserError(f"{flag}: no runs in {runs_dir}/ yet; run generate.py first (or give --runs-dir)")
    having = [r for r in runs if reads is None or any(r.glob(f"* data samples/{reads}_*.jsonl"))]
    if not having:
        raise UserError(f"--input latest: no run in {runs_dir}/ has {reads}_*.jsonl files yet "
                        f"(the newest, {runs[-1]}, has none); run the stage that writes them first")
    if future := [r.name for r in runs if _in_future(r)]:
        taken = "taken, having no other" if _in_future(having[-1]) else "not taken as the newest"
        cli.say(f"warning: {', '.join(future)} {'is' if len(future) == 1 else 'are'} dated in the future (made while the "
                f"clock was wrong?): {taken}; latest is {having[-1]} (name the run instead of `latest` to choose another)")
    if having[-1] != runs[-1] and not _in_future(runs[-1]):
        cli.say(f"--input latest: {having[-1]}, the newest run with {reads}_*.jsonl files "
                f"({', '.join(r.name for r in runs[runs.index(having[-1]) + 1:])} newer, without)")
    return having[-1]


@dataclass
class StageInput:
    """One file a stage reads, and where its outputs go."""

    path: Path
    run_dir: Path | None  # None for a loose .jsonl file
    domain: str | None  # from the domain folder name
    slug: str | None

    def output(self, stage: str) -> Path:
        if self.slug is None:
            return self.path.with_name(f"{self.path.stem}.{stage}.jsonl")
        return self.path.with_name(f"{stage}_{self.slug}.jsonl")


def resolve_input(spec: str, reads: str, runs_dir: str | Path = DEFAULT_RUNS_DIR) -> list[StageInput]:
    """`latest`, a run folder, a domain folder or a .jsonl file -> the files a stage reads.

    `reads` is the prefix the stage consumes in a run: 'raw' for filter, 'filtered' for score.
    """
    path = latest_run(runs_dir, reads) if spec == "latest" else Path(spec)
    if not path.exists():
        raise UserError(f"--input {spec}: no such file or folder")
    if not path.is_dir():
        if not path.is_file():
            raise UserError(f"--input {spec}: not a regular file (a pipe or a device?)")
        in_run = (path.parent.parent / "run.json").exists() and path.parent.name.endswith(" data samples")
        domain = path.parent.name.removesuffix(" data samples") if in_run else None
        if in_run and run_own_file(path, reads):  # the file this stage reads in a run: outputs beside it
            return [StageInput(path, path.parent.parent, domain, path.stem.split("_", 1)[1])]
        return [StageInput(path, None, domain, None)]  # any other file (final_x.jsonl...): its siblings stay as they are
    domain_dirs = sorted(path.glob("* data samples")) or ([path] if path.name.endswith(" data samples") else [])
    inputs = []
    for d in domain_dirs:
        for f in sorted(d.glob(f"{reads}_*.jsonl")):
            if not run_own_file(f, reads):  # final_x.final.jsonl: written beside a file given by name
                continue
            if not f.is_file():
                cli.say(f"{f}: not a regular file; skipped")
                continue
            inputs.append(StageInput(f, d.parent, d.name.removesuffix(" data samples"), f.stem.split("_", 1)[1]))
    if not inputs:
        raise UserError(f"--input {spec}: no {reads}_*.jsonl files in {path}")
    return inputs


def run_own_file(path: Path, reads: str) -> bool:
    """Is path the run's own <reads>_<slug>.jsonl, not one a stage wrote beside a file given by name
    (filtered_x.filtered.jsonl, whose stem also starts with filtered_)?"""
    return path.stem.startswith(f"{reads}_") and "." not in path.stem


_RUN_FILE = re.compile(r"(raw|failed|torn|filtered|rejected|scored|final|audit|audited|decisions)_.+\.(jsonl|csv)")
_RUN_ROOT_FILES = ("run.json", "tokens.jsonl", "filter_report.json", "report.html", "report.md", ".lock")


def _run_of(path: Path) -> Path | None:
    """The run folder whose own file path is (a stage's file in a domain folder, or run.json and the like)."""
    path = path.resolve()
    if path.name in _RUN_ROOT_FILES and (path.parent / "run.json").exists():
        return path.parent
    if path.parent.name.endswith(" data samples") and (path.parent.parent / "run.json").exists() \
            and _RUN_FILE.fullmatch(path.name):
        return path.parent.parent
    return None


def refuse_overwrites(inputs: list[Path], outputs: dict[str, str | None]) -> None:
    """Outputs named by flags ({"--output": ...}) are refused before anything is written when one is an
    input (it would be emptied while read), two are the same file, or one is a run's own file (raw_,
    final_, run.json ...: another stage's to write)."""
    seen = {}
    for flag, out in outputs.items():
        if out is None:
            continue
        path = Path(out).resolve()
        for inp in inputs:
            if path == Path(inp).resolve() or (path.exists() and os.path.samefile(path, inp)):
                raise UserError(f"{flag} {out} is the input {inp}: it would be replaced while it is read; name another file")
        if path in seen:
            raise UserError(f"{seen[path]} and {flag} both name {out}: one would replace the other; give each its own file")
        if run := _run_of(path):
            raise UserError(f"{flag} {out} is a file of the run {run}, another stage's to write; "
                            f"write outside the run's domain folders (or leave {flag} out)")
        seen[path] = flag


# ---------------------------------------------------------------- reading run files safely

def open_run_file(path: Path):
    """A file a stage reads, opened for reading in binary, or a UserError naming it: a FIFO (which would block
    for ever: opened without waiting), a folder or a device where a file belongs, a file we may not read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except PermissionError as e:
        raise UserError(f"{path}: cannot be read ({e.strerror}); give read permission (chmod u+r) "
                        "or move it out of the way") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        what = "a folder" if stat.S_ISDIR(mode) else "a pipe (FIFO)" if stat.S_ISFIFO(mode) else "not a regular file"
        raise UserError(f"{path} is {what} where a file belongs; move it out of the way (or rename it)")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _refused_constant(name: str):
    raise ValueError(f"{name} is not a number (JSON has no NaN or Infinity)")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"a number of {len(text.lstrip('-')):,} digits (at most {MAX_INT_DIGITS} are read)")
    return int(text)


def _finite_float(text: str) -> float:
    if not math.isfinite(value := float(text)):
        raise ValueError(f"{text[:20]} is too large for a number")
    return value


_DECODER = json.JSONDecoder(parse_constant=_refused_constant, parse_int=_bounded_int, parse_float=_finite_float)


def loads(text: str):
    """json.loads for what a run holds: NaN, Infinity, 1e999 and numbers of more than MAX_INT_DIGITS digits
    are a ValueError (said, not converted); nesting deeper than Python's recursion limit a RecursionError."""
    return _DECODER.decode(text)  # one decoder, made once: json.loads with hooks makes one per line


def read_json_file(path: Path):
    """A whole JSON file a stage reads (run.json, filter_report.json), through open_run_file and loads; a
    UserError names the file and what is wrong with it."""
    with open_run_file(path) as f:
        data = f.read(MAX_RUN_FILE_BYTES + 1)
    try:
        if len(data) > MAX_RUN_FILE_BYTES:
            raise ValueError(f"larger than {MAX_RUN_FILE_BYTES:,} bytes")
        return loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        problem = f"not UTF-8 (byte {e.start})"
    except json.JSONDecodeError as e:
        problem = f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}"
    except RecursionError:
        problem = "JSON nested too deeply to read"
    except ValueError as e:
        problem = f"unreadable JSON value: {str(e)[:100]}"
    raise UserError(f"{path}: {problem}; correct it by hand, or move it out of the way") from None


# ---------------------------------------------------------------- JSONL

@dataclass
class Line:
    lineno: int
    record: dict | None  # None when the line is bad
    problem: str | None
    raw: str
    torn: bool = False  # the unfinished last line of a crashed writer


def raw_lines(path: Path):
    """(line number, bytes without the newline, is an unterminated last line) for each non-blank line, streamed.
    A line longer than MAX_LINE_BYTES comes as its first MAX_LINE_BYTES + 1 bytes (parse_line names it): the
    rest is skipped, never held. A UTF-8 BOM before the first line is dropped."""
    with open_run_file(path) as f:
        for i in itertools.count(1):
            raw = f.readline(MAX_LINE_BYTES + 2)
            if not raw:
                return
            if i == 1 and raw.startswith(BOM):
                raw = raw[len(BOM):]
            unterminated = not raw.endswith(b"\n")
            if unterminated and len(raw) > MAX_LINE_BYTES:  # too long: skip to its end in blocks
                while (rest := f.readline(1 << 20)) and not rest.endswith(b"\n"):
                    pass
                unterminated = not rest
            raw = raw[:-1] if not unterminated else raw
            if raw.strip():
                yield i, raw, unterminated


def count_records(path: Path) -> int:
    """Lines that hold something: what a person counts as records (a blank line is none, a last line
    without a newline is one)."""
    return sum(1 for _ in raw_lines(path))


def count_lines(path: Path) -> int:
    """Newlines in a file, read in blocks (fast): the progress bar's total."""
    with open_run_file(path) as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))


def parse_line(lineno: int, raw: bytes, unterminated: bool = False) -> Line:
    """One JSONL line -> a Line with its record, or with the problem that stops it having one.

    A last line with no newline that does not parse is 'torn': what a killed writer leaves.
    """
    if len(raw) > MAX_LINE_BYTES:
        return Line(lineno, None, f"line is longer than {MAX_LINE_BYTES:,} bytes", raw[:200].decode("utf-8", "replace"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return Line(lineno, None, f"not UTF-8 (byte {e.start})", raw.decode("utf-8", "replace"))
    try:
        record = loads(text)
    except json.JSONDecodeError as e:
        return Line(lineno, None, f"invalid JSON: {e.msg} at column {e.colno}", text, torn=unterminated)
    except RecursionError:
        return Line(lineno, None, "JSON nested too deeply to read", text[:200])
    except ValueError as e:  # NaN, 1e999, a number of too many digits
        return Line(lineno, None, f"unreadable JSON value: {str(e)[:100]}", text[:200])
    if not isinstance(record, dict):
        return Line(lineno, None, f"expected a JSON object, got {type(record).__name__}", text)
    return Line(lineno, record, None, text)


def read_jsonl(path: Path) -> list[Line]:
    """Every line of a JSONL file; bad lines carry a problem instead of a record."""
    return [parse_line(*line) for line in raw_lines(path)]


def iter_records(path: Path):
    """The records of a JSONL file one at a time (bad lines skipped): memory stays flat however long it is."""
    for line in raw_lines(path):
        if (record := parse_line(*line).record) is not None:
            yield record


def dumps(record: dict) -> str:
    text = json.dumps(record, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the JSON read): kept as the escape it came as
        text = json.dumps(record)
    return text


class JsonlAppender:
    """Appends one record per write and flushes it, so a crash loses at most the line being written."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        refuse_link(path)
        refuse_non_file(path)
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o666)
        except OSError as e:
            raise _write_error(e, path) from None
        size = os.fstat(self._fd).st_size
        if size and os.pread(self._fd, 1, size - 1) != b"\n":  # a complete last line with no newline
            self._write(b"\n")

    def write(self, record: dict) -> None:
        self._write((dumps(record) + "\n").encode("utf-8"))

    def _write(self, data: bytes) -> None:
        end = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            if os.write(self._fd, data) < len(data):  # a nearly full disk takes part of a line, silently
                raise OSError(errno.ENOSPC, "no space left for the whole line")
        except OSError as e:
            os.ftruncate(self._fd, end)  # no half line left for the next record to be glued to
            raise _write_error(e, self.path) from None

    def close(self) -> None:
        os.close(self._fd)


TOKEN_LOG, TOKEN_FIELDS = "tokens.jsonl", ("prompt_tokens", "completion_tokens", "reasoning_tokens")


def add_tokens(totals: dict, spent, prefix: str = "") -> dict:
    """The one token tally: totals[prefix + field] += what `spent` spent, for each of TOKEN_FIELDS.
    `spent` is a reply (local_llm.Completion) or a record with those fields. Returns totals."""
    for k in TOKEN_FIELDS:
        totals[prefix + k] = totals.get(prefix + k, 0) + (spent.get(k, 0) if isinstance(spent, dict) else getattr(spent, k))
    return totals


def token_log(run_dir: Path | None) -> JsonlAppender | None:
    """The run's tokens.jsonl: what each finished sample spent ({stage, domain, *TOKEN_FIELDS}), appended
    before the sample is written. Stage files are compacted (a sample scored again replaces its unscored
    record); this log is not, so the report counts every token spent. None outside a run folder."""
    return JsonlAppender(Path(run_dir) / TOKEN_LOG) if run_dir else None


def drop_torn_tail(path: Path, lines: list[Line]) -> Line | None:
    """Cut a torn last line off a file we are about to append to; return it so it can be reported.
    Truncated in place: the complete lines are never rewritten, so a crash now cannot lose them."""
    if not (lines and lines[-1].torn):
        return None
    refuse_link(path)
    fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
    try:
        end = os.fstat(fd).st_size
        while end > 0:  # back to the last newline, a block at a time
            start = max(0, end - (1 << 16))
            if (i := os.pread(fd, end - start, start).rfind(b"\n")) >= 0:
                end = start + i + 1
                break
            end = start
        os.ftruncate(fd, end)
    finally:
        os.close(fd)
    return lines[-1]


def refuse_non_file(path: Path) -> None:
    """Nothing is written in the place of a folder, a pipe or a device that has a run file's name."""
    if Path(path).exists() and not Path(path).is_file():
        what = "a folder" if Path(path).is_dir() else "a pipe (FIFO)" if Path(path).is_fifo() else "not a regular file"
        raise UserError(f"{path} is {what} where a file belongs; move it out of the way (or rename it)")


def refuse_link(path: Path) -> None:
    """Nothing is written through a symbolic link: it may point anywhere (another run, a file of the user's)."""
    if Path(path).is_symlink():
        raise UserError(f"{path} is a symbolic link (to {os.readlink(path)}); DataForge never writes through one: "
                        "replace it with a regular file")


class AtomicWriter:
    """A file written under a temporary name and renamed when complete: readers see the old
    file or the new one, never half of one. `with AtomicWriter(path) as f: f.write(b"...")`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        refuse_link(self.path)
        refuse_non_file(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self.tmp = _new_temp_file(self.path)
        except OSError as e:
            raise _write_error(e, self.path) from None
        self.file = os.fdopen(fd, "wb", buffering=1 << 20)

    def __enter__(self):
        return self.file

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.file.flush()
                os.fsync(self.file.fileno())
        except OSError as e:
            exc_type, exc = type(e), e
        finally:
            try:
                self.file.close()
            except OSError as e:
                exc_type, exc = exc_type or type(e), exc or e
            if exc_type is None:
                try:
                    os.replace(self.tmp, self.path)
                except OSError as e:  # a folder put in the file's place meanwhile...
                    exc_type, exc = type(e), e
            if exc_type is not None:
                Path(self.tmp).unlink(missing_ok=True)  # the old file stays as it was
        if isinstance(exc, OSError) and (error := _write_error(exc, self.path)) is not exc:
            raise error from None


def _new_temp_file(path: Path) -> tuple[int, str]:
    """A new file beside path (.<name>.<random>.tmp), created as open() would create it: the user's umask
    sets its permissions (mkstemp's 0600 would hide the data from the user's other tools)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), str(tmp)
        except FileExistsError:
            continue


def _write_error(e: OSError, path: Path) -> Exception:
    """A full disk, a file size limit or a read-only folder is the user's to fix: say which file and what to
    do, keep what is written. Any other error stays as it is (a bug: its traceback)."""
    if e.errno == errno.ENOSPC:
        return UserError(f"disk full writing {path}; what was written before is kept")
    if e.errno == errno.EFBIG:
        return UserError(f"the file size limit (ulimit -f) stopped writing {path}; what was written before is kept")
    if e.errno in (errno.EACCES, errno.EPERM) and Path(path).exists() and not os.access(path, os.W_OK):
        return UserError(f"{path} cannot be written ({e.strerror}): give write permission (chmod u+rw) or move it "
                         "out of the way, and run this again")
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return UserError(f"{Path(path).parent} is read-only ({e.strerror}): nothing can be written there; copy the run "
                         "to a folder you can write to, or make it writable, and run this again")
    return e


_held_locks: dict[Path, int] = {}  # run folder -> the open lock file: held until the process ends


def lock_run(run_dir: Path | None) -> None:
    """One process at a time writes in a run folder: a second generate/filter/score/audit on the same
    run is refused and told who holds it. The lock is the kernel's (flock), held until this process
    ends, so a killed holder frees it at once; the temporary files a killed writer left are removed, and
    the .lock file goes when the stage is done (cli.run)."""
    if run_dir is None or Path(run_dir).resolve() in _held_locks:
        return
    path = Path(run_dir) / ".lock"
    while True:
        refuse_non_file(path)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        except OSError as e:
            raise _write_error(e, path) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise UserError(f"{run_dir} is in use by {holder}; run this again when it has finished") from None
        try:  # the holder we waited for may have removed the file as it finished: lock the one there now
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    for stale in [*Path(run_dir).glob(".*.tmp"), *Path(run_dir).glob("*/.*.tmp")]:
        stale.unlink(missing_ok=True)  # left by a writer that was killed: none can be running now
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} ({' '.join(Path(a).name for a in sys.argv[:2])}, since "
                  f"{time.strftime('%H:%M:%S')})".encode(), 0)
    _held_locks[Path(run_dir).resolve()] = fd
    cli.at_end(lambda: Path(path).unlink(missing_ok=True))  # still locked while removed: no one can take it between


def write_atomic(path: Path, text: str) -> None:
    with AtomicWriter(path) as f:
        f.write(text.encode("utf-8"))


def write_jsonl_atomic(path: Path, records) -> int:
    lines = [dumps(r) + "\n" for r in records]
    write_atomic(path, "".join(lines))
    return len(lines)


# ---------------------------------------------------------------- run.json

def redacted_argv(argv: list[str]) -> list[str]:
    """The command line with values of secret-looking flags hidden."""
    out, hide_next = [], False
    for arg in argv:
        if hide_next:
            out.append("***")
            hide_next = False
        elif arg.startswith("--") and _SECRET_WORDS.search(arg):
            if "=" in arg:
                out.append(arg.split("=", 1)[0] + "=***")
            else:
                out.append(arg)
                hide_next = True
        else:
            out.append(arg)
    return out


# what the fields of a stage's record that stages read hold; a record hand-edited to hold another kind is named
_NUMBER = (int, float)
_RECORD_KINDS = {"status": str, "model": str, "judge_model": str, "agree": str, "rubric_version": str,
                 "settings": dict, "totals": dict, "per_domain": dict, "counts": dict, "histogram": dict, "tokens": dict,
                 "domains": list, "checks": list, "jurors": list, "self_judged": list,
                 "seconds": _NUMBER, "seconds_all_sessions": _NUMBER, "threshold": _NUMBER}
# and of the settings a stage resumes with (generate's); null stands for "not set" in each
_SETTING_KINDS = {"samples_per_domain": int, "model": str, "templates": list, "difficulty": str, "temperature": _NUMBER,
                  "seed": int, "max_tokens": int, "think": str, "max_attempts": int, "repairs": int, "feedback": dict}


def _kind_problem(value, kind) -> str | None:
    """Why value is not of kind (a type or a tuple of them; a bool is no number), or None."""
    if isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool):
        return None
    names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
    return f"is {json.dumps(value)[:40]} ({type(value).__name__}), not {'a number' if kind is _NUMBER else names}"


def _record_problem(stage: str, record) -> str | None:
    """What is wrong with one stage's record in run.json, or None."""
    if not isinstance(record, dict):
        return f"stages.{stage} is not a JSON object"
    settings = record.get("settings") or {}
    for where, kinds, fields in (("", _RECORD_KINDS, record), ("settings.", _SETTING_KINDS, settings)):
        for key, kind in kinds.items():
            if fields.get(key) is not None and (problem := _kind_problem(fields[key], kind)):
                return f"stages.{stage}.{where}{key} {problem}"
    for where, domains in (("domains", record.get("domains")), ("settings.domains", settings.get("domains"))):
        if domains is not None and not all(isinstance(d, dict) and isinstance(d.get("name"), str)
                                           and isinstance(d.get("notes", ""), str) for d in domains):
            return f"stages.{stage}.{where} is not a list of {{\"name\": ..., \"notes\": ...}}"
    return None


def read_manifest(run_dir: Path) -> dict:
    path = Path(run_dir) / "run.json"
    if not path.exists():
        return {}
    manifest = read_json_file(path)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("stages", {}), dict):
        raise UserError(f"{path}: not a run manifest (a JSON object with 'stages'); move it aside to start it again")
    for stage, record in manifest.get("stages", {}).items():
        if problem := _record_problem(stage, record):
            raise UserError(f"{path}: {problem}; correct it by hand (the run's other files are as they were)")
    return manifest


def stage_record(run_dir: Path | None, stage: str) -> dict:
    """What run.json says of one stage (its settings, counts, model...): {} when the stage has not run,
    and for a loose file (no run_dir)."""
    return read_manifest(run_dir).get("stages", {}).get(stage, {}) if run_dir else {}


def retry_next(run_dir: Path | None) -> list[str]:
    """The `next:` line after a stage that kept nothing from a run: its domains again with a better model
    (cli.retry_next); none for a loose file (no run to take the domains from)."""
    generate = stage_record(run_dir, "generate")
    if not generate.get("domains"):
        return []
    settings = generate.get("settings") or {}
    return [cli.retry_next(generate.get("model"), generate["domains"], settings.get("samples_per_domain"), run_dir)]


def run_folder(spec: str, runs_dir: str | Path, flag: str) -> Path:
    """`latest` or a path -> a run folder (one with run.json), or a UserError naming the flag."""
    path = latest_run(runs_dir) if spec == "latest" else Path(spec)
    if not path.is_dir():
        raise UserError(f"{flag} {spec}: no such run folder")
    if not (path / "run.json").is_file():
        raise UserError(f"{flag} {spec}: not a run folder (it has no run.json)")
    return path


def run_id(run_dir: Path) -> str:
    """The name the run was made with, from its own record: sample ids are built from it, so a renamed
    folder resumes the same samples."""
    return str(read_manifest(run_dir).get("run") or Path(run_dir).name)


def resume_settings(run_dir: Path, stage: str, defaults: dict, required: tuple[str, ...]) -> dict:
    """A stage's settings from run.json, to resume with: a setting an older DataForge did not write (or
    wrote under another name) gets today's default; one that has none is named."""
    saved = stage_record(run_dir, stage).get("settings")
    if not isinstance(saved, dict):
        raise UserError(f"{run_dir}/run.json has no {stage} settings to resume from")
    if missing := [k for k in required if k not in saved]:
        raise UserError(f"{run_dir}/run.json: the {stage} settings lack {', '.join(missing)} (written by an older "
                        "DataForge?); start a new run with the same flags")
    return {**defaults, **saved}


def update_manifest(run_dir: Path, stage: str, info: dict) -> None:
    """Record one stage in run.json: command line, settings, counts, timings, versions. Never secrets."""
    manifest = read_manifest(run_dir)
    manifest.setdefault("run", Path(run_dir).name)
    manifest.setdefault("created_at", time.strftime("%Y-%m-%dT%H:%M:%S"))
    manifest["dataforge_version"] = __version__
    manifest["python"] = sys.version.split()[0]
    entry = {"command": redacted_argv(sys.argv), "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"), **info}
    # seconds of every session of this stage (resumes, re-runs): what the run report charges per sample
    stages = manifest.setdefault("stages", {})
    spent = info.get("seconds", info.get("totals", {}).get("seconds", 0))
    entry["seconds_all_sessions"] = round(stages.get(stage, {}).get("seconds_all_sessions", 0) + spent, 2)
    before = stages.get(stage, {}).get("per_domain")
    if isinstance(before, dict) and isinstance(info.get("per_domain"), dict):
        # a stage run on some domains (a domain folder as --input) leaves the others' part as it was
        entry["per_domain"] = {**before, **info["per_domain"]}
    stages[stage] = entry
    write_atomic(Path(run_dir) / "run.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
