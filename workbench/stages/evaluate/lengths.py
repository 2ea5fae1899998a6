"""How long each candidate's answers are, in words and in tokens, overall and per difficulty
bucket: judges favour longer answers, so a win rate is read beside its candidates' lengths.

Word rule (count_words): scripts written without spaces between words cannot be split on
whitespace, so every Han character (Chinese, Japanese kanji), hiragana and katakana character
counts as one word, as word processors count East Asian text. Everything else counts by
whitespace-separated runs that hold at least one letter or digit, so punctuation alone ("-",
"```") is no word. Korean is written with spaces and counts by runs.

    count_words("Hello, world!")     -> 2
    count_words("我喜欢猫")            -> 4
    count_words("用Python写代码。")    -> 5    (用, Python, 写, 代, 码; "。" is punctuation)
    count_words("안녕하세요 세계")      -> 2

Known limit: Thai, Lao, Khmer and Burmese also omit spaces but are not split per character
(a Thai word is several characters); they count by whitespace runs and are undercounted.
Tokens are the comparable measure across languages; the tokenizer is named in the result.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from statistics import mean, median

import numpy as np
from scipy.special import expit

from workbench.stages.evaluate.pairwise import BUCKETS, bucket

# Han (CJK Unified Ideographs, extension A, compatibility, extensions B-H), hiragana, katakana
# (the middle dot U+30FB is punctuation and left out), katakana extensions, half-width katakana.
_CJK = ("\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af"
        "\u3041-\u309f\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9f")
_PIECE = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")
_HAS_WORD_CHAR = re.compile(r"[^\W_]")  # a letter or digit, any script


def count_words(text: str) -> int:
    """Words by the rule in the module docstring: CJK characters one each, other runs by whitespace."""
    return sum(1 for piece in _PIECE.findall(text) if _HAS_WORD_CHAR.search(piece))


def _stats(texts: list[str | None], count_tokens: Callable[[str], int]) -> dict:
    """{"n", "missing", "mean_words", "median_words", "mean_tokens", "median_tokens"}; None
    answers (failed or unanswered) are counted as missing, never as length 0."""
    present = [t for t in texts if t is not None]
    out = {"n": len(present), "missing": len(texts) - len(present),
           "mean_words": None, "median_words": None, "mean_tokens": None, "median_tokens": None}
    if present:
        words = [count_words(t) for t in present]
        tokens = [int(count_tokens(t)) for t in present]
        out |= {"mean_words": round(mean(words), 2), "median_words": float(median(words)),
                "mean_tokens": round(mean(tokens), 2), "median_tokens": float(median(tokens))}
    return out


def answer_lengths(unit_items: list[dict], texts: dict[str, list], count_tokens: Callable[[str], int],
                   tokenizer: str) -> dict:
    """{cand: {"overall": stats, "by_bucket": {bucket: stats}, "tokenizer": name, "word_rule": ...}}
    with stats as `_stats`. texts[cand] holds one reply (or None) per judging unit, aligned with
    unit_items; a unit's bucket is its item's "bucket", else pairwise.bucket of its difficulty."""
    for cand, t in texts.items():
        if len(t) != len(unit_items):
            raise ValueError(f"{cand}: {len(t)} answers for {len(unit_items)} units")
    buckets = [item.get("bucket") or bucket(item.get("difficulty")) for item in unit_items]
    order = [b[0] for b in BUCKETS] + ["unlabelled"]
    present = [b for b in order if b in buckets] + sorted({b for b in buckets if b not in order})
    out = {}
    for cand, t in texts.items():
        out[cand] = {
            "overall": _stats(t, count_tokens),
            "by_bucket": {b: _stats([x for x, xb in zip(t, buckets) if xb == b], count_tokens) for b in present},
            "tokenizer": tokenizer,
            "word_rule": "CJK characters count one word each; other text by whitespace runs holding a letter or digit",
        }
    return out


# ---- length-controlled win rate (the AlpacaEval 2 "LC" method, for one pair) ----------------
#
# logit P(first preferred) = intercept + length_coef * tanh((len_first - len_second) / sd)
# fitted by maximum likelihood with ties as target 0.5; the win rate at equal length is
# sigmoid(intercept). sd is the standard deviation of the length differences over the units
# used, so any length unit (words, tokens, characters) gives the same answer. The leaderboard's
# model also has a per-instruction difficulty term fitted across many models; with one pair
# there is nothing to fit it from, so it is left out.

LC_RIDGE = 1e-3  # penalty ridge/2 * length_coef**2: finite when length separates the outcomes exactly
LC_MIN_UNITS = 5
_TARGET = {"win": 1.0, "tie": 0.5, "loss": 0.0}


def _objective(theta, phi, t, y, ridge):
    z = theta[:, None] + phi[:, None] * t
    return (y * z - np.logaddexp(0.0, z)).sum(axis=1) - 0.5 * ridge * phi ** 2


def _gradient(theta, phi, t, y, ridge):
    p = expit(theta[:, None] + phi[:, None] * t)
    r = y - p
    return p * (1.0 - p), r.sum(axis=1), (r * t).sum(axis=1) - ridge * phi


def fit_logistic(t: np.ndarray, y: np.ndarray, ridge: float = LC_RIDGE, iters: int = 100):
    """Penalised maximum likelihood of intercept and slope for each row of t, y (shape (rows, n);
    fractional targets allowed): Newton steps with step halving, so the objective never falls.
    Returns (intercept, slope, converged), one entry per row. Only the slope is penalised: the
    intercept is the estimate being reported and must not be pulled towards 0.5."""
    rows, n = y.shape
    theta, phi = np.zeros(rows), np.zeros(rows)
    obj = _objective(theta, phi, t, y, ridge)
    for _ in range(iters):
        w, g0, g1 = _gradient(theta, phi, t, y, ridge)
        done = np.maximum(np.abs(g0), np.abs(g1)) < 1e-9 * n
        if done.all():
            break
        h00, h01, h11 = w.sum(axis=1), (w * t).sum(axis=1), (w * t * t).sum(axis=1) + ridge
        det = h00 * h11 - h01 ** 2
        safe = np.where(det > 0, det, 1.0)
        d0 = np.where(det > 0, (h11 * g0 - h01 * g1) / safe, g0)  # gradient step if the Hessian is flat
        d1 = np.where(det > 0, (h00 * g1 - h01 * g0) / safe, g1)
        step = np.where(done, 0.0, 1.0)
        for _ in range(40):
            new = _objective(theta + step * d0, phi + step * d1, t, y, ridge)
            worse = new < obj - 1e-12
            if not worse.any():
                break
            step = np.where(worse, step / 2, step)
        theta, phi = theta + step * d0, phi + step * d1
        obj = _objective(theta, phi, t, y, ridge)
    _, g0, g1 = _gradient(theta, phi, t, y, ridge)
    return theta, phi, np.maximum(np.abs(g0), np.abs(g1)) < 1e-9 * n


def _length(x) -> float | None:
    if x is None or isinstance(x, bool) or not isinstance(x, int | float) or x != x:
        return None
    return float(x)


def length_controlled(outcomes: list[str], lengths_first: list, lengths_second: list, boot: int = 1000,
                      seed: int = 0, ridge: float = LC_RIDGE, min_units: int = LC_MIN_UNITS) -> dict:
    """The first candidate's win rate at equal answer length, with a bootstrap 95% interval over
    units, beside the raw (wins + ties/2) / n on the same units. Undetermined and error outcomes
    and units missing a length are left out and counted. win_rate is None with a reason when
    fewer than min_units remain or the length differences do not vary.

    Keys: win_rate, lo, hi, raw_win_rate, n, wins, ties, losses, excluded, intercept, length_coef,
    length_scale, ridge, converged, sides_differ, note, method, reason, interval_reason."""
    if not len(outcomes) == len(lengths_first) == len(lengths_second):
        raise ValueError("outcomes and both length lists must have one entry per unit")
    used, excluded = [], {"undetermined": 0, "error": 0, "missing_length": 0}
    for o, a, b in zip(outcomes, map(_length, lengths_first), map(_length, lengths_second)):
        if o not in _TARGET:
            excluded["error" if o == "error" else "undetermined"] += 1
        elif a is None or b is None:
            excluded["missing_length"] += 1
        else:
            used.append((_TARGET[o], a - b))
    y = np.array([u[0] for u in used])
    counts = {"wins": int((y == 1).sum()), "ties": int((y == 0.5).sum()), "losses": int((y == 0).sum())}
    out = {"win_rate": None, "lo": None, "hi": None,
           "raw_win_rate": round(float(y.mean()), 4) if used else None, "n": len(used), **counts,
           "excluded": excluded, "intercept": None, "length_coef": None, "length_scale": None, "ridge": ridge,
           "converged": None, "sides_differ": None, "note": None, "reason": None, "interval_reason": None,
           "method": ("logistic fit of the preference on an intercept and tanh(length difference / its sd), "
                      f"ties as 0.5, ridge {ridge} on the length term only; win rate at zero length difference "
                      "= sigmoid(intercept); percentile bootstrap over units")}
    if len(used) < min_units:
        why = f"{len(used)} usable units (win / tie / loss with both lengths); need {min_units}"
        out["reason"] = out["interval_reason"] = why
        return out
    diff = np.array([u[1] for u in used])
    scale = float(diff.std(ddof=1))
    if not scale > 0:
        why = "the length difference is the same on every unit: length and preference cannot be separated"
        out["reason"] = out["interval_reason"] = why
        return out
    t = np.tanh(diff / scale)
    theta, phi, converged = fit_logistic(t[None, :], y[None, :], ridge)
    lc, raw = float(expit(theta[0])), float(y.mean())
    out |= {"win_rate": round(lc, 4), "intercept": round(float(theta[0]), 4), "length_coef": round(float(phi[0]), 4),
            "length_scale": round(scale, 4), "converged": bool(converged[0])}
    if not boot:
        out["interval_reason"] = "no bootstrap asked for (boot=0)"
    elif len(set(y.tolist())) == 1:
        # every resample would repeat the one outcome: a zero-width interval would overclaim
        out["interval_reason"] = f"all {len(used)} units have the same outcome; a bootstrap cannot vary"
    else:
        rng = np.random.default_rng(seed)
        draws = []
        per_block = max(1, (1 << 18) // len(used))
        for start in range(0, boot, per_block):
            idx = rng.integers(0, len(used), size=(min(per_block, boot - start), len(used)))
            draws.append(expit(fit_logistic(t[idx], y[idx], ridge)[0]))
        out["lo"], out["hi"] = (round(float(q), 4) for q in np.percentile(np.concatenate(draws), [2.5, 97.5]))
    out["sides_differ"] = (raw - 0.5) * (lc - 0.5) < 0
    said = f"The raw win rate ({raw:.3f}) and the length-controlled one ({lc:.3f})"
    if out["sides_differ"]:
        favoured = "first" if lc > 0.5 else "second"
        out["note"] = (f"{said} fall on different sides of 0.5: at equal length the {favoured} candidate is "
                       "preferred, so the raw result is carried by answer length.")
    else:
        out["note"] = f"{said} do not fall on different sides of 0.5."
    return out
