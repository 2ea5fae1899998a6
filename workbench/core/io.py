"""Files that survive a kill: atomic writes, and JSON Lines that name the bad line.

Every file the workbench writes goes through `atomic_write_text` (temp file in the same
folder, fsync, rename), so a reader sees either the old file or the whole new one, never
a truncated one. The file gets the mode a new file from `open(path, "w")` would get
(0666 less the user's umask): `mkstemp` alone makes every file 0600, which colleagues on a
shared server cannot read.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


class BadLineError(ValueError):
    """A line of a data file could not be read; the message names file and line."""

    def __init__(self, path: Path | str, line: int, why: str):
        self.path, self.line, self.why = str(path), line, why
        super().__init__(f"{path}:{line}: {why}")


def current_umask() -> int:
    """The process umask, read without changing it (os.umask sets it, racing other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def plain_file_mode() -> int:
    """The mode open(path, "w") gives a new file: 0666 less the umask."""
    return 0o666 & ~current_umask()


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = plain_file_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path | str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: Path | str, obj, in_place_when_full: bool = False) -> None:
    """Atomic; with in_place_when_full, a full disk falls back to rewriting the file in place:
    the atomic write needs room for a second copy, while truncating the old copy frees its
    blocks, so a small status file (the manifest) can still say "failed" on a full disk."""
    data = (json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        if not in_place_when_full or e.errno not in (errno.ENOSPC, errno.EDQUOT) or not Path(path).is_file():
            raise
        with open(path, "r+b") as f:
            f.truncate(0)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def read_json(path: Path | str):
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise BadLineError(path, e.lineno, f"invalid JSON: {e.msg}") from None


class JsonlWriter:
    """Rows appended one by one to a hidden temporary file, which replaces `path` only when the
    block ends without an error: a kill never leaves a half-written file under the real name,
    and no list of all rows (or their text) is ever held in memory.

        with JsonlWriter(path) as out:
            for row in rows:
                out.write(row)
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.count = 0

    def __enter__(self) -> JsonlWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.fchmod(fd, plain_file_mode())
        self._file = os.fdopen(fd, "w", encoding="utf-8")
        return self

    def write(self, row: dict) -> None:
        self._file.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        self.count += 1

    def write_all(self, rows: Iterable[dict]) -> None:
        for row in rows:
            self.write(row)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._file.flush()
                os.fsync(self._file.fileno())
            self._file.close()
            if exc_type is None:
                os.replace(self._tmp, self.path)
        finally:
            Path(self._tmp).unlink(missing_ok=True)


def append_jsonl_line(path: Path | str, row: dict) -> None:
    """Append one row as one write of one line with O_APPEND, then fsync: two writers appending
    to the same file at once interleave whole lines, never halves, and a kill loses no saved row."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)  # umask applies
    try:
        os.write(fd, (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def write_jsonl(path: Path | str, rows: Iterable[dict]) -> int:
    with JsonlWriter(path) as out:
        out.write_all(rows)
    return out.count


def iter_jsonl(path: Path | str, on_bad_line: str = "fail", skipped: list | None = None) -> Iterator[dict]:
    for _, obj in iter_jsonl_numbered(path, on_bad_line, skipped):
        yield obj


def iter_jsonl_numbered(path: Path | str, on_bad_line: str = "fail", skipped: list | None = None) -> Iterator[tuple[int, dict]]:
    """Yield (line number, dict) per non-empty line.

    on_bad_line="fail" raises BadLineError naming file and line; "skip" appends
    (line, why) to `skipped` and goes on, so the caller can count and report it.
    """
    path = Path(path)
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            why = None
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                why = f"not valid UTF-8 ({e.reason} at byte {e.start})"
            else:
                if n == 1:  # a byte-order mark from Windows editors is no part of the data
                    text = text.removeprefix("\ufeff")
                if not text.strip():
                    continue
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as e:
                    why = f"invalid JSON: {e.msg} (column {e.colno})"
                else:
                    if isinstance(obj, dict):
                        yield n, obj
                        continue
                    why = f"expected a JSON object, got {type(obj).__name__}"
            if on_bad_line == "skip" and skipped is not None:
                skipped.append({"line": n, "why": why})
            elif on_bad_line == "skip":
                continue
            else:
                raise BadLineError(path, n, why)


def read_jsonl(path: Path | str, on_bad_line: str = "fail", skipped: list | None = None) -> list[dict]:
    return list(iter_jsonl(path, on_bad_line, skipped))
