"""What bench/scale_paper.py measures and prints: per-stage figures, RSS per stage, digests, projection.

Overhead per call of a stage = (its wall - ideal) / calls, ideal = the stub latency summed over
the stage's requests / concurrency: what a client that never waits on itself would take. A
stage's wall also holds fixed costs (kernel start, imports, figures: 5-20 s each), which a
small run cannot amortise, so the bench also prints the marginal overhead, the slope between
the tenth run C and the run A: ((wall - ideal)_A - (wall - ideal)_C) / (calls_A - calls_C).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

STAGES = ("01_seed", "02_evolve", "03_filter", "04_difficulty", "05_diversity", "07_evaluate")
GIB = 2**30
PAGE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def uptime_ticks() -> float:
    """Now, in the clock ticks since boot that /proc/<pid>/stat's start times are counted in."""
    return float(Path("/proc/uptime").read_text().split()[0]) * CLOCK_TICKS


def stage_rss_bytes(root: int, since_ticks: float) -> int:
    """RSS of the workbench process and of its descendants started since the stage began: the
    kernel of the stage before, still shutting down, is not the running stage's memory."""
    procs: dict[int, tuple[int, int, int]] = {}  # pid -> (parent, start ticks, rss pages)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            f = stat.read_text().rsplit(")", 1)[1].split()
            procs[int(stat.parent.name)] = (int(f[1]), int(f[19]), int(f[21]))
        except (OSError, IndexError, ValueError):
            continue
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in procs.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        _, start, rss = procs.get(pid, (0, 0, 0))
        if pid == root or start >= since_ticks - 1:
            total += rss * PAGE
    return total


def stage_figures(run_dir: Path, stub: dict, peak: dict, concurrency: int) -> dict:
    """Per stage: wall (manifest seconds), calls the stub answered, faults, llm calls and cache
    hits (stats.json), ideal, overhead per call, peak RSS, calls by prompt kind."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    out = {}
    for stage in STAGES:
        seconds = manifest["stages"][stage]["seconds"]
        s = stub["stages"].get(stage, {})
        stats_file = run_dir / stage / "stats.json"
        llm = (json.loads(stats_file.read_text()).get("llm") or []) if stats_file.exists() else []
        calls, ideal = s.get("ok", 0), s.get("latency_sum", 0.0) / concurrency
        out[stage] = {"wall": seconds, "calls": calls, "faults": s.get("faults", 0), "ideal": ideal,
                      "llm_calls": sum(g.get("calls", 0) for g in llm),
                      "cache_hits": sum(g.get("cache_hits", 0) for g in llm),
                      "overhead_ms": (seconds - ideal) / calls * 1000 if calls else None,
                      "peak": peak.get(stage, 0), "kinds": {k[5:]: v for k, v in s.items() if k.startswith("kind_")}}
    return out


def marginal_ms(a: dict, c: dict) -> float | None:
    """Overhead per extra call from the tenth run c to the run a (fixed costs cancel)."""
    extra = a["calls"] - c["calls"]
    if extra <= 0:
        return None
    return ((a["wall"] - a["ideal"]) - (c["wall"] - c["ideal"])) / extra * 1000


def print_table(title: str, figs: dict, tenth: dict | None = None) -> None:
    """One row per stage; against the tenth run: the time ratio and the marginal overhead."""
    print(f"\n{title}")
    print(f"  {'stage':<14}{'wall_s':>8}{'calls':>9}{'llm':>9}{'faults':>7}{'ideal_s':>8}{'ovh_ms':>8}"
          f"{'marg_ms':>8}{'peak_gib':>9}{'ratio':>7}  calls by kind")
    for stage, f in figs.items():
        ovh = f"{f['overhead_ms']:.2f}" if f["overhead_ms"] is not None else "-"
        marg = marginal_ms(f, tenth[stage]) if tenth else None
        ratio = f"{f['wall'] / max(tenth[stage]['wall'], 1e-9):.2f}" if tenth else ""
        kinds = " ".join(f"{k}={v}" for k, v in sorted(f["kinds"].items()))
        print(f"  {stage:<14}{f['wall']:>8.1f}{f['calls']:>9}{f['llm_calls']:>9}{f['faults']:>7}{f['ideal']:>8.1f}"
              f"{ovh:>8}{(f'{marg:.2f}' if marg is not None else '-'):>8}{f['peak'] / GIB:>9.2f}{ratio:>7}  {kinds}")


def overall_overhead_ms(figs: dict) -> float:
    """(wall - ideal) over every stage that called the stub, per call: the figure of the last line."""
    used = [f for f in figs.values() if f["calls"]]
    return sum(f["wall"] - f["ideal"] for f in used) / sum(f["calls"] for f in used) * 1000


def projected(a: dict, c: dict, n_a: int, n_c: int, n_full: int, key: str = "wall") -> dict[str, float]:
    """Each stage's figure (wall or peak) at n_full seeds, on the line through (n_c, C) and (n_a, A),
    and never below the smaller of the two (07 has a fixed size: noise around a constant): a
    guess that holds where a stage is linear, and says too little where it is not (05's
    neighbour scan is quadratic above 50K rows)."""
    line = {s: a[s][key] + (a[s][key] - c[s][key]) / (n_a - n_c) * (n_full - n_a) for s in STAGES}
    return {s: max(v, min(a[s][key], c[s][key])) for s, v in line.items()}


def stage_digests(run_dir: Path) -> dict[str, str]:
    """sha256 per stage of its data files: not stats.json (timings), figures or the notebook."""
    out = {}
    for stage in STAGES:
        h = hashlib.sha256()
        for p in sorted((run_dir / stage).rglob("*")):
            if (p.is_file() and p.suffix in (".jsonl", ".json", ".npy") and p.name != "stats.json"
                    and not p.name.startswith(".") and "figures" not in p.relative_to(run_dir).parts):
                h.update(p.relative_to(run_dir).as_posix().encode())
                with p.open("rb") as f:
                    while chunk := f.read(1 << 22):
                        h.update(chunk)
        out[stage] = h.hexdigest()
    return out
