"""The paper's shape through a stub server: 52K seeds x M = 4 rounds, then 03, 04, 05 and 07.

`python bench/scale.py --paper [--scale F]` runs it (F shrinks the seed count; 1 = 52K).
The stub (bench/paper_stub.py, its own asyncio process) answers every prompt kind the stages
send after latency +- jitter, with occasional 429s and 500s. 06_finetune is skipped (no model
to train through a server). Params: run.model = the stub; evolve.rounds 4; 04 with ifd off
(IFD needs a local model's losses) and its judge through the stub; 05 as by default except
its embedder (bench/paper_embedder.py says why, and the bench prints MiniLM's measured cost);
07 on the bundled eval set (80 items): candidates stub-a and stub-b on the same stub, judged
by run.model. Three runs of `workbench run`, each with a fresh cache:
  C  one tenth of the seeds: the same figures, and each stage's time ratio A / C
  A  uninterrupted; per stage: wall (manifest seconds), calls the stub answered, ideal =
     that stage's summed stub latency / concurrency, overhead per call = (wall - ideal) /
     calls (05's also holds its per-row CPU work: embedding, neighbour scan, equal-n), and
     the marginal overhead from C to A (paper_figures.py); peak RSS of the process tree while
     the stage ran; below full size, each stage's wall and peak projected to 52K seeds
  B  SIGKILLed (whole tree) halfway through round 3 (by A's count of answered requests at
     each round's first evolution), then `workbench run --resume`: every stage's data files
     compared with A's, and requests answered before the kill and asked again counted
     (beside the calls answered but not yet in the cache at the kill: those in flight).
Last line: items=… rounds=… wall_s=… overhead_ms_per_call=… peak_rss_gib=… max_time_ratio=…
resumed_identical=… repeated_calls=…   (A's figures; ratio and overhead over the stages that called)

Latency 40 +- 15 ms at concurrency 96: 02 is bound by the client's CPU (~1 ms of wall per call
on 2 cores), so a lower latency or more threads did not shorten it (measured at --scale 0.05:
20 ms at 128 took 43 s where 40 ms at 96 took 37 s). Small runs project the whole --paper
bench at about an hour on a quiet 2-core machine; 05 grows faster than linearly above 50K rows.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from paper_figures import (
    GIB,
    STAGES,
    overall_overhead_ms,
    print_table,
    projected,
    stage_digests,
    stage_figures,
    stage_rss_bytes,
    uptime_ticks,
)
from paper_stub import seed_instruction
from scale import REPO, descendants, stub_call

PAPER_SEEDS, ROUNDS, EVAL_N = 52_000, 4, 80
BENCH = Path(__file__).resolve().parent


def start_stub(work: Path, args) -> tuple[subprocess.Popen, str]:
    port_file = work / "port"
    stub = subprocess.Popen([sys.executable, str(BENCH / "paper_stub.py"), str(port_file),
                             "--latency-ms", str(args.latency_ms), "--jitter-ms", str(args.jitter_ms),
                             "--p429", str(args.p429), "--p500", str(args.p500)])
    while not port_file.exists() or not port_file.read_text():
        if stub.poll() is not None:
            sys.exit("the stub server did not start")
        time.sleep(0.05)
    return stub, f"http://127.0.0.1:{port_file.read_text()}/v1"


def write_params(work: Path, name: str, n: int, url: str, args, embedder: Path) -> Path:
    rng = random.Random(1)
    seeds = work / f"seeds_{name}.jsonl"
    with seeds.open("w") as f:  # no answers: 02 answers the seeds through the stub, as the paper did
        for i in range(n):
            f.write(json.dumps({"instruction": seed_instruction(rng.getrandbits(32), i)}) + "\n")
    stub = url.rsplit("/v1", 1)[0] + "/v1"
    params = {"run": {"name": name, "seed": 0, "model": f"openai:stub@{stub}", "max_concurrency": args.concurrency,
                      "max_retries": 8, "request_timeout": 30.0},
              "seed": {"source": str(seeds), "n": 0},
              "evolve": {"rounds": ROUNDS},
              "difficulty": {"ifd": False},
              "diversity": {"embed_model": str(embedder)},
              "evaluate": {"n": EVAL_N, "candidates": [f"openai:stub-a@{stub}", f"openai:stub-b@{stub}"],
                           "pairs": [[f"openai:stub-a@{stub}", f"openai:stub-b@{stub}"]]}}
    path = work / f"params_{name}.yaml"
    path.write_text(json.dumps(params))  # JSON is YAML
    return path


def kill_tree(root: int) -> None:
    for pid in [root, *descendants(root)]:  # the kernel may sit in its own session
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def workbench(cmd: list[str], url: str, until=None) -> dict:
    """Run `workbench ...`, telling the stub which stage runs (from the runner's "[stage] running"
    lines) and sampling the tree's RSS per stage. `until()` true = SIGKILL the tree."""
    t0, peak, now = time.perf_counter(), {}, {"stage": "-", "since": uptime_ticks()}
    proc = subprocess.Popen([str(REPO / ".venv/bin/workbench"), *cmd], cwd=REPO, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    err: list[str] = []

    def follow():
        for line in proc.stdout:
            if m := re.search(r"\[(\d\d_\w+)\] running", line):
                now.update(stage=m.group(1), since=uptime_ticks())
                stub_call(url, f"/stage/{m.group(1)}", post=True)

    threads = [threading.Thread(target=follow, daemon=True),
               threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)]
    for t in threads:
        t.start()
    killed = False
    while proc.poll() is None:
        stage, since = now["stage"], now["since"]
        peak[stage] = max(peak.get(stage, 0), stage_rss_bytes(proc.pid, since))
        if until is not None and until():
            kill_tree(proc.pid)
            proc.wait()
            killed = True
            break
        time.sleep(0.25)
    for t in threads:
        t.join(timeout=5)
    if not killed and proc.returncode != 0:
        sys.exit(f"workbench {' '.join(cmd)} failed ({proc.returncode}):\n{''.join(err)[-3000:]}")
    return {"wall": time.perf_counter() - t0, "peak": peak, "killed": killed}


def cached_rows(outputs: Path) -> int:
    with sqlite3.connect(outputs / "cache" / "responses.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]


def full_run(work: Path, name: str, params: Path, url: str, args) -> tuple[Path, dict, float]:
    stub_call(url, "/epoch", post=True)
    res = workbench(["run", str(params), "--stages", ",".join(STAGES), "--outputs", str(work / name)], url)
    stub = stub_call(url, "/stats")
    run_dir = next((work / name / "runs").iterdir())
    return run_dir, dict(stub, figures=stage_figures(run_dir, stub, res["peak"], args.concurrency)), res["wall"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paper", action="store_true", help="(accepted: bench/scale.py passes it on)")
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the paper's 52K seeds")
    ap.add_argument("--concurrency", type=int, default=96)
    ap.add_argument("--latency-ms", type=float, default=40)
    ap.add_argument("--jitter-ms", type=float, default=15)
    ap.add_argument("--p429", type=float, default=0.002)
    ap.add_argument("--p500", type=float, default=0.001)
    ap.add_argument("--work", default="/tmp/workbench-scale-paper")
    args = ap.parse_args(argv)
    n, t_start = max(20, round(PAPER_SEEDS * args.scale)), time.perf_counter()
    tenth = max(2, round(n / 10))
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    embedder = work.parent / "workbench-scale-static-minilm"  # built once, kept between benches
    if not (embedder / "modules.json").exists():
        subprocess.run([str(REPO / ".venv/bin/python"), str(BENCH / "paper_embedder.py"), "build", str(embedder)],
                       check=True, stderr=subprocess.DEVNULL)
    stub, url = start_stub(work, args)
    try:
        print(f"paper shape: {n} seeds x {ROUNDS} rounds (scale {args.scale}), tenth {tenth} seeds; stages "
              f"{','.join(STAGES)} (06_finetune skipped); 07 on {EVAL_N} eval items")
        print(f"stub: latency {args.latency_ms:.0f} +- {args.jitter_ms:.0f} ms, 429 {args.p429:.1%}, 500 {args.p500:.1%}; "
              f"concurrency {args.concurrency}; 05 embeds with a static MiniLM (bench/paper_embedder.py)")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  cpus: {os.cpu_count()}")

        run_c, c, wall_c = full_run(work, "C", write_params(work, "tenth", tenth, url, args, embedder), url, args)
        print_table(f"run C (tenth, {tenth} seeds): wall {wall_c:.1f}s", c["figures"])
        minilm = json.loads(subprocess.run(
            [str(REPO / ".venv/bin/python"), str(BENCH / "paper_embedder.py"), "measure", str(run_c),
             "--static", str(embedder)], check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])

        params = write_params(work, "paper", n, url, args, embedder)  # A and B: the same params
        run_a, a, wall_a = full_run(work, "A", params, url, args)
        ratios = {s: a["figures"][s]["wall"] / max(c["figures"][s]["wall"], 1e-9) for s in STAGES}
        print_table(f"run A ({n} seeds): wall {wall_a:.1f}s; ratio = stage wall A / C; marg_ms = overhead per "
                    "call from C to A", a["figures"], c["figures"])
        rows_05 = json.loads((run_a / "05_diversity" / "stats.json").read_text())["rows"]
        per_row = 1 / minilm["minilm_instruction_rows_per_s"] + 1 / minilm["minilm_conversation_rows_per_s"]
        print(f"05 embedder: MiniLM {minilm['minilm_instruction_rows_per_s']:.0f} instructions/s and "
              f"{minilm['minilm_conversation_rows_per_s']:.0f} conversations/s ({per_row * 1000:.1f} ms per row, "
              f"both texts); the static one {minilm['static_instruction_rows_per_s']:.0f} and "
              f"{minilm['static_conversation_rows_per_s']:.0f}/s. With MiniLM, 05 of run A would take about "
              f"{rows_05 * per_row:.0f}s more ({rows_05} rows), {rows_05 * per_row * PAPER_SEEDS / n:.0f}s at 52K seeds")
        if n < PAPER_SEEDS:
            full, fig_a, fig_c = projected, a["figures"], c["figures"]
            walls, peaks = full(fig_a, fig_c, n, tenth, PAPER_SEEDS), full(fig_a, fig_c, n, tenth, PAPER_SEEDS, "peak")
            bench_s = sum(full(fig_a, fig_c, n, tenth, PAPER_SEEDS // 10).values()) + 2 * sum(walls.values())
            print("projected for --paper (each stage on the line through C and A; one that is not linear takes "
                  "longer): " + ", ".join(f"{s} {walls[s]:.0f}s {peaks[s] / GIB:.1f}GiB" for s in STAGES)
                  + f"; run A {sum(walls.values()):.0f}s, whole bench (C + A + B, B ~ A) {bench_s:.0f}s")

        starts = a["round_starts"]  # answered requests when each round's first evolution came in
        if len(starts) >= 4:
            target, how = starts[2] + (starts[3] - starts[2]) // 2, "halfway through round 3"
        else:
            target, how = int(a["figures"]["02_evolve"]["calls"] * 0.625), "at 62.5% of 02's calls (rounds not seen)"
        stub_call(url, "/epoch", post=True)
        res_b = workbench(["run", str(params), "--stages", ",".join(STAGES), "--outputs", str(work / "B")], url,
                          until=lambda: stub_call(url, "/stats")["total"]["ok"] >= target)
        time.sleep(2 * (args.latency_ms + args.jitter_ms) / 1000 + 0.5)  # the stub finishes what was in flight
        before = stub_call(url, "/stats")["total"]
        lost = before["ok"] - cached_rows(work / "B")
        run_b = next((work / "B" / "runs").iterdir())
        stub_call(url, "/epoch", post=True)
        resumed = workbench(["run", "--resume", str(run_b)], url)
        after = stub_call(url, "/stats")["total"]
        da, db = stage_digests(run_a), stage_digests(run_b)
        identical = res_b["killed"] and da == db
        print(f"\nrun B: killed={res_b['killed']} {how} (round starts at {starts} answered requests in A) after "
              f"{before['ok']} answered calls, {lost} of them not yet cached (in flight at the kill); resume made "
              f"{after['ok']} calls, repeated_calls={after['repeated']} (answered before the kill, asked again)")
        print("records A vs B: " + ", ".join(f"{s} {'same' if da[s] == db[s] else 'DIFFERENT'}" for s in STAGES))
        peak = max(f["peak"] for f in a["figures"].values())
        print(f"bench wall {time.perf_counter() - t_start:.0f}s (runs C {wall_c:.0f}s, A {wall_a:.0f}s, "
              f"B {res_b['wall']:.0f}s + resume {resumed['wall']:.0f}s)")
        print(f"items={n} rounds={ROUNDS} wall_s={wall_a:.1f} overhead_ms_per_call={overall_overhead_ms(a['figures']):.2f} "
              f"peak_rss_gib={peak / GIB:.2f} max_time_ratio={max(ratios.values()):.2f} "
              f"resumed_identical={identical} repeated_calls={after['repeated']}")
    finally:
        stub.terminate()


if __name__ == "__main__":
    main()
