"""The stub server of the paper-shaped bench (bench/scale_paper.py): every prompt kind the stages send.

Kinds are told apart by the section markers of the project's own templates (workbench/prompts/):
  equal       <<Second Task>>   02_evolve's information-gain judge: "Equal" / "Not Equal"
  evolve      <<New Task>>      02_evolve: the original task plus one clause; in-breadth ("different
                                task") a new task; complicate_input ("Data format:") adds data
  pairwise    <<Reply A>>       07_evaluate: "A" / "B" / "Tie", the longer reply wins
  quality     <<Reply>>         05_diversity's quality judge and 07's single scores: 1-10 by answer length
  difficulty  <<Task>>          04_difficulty's judge: 1-10 by the task's length and clauses
  answer      anything else     02's answers and 07's candidates (stub-a answers longer than stub-b)
Ratings and verdicts come with top logprobs when asked (the way vLLM and llama.cpp's server
answer), spread around the chosen reply, so the workbench reads them as expected values.
Every reply is a function of the request alone, so two runs with fresh caches write the same records.

Counters per stage (the bench names the running stage with POST /stage/<name>) and per epoch
(POST /epoch; a key answered in the previous epoch and asked again is `repeated`). Rounds of
02_evolve are told by the sampling seed of the evolve requests (the loop draws one per round):
`round_starts` is the count of answered requests when each round's first evolution came in.

    python bench/paper_stub.py PORT_FILE [--latency-ms 40] [--jitter-ms 15] [--p429 0.002] [--p500 0.001]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import re
from collections import Counter
from pathlib import Path

from scale import SENTENCES, TASKS, TOPICS, Stub

ASPECTS = ["its history", "common mistakes", "costs", "safety", "the people involved", "the first steps",
           "long-term effects", "a beginner's questions", "tools needed", "regional differences", "ethics",
           "the underlying science", "everyday habits", "measuring success", "myths", "trade-offs"]
AUDIENCES = ["a nurse", "a retired sailor", "a first-year student", "a shop owner", "a city planner", "a farmer",
             "a software tester", "a museum guide", "a truck driver", "a choir director", "a new parent"]
CLAUSES = ["Answer in exactly {n} bullet points.", "Keep it under {n}0 words.", "Include one example about {a}.",
           "Explain each of the {n} steps of your reasoning.", "Compare it with {a} in a short paragraph.",
           "End with a one-line summary for {p}.", "Use a table with {n} rows.", "Avoid any jargon {p} would not know.",
           "Mention one date before {n}00 AD.", "Add a warning about {a}.", "Give {n} numbered options.",
           "Write it as a letter to {p}."]
DATA = {"JSON": '{{"item": "{a}", "count": {n}}}', "CSV table": "name,count\n{a},{n}", "XML": "<row n=\"{n}\">{a}</row>",
        "SQL": "SELECT * FROM items WHERE count > {n};", "Python code": "counts = {{'{a}': {n}}}",
        "HTML": "<li>{a}: {n}</li>", "LaTeX": "\\item {a} ({n})", "shell command": "grep -c '{a}' log.txt"}
FILLER = ["This matters because small details change the outcome.", "A common approach is to start small and adjust.",
          "Experts disagree on some points, but the basics are settled.", "Most people notice the difference quickly.",
          "The numbers vary from place to place.", "Keep notes so the next attempt goes faster."]


def pick(pool: list, h: int, salt: int) -> str:
    return pool[(h >> salt) % len(pool)]


def fill(template: str, h: int) -> str:
    return template.format(n=2 + h % 7, a=pick(ASPECTS, h, 5), p=pick(AUDIENCES, h, 9))


def seed_instruction(h: int, i: int) -> str:
    """A generated seed: several slots drawn from h, so two seeds rarely share most of their text."""
    task = pick(TASKS, h, 0).format(t=pick(TOPICS, h, 3))
    return f"{task} Focus on {pick(ASPECTS, h, 8)} for {pick(AUDIENCES, h, 12)}. (case {i})"


def sections(prompt: str, *markers: str) -> list[str]:
    """The text after each marker, up to the next marker (or the end)."""
    parts = re.split("|".join(re.escape(m) for m in markers), prompt)
    return [p.strip() for p in parts[1:]]


def answer_text(h: int, model: str, instruction: str = "") -> str:
    if h % 100 < 1:
        return "Sorry, I cannot help with that."
    n = 3 + h % 8 + (3 if model.endswith("-a") else 0)  # stub-a answers more fully than stub-b
    lead = f"About {instruction.split('.')[0][:80].lower()}:" if instruction else "Here is the answer:"
    body = [pick(SENTENCES + FILLER, h + 7 * k, k % 5) for k in range(n)]
    return " ".join([lead, *body])


def rating(h: int, base: float) -> int:
    return max(1, min(10, round(base + (h % 5 - 2) * 0.6)))


def reply(kind: str, prompt: str, model: str, h: int) -> tuple[str, list]:
    """-> (text, [(token, p) for the top tokens] for the one-token replies, else [])."""
    if kind == "equal":
        equal = h % 100 < 8
        return ("Equal", [("Equal", 0.85), ("Not", 0.13)]) if equal else ("Not Equal", [])
    if kind == "evolve":
        original = sections(prompt, "<<Original Task>>", "<<New Task>>")[0]
        if "different task" in prompt:  # in-breadth: a new task in the same domain
            return seed_instruction(h, h % 100_000).replace("(case", "(variant"), []
        if h % 100 < 2:
            return original, []  # unchanged: eliminated without an answer
        fmt = re.search(r"Data format: (.+)", prompt)
        data = f"\n{fill(DATA.get(fmt.group(1).strip(), '{a}: {n}'), h)}" if fmt else ""
        return f"{original} {fill(pick(CLAUSES, h, 2), h)}{data}", []
    if kind == "pairwise":
        a, b = sections(prompt, "<<Reply A>>", "<<Reply B>>", "Verdict:")[:2]
        diff = len(a.split()) - len(b.split())
        verdict = "Tie" if abs(diff) < 8 else ("A" if diff > 0 else "B")
        return verdict, [(verdict, 0.7)] + [(v, 0.14) for v in ("A", "B", "Tie") if v != verdict]
    if kind in ("quality", "difficulty"):
        text = sections(prompt, "<<Reply>>" if kind == "quality" else "<<Task>>", "Rating:")[0]
        words = len(text.split())
        base = 2 + words / 25 if kind == "quality" else 2 + words / 12 + text.count(".") * 0.3
        r = rating(h, 2.0 if text.startswith("Sorry") else base)
        near = [(str(r + d), p) for d, p in ((-1, 0.18), (1, 0.18), (-2, 0.04), (2, 0.04)) if 2 <= r + d <= 10]
        return str(r), [(str(r), 0.5)] + near + [("The", 0.02)]
    return answer_text(h, model, prompt), []


def kind_of(prompt: str) -> str:
    for marker, kind in (("<<Second Task>>", "equal"), ("<<New Task>>", "evolve"), ("<<Reply A>>", "pairwise"),
                         ("<<Reply>>", "quality"), ("<<Task>>", "difficulty")):
        if marker in prompt:
            return kind
    return "answer"


def logprobs(text: str, top: list) -> list[dict]:
    def entry(token, p):
        return {"token": token, "logprob": math.log(p), "bytes": None}
    if text == "Not Equal":  # two tokens, like a real tokenizer: the workbench walks both
        return [dict(entry("Not", 0.9), top_logprobs=[entry("Not", 0.9), entry("Equal", 0.08)]),
                dict(entry(" Equal", 0.99), top_logprobs=[entry(" Equal", 0.99)])]
    return [dict(entry(text, top[0][1]), top_logprobs=[entry(t, p) for t, p in top])]


class PaperStub(Stub):
    def __init__(self, *args):
        super().__init__(*args)
        self.stage = "-"
        self.reset()

    def reset(self) -> None:
        self.by_stage: dict[str, Counter] = {}
        self.round_seeds: list = []
        self.round_starts: list[int] = []

    def count(self, **added) -> None:
        for c in (self.stats, self.by_stage.setdefault(self.stage, Counter())):
            for k, v in added.items():
                c[k] = c.get(k, 0) + v

    async def respond(self, method: str, path: str, body: bytes):
        if method == "GET":
            return 200, {"total": self.stats, "stages": self.by_stage, "round_starts": self.round_starts,
                         "epoch": self.epoch}, {}
        if "/stage/" in path:
            self.stage = path.rsplit("/", 1)[1]
            return 200, {"stage": self.stage}, {}
        if path.endswith("/epoch"):
            self.reset()
            return await super().respond(method, path, body)
        req = json.loads(body)
        prompt, model = req["messages"][-1]["content"], req["model"]
        key = hashlib.sha256(json.dumps([req["messages"], model, req.get("max_tokens"), req.get("temperature"),
                                         req.get("top_p"), req.get("seed"), req.get("logprobs")]).encode()).digest()[:12]
        kind = kind_of(prompt)
        if kind == "evolve" and req.get("seed") not in self.round_seeds:
            self.round_seeds.append(req.get("seed"))
            self.round_starts.append(self.stats["ok"])
        delay = max(0.0, self.latency + self.rng.uniform(-self.jitter, self.jitter))
        self.count(requests=1, latency_sum=delay)
        await asyncio.sleep(delay)
        roll = self.rng.random()
        if roll < self.p429 + self.p500:
            self.count(faults=1)
            if roll < self.p429:
                return 429, {"error": {"message": "rate limited"}}, {"Retry-After": "0.2"}
            return 500, {"error": {"message": "internal error"}}, {}
        self.count(ok=1, repeated=int(key in self.answered_before), **{f"kind_{kind}": 1})
        self.answered.add(key)
        text, top = reply(kind, prompt, model, int.from_bytes(key[:4], "big"))
        usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(text.split())}
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        if req.get("logprobs") and (top or text == "Not Equal"):
            choice["logprobs"] = {"content": logprobs(text, top)}
        return 200, {"id": "x", "object": "chat.completion", "created": 0, "model": model, "choices": [choice],
                     "usage": dict(usage, total_tokens=sum(usage.values()))}, {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("port_file")
    for name, default in (("--latency-ms", 40.0), ("--jitter-ms", 15.0), ("--p429", 0.002), ("--p500", 0.001)):
        ap.add_argument(name, type=float, default=default)
    args = ap.parse_args()

    async def serve():
        stub = PaperStub(args.latency_ms / 1000, args.jitter_ms / 1000, args.p429, args.p500)
        server = await asyncio.start_server(stub.handle, "127.0.0.1", 0, backlog=4096)
        Path(args.port_file).write_text(str(server.sockets[0].getsockname()[1]))
        await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
