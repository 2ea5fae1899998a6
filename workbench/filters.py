"""Post-hoc cleaning of an evolved dataset: each filter says keep, or drop with a reason.

    exact_duplicate   same instruction + input after normalising case and spacing
    near_duplicate    character 5-gram Jaccard >= threshold (MinHash + LSH, then exact check)
                      against rows of OTHER lineages only: a child that adds ten words to its
                      parent is the evolution the paper keeps, not a duplicate of it
    too_short / too_long / response_too_short / response_too_long   length bounds in words
    contaminated      shares a word n-gram with an evaluation instruction

Rows are visited seeds first, then by round, so the earliest member of a duplicate group
is the one that stays.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

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

    def query_insert(self, key, items: set[str]) -> set:
        sig = self.signature(items)
        found = set()
        for band, table in enumerate(self.tables):
            bucket = sig[band * self.rows:(band + 1) * self.rows].tobytes()
            found.update(table[bucket])
            table[bucket].append(key)
        return found


@dataclass
class FilterConfig:
    dedup_exact: bool = True
    near_dup: bool = True
    near_dup_threshold: float = 0.8
    min_instruction_words: int = 3
    max_instruction_words: int = 400
    min_response_words: int = 1
    max_response_words: int = 2000
    decontaminate: bool = True
    decontam_ngram: int = 8


def word_ngrams(text: str, n: int) -> set[tuple]:
    ws = re.findall(r"\w+", text.lower())
    return {tuple(ws[i:i + n]) for i in range(len(ws) - n + 1)}


def filter_dataset(rows: list[dict], cfg: FilterConfig, eval_texts: list[str] | None = None):
    """-> (kept rows in their original order, dropped rows each with reason and detail)."""
    eval_grams: dict[tuple, int] = {}
    if cfg.decontaminate and eval_texts:
        for i, t in enumerate(eval_texts):
            for g in word_ngrams(t, cfg.decontam_ngram):
                eval_grams.setdefault(g, i)
    lsh = MinHashLSH(cfg.near_dup_threshold) if cfg.near_dup else None
    seen_exact: dict[str, str] = {}
    shingle_of: dict[str, set] = {}
    root_of: dict[str, str] = {}
    verdict: dict[int, tuple[str, str] | None] = {}
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["round"], rows[i]["id"]))
    for i in order:
        rec = rows[i]
        text = norm_text(rec)
        n_words = len(rec["instruction"].split()) + len((rec.get("input") or "").split())
        r_words = len((rec.get("response") or "").split())
        reason = None
        if n_words < cfg.min_instruction_words:
            reason = ("too_short", f"{n_words} words")
        elif n_words > cfg.max_instruction_words:
            reason = ("too_long", f"{n_words} words")
        elif r_words < cfg.min_response_words:
            reason = ("response_too_short", f"{r_words} words")
        elif r_words > cfg.max_response_words:
            reason = ("response_too_long", f"{r_words} words")
        elif eval_grams:
            hit = next((g for g in word_ngrams(rec["instruction"] + " " + (rec.get("input") or ""), cfg.decontam_ngram)
                        if g in eval_grams), None)
            if hit:
                reason = ("contaminated", f"eval item {eval_grams[hit]}: '{' '.join(hit)}'")
        if reason is None and cfg.dedup_exact:
            if text in seen_exact:
                reason = ("exact_duplicate", f"of {seen_exact[text]}")
            else:
                seen_exact[text] = rec["id"]
        if reason is None and lsh is not None:
            sh = shingles(text)
            for other in sorted(lsh.query_insert(rec["id"], sh)):
                if other not in root_of or root_of[other] == rec.get("root_id"):
                    continue  # a dropped row, or its own lineage: evolution, not duplication
                j = jaccard(sh, shingle_of[other])
                if j >= cfg.near_dup_threshold:
                    reason = ("near_duplicate", f"of {other} (jaccard {j:.2f})")
                    break
            if reason is None:
                shingle_of[rec["id"]] = sh
                root_of[rec["id"]] = rec["root_id"]
        verdict[i] = reason
    kept = [rows[i] for i in range(len(rows)) if verdict[i] is None]
    dropped = [dict(rows[i], drop_reason=verdict[i][0], drop_detail=verdict[i][1])
               for i in range(len(rows)) if verdict[i] is not None]
    return kept, dropped


def drop_stats(rows_in: int, kept: list[dict], dropped: list[dict]) -> dict:
    by_reason: dict[str, int] = defaultdict(int)
    by_reason_op_round: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for d in dropped:
        by_reason[d["drop_reason"]] += 1
        by_reason_op_round[d["drop_reason"]][d["op"] or "seed"][d["round"]] += 1
    return {
        "rows_in": rows_in, "kept": len(kept), "dropped": len(dropped),
        "dropped_by_reason": dict(by_reason),
        "by_reason_op_round": {r: {op: dict(c) for op, c in ops.items()} for r, ops in by_reason_op_round.items()},
        "kept_by_round": {str(k): v for k, v in sorted(_count(kept, "round").items())},
    }


def _count(rows, key):
    out: dict = defaultdict(int)
    for r in rows:
        out[r[key]] += 1
    return out
