"""Content-addressed response cache in sqlite.

Key = sha256 of (model, full messages, decoding params, sample index, request kind), where
the model is a backend's `cache_id`: what determines the answer (openai:<model>, hf:<path>,
embedded), never which servers gave it. Rows written before servers were left out of the
key (model id `openai:<model>@<url>,...`) stay readable: `legacy_model_ids` finds the ids
they were written under, and the generator looks their keys up on a miss. Each batch is
committed in its own transaction, so a kill loses at most the batch in flight and never
leaves a half-written row (sqlite's journal rolls an interrupted transaction back).
A cache that cannot take writes (a read-only file or folder) is refused when it is opened,
not after the first batch of model calls has been paid for.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path

from workbench.llm.base import Completion, GenParams, Messages


def cache_key(model_id: str, messages: Messages, gen: GenParams, sample_index: int, kind: str = "") -> str:
    """model_id: the backend's cache_id (or, for rows of older runs, its model id then).
    kind separates other request types (e.g. "choices:1|2|3") from plain generation."""
    payload = {"model": model_id, "messages": messages, "gen": gen.as_dict(), "sample": sample_index}
    if kind:
        payload["kind"] = kind
    if kind.startswith("choices:"):
        # what the probabilities mean changed (the whole reply, not its first token): old rows unused
        payload["probs"] = "whole-reply"
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class CacheNotWritable(RuntimeError):
    pass


class ResponseCache:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT, text TEXT,"
                " prompt_tokens INTEGER, completion_tokens INTEGER, created REAL)"
            )
            self._db.commit()
            # a write rolled back: a read-only file or folder fails here, not after the first batch
            self._db.execute("INSERT OR REPLACE INTO responses (key) VALUES ('write-check')")
            self._db.rollback()
        except (OSError, sqlite3.Error) as e:
            raise CacheNotWritable(f"response cache {self.path} cannot be written ({e}); fix its permissions, "
                                   "or set run.cache=false to run without it") from None

    def get_many(self, keys: list[str]) -> dict[str, Completion]:
        found: dict[str, Completion] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, text, prompt_tokens, completion_tokens FROM responses WHERE key IN ({marks})",
                    chunk,
                ).fetchall()
                for key, text, pt, ct in rows:
                    found[key] = Completion(text, pt, ct, cached=True)
        return found

    def legacy_model_ids(self, cache_id: str, first: str = "") -> list[str]:
        """The server-naming model ids (`<cache_id>@http...`) rows of this model were written
        under before the key left servers out; `first` leads when present. One scan of the
        table, so a generator asks once."""
        prefix = cache_id + "@"
        with self._lock:
            models = [m for (m,) in self._db.execute("SELECT DISTINCT model FROM responses")]
        ids = sorted(m for m in models
                     if isinstance(m, str) and m.startswith(prefix) and m[len(prefix):].startswith(("http://", "https://")))
        return sorted(ids, key=lambda m: m != first)

    def put_many(self, model_id: str, items: list[tuple[str, Completion]]) -> None:
        now = time.time()
        rows = [(k, model_id, c.text, c.prompt_tokens, c.completion_tokens, now) for k, c in items if c.ok]
        if not rows:
            return
        with self._lock, self._db:  # one transaction per batch
            self._db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)", rows)

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
