"""Memory and time of 03_filter's near-duplicate pass over kept rows of 400-character
instructions, before and after kept rows were remembered by 64-bit shingle digests (issue 23).

"before" is the old FilterState, kept here only to measure it: it held every kept row's
5-gram shingles as a set of Python strings, and LSH buckets keyed by the band's bytes. Each
implementation runs in its own process, so the peak RSS of one does not hide the other's:
growth = peak RSS during the pass - RSS before it (the rows themselves are built before).
Both must drop the same rows (the texts include a few near duplicates across lineages).

    python bench/filter_memory.py [--rows 20000,100000] [--old-max 20000] [--chars 400]
Last line: rows=… before_gib=… after_gib=… before_kib_per_row=… after_kib_per_row=…
           before_s=… after_s=… same_decisions=…   (the largest size both ran at)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workbench.core import rules as R  # noqa: E402
from workbench.core.records import new_seed  # noqa: E402
from workbench.stages.filter import filters as F  # noqa: E402
from workbench.stages.filter import rules as _registers  # noqa: E402,F401
from workbench.stages.filter.stage import Config  # noqa: E402


class OldMinHashLSH(F.MinHashLSH):
    """The buckets before issue 23: a list of keys per band, keyed by the band's bytes."""

    def __init__(self, threshold: float):
        super().__init__(threshold)
        self.tables: list[dict] = [defaultdict(list) for _ in range(self.bands)]

    def _buckets(self, sig):
        return ((table, sig[band * self.rows:(band + 1) * self.rows].tobytes()) for band, table in enumerate(self.tables))

    def query(self, sig) -> set:
        return {key for table, bucket in self._buckets(sig) for key in table.get(bucket, ())}

    def insert(self, key, sig) -> None:
        for table, bucket in self._buckets(sig):
            table[bucket].append(key)


class OldFilterState(F.FilterState):
    """The near-duplicate memory before issue 23: every kept row's shingle strings (for timing
    and memory only; the rules and their order are the current ones)."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.lsh = OldMinHashLSH(self.threshold)
        self.shingles: dict = {}  # row id -> (shingle strings, MinHash signature)
        self.root_of: dict = {}

    def near_duplicate_of(self, row):
        sh, sig = self._shingled(row)
        for other in sorted(self.lsh.query(sig)):
            if self.root_of[other] == row.get("root_id"):
                continue
            j = F.jaccard(sh, self.shingles[other][0])
            if j >= self.threshold:
                return other, j
        return None

    def _shingled(self, row):
        if row["id"] not in self.shingles:
            sh = F.shingles(F.norm_text(row))
            self.shingles[row["id"]] = sh, self.lsh.signature(sh)
        return self.shingles[row["id"]]

    def remember(self, row):
        self.exact.setdefault(F.norm_text(row), row["id"])
        self.root_of[row["id"]] = row["root_id"]
        self.lsh.insert(row["id"], self._shingled(row)[1])

    def forget(self, row):
        self.shingles.pop(row["id"], None)


def instructions(n: int, chars: int, seed: int = 0) -> list[dict]:
    """n seeds of about `chars` characters of words drawn from a 5000-word vocabulary; one in
    fifty repeats an earlier text with two words changed (a near duplicate of another lineage)."""
    rnd = random.Random(seed)
    vocab = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(3, 9))) for _ in range(5000)]
    texts: list[str] = []
    for i in range(n):
        if i and i % 50 == 0:
            words = texts[rnd.randrange(len(texts))].split()
            for _ in range(2):
                words[rnd.randrange(len(words))] = rnd.choice(vocab)
        else:
            words = []
            while sum(len(w) + 1 for w in words) < chars:
                words.append(rnd.choice(vocab))
        texts.append(" ".join(words))
    return [dict(new_seed(t), response="An answer of a few words.") for t in texts]


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run_one(impl: str, n: int, chars: int) -> dict:
    rows = instructions(n, chars)
    cfg = Config(rules=("exact_duplicate", "near_duplicate"))
    state = OldFilterState(cfg) if impl == "before" else F.FilterState(cfg)
    applied = R.applied("filter", cfg.rules)
    try:  # reset the peak RSS to now, so the peak below is the pass's own
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    before = rss_kib()
    t0 = time.perf_counter()
    dropped = []
    for row in sorted(rows, key=lambda r: (r["round"], r["id"])):  # filter_dataset's loop
        verdict = R.first_drop(applied, row, state)
        if verdict is None:
            state.remember(row)
        else:
            dropped.append([row["id"], verdict.detail])
            if impl == "before":
                state.forget(row)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    kept = n - len(dropped)
    return {"impl": impl, "rows": n, "kept": kept, "seconds": seconds, "growth_kib": peak - before,
            "decisions": hashlib.sha256(json.dumps(sorted(dropped)).encode()).hexdigest()[:16],
            "dropped": len(dropped)}


def in_child(impl: str, n: int, chars: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", impl, "--rows", str(n), "--chars", str(chars)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="20000")
    ap.add_argument("--old-max", type=int, default=20000, help="largest size the old implementation runs at")
    ap.add_argument("--chars", type=int, default=400)
    ap.add_argument("--child", choices=["before", "after"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, int(args.rows), args.chars)))
        return
    both = None
    for n in (int(s) for s in args.rows.split(",")):
        res = {impl: in_child(impl, n, args.chars) for impl in ("before", "after")
               if impl == "after" or n <= args.old_max}
        for r in res.values():
            print(f"{r['impl']:>6} rows={n:>7} kept={r['kept']:>7} dropped={r['dropped']:>5} "
                  f"growth={r['growth_kib'] / 2**20:6.3f} GiB ({r['growth_kib'] / r['kept']:5.1f} KiB/kept row) "
                  f"time={r['seconds']:6.1f} s decisions={r['decisions']}", flush=True)
        if "before" in res:
            both = res
    if both is None:
        print("the old implementation ran at no size (--old-max)")
        return
    b, a = both["before"], both["after"]
    print(f"rows={a['rows']} before_gib={b['growth_kib'] / 2**20:.3f} after_gib={a['growth_kib'] / 2**20:.3f} "
          f"before_kib_per_row={b['growth_kib'] / b['kept']:.1f} after_kib_per_row={a['growth_kib'] / a['kept']:.1f} "
          f"before_s={b['seconds']:.1f} after_s={a['seconds']:.1f} same_decisions={b['decisions'] == a['decisions']}")


if __name__ == "__main__":
    main()
