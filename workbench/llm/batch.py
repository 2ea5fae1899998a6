"""`openai-batch:<model>@<base_url>`: the provider's Batch API (files + batches endpoints),
which answers within a day at about half the price of the same requests sent one by one.

The generator hands over every cache miss of a call at once, with its cache key
(`generate_each` / `choice_probs_each`, `wants_cache_keys`). The misses become JSONL batch
input lines, custom_id = the cache key and body = the request the openai: backend would send,
split at the provider's limits (50,000 lines, 200 MB a file). Each input is uploaded, the batch
created and recorded in the stage folder before its first poll (batch_records.py), then polled
every `poll_interval` seconds with its state on the progress line; when it ends, the output and
error files are read and the results go back to the generator, which caches them. A request
that failed (an error-file line, a non-200 status, no line at all, a batch that failed or
expired) is a failed item with its reason: not cached, so the next run sends it again.

Resume: a call first takes up the recorded batches that are not yet collected and hold any of
its misses (polls or downloads them), and submits only the rest, so a killed run does not pay
twice. A batch counts as collected once the generator has cached its results.

`dry_run` writes the input files and the estimate (requests, prompt tokens at ~4 characters a
token, the most output tokens) and stops the stage with BatchDryRun, having sent nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from workbench.llm.base import BackendError, Completion, GenParams, Messages
from workbench.llm.batch_api import ENDPOINT, BatchAPI, BatchAPIError
from workbench.llm.batch_records import BatchRecords, estimate, input_hash
from workbench.llm.openai_backend import OpenAIBackend, _error_message
from workbench.llm.openai_replies import shorten

log = logging.getLogger(__name__)
MAX_LINES = 50_000  # the provider's limits on one batch input file
MAX_BYTES = 200_000_000
ENDED = ("completed", "failed", "expired", "cancelled")  # cancelling and finalizing still change


class BatchDryRun(BackendError):
    """run.batch_dry_run: the estimate is written and nothing was sent."""


class _Batch:
    """One batch input of a call: its record key, custom_ids, and the batch's latest state."""

    def __init__(self, key: str, ids: list[str], record: dict):
        self.key, self.ids, self.record = key, ids, record
        self.state: dict = {}


class BatchBackend:
    wants_cache_keys = True  # custom_id = the generator's cache key
    note_level = logging.INFO  # batch states are news, not warnings

    def __init__(self, model: str, base_url: str, state_dir: Path | str, api_key_env: str = "OPENAI_API_KEY",
                 max_retries: int = 5, timeout: float = 120.0, poll_interval: float = 30.0, dry_run: bool = False,
                 sleep: Callable[[float], None] = time.sleep, max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES):
        # the online backend builds request bodies and reads replies, so both read them alike
        self.replies = OpenAIBackend(model, base_url, api_key_env=api_key_env, max_concurrency=1,
                                     max_retries=max_retries, timeout=timeout, sleep=sleep)
        self.api = BatchAPI(base_url, api_key_env, timeout, max_retries, sleep, self.replies.backoff_seconds,
                            self.replies.scrub)
        self.model_id = f"openai-batch:{model}@{base_url}"
        self.cache_id = f"openai:{model}"  # the same request to the same model: one cache row, online or batch
        self.chunk_size = max_lines
        self.records = BatchRecords(state_dir)
        self.poll_interval, self.dry_run, self.sleep = poll_interval, dry_run, sleep
        self.max_lines, self.max_bytes = max_lines, max_bytes
        self._notes: list[str] = []
        self._states: dict[str, dict] = {}  # batch id -> its latest state, for the stage's stats
        self._ids: dict[str, list[str]] = {}  # record key -> custom_ids, read once per process

    # -- what the generator calls ------------------------------------------------------------

    def generate_each(self, prompts: list[Messages], gen: GenParams, keys: list[str] | None = None):
        bodies = [self.replies.completion_request(m, gen) for m in prompts]
        return self._run(bodies, keys, self.replies.completion_from)

    def choice_probs_each(self, prompts: list[Messages], choices: list[str], keys: list[str] | None = None):
        bodies = [self.replies.probs_request(m) for m in prompts]
        return self._run(bodies, keys, lambda reply: self.replies.probs_from(reply, choices))

    def generate(self, prompts: list[Messages], gen: GenParams) -> list[Completion]:
        return _gather(len(prompts), self.generate_each(prompts, gen))

    def choice_probs(self, prompts: list[Messages], choices: list[str]) -> list[dict | None]:
        out = _gather(len(prompts), self.choice_probs_each(prompts, choices))
        return [None if isinstance(r, Completion) else r for r in out]

    def batch_stats(self) -> list[dict]:
        return [dict(s) for s in self._states.values()]

    def take_notes(self) -> list[str]:
        notes, self._notes = self._notes, []
        return notes

    # -- one call: adopt, submit, poll, collect ----------------------------------------------

    def _run(self, bodies: list[dict], keys: list[str] | None, read: Callable) -> Iterator[list[tuple[int, object]]]:
        ids = keys or [_body_id(b) for b in bodies]
        where: dict[str, list[int]] = {}
        for pos, custom_id in enumerate(ids):
            where.setdefault(custom_id, []).append(pos)
        batches = self._adopt(where)
        taken = {c for b in batches for c in b.ids}
        fresh = [(c, bodies[p[0]]) for c, p in where.items() if c not in taken]
        written = list(self._write_inputs(fresh))
        if self.dry_run:
            self._stop_dry(written, len(taken & where.keys()))
        for n, (key, part_ids) in enumerate(written, 1):
            batch, failure = self._submit(key, part_ids, f"{n}/{len(written)}")
            if batch is not None:
                batches.append(batch)
            else:
                yield [(p, Completion(None, error=failure)) for c in part_ids for p in where[c]]
        yield []  # the generator shows the notes so far
        while batches:
            for batch in list(batches):
                results, collected = self._poll(batch, where, read, len(batches))
                if results is None:
                    continue
                batches.remove(batch)
                yield [(p, r) for c, r in results.items() for p in where[c]]
                if collected:  # the generator has cached them by now: a resume need not fetch them
                    self.records.save(batch.key, collected=True)
            if batches:
                self.sleep(self.poll_interval)
                yield []

    def _adopt(self, where: dict) -> list[_Batch]:
        adopted = []
        for key, record in self.records.open_batches():
            ids = self._ids[key] = self._ids.get(key) or self.records.read_ids(key)
            if any(c in where for c in ids):
                adopted.append(_Batch(key, ids, record))
                self._note(f"resuming batch {record['batch_id']} ({record.get('status', '?')}), submitted "
                           f"{record.get('submitted', '?')}")
        return adopted

    def _write_inputs(self, fresh: list[tuple[str, dict]]) -> Iterator[tuple[str, list[str]]]:
        """(record key, custom_ids) of each input file written, at most max_lines lines and
        max_bytes bytes apiece; each file's estimate goes into its record."""
        self.records.inputs.mkdir(parents=True, exist_ok=True)
        start = 0
        while start < len(fresh):
            ids, size, tokens, most = [], 0, 0, 0
            # named by its hash once whole: a kill midway leaves only a hidden temporary file
            fd, part = tempfile.mkstemp(prefix=".writing-", suffix=".jsonl", dir=self.records.inputs)
            try:
                with os.fdopen(fd, "wb") as f:
                    for custom_id, body in fresh[start:start + self.max_lines]:
                        line = json.dumps({"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body},
                                          ensure_ascii=False).encode() + b"\n"
                        if ids and size + len(line) > self.max_bytes:
                            break
                        f.write(line)
                        ids.append(custom_id)
                        size += len(line)
                        prompt, output = estimate(body)
                        tokens, most = tokens + prompt, most + output
                key = input_hash(ids)
                os.replace(part, self.records.input_file(key))
            finally:
                Path(part).unlink(missing_ok=True)
            start += len(ids)
            self.records.write_ids(key, ids)
            self.records.save(key, model=self.model_id, requests=len(ids), prompt_tokens_estimate=tokens,
                              max_output_tokens=most, input_bytes=size)
            yield key, ids

    def _stop_dry(self, written: list[tuple[str, list[str]]], in_flight: int) -> None:
        records = self.records.all()
        requests = sum(len(ids) for _, ids in written)
        tokens = sum(records[k]["prompt_tokens_estimate"] for k, _ in written)
        most = sum(records[k]["max_output_tokens"] for k, _ in written)
        for key, _ in written:
            self.records.save(key, dry_run=True, input_file=f"{self.records.inputs.name}/{key}.jsonl")
        pending = f"; {in_flight} more already in submitted batches" if in_flight else ""
        message = (f"batch dry run for {self.records.folder.name}: {requests:,} requests in {len(written)} input "
                   f"file(s), ~{tokens:,} prompt tokens (characters/4), at most {most:,} output tokens{pending}; "
                   f"written to {self.records.inputs}, recorded in {self.records.file}; nothing submitted "
                   "(set run.batch_dry_run=false to submit)")
        log.info(message)
        raise BatchDryRun(message)

    def _submit(self, key: str, ids: list[str], which: str) -> tuple[_Batch | None, str | None]:
        record = self.records.all().get(key, {})
        self._note(f"submitting batch input {key} ({which}): {len(ids):,} requests, "
                   f"~{record.get('prompt_tokens_estimate', 0):,} prompt tokens")
        path = self.records.input_file(key)
        try:
            file_id = self.api.upload(path)
            created = self.api.create(file_id)
        except BatchAPIError as e:
            self._note(f"batch input {key} not submitted: {e}")
            return None, f"batch not submitted: {e}"
        finally:
            path.unlink(missing_ok=True)  # the provider holds it now, or it is written again next time
        earlier = record.get("previous_batch_ids", []) + ([record["batch_id"]] if record.get("batch_id") else [])
        record = self.records.save(key, batch_id=created["id"], input_file_id=file_id, status=created["status"],
                                   submitted=datetime.now(UTC).isoformat(timespec="seconds"),
                                   collected=False, dry_run=False, input_file=None, previous_batch_ids=earlier)
        self._seen(created, record)
        return _Batch(key, ids, record), None

    def _poll(self, batch: _Batch, where: dict, read: Callable, pending: int) -> tuple[dict | None, bool]:
        """({custom_id: result} of this call's misses once the batch has ended, else None;
        whether the results were all fetched)."""
        batch_id = batch.record["batch_id"]
        wanted = [c for c in batch.ids if c in where]
        try:
            state = self.api.get(batch_id)
        except BatchAPIError as e:
            why = f"could not poll batch {batch_id} ({e}); run again to collect it"
            return {c: Completion(None, error=why) for c in wanted}, False
        if _progress(state) != _progress(batch.state):
            counts = state.get("request_counts") or {}
            self._note(f"batch {batch_id}: {state['status']} {counts.get('completed', 0)}/{counts.get('total', '?')} "
                       f"done, {counts.get('failed', 0)} failed" + (f" ({pending} batches open)" if pending > 1 else ""))
            self.records.save(batch.key, status=state["status"], request_counts=counts,
                              output_file_id=state.get("output_file_id"), error_file_id=state.get("error_file_id"))
            self._seen(state, batch.record)
        batch.state = state
        if state["status"] not in ENDED:
            return None, False
        return self._collect(batch_id, state, set(wanted), read)

    def _collect(self, batch_id: str, state: dict, wanted: set, read: Callable) -> tuple[dict, bool]:
        results: dict[str, object] = {}
        try:
            for file_id in (state.get("output_file_id"), state.get("error_file_id")):
                for line in self.api.lines(file_id) if file_id else ():
                    custom_id = line.get("custom_id")
                    if custom_id in wanted and custom_id not in results:
                        results[custom_id] = self._result(line, read)
        except BatchAPIError as e:
            why = f"could not download the results of batch {batch_id} ({e}); run again to collect them"
            return {c: Completion(None, error=why) for c in wanted}, False
        errors = "; ".join(shorten(f"{e.get('code')}: {e.get('message')}", 120)
                           for e in ((state.get("errors") or {}).get("data") or [])[:3] if isinstance(e, dict))
        why = self.replies.scrub(f"batch {batch_id} {state['status']} without a result for this request"
                                 + (f" ({errors})" if errors else ""))
        for custom_id in wanted - results.keys():
            results[custom_id] = Completion(None, error=why)
        return results, True

    def _result(self, line: dict, read: Callable):
        """The result of one output or error line: read(reply body), or a failed Completion."""
        response, error = line.get("response"), line.get("error")
        if isinstance(response, dict) and "status_code" in response:
            status, body = response.get("status_code"), response.get("body")
        else:  # vLLM's run_batch wrote the completion itself before it took the provider's shape
            status, body = (200 if response else None), response
        if isinstance(error, dict) and error:
            why = f"{error.get('code')}: {error.get('message')}"
        elif not isinstance(body, dict):
            why = "no response body" if status in (200, None) else f"HTTP {status}"
        elif status != 200:
            why = f"HTTP {status}: {_error_message(json.dumps(body).encode())}"
        else:
            return read(body)
        return Completion(None, error=self.replies.scrub(f"batch request failed: {shorten(why)}"))

    def _seen(self, state: dict, record: dict) -> None:
        self._states[state["id"]] = {"batch_id": state["id"], "status": state["status"],
                                     "request_counts": state.get("request_counts") or {},
                                     "requests": record.get("requests"),
                                     "prompt_tokens_estimate": record.get("prompt_tokens_estimate")}

    def _note(self, text: str) -> None:
        self._notes.append(text)


def _progress(state: dict) -> tuple:
    return state.get("status"), json.dumps(state.get("request_counts"), sort_keys=True)


def _body_id(body: dict) -> str:
    """A custom_id for a caller that passes no cache keys: the request's own hash."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _gather(n: int, batches) -> list:
    out: list = [None] * n
    for batch in batches:
        for pos, result in batch:
            out[pos] = result
    return out
