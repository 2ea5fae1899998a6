"""What a batch backend writes down in its stage folder, so a killed run resumes its batches
instead of paying for them twice:

    <stage>/batches.json            {"batches": {input hash: record}, "totals": {...}}
    <stage>/batches/<hash>.ids      the custom_ids (cache keys) of that batch input, one a line
    <stage>/batches/<hash>.jsonl    the batch input itself: kept by a dry run (vLLM's run_batch
                                    reads it as it is), deleted once uploaded otherwise

The input hash is the sha256 of the sorted custom_ids, so the same misses give the same record.
A record: batch_id, input_file_id, status, request_counts, output/error file ids, the estimate
(requests, prompt_tokens_estimate, max_output_tokens), submitted (UTC), collected (its results
are in the response cache) or dry_run. Records are merged into the file under a lock and the
file replaced atomically: two generators of one stage may write at once, and a kill never
leaves half a file.
"""

from __future__ import annotations

import hashlib
import math
import threading
from pathlib import Path

from workbench.core.io import atomic_write_text, read_json, write_json

RECORDS = "batches.json"
INPUTS = "batches"
_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()
TOTALS = ("requests", "prompt_tokens_estimate", "max_output_tokens")


def input_hash(custom_ids) -> str:
    return hashlib.sha256("\n".join(sorted(custom_ids)).encode()).hexdigest()[:16]


def estimate(body: dict) -> tuple[int, int]:
    """(prompt tokens, most output tokens) of one request body: ~4 characters a token, which
    is close for English text with the usual BPE tokenizers and costs nothing to compute."""
    chars = 0
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        chars += len(content) if isinstance(content, str) else 0
    return math.ceil(chars / 4), int(body.get("max_tokens") or 0)


class BatchRecords:
    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self.file = self.folder / RECORDS
        self.inputs = self.folder / INPUTS
        with _LOCKS_LOCK:
            self._lock = _LOCKS.setdefault(self.file.resolve(), threading.Lock())

    def all(self) -> dict[str, dict]:
        try:
            data = read_json(self.file)
        except FileNotFoundError:
            return {}
        batches = data.get("batches") if isinstance(data, dict) else None
        return batches if isinstance(batches, dict) else {}

    def save(self, key: str, **fields) -> dict:
        """Merge fields into the record of input `key` (created if new); the merged record."""
        with self._lock:
            batches = self.all()
            record = batches.setdefault(key, {})
            record.update(fields)
            totals = {name: sum(int(r.get(name) or 0) for r in batches.values()) for name in TOTALS}
            self.folder.mkdir(parents=True, exist_ok=True)
            write_json(self.file, {"batches": batches, "totals": totals})
            return dict(record)

    def open_batches(self) -> list[tuple[str, dict]]:
        """Records of batches submitted whose results are not yet in the cache."""
        return [(k, r) for k, r in self.all().items() if r.get("batch_id") and not r.get("collected")]

    def ids_file(self, key: str) -> Path:
        return self.inputs / f"{key}.ids"

    def input_file(self, key: str) -> Path:
        return self.inputs / f"{key}.jsonl"

    def write_ids(self, key: str, custom_ids: list[str]) -> None:
        self.inputs.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.ids_file(key), "".join(f"{c}\n" for c in custom_ids))

    def read_ids(self, key: str) -> list[str]:
        """The custom_ids of a recorded input; none when its file is gone (that batch can
        then not be matched, and its requests are sent again)."""
        try:
            return self.ids_file(key).read_text(encoding="utf-8").split()
        except OSError:
            return []
