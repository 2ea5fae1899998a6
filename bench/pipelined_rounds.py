"""One round of 02_evolve over a pool of servers, phase by phase vs pipelined.

Phase by phase, a round evolves everything, then answers everything, then judges everything:
the slowest requests of each phase leave every server idle until they return. Pipelined
(workbench/llm/chains.py), an attempt is answered as soon as its evolution returns and judged
as soon as its answer does. Both run here over the same stub OpenAI-compatible servers
(tests/openai_stub.py) with a skewed latency: most requests take --fast-ms, a --slow-share
of them (chosen by a hash of the request, so the same ones in both runs) take --slow-ms.
The judge answers with token probabilities, so each attempt is three requests at most.
Seeds come with answers, so only the round itself is timed; no cache, so both runs make
every call. The records of the two runs must be identical. Beside the two times, the bound
no schedule can beat: the servers' summed latency spread over every slot, or the longest
single attempt (its evolve + answer + judge), whichever is larger.

    python bench/pipelined_rounds.py [--seeds 128] [--servers 2] [--concurrency 8] [--fast-ms 40] [--slow-ms 1500] [--slow-share 0.03]
Last line: phased_s=… pipelined_s=… speedup=… requests=… identical=…
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from openai_stub import StubServer  # noqa: E402

from workbench.core import templates  # noqa: E402
from workbench.core.records import full_text  # noqa: E402
from workbench.llm import Generator  # noqa: E402
from workbench.llm.multi import openai_pool  # noqa: E402
from workbench.stages.evolve import loop as EV  # noqa: E402
from workbench.stages.evolve.stage import Config  # noqa: E402
from workbench.stages.seed.loaders import load_seeds  # noqa: E402


def not_equal_logprobs(body):
    """The judge says Not Equal with token probabilities (one request per verdict)."""
    return [("Not", -0.05, [("Not", -0.05), ("Equal", -3.0)]), (" Equal", -0.01, [(" Equal", -0.01)])], "stop"


class SkewedLatency:
    """on_request for the stub: sleeps fast_s, or slow_s for a slow_share of requests; sums the sleeps."""

    def __init__(self, fast_s: float, slow_s: float, slow_share: float):
        self.fast_s, self.slow_s, self.slow_share = fast_s, slow_s, slow_share
        self.total_s = 0.0
        self.by_prompt: dict[str, float] = {}  # what each prompt took (the longest attempt, below)

    def __call__(self, body) -> None:
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()
        seconds = self.slow_s if int.from_bytes(digest[:4], "big") / 2**32 < self.slow_share else self.fast_s
        self.total_s += seconds
        self.by_prompt[body["messages"][-1]["content"]] = seconds
        time.sleep(seconds)


def longest_attempt_s(records: list[dict], latency: SkewedLatency) -> float:
    """The longest evolve + answer + judge of one attempt: no schedule ends a round sooner."""
    pack, by_id, equal = Config().pack(), {r["id"]: r for r in records}, templates.load("equal_judge")
    longest = 0.0
    for r in records:
        if r["round"]:
            parent = by_id[r["parent_id"]]
            prompts = [EV.evolution_prompt(pack, r["op"], parent, r["format"]), pack.answer_prompt(full_text(r)),
                       equal.render(first=full_text(parent), second=full_text(r))]
            longest = max(longest, sum(latency.by_prompt.get(p, 0.0) for p in prompts))
    return longest


def one_round(urls: str, seeds: list[dict], concurrency: int, pipeline: bool) -> tuple[float, list[dict]]:
    EV.PIPELINE = pipeline
    gen = Generator(openai_pool("stub", urls, {"max_concurrency": concurrency, "request_timeout": 60.0}))
    t0 = time.perf_counter()
    res = EV.run_evolution(seeds, Config(rounds=1), gen, gen, gen, seed=0)
    return time.perf_counter() - t0, res.records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=128)
    ap.add_argument("--servers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight per server")
    ap.add_argument("--fast-ms", type=float, default=40)
    ap.add_argument("--slow-ms", type=float, default=1500)
    ap.add_argument("--slow-share", type=float, default=0.03)
    a = ap.parse_args()
    seeds = [dict(s, response=s.get("response") or "An answer that came with the seed.")
             for s in load_seeds("bundled").records[: a.seeds]]
    latency = SkewedLatency(a.fast_ms / 1000, a.slow_ms / 1000, a.slow_share)
    servers = [StubServer(logprobs=not_equal_logprobs, on_request=latency) for _ in range(a.servers)]
    urls = ",".join(s.url for s in servers)
    try:
        phased_s, phased = one_round(urls, seeds, a.concurrency, pipeline=False)
        n, busy_s = sum(len(s.requests) for s in servers), latency.total_s
        pipelined_s, pipelined = one_round(urls, seeds, a.concurrency, pipeline=True)
    finally:
        for s in servers:
            s.close()
    identical = [json.dumps(r) for r in phased] == [json.dumps(r) for r in pipelined]
    print(f"{len(seeds)} seeds, 1 round, {a.servers} servers x {a.concurrency} in flight, "
          f"{n} requests per run ({a.slow_share:.0%} take {a.slow_ms:.0f} ms, the rest {a.fast_ms:.0f} ms)")
    print(f"phase by phase  {phased_s:6.2f} s")
    print(f"pipelined       {pipelined_s:6.2f} s")
    # no schedule beats the servers' summed latency spread over every slot, nor the longest attempt
    spread_s, longest_s = busy_s / (a.servers * a.concurrency), longest_attempt_s(phased, latency)
    print(f"bound           {max(spread_s, longest_s):6.2f} s  (summed latency / slots {spread_s:.2f} s, "
          f"longest attempt {longest_s:.2f} s)")
    print(f"phased_s={phased_s:.2f} pipelined_s={pipelined_s:.2f} speedup={phased_s / pipelined_s:.2f} "
          f"requests={n} identical={identical}")


if __name__ == "__main__":
    main()
