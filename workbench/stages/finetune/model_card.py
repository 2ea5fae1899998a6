"""The model card each tuned model carries (`model/<variant>/README.md`): what it was tuned
from, on what, how, and what the run could and could not show about that data.

A card is written when the model is saved, so it holds what was known then: the validity
verdicts of the stages before 06 (07_evaluate's comparison comes later and lives in the run).
"""

from __future__ import annotations

import yaml

VARIANT_WORDS = {"seeds": "the seed instructions only (round 0), the baseline",
                 "evolved": "the seeds and every kept evolution of all rounds",
                 "selected": "05_diversity's selection of the evolved data"}


def verdicts(stats: dict[str, dict]) -> list[str]:
    """One line per verdict the earlier stages recorded; absent stages are said to be absent."""
    lines = []
    ev = stats.get("02_evolve") or {}
    if ev:
        unchecked = ev.get("unchecked_kept_share")
        lines.append(f"02_evolve: {ev.get('dataset')} rows, kept rate {ev.get('kept_rate')}; share of kept evolutions "
                     f"no judge checked for information gain: {unchecked if unchecked is not None else 'not recorded'}")
    diff = stats.get("04_difficulty") or {}
    claim = diff.get("claim") or {}
    lines.append(f"04_difficulty: judge {diff.get('judge_verdict', 'not run')}; difficulty rises by round: "
                 f"{claim.get('verdict', 'not stated')}" if diff else "04_difficulty: not run")
    div = (stats.get("05_diversity") or {}).get("claim") or {}
    lines.append(f"05_diversity: evolved data more diverse than the seeds: {div.get('verdict', 'not stated')}"
                 if stats.get("05_diversity") else "05_diversity: not run")
    return lines


def model_card(variant: str, summary: dict, cfg: dict, manifest: dict, stats: dict[str, dict]) -> str:
    """README.md text: YAML front matter the model hubs read, then the card."""
    front = {"base_model": summary["base_model"], "library_name": "transformers",
             "tags": ["evol-instruct", "sft", "trl", f"variant-{variant}"]}
    batch, procs = cfg["batch_size"] * cfg["grad_accum"], summary.get("processes", 1)
    lines = [
        "---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "",
        f"# {manifest.get('run_id', 'run')} · {variant}", "",
        f"Tuned from `{summary['base_model']}` ({cfg['method']} fine-tuning, saved as {summary['saved_as']}) on "
        f"{summary['examples']} examples: {VARIANT_WORDS.get(variant, variant)}.", "",
        "## Data and run", "",
        f"- run: `{manifest.get('run_id')}`, params hash `{manifest.get('params_hash')}`, "
        f"git `{(manifest.get('git') or {}).get('sha')}`" + (" (uncommitted changes)" if (manifest.get('git') or {}).get('dirty') else ""),
        f"- source: `{cfg.get('source', 'the run dataset')}`",
        f"- training: {summary['steps']} steps, {cfg['epochs']} epochs (max_steps {cfg['max_steps']}), learning rate "
        f"{cfg['learning_rate']} ({cfg['lr_scheduler']}, warmup {cfg['warmup_ratio']}), batch {cfg['batch_size']} x "
        f"{cfg['grad_accum']} accumulation = {batch} per process, {procs} processes (effective batch {procs * batch}), max length {cfg['max_length']}, seed {cfg.get('seed')}",
        f"- final training loss: {summary['train_loss']}",
        "", "## What the run showed about this data", "",
        *[f"- {line}" for line in verdicts(stats)],
        "", "A verdict of `undetermined` or `not validated` means the number exists but does not carry the claim;",
        "see the run's stage notebooks. 07_evaluate compares the tuned models after this card was written.", "",
    ]
    return "\n".join(lines)
