"""Post-hoc cleaning of an evolved dataset: the filter rules of workbench/core/rules.py, applied
in its order (length bounds in words, contamination, exact, then near duplicates), each row
kept or dropped with the first rule's reason. This module holds their machinery: MinHash +
LSH for near duplicates (candidates checked by exact Jaccard over 64-bit shingle digests, a
few KiB per kept row), word n-grams for contamination.

Rows are visited seeds first, then by round, so the earliest member of a duplicate group
is the one that stays.
"""

from __future__ import annotations

import hashlib
import re
from array import array

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


def shingle_hashes(items: set[str]) -> np.ndarray:
    """Sorted 64-bit blake2b digests of the shingles (the same in every process, unlike hash()).

    A kept row is remembered by these 8 bytes per shingle instead of a set of Python strings
    (about 60 KiB for a 400-character instruction). Two different shingles share a digest with
    probability 2^-64: for two rows of 400 shingles some pair collides with probability about
    400^2 / 2^64 = 1e-14, so over a million compared pairs hashed_jaccard() equals jaccard()
    over the strings themselves, and the kept/dropped decisions are those of the strings."""
    digests = b"".join(hashlib.blake2b(s.encode(), digest_size=8).digest() for s in items)
    return np.unique(np.frombuffer(digests, dtype=">u8").astype(np.uint64))


def hashed_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """jaccard() over two shingle_hashes() arrays (sorted, distinct): a binary search of each
    digest of a in b, in numpy."""
    at = np.minimum(np.searchsorted(b, a), len(b) - 1)
    shared = int(np.count_nonzero(b[at] == a)) if len(b) else 0
    union = len(a) + len(b) - shared
    return shared / union if union else 1.0


class MinHashLSH:
    """Candidate pairs for Jaccard >= threshold without comparing all n^2 pairs.

    num_perm hash functions split into bands; two sets become candidates when every value
    in some band agrees. Candidates are then checked exactly, so LSH only saves time.
    A band is stored as a 64-bit digest of its values, each bucket as the newest key's insert
    number with a per-band int32 chain to the older ones: about 90 bytes per band and row,
    where a list per bucket keyed by the band's 64 bytes took about 230.
    """

    def __init__(self, threshold: float, num_perm: int = 128, seed: int = 0):
        self.bands, self.rows = self._bands(threshold, num_perm)
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, _PRIME, size=num_perm, dtype=np.uint64)
        self.b = rng.integers(0, _PRIME, size=num_perm, dtype=np.uint64)
        self.keys: list = []  # insert number -> key
        self.newest: list[dict[int, int]] = [{} for _ in range(self.bands)]  # band digest -> insert number
        self.older: list[array] = [array("i") for _ in range(self.bands)]  # insert number -> older one or -1

    @staticmethod
    def _bands(threshold: float, num_perm: int) -> tuple[int, int]:
        # pick (bands, rows) whose S-curve midpoint (1/b)^(1/r) sits a little below the threshold
        best = min(((b, num_perm // b) for b in range(1, num_perm + 1) if num_perm % b == 0),
                   key=lambda br: abs((1 / br[0]) ** (1 / br[1]) - (threshold - 0.1)))
        return best

    def signature(self, items: set[str]) -> np.ndarray:
        return self.signature_of_hashes(shingle_hashes(items))

    def signature_of_hashes(self, hashes: np.ndarray) -> np.ndarray:
        """(a * h + b) mod p per permutation, minimised over the shingles; in place, as the
        num_perm x shingles matrix is the costliest array of the filter."""
        vals = self.a[:, None] * (hashes % np.uint64(_PRIME))
        vals += self.b[:, None]
        vals %= np.uint64(_PRIME)
        return vals.min(axis=1)

    def _band_digests(self, sig: np.ndarray) -> list[int]:
        # two different bands share a digest with probability 2^-64: an extra candidate, which
        # the exact Jaccard check would still have to pass
        return [int.from_bytes(hashlib.blake2b(band.tobytes(), digest_size=8).digest(), "little")
                for band in sig.reshape(self.bands, self.rows)]

    def query(self, sig: np.ndarray) -> set:
        """Keys inserted before that share a band with this signature."""
        found = set()
        for newest, older, digest in zip(self.newest, self.older, self._band_digests(sig)):
            entry = newest.get(digest, -1)
            while entry >= 0:
                found.add(self.keys[entry])
                entry = older[entry]
        return found

    def insert(self, key, sig: np.ndarray) -> None:
        entry = len(self.keys)
        self.keys.append(key)
        for newest, older, digest in zip(self.newest, self.older, self._band_digests(sig)):
            older.append(newest.get(digest, -1))
            newest[digest] = entry

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
        self.kept_shingles: dict[str, tuple[str, np.ndarray]] = {}  # kept row id -> (its lineage, shingle_hashes)
        # the row being checked: near_duplicate_of hashes it, remember reuses that if it is kept
        self._current: tuple[str, np.ndarray, np.ndarray] | None = None

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
        hashes, sig = self._hashed(row)
        for other in sorted(self.lsh.query(sig)):
            root, other_hashes = self.kept_shingles[other]
            if root == row.get("root_id"):
                continue  # its own lineage: evolution, not duplication
            j = hashed_jaccard(hashes, other_hashes)
            if j >= self.threshold:
                return other, j
        return None

    def _hashed(self, row: dict) -> tuple[np.ndarray, np.ndarray]:
        """(shingle_hashes, MinHash signature) of the row's normalised text."""
        if self._current is None or self._current[0] != row["id"]:
            hashes = shingle_hashes(shingles(norm_text(row)))
            self._current = row["id"], hashes, self.lsh.signature_of_hashes(hashes)
        return self._current[1], self._current[2]

    def remember(self, row: dict) -> None:
        """A kept row: later rows are compared with it."""
        self.exact.setdefault(norm_text(row), row["id"])
        if self.lsh is not None:
            hashes, sig = self._hashed(row)
            self.kept_shingles[row["id"]] = row["root_id"], hashes
            self.lsh.insert(row["id"], sig)


def filter_dataset(rows: list[dict], cfg, eval_texts: list[str] | None = None):
    """-> (kept rows in their original order, dropped rows each with drop_reason and drop_detail).

    `cfg` is the 03_filter Config (workbench/stages/filter/stage.py): its `rules` and thresholds."""
    state = FilterState(cfg, eval_texts)
    applied = R.applied("filter", cfg.rules)
    verdict: dict[int, R.Verdict | None] = {}
    for i in sorted(range(len(rows)), key=lambda i: (rows[i]["round"], rows[i]["id"])):
        verdict[i] = R.first_drop(applied, rows[i], state)
        if verdict[i] is None:
            state.remember(rows[i])  # only kept rows are compared with later ones
    kept = [rows[i] for i in range(len(rows)) if verdict[i] is None]
    dropped = [dict(rows[i], drop_reason=verdict[i].reason, drop_detail=verdict[i].detail)
               for i in range(len(rows)) if verdict[i] is not None]
    return kept, dropped
