"""A loopback server speaking the OpenAI Batch API (files + batches), for tests only.

    POST /v1/files                  multipart upload (purpose=batch) -> {"id": "file-N"}
    POST /v1/batches                {input_file_id, endpoint, completion_window} -> a batch, validating
    GET  /v1/batches/{id}           each poll moves it on: validating -> in_progress -> finalizing ->
                                    completed; it stays in_progress while `hold` is set
    GET  /v1/files/{id}/content     an uploaded input, or a result file

Every request is answered like openai_stub's obliging model, and the output file lists the lines
in reverse order (the provider promises no order). `fault(body)` chooses a line's fate: None
(answered), an int (that HTTP status, in the output file), "error" (a line in the error file,
no response), or "missing" (no line at all). A batch whose input has more than `max_lines` lines
fails validation. `logprobs(body)` answers requests asking for logprobs, as in openai_stub.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from openai_stub import obliging_reply


def chat_completion(body: dict, n: int, logprobs=None) -> dict:
    text = obliging_reply(body["messages"][-1]["content"])
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
    completion_tokens = len(text.split())
    if body.get("logprobs") and logprobs is not None:
        positions, choice["finish_reason"] = logprobs(body)
        choice["message"]["content"] = "".join(t for t, _, _ in positions)
        completion_tokens = len(positions)
        choice["logprobs"] = {"content": [
            {"token": t, "logprob": lp, "top_logprobs": [{"token": a, "logprob": b} for a, b in top]}
            for t, lp, top in positions]}
    return {"id": f"c{n}", "object": "chat.completion", "model": body["model"], "choices": [choice],
            "usage": {"prompt_tokens": 10, "completion_tokens": completion_tokens}}


def multipart_file(data: bytes, content_type: str) -> tuple[bytes, dict]:
    """(the file part's bytes, {field: value} of the other parts) of a multipart/form-data body."""
    boundary = content_type.split("boundary=", 1)[1].encode()
    fields, content = {}, b""
    for part in data.split(b"--" + boundary)[1:-1]:
        head, _, value = part[2:].partition(b"\r\n\r\n")
        value = value[:-2]  # the CRLF before the next boundary
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
        if b"filename=" in head:
            content = value
        else:
            fields[name] = value.decode()
    return content, fields


class BatchStub:
    def __init__(self, fault=None, logprobs=None, hold: bool = False, max_lines: int = 50_000):
        self.fault, self.logprobs, self.hold, self.max_lines = fault, logprobs, hold, max_lines
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self.uploads: list[dict] = []  # {"purpose", "lines"} per upload
        self.created: list[str] = []  # batch ids, in order
        self.calls: list[str] = []  # "METHOD path" of every request
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    outer.calls.append(f"POST {self.path}")
                    if self.path == "/v1/files":
                        content, fields = multipart_file(data, self.headers["Content-Type"])
                        file_id = f"file-{len(outer.files) + 1}"
                        outer.files[file_id] = content
                        outer.uploads.append({"purpose": fields.get("purpose"),
                                              "lines": [json.loads(x) for x in content.splitlines()]})
                        return self._json(200, {"id": file_id, "object": "file", "purpose": fields.get("purpose")})
                    if self.path == "/v1/batches":
                        return self._create(json.loads(data))
                return self._json(404, {"error": {"message": f"no route {self.path}"}})

            def do_GET(self):
                with outer.lock:
                    outer.calls.append(f"GET {self.path}")
                    parts = self.path.strip("/").split("/")
                    if parts[:2] == ["v1", "batches"] and parts[2] in outer.batches:
                        return self._json(200, outer._advance(parts[2]))
                    if parts[:2] == ["v1", "files"] and parts[-1] == "content" and parts[2] in outer.files:
                        return self._send(200, outer.files[parts[2]], "application/jsonl")
                return self._json(404, {"error": {"message": f"no route {self.path}"}})

            def _create(self, request):
                if request.get("input_file_id") not in outer.files or request.get("endpoint") != "/v1/chat/completions" \
                        or request.get("completion_window") != "24h":
                    return self._json(400, {"error": {"message": f"bad batch request {request}"}})
                batch_id = f"batch_{len(outer.batches) + 1}"
                lines = outer.files[request["input_file_id"]].splitlines()
                outer.batches[batch_id] = {
                    "id": batch_id, "object": "batch", "endpoint": request["endpoint"], "status": "validating",
                    "input_file_id": request["input_file_id"], "output_file_id": None, "error_file_id": None,
                    "request_counts": {"total": len(lines), "completed": 0, "failed": 0}}
                outer.created.append(batch_id)
                return self._json(200, outer.batches[batch_id])

            def _json(self, status, payload):
                self._send(status, json.dumps(payload).encode(), "application/json")

            def _send(self, status, data, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def posts(self) -> list[str]:
        return [c for c in self.calls if c.startswith("POST")]

    def _advance(self, batch_id: str) -> dict:
        batch = self.batches[batch_id]
        lines = [json.loads(x) for x in self.files[batch["input_file_id"]].splitlines()]
        if batch["status"] == "validating":
            if len(lines) > self.max_lines:
                batch.update(status="failed", errors={"data": [{"code": "too_many_lines", "message":
                                                                f"{len(lines)} lines, limit {self.max_lines}"}]})
            else:
                batch["status"] = "in_progress"
        elif batch["status"] == "in_progress" and not self.hold:
            batch["status"] = "finalizing"
        elif batch["status"] == "finalizing":
            self._finish(batch, lines)
        return dict(batch)

    def _finish(self, batch: dict, lines: list[dict]) -> None:
        output, errors = [], []
        for n, line in enumerate(lines, 1):
            fault = self.fault(line["body"]) if self.fault else None
            entry = {"id": f"req_{n}", "custom_id": line["custom_id"], "response": None, "error": None}
            if fault is None:
                entry["response"] = {"status_code": 200, "request_id": f"r{n}",
                                     "body": chat_completion(line["body"], n, self.logprobs)}
                output.append(entry)
            elif isinstance(fault, int):
                entry["response"] = {"status_code": fault, "request_id": f"r{n}",
                                     "body": {"error": {"message": f"injected {fault}"}}}
                output.append(entry)
            elif fault == "error":
                entry["error"] = {"code": "server_error", "message": "injected line error"}
                errors.append(entry)
        for name, entries in (("output_file_id", output[::-1]), ("error_file_id", errors)):
            if entries:
                file_id = f"file-{len(self.files) + 1}"
                self.files[file_id] = "".join(json.dumps(e) + "\n" for e in entries).encode()
                batch[name] = file_id
        failed = sum(1 for e in output if e["response"]["status_code"] != 200) + len(errors)
        batch.update(status="completed", request_counts={"total": len(lines), "completed": len(lines) - failed,
                                                         "failed": failed})

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
