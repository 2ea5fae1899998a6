"""Post-hoc cleaning of an evolved dataset: the filter rules of workbench/core/rules.py, applied
in its order (length bounds in words, contamination, exact, then near duplicates), each row
kept or dropped with the first rule's reason. This module holds their machinery: MinHash +
LSH for near duplicates (candidates checked exactly), word n-grams for contamination.

Rows are visited seeds first, then by round, so the earliest member of a duplicate group
is the one that stays.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict

import numpy as np

from workbench.core import rules as R

_PRIME = (1 << 31) - 1  # a*h + b stays below 2^63, so uint64 arithmetic never overflows


def norm_text(rec: dict) -> str:
    text = rec["instruction"] + " " + (rec.get("input") or "")
    return " ".join(re.findall(r"\w+", text.lower()))


def shingles(text: str, k: int = 5) -> set[str]:
    return {text[i:i + k] for i in range(max(1, len(text) - k + 1))}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


class MinHashLSH:
    """Candidate pairs for Jaccard >= threshold without comparing all n^2 pairs.

    num_perm hash functions split into bands; two sets become candidates when every value
    in some band agrees. Candidates are then checked exactly, so LSH only saves time.
    """

    def __init__(self, threshold: float, num_perm: int = 128, seed: int = 0):
        self.bands, self.rows = self._bands(threshold, num_perm)
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, _PRIME, size=num_perm, dtype=np.uint64)
        self.b = rng.integers(0, _PRIME, size=num_perm, dtype=np.uint64)
        self.tables: list[dict] = [defaultdict(list) for _ in range(self.bands)]

    @staticmethod
    def _bands(threshold: float, num_perm: int) -> tuple[int, int]:
        # pick (bands, rows) whose S-curve midpoint (1/b)^(1/r) sits a little below the threshold
        best = min(((b, num_perm // b) for b in range(1, num_perm + 1) if num_perm % b == 0),
                   key=lambda br: abs((1 / br[0]) ** (1 / br[1]) - (threshold - 0.1)))
        return best

    def signature(self, items: set[str]) -> np.ndarray:
        hs = np.array([int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big") % _PRIME
                       for s in items], dtype=np.uint64)
        vals = (self.a[:, None] * hs[None, :] + self.b[:, None]) % np.uint64(_PRIME)
        return vals.min(axis=1)

    def _buckets(self, sig: np.ndarray):
        return ((table, sig[band * self.rows:(band + 1) * self.rows].tobytes()) for band, table in enumerate(self.tables))

    def query(self, sig: np.ndarray) -> set:
        """Keys inserted before that share a band with this signature."""
        return {key for table, bucket in self._buckets(sig) for key in table.get(bucket, ())}

    def insert(self, key, sig: np.ndarray) -> None:
        for table, bucket in self._buckets(sig):
            table[bucket].append(key)

    def query_insert(self, key, items: set[str]) -> set:
        sig = self.signature(items)
        found = self.query(sig)
        self.insert(key, sig)
        return found


def word_ngrams(text: str, n: int) -> set[tuple]:
    ws = re.findall(r"\w+", text.lower())
    return {tuple(ws[i:i + n]) for i in range(len(ws) - n + 1)}


class FilterState:
    """What the filter rules (workbench/core/rules.py) look at besides the row: the length bounds,
    the eval set's n-grams and the rows kept so far. Only kept rows are remembered, so a row is
    never dropped as a duplicate of a row that is not in the output."""

    def __init__(self, cfg, eval_texts: list[str] | None = None):
        self.min_instruction_words, self.max_instruction_words = cfg.min_instruction_words, cfg.max_instruction_words
        self.min_response_words, self.max_response_words = cfg.min_response_words, cfg.max_response_words
        self.ngram, self.threshold = cfg.decontam_ngram, cfg.near_dup_threshold
        self.eval_grams: dict[tuple, int] = {}
        for i, t in enumerate(eval_texts or []):
            for g in word_ngrams(t, self.ngram):
                self.eval_grams.setdefault(g, i)
        self.lsh = MinHashLSH(self.threshold) if "near_duplicate" in cfg.rules else None
        self.exact: dict[str, str] = {}  # normalised text -> id of the kept row
        self.shingles: dict[str, tuple[set, np.ndarray]] = {}  # row id -> (shingles, MinHash signature)
        self.root_of: dict[str, str] = {}  # kept row id -> its lineage

    def eval_overlap(self, row: dict) -> tuple[int, tuple] | None:
        """(eval item index, shared n-gram) of the first n-gram the row shares with the eval set."""
        grams = word_ngrams(row["instruction"] + " " + (row.get("input") or ""), self.ngram) if self.eval_grams else ()
        hit = next((g for g in grams if g in self.eval_grams), None)
        return (self.eval_grams[hit], hit) if hit else None

    def exact_duplicate_of(self, row: dict) -> str | None:
        return self.exact.get(norm_text(row))

    def near_duplicate_of(self, row: dict) -> tuple[str, float] | None:
        """(id, Jaccard) of a kept row of ANOTHER lineage this close: a child that adds ten words
        to its parent is the evolution the paper keeps, not a duplicate of it."""
        sh, sig = self._shingled(row)
        for other in sorted(self.lsh.query(sig)):
            if self.root_of[other] == row.get("root_id"):
                continue  # its own lineage: evolution, not duplication
            j = jaccard(sh, self.shingles[other][0])
            if j >= self.threshold:
                return other, j
        return None

    def _shingled(self, row: dict) -> tuple[set, np.ndarray]:
        if row["id"] not in self.shingles:
            sh = shingles(norm_text(row))
            self.shingles[row["id"]] = sh, self.lsh.signature(sh)
        return self.shingles[row["id"]]

    def remember(self, row: dict) -> None:
        """A kept row: later rows are compared with it."""
        self.exact.setdefault(norm_text(row), row["id"])
        if self.lsh is not None:
            self.root_of[row["id"]] = row["root_id"]
            self.lsh.insert(row["id"], self._shingled(row)[1])


def filter_dataset(rows: list[dict], cfg, eval_texts: list[str] | None = None):
    """-> (kept rows in their original order, dropped rows each with drop_reason and drop_detail).

    `cfg` is the 03_filter Config (workbench/stages/filter/stage.py): its `rules` and thresholds."""
    state = FilterState(cfg, eval_texts)
    applied = R.applied("filter", cfg.rules)
    verdict: dict[int, R.Verdict | None] = {}
    for i in sorted(range(len(rows)), key=lambda i: (rows[i]["round"], rows[i]["id"])):
        verdict[i] = R.first_drop(applied, rows[i], state)
        if verdict[i] is None:
            state.remember(rows[i])
        else:
            state.shingles.pop(rows[i]["id"], None)  # only kept rows are compared with later ones
    kept = [rows[i] for i in range(len(rows)) if verdict[i] is None]
    dropped = [dict(rows[i], drop_reason=verdict[i].reason, drop_detail=verdict[i].detail)
               for i in range(len(rows)) if verdict[i] is not None]
    return kept, dropped
