"""Scale through a server: 01_seed + 02_evolve over N generated seeds x 1 round, OpenAI backend.

A stub OpenAI-compatible server runs in its own process on 127.0.0.1 and answers plausibly
shaped evolutions, answers and Equal/Not Equal verdicts after latency ± jitter, with
occasional 429s (Retry-After) and 500s. Two runs of `workbench run`, each with a fresh cache:
  A  uninterrupted: wall time, peak RSS of the whole process tree, cache size;
     overhead = wall - ideal, ideal = the stub's summed latency / concurrency (what a
     client that never waits on itself would take at that concurrency)
  B  killed (SIGKILL, whole tree) when the stub has answered half of A's requests, then
     `workbench run --resume`: its records must equal A's, and the stub counts requests
     for calls already answered before the kill (repeated_calls).

    python bench/scale.py [--items 50000] [--concurrency 64] [--latency-ms 200] [--jitter-ms 50]
    python bench/scale.py --paper [--scale 1.0]      # the paper's shape, every stage: bench/scale_paper.py
Last line: items=… wall_s=… overhead_ms_per_item=… peak_rss_gib=… cache_gib=… resumed_identical=…
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOPICS = ["photosynthesis", "a small bakery's budget", "the French Revolution", "binary search", "urban cycling",
          "ocean tides", "a job interview", "compound interest", "volcanoes", "a weekly meal plan", "solar panels",
          "the water cycle", "a bug report", "remote work", "chess openings", "vaccines", "a wedding toast"]
TASKS = ["Explain {t} to a twelve-year-old.", "Write a short guide about {t}.", "List five facts about {t}.",
         "Summarise the main debate around {t}.", "Give three tips related to {t}.", "Write a haiku about {t}."]
CLAUSES = ["Answer in exactly three bullet points.", "Keep it under 120 words.", "Include one everyday example.",
           "Explain each step of your reasoning.", "Compare at least two alternatives.", "End with a one-line summary.",
           "Use a two-column table.", "Avoid technical jargon entirely.", "Cite one plausible historical date."]
SENTENCES = ["This is the central idea, stated plainly.", "A concrete example makes the point easier to see.",
             "There are two common misconceptions worth correcting.", "The steps below follow in a natural order.",
             "Each part depends on the one before it.", "In practice the details matter more than the theory.",
             "A short summary closes the answer."]


# ---------- the stub server (its own process, asyncio, keep-alive) ----------

def _reply(prompt: str, h: int) -> str:
    if "<<Second Task>>" in prompt:
        return "Equal" if h % 100 < 8 else "Not Equal"
    if "<<New Task>>" in prompt:
        original = prompt.split("<<Original Task>>")[1].split("<<New Task>>")[0].strip()
        return original if h % 100 < 2 else f"{original} {CLAUSES[h % len(CLAUSES)]}"
    if h % 100 < 1:
        return "Sorry, I cannot help with that."
    return " ".join(SENTENCES[(h + k) % len(SENTENCES)] for k in range(2 + h % 5))


def _verdict_logprobs(text: str) -> list[dict]:
    def pos(token, p, top):
        return {"token": token, "logprob": math.log(p), "bytes": None,
                "top_logprobs": [{"token": t, "logprob": math.log(q), "bytes": None} for t, q in top]}
    if text == "Equal":
        return [pos("Equal", 0.85, [("Equal", 0.85), ("Not", 0.13)])]
    return [pos("Not", 0.9, [("Not", 0.9), ("Equal", 0.08)]), pos(" Equal", 0.99, [(" Equal", 0.99)])]


class Stub:
    def __init__(self, latency: float, jitter: float, p429: float, p500: float):
        self.latency, self.jitter, self.p429, self.p500 = latency, jitter, p429, p500
        self.rng = random.Random(0)
        self.epoch = 0
        self.stats = {"requests": 0, "ok": 0, "faults": 0, "latency_sum": 0.0, "repeated": 0}
        self.answered_before: set[bytes] = set()  # call keys answered in the previous epoch
        self.answered: set[bytes] = set()  # ... and in this one

    async def respond(self, method: str, path: str, body: bytes):
        if method == "GET":
            return 200, dict(self.stats, epoch=self.epoch), {}
        if path.endswith("/epoch"):
            self.epoch += 1
            self.answered_before, self.answered = self.answered, set()
            self.stats = dict.fromkeys(self.stats, 0)
            self.stats["latency_sum"] = 0.0
            return 200, {"epoch": self.epoch}, {}
        req = json.loads(body)
        prompt = req["messages"][-1]["content"]
        key = hashlib.sha256(json.dumps([req["messages"], req.get("max_tokens"), req.get("temperature"),
                                         req.get("top_p"), req.get("seed")]).encode()).digest()[:12]
        delay = max(0.0, self.latency + self.rng.uniform(-self.jitter, self.jitter))
        self.stats["requests"] += 1
        self.stats["latency_sum"] += delay
        await asyncio.sleep(delay)
        roll = self.rng.random()
        if roll < self.p429:
            self.stats["faults"] += 1
            return 429, {"error": {"message": "rate limited"}}, {"Retry-After": "0.2"}
        if roll < self.p429 + self.p500:
            self.stats["faults"] += 1
            return 500, {"error": {"message": "internal error"}}, {}
        self.stats["ok"] += 1
        self.stats["repeated"] += key in self.answered_before
        self.answered.add(key)
        text = _reply(prompt, int.from_bytes(key[:4], "big"))
        usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split())}
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        if req.get("logprobs"):  # like vLLM: the judge reads its verdict from token probabilities
            choice["logprobs"] = {"content": _verdict_logprobs(text)}
        return 200, {"id": "x", "object": "chat.completion", "created": 0, "model": req["model"],
                     "choices": [choice], "usage": dict(usage, total_tokens=sum(usage.values()))}, {}

    async def handle(self, reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, path, _ = line.decode().split(" ", 2)
                length = 0
                while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = h.decode().partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                status, payload, extra = await self.respond(method, path, await reader.readexactly(length))
                data = json.dumps(payload).encode()
                head = [f"HTTP/1.1 {status} X", "Content-Type: application/json", f"Content-Length: {len(data)}",
                        *(f"{k}: {v}" for k, v in extra.items())]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def serve(port_file: str, latency: float, jitter: float, p429: float, p500: float) -> None:
    async def main():
        stub = Stub(latency, jitter, p429, p500)
        server = await asyncio.start_server(stub.handle, "127.0.0.1", 0, backlog=1024)
        Path(port_file).write_text(str(server.sockets[0].getsockname()[1]))
        await server.serve_forever()

    asyncio.run(main())


# ---------- the bench ----------

def stub_call(url: str, path: str, post: bool = False) -> dict:
    req = urllib.request.Request(url + path, data=b"{}" if post else None, method="POST" if post else "GET")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def tree_rss_bytes(root: int) -> int:
    """RSS of a process and all its descendants (the notebook kernel is a grandchild)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError):
            pass
    return total


def descendants(root: int) -> list[int]:
    parent = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        kids = [p for p, pp in parent.items() if pp == pid]
        out += kids
        todo += kids
    return out


def workbench(args: list[str], until=None) -> tuple[float, int, bool]:
    """Run `workbench ...`; -> (wall seconds, peak tree RSS, killed). `until()` true = SIGKILL the tree."""
    t0, peak = time.perf_counter(), 0
    proc = subprocess.Popen([str(REPO / ".venv/bin/workbench"), *args], cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err: list[str] = []
    threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True).start()
    while proc.poll() is None:
        peak = max(peak, tree_rss_bytes(proc.pid))
        if until is not None and until():
            for pid in [proc.pid, *descendants(proc.pid)]:  # the kernel may sit in its own session
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait()
            return time.perf_counter() - t0, peak, True
        time.sleep(0.25)
    if proc.returncode != 0:
        sys.exit(f"workbench {' '.join(args)} failed ({proc.returncode}):\n{''.join(err)[-3000:]}")
    return time.perf_counter() - t0, peak, False


def write_inputs(work: Path, n: int, url: str, concurrency: int) -> Path:
    rng = random.Random(1)
    with (work / "seeds.jsonl").open("w") as f:
        for i in range(n):
            task = TASKS[rng.randrange(len(TASKS))].format(t=TOPICS[rng.randrange(len(TOPICS))])
            f.write(json.dumps({"instruction": f"{task} Case {i}.", "output": SENTENCES[i % len(SENTENCES)]}) + "\n")
    params = {"run": {"name": "scale", "seed": 0, "model": f"openai:stub@{url}", "max_concurrency": concurrency,
                      "max_retries": 8, "request_timeout": 30.0},
              "seed": {"source": str(work / "seeds.jsonl"), "n": 0},
              "evolve": {"rounds": 1}}
    (work / "params.yaml").write_text(json.dumps(params))  # JSON is YAML
    return work / "params.yaml"


def records_digest(run_dir: Path) -> str:
    h = hashlib.sha256()
    for name in ("01_seed/records.jsonl", "02_evolve/records.jsonl", "02_evolve/dataset.jsonl"):
        h.update((run_dir / name).read_bytes())
    return h.hexdigest()


def main() -> None:
    if "--paper" in sys.argv[1:]:  # the paper's shape, every stage: its own driver and options
        import scale_paper
        return scale_paper.main(sys.argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paper", action="store_true", help="52K seeds x 4 rounds, stages 01-07: bench/scale_paper.py "
                    "(its options: --scale F, --concurrency, --latency-ms, ...)")
    ap.add_argument("--items", type=int, default=50_000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency-ms", type=float, default=200)
    ap.add_argument("--jitter-ms", type=float, default=50)
    ap.add_argument("--p429", type=float, default=0.005)
    ap.add_argument("--p500", type=float, default=0.002)
    ap.add_argument("--work", default="/tmp/workbench-scale")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve(args.serve, args.latency_ms / 1000, args.jitter_ms / 1000, args.p429, args.p500)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    port_file = work / "port"
    stub = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file), "--latency-ms", str(args.latency_ms),
                             "--jitter-ms", str(args.jitter_ms), "--p429", str(args.p429), "--p500", str(args.p500)])
    try:
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text()}/v1"
        params = write_inputs(work, args.items, url, args.concurrency)
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  cpus: {os.cpu_count()}")

        wall, peak, _ = workbench(["run", str(params), "--stages", "01_seed,02_evolve", "--outputs", str(work / "A")])
        a = stub_call(url, "/stats")
        ideal = a["latency_sum"] / args.concurrency
        run_a = next((work / "A" / "runs").iterdir())
        cache = sum(p.stat().st_size for p in (work / "A" / "cache").glob("responses.sqlite*"))
        print(f"run A: {a['requests']} requests ({a['faults']} faults, retried), wall {wall:.1f}s, ideal {ideal:.1f}s")

        stub_call(url, "/epoch", post=True)
        half = a["ok"] // 2
        _, _, killed = workbench(["run", str(params), "--stages", "01_seed,02_evolve", "--outputs", str(work / "B")],
                                 until=lambda: stub_call(url, "/stats")["ok"] >= half)
        before = stub_call(url, "/stats")
        stub_call(url, "/epoch", post=True)
        run_b = next((work / "B" / "runs").iterdir())
        workbench(["run", "--resume", str(run_b)])
        after = stub_call(url, "/stats")
        identical = killed and records_digest(run_a) == records_digest(run_b)
        print(f"run B: killed={killed} after {before['ok']} answered calls; resume made {after['ok']} calls, "
              f"repeated_calls={after['repeated']} (answered before the kill, asked again)")
        print(f"items={args.items} wall_s={wall:.1f} overhead_ms_per_item={(wall - ideal) / args.items * 1000:.2f} "
              f"peak_rss_gib={peak / 2**30:.2f} cache_gib={cache / 2**30:.3f} resumed_identical={identical}")
    finally:
        stub.terminate()


if __name__ == "__main__":
    main()
