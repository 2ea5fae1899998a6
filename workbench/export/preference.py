"""Preference pairs for DPO-style training, from what a run already holds.

    workbench export RUN_DIR --format preference --out DIR [--min-margin 1.0]

Source: 07_evaluate's samples, where the judge gave each candidate's answer to one eval item
a 1-10 single score. Per item the best- and worst-scored answers make one pair in TRL's
conversational preference shape:

    {"id", "prompt": [{role: user, content}], "chosen": [{role: assistant, content}],
     "rejected": [...], "chosen_candidate", "rejected_candidate", "chosen_score",
     "rejected_score", "margin"}

An item is left out, and counted by why, when fewer than two answers were scored (an answer
that could not be had or scored is never a loss), when the best and worst tie, or when the
margin is below --min-margin. The card says which judge scored and whether its scores were
validated against human labels: unvalidated, the preferences are the judge's, not people's.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from workbench.core.io import atomic_write_text, write_jsonl
from workbench.core.records import full_text
from workbench.core.run_folder import FILES, RunFolder

FILE = "preference.jsonl"
SKIPS = ("fewer_than_two_scored", "tie", "below_min_margin")


class PreferenceError(ValueError):
    pass


def preference_pairs(samples: list[dict], min_margin: float) -> tuple[list[dict], Counter]:
    """-> (pairs, items left out by reason); items in = pairs + left out."""
    pairs, skipped = [], Counter()
    for s in samples:
        scored = sorted(((c, float(v["rating"])) for c, v in (s.get("single") or {}).items()
                         if v and v.get("rating") is not None and (s.get("answers") or {}).get(c)),
                        key=lambda cv: (-cv[1], cv[0]))
        if len(scored) < 2:
            skipped["fewer_than_two_scored"] += 1
            continue
        (best, hi), (worst, lo) = scored[0], scored[-1]
        if hi == lo:
            skipped["tie"] += 1
            continue
        if hi - lo < min_margin:
            skipped["below_min_margin"] += 1
            continue
        pairs.append({"id": s["id"], "prompt": [{"role": "user", "content": full_text(s)}],
                      "chosen": [{"role": "assistant", "content": s["answers"][best]}],
                      "rejected": [{"role": "assistant", "content": s["answers"][worst]}],
                      "chosen_candidate": best, "rejected_candidate": worst,
                      "chosen_score": hi, "rejected_score": lo, "margin": round(hi - lo, 4)})
    return pairs, skipped


def export_preferences(run_dir: Path | str, out: Path | str, min_margin: float = 1.0) -> dict:
    """Write preference.jsonl and its README.md card into out; returns what was written."""
    run, out = RunFolder(run_dir), Path(out)
    if min_margin < 0:
        raise PreferenceError(f"--min-margin {min_margin}: must be >= 0")
    if not run.has("eval_samples"):
        raise PreferenceError(f"{run.path}: no {FILES['eval_samples']}; run stage 07_evaluate with "
                              "evaluate.single_scoring on first")
    samples = run.rows("eval_samples")
    results = run.json("eval_results") if run.has("eval_results") else {}
    if not any(s.get("single") for s in samples):
        raise PreferenceError(f"{run.path}: 07_evaluate scored no single answers (evaluate.single_scoring is off)")
    pairs, skipped = preference_pairs(samples, min_margin)
    summary = {"run_dir": str(run.path), "source": FILES["eval_samples"], "format": "preference", "file": FILE,
               "items": len(samples), "pairs": len(pairs), "left_out": dict(skipped), "min_margin": min_margin,
               "judge": results.get("judge"), "judge_validation": results.get("judge_validation") or "not validated",
               "files": ["README.md", FILE]}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
    try:
        write_jsonl(tmp / FILE, pairs)
        atomic_write_text(tmp / "README.md", card(summary, run.name))
        out.mkdir(parents=True, exist_ok=True)
        for item in tmp.iterdir():
            os.replace(item, out / item.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary


def card(summary: dict, run_name: str) -> str:
    left = ", ".join(f"{k} {v}" for k, v in summary["left_out"].items()) or "none"
    validated = summary["judge_validation"] == "validated"
    caution = ("" if validated else
               "\n**The judge's single scores were not validated against human labels**: these preferences are "
               "the judge's, not people's. Check a sample by hand before training on them.\n")
    return f"""---
configs:
- config_name: default
  data_files:
  - split: train
    path: {FILE}
task_categories:
- text-generation
tags:
- preference
- dpo
- evol-instruct
---

# Preference pairs from run {run_name}

{summary['pairs']} chosen/rejected pairs from {summary['items']} eval items of `{summary['source']}`:
for each item, the best- and worst-scored answers of the candidates, as scored 1-10 by the
judge `{summary['judge']}` (07_evaluate's single scores). Judge validation: **{summary['judge_validation']}**.
{caution}
Items left out (items = pairs + left out): {left}. A pair needs two scored answers and a
score margin of at least {summary['min_margin']}; ties are never written as preferences.

Columns: `prompt`, `chosen`, `rejected` (TRL's conversational preference shape: role/content
turns), `chosen_candidate`, `rejected_candidate`, `chosen_score`, `rejected_score`, `margin`, `id`.

```python
datasets.load_dataset("json", data_files="{FILE}", split="train")
```
"""


def summary_line(summary: dict, out: Path) -> str:
    return (f"{summary['pairs']} preference pairs from {summary['items']} items of {summary['source']} "
            f"-> {out / FILE} (+ README.md); left out: {json.dumps(summary['left_out'])}")
