"""The win rate as the multi-turn benchmark tooling reports it, to sit beside the workbench's
strict one (pairwise.summary: wins / (wins + losses), ties and undetermined left out).

Convention: a disagreement between the two orders ("undetermined") counts as a tie, a tie is
half a win, errors are left out:  win rate = (wins + ties/2) / n,  n = wins + ties + losses,
ties including the undetermined.

    tie_half(["win"] * 3 + ["tie", "undetermined", "loss", "error"])
      -> wins 3, ties 2, losses 1, n 6, win_rate (3 + 1) / 6 = 0.6667

Interval: a normal-approximation 95% interval on the mean of the per-unit scores 1 / 0.5 / 0
(stats.mean_ci), clipped to [0, 1]. Wilson's interval assumes 0/1 outcomes, and a half-counted
tie has less variance than a coin flip, so Wilson would be the wrong width. When every unit
has the same score the normal interval has zero width, which would overclaim at small n: the
interval is None with a reason then, as it is below 2 units.
"""

from __future__ import annotations

from workbench.core.stats import mean_ci
from workbench.stages.evaluate.pairwise import OUTCOMES

CONVENTION = ("tie-half (multi-turn benchmark convention): order disagreements count as ties, a tie is half "
              "a win, errors are left out; win rate = (wins + ties/2) / n. The workbench's strict win rate "
              "counts wins / (wins + losses) only.")
INTERVAL = "normal approximation on the mean of per-unit scores 1 / 0.5 / 0, clipped to [0, 1]"


def tie_half(outcomes: list[str]) -> dict:
    """{"win_rate", "lo", "hi", "n", "wins", "ties", "losses", "undetermined", "errors",
    "convention", "interval", "reason", "interval_reason"} for the FIRST candidate of one pair.
    "ties" includes the "undetermined" units (counted again on their own); "errors" are not in n.
    "reason" says why win_rate is None, "interval_reason" why lo / hi are."""
    unknown = sorted(set(outcomes) - set(OUTCOMES))
    if unknown:
        raise ValueError(f"unknown outcomes {unknown}; expected {OUTCOMES}")
    wins, losses, errors = outcomes.count("win"), outcomes.count("loss"), outcomes.count("error")
    undetermined = outcomes.count("undetermined")
    ties = outcomes.count("tie") + undetermined
    scores = [1.0] * wins + [0.5] * ties + [0.0] * losses
    out = {"win_rate": None, "lo": None, "hi": None, "n": len(scores), "wins": wins, "ties": ties,
           "losses": losses, "undetermined": undetermined, "errors": errors,
           "convention": CONVENTION, "interval": INTERVAL, "reason": None, "interval_reason": None}
    if not scores:
        out["reason"] = out["interval_reason"] = "no unit judged (all errors, or none)"
        return out
    ci = mean_ci(scores)
    out["win_rate"] = round((wins + ties / 2) / len(scores), 4)
    if len(scores) < 2:
        out["interval_reason"] = "an interval needs at least 2 units"
    elif len(set(scores)) == 1:
        out["interval_reason"] = f"all {len(scores)} units score {scores[0]}: a normal interval would have zero width"
    else:
        out["lo"], out["hi"] = max(0.0, ci["lo"]), min(1.0, ci["hi"])
    return out
