"""The provider's side of the OpenAI Batch API, as four calls:

    api = BatchAPI("https://api.openai.com/v1", "OPENAI_API_KEY", timeout=120, max_retries=5)
    file_id = api.upload(Path("batch_input.jsonl"))   # POST /files, purpose=batch (multipart)
    batch = api.create(file_id)                         # POST /batches, 24h window
    batch = api.get(batch["id"])                        # GET /batches/{id}: status, request_counts, file ids
    for line in api.lines(batch["output_file_id"]):     # GET /files/{id}/content, one JSON object a line
        ...

A batch makes a handful of calls in a day, so the standard library's urllib is enough (no kept-
alive pool as in http_json.py). The upload streams the file from disk and the result files are
read line by line, so a 200 MB batch never sits in memory whole. 429, 5xx and refused
connections are retried with the openai backend's backoff; other errors raise BatchAPIError with
the server's message, scrubbed of the API key. Creating a batch is not retried after a timeout
or a dropped connection: the provider may have created it, and a second one would be paid twice.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from workbench.llm.openai_backend import RETRY_STATUS, _error_message, gave_up, retry_after_seconds
from workbench.llm.openai_replies import shorten

ENDPOINT = "/v1/chat/completions"  # what each input line asks for, and the batch's endpoint
COMPLETION_WINDOW = "24h"  # the only window the provider offers
_UPLOAD_BLOCK = 1 << 20


class BatchAPIError(RuntimeError):
    """A batch call failed for good; the message says which call and why (no API key in it)."""


class BatchAPI:
    def __init__(self, base_url: str, api_key_env: str = "OPENAI_API_KEY", timeout: float = 120.0,
                 max_retries: int = 5, sleep: Callable[[float], None] = time.sleep,
                 backoff: Callable[[int, float | None], float] | None = None,
                 scrub: Callable[[str], str] = lambda text: text):
        self.base_url = base_url.rstrip("/")
        key = os.environ.get(api_key_env) or ""
        self.headers = {"Authorization": f"Bearer {key or 'not-set'}", "User-Agent": "evol-instruct-workbench"}
        self.timeout, self.max_retries, self.sleep = timeout, max_retries, sleep
        self.backoff = backoff or (lambda retry, after: after if after is not None else min(60.0, 2.0**retry))
        self.scrub = scrub

    def upload(self, path: Path) -> str:
        """The id the provider gives the uploaded batch input file."""
        boundary = uuid.uuid4().hex
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
                "Content-Type: application/jsonl\r\n\r\n").encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        length = len(head) + path.stat().st_size + len(tail)

        def body():  # a fresh stream for every attempt
            yield head
            with path.open("rb") as f:
                while block := f.read(_UPLOAD_BLOCK):
                    yield block
            yield tail

        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(length)}
        reply = self._json("POST", "/files", body, headers)
        return _field(reply, "id", "POST /files")

    def create(self, input_file_id: str) -> dict:
        request = {"input_file_id": input_file_id, "endpoint": ENDPOINT, "completion_window": COMPLETION_WINDOW}
        data = json.dumps(request).encode()
        reply = self._json("POST", "/batches", lambda: data, {"Content-Type": "application/json"}, sure_unsent=True)
        _field(reply, "id", "POST /batches")
        return reply

    def get(self, batch_id: str) -> dict:
        reply = self._json("GET", f"/batches/{batch_id}")
        _field(reply, "status", f"GET /batches/{batch_id}")
        return reply

    def lines(self, file_id: str) -> Iterator[dict]:
        """Each JSON object of a result file; a line that is not one is skipped (its request
        then has no result, and fails with that reason)."""
        with self._open("GET", f"/files/{file_id}/content") as response:
            try:
                for raw in response:
                    try:
                        line = json.loads(raw)
                    except ValueError:
                        continue
                    if isinstance(line, dict):
                        yield line
            except (OSError, http.client.HTTPException) as e:  # the connection dropped midway
                why = shorten(str(e)) or type(e).__name__
                raise BatchAPIError(self.scrub(f"GET /files/{file_id}/content: {why}")) from None

    def _json(self, method: str, path: str, body=None, headers=None, sure_unsent: bool = False) -> dict:
        with self._open(method, path, body, headers, sure_unsent) as response:
            try:
                text = response.read()
            except (OSError, http.client.HTTPException) as e:
                raise BatchAPIError(self.scrub(f"{method} {path}: {shorten(str(e)) or type(e).__name__}")) from None
        try:
            reply = json.loads(text)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise BatchAPIError(self.scrub(f"{method} {path}: reply is not a JSON object: "
                                           f"{shorten(text.decode('utf-8', 'replace'), 80)}"))
        return reply

    def _open(self, method: str, path: str, body=None, headers=None, sure_unsent: bool = False):
        """The response of the first attempt that succeeds. sure_unsent: retry a connection
        failure only where the request cannot have reached the provider (refused)."""
        last = ""
        for attempt in range(self.max_retries + 1):
            request = urllib.request.Request(self.base_url + path, data=None if body is None else body(),
                                             method=method, headers={**self.headers, **(headers or {})})
            retry_after = None
            try:
                return urllib.request.urlopen(request, timeout=self.timeout)
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code}: {shorten(_error_message(e.read()))}"
                if e.code not in RETRY_STATUS:
                    raise BatchAPIError(self.scrub(f"{method} {path}: {last}")) from None
                retry_after = retry_after_seconds(e.headers)
            except (OSError, http.client.HTTPException) as e:  # URLError, timeouts, resets, garbled replies
                reason = getattr(e, "reason", e)
                last = f"connection failed: {shorten(str(reason))}"
                if sure_unsent and not isinstance(reason, ConnectionRefusedError):
                    raise BatchAPIError(self.scrub(
                        f"{method} {path}: {last}; the batch may have been created: look at {self.base_url}/batches "
                        "before running again")) from None
            if attempt < self.max_retries:
                self.sleep(self.backoff(attempt, retry_after))
        raise BatchAPIError(self.scrub(f"{method} {path}: {gave_up(self.max_retries + 1, last)}"))


def _field(reply: dict, name: str, call: str):
    if not isinstance(reply.get(name), str):
        raise BatchAPIError(f"{call}: reply has no {name}: {shorten(json.dumps(reply), 120)}")
    return reply[name]
