"""Ready-made trainer configs written next to an export, so a trainer reads it as it is.

    dataset_info.json   LLaMA-Factory: `dataset: evol_instruct` with `dataset_dir: <export folder>`
    axolotl.yaml        Axolotl: a `datasets:` entry to paste into a training config

Column mappings follow each trainer's documented dataset formats (LLaMA-Factory's
data/README.md "alpaca" and "sharegpt" formattings; Axolotl's `alpaca`, `chat_template` and
user-defined instruction types); trainer_schema.py checks them against those schemas and the
rows, and bench/trainer_configs.py runs the trainers' own loaders on them. A format a trainer
cannot read without conversion gets no entry, and `trainer_notes` says which format to export
instead. So do `jsonl` and `parquet` when a row has no response: they keep every row, and a
trainer would learn an empty answer from it.

What each trainer trains on: `messages` and `sharegpt` go through the model's chat template
in both, with the user turn 06_finetune trains on (instruction, a blank line, the input).
The alpaca-style formats do not: LLaMA-Factory joins instruction and input with one newline
inside its template's user turn, and Axolotl's `alpaca` (and the `jsonl` / `parquet` entries,
which use its Alpaca turn format) writes "### Instruction:" / "### Response:" text.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from workbench.export.formats import FILES

DATASET_NAME = "evol_instruct"

_ALPACA_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output"}
_RECORD_COLUMNS = {"prompt": "instruction", "query": "input", "response": "response"}
LLAMA_FACTORY = {
    "alpaca": {"columns": _ALPACA_COLUMNS},
    "jsonl": {"columns": _RECORD_COLUMNS},
    "parquet": {"columns": _RECORD_COLUMNS},
    "sharegpt": {"formatting": "sharegpt", "columns": {"messages": "conversations"},
                 "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"}},
    "messages": {"formatting": "sharegpt", "columns": {"messages": "messages"},
                 "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                          "assistant_tag": "assistant"}},
}

# Axolotl's Alpaca turn format (axolotl/prompters.py), so the answer starts after a marker, as in `alpaca`
_RECORD_TYPE = {"field_instruction": "instruction", "field_input": "input", "field_output": "response",
                "format": "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n",
                "no_input_format": "### Instruction:\n{instruction}\n\n### Response:\n"}
AXOLOTL = {  # format -> (ds_type, type and its options); the path is filled in per export
    "alpaca": ("json", {"type": "alpaca"}),
    "jsonl": ("json", {"type": _RECORD_TYPE}),
    "parquet": ("parquet", {"type": _RECORD_TYPE}),
    "sharegpt": ("json", {"type": "chat_template", "field_messages": "conversations",
                          "message_property_mappings": {"role": "from", "content": "value"},
                          "roles": {"user": ["human"], "assistant": ["gpt"]}}),
    "messages": ("json", {"type": "chat_template", "field_messages": "messages"}),
    "hf": (None, {"type": "chat_template", "field_messages": "messages", "split": "train"}),
}


_ALPACA_STYLE = ("alpaca", "jsonl", "parquet")


def llama_factory_info(fmt: str) -> dict | None:
    """LLaMA-Factory's dataset_info.json for this format, or None when it needs a conversion."""
    if fmt not in LLAMA_FACTORY:
        return None
    return {DATASET_NAME: {"file_name": FILES[fmt]} | LLAMA_FACTORY[fmt]}


def axolotl_config(fmt: str, folder: Path) -> dict | None:
    """Axolotl's `datasets:` entry for this format (absolute path of the export), or None."""
    if fmt not in AXOLOTL:
        return None
    ds_type, options = AXOLOTL[fmt]
    path = folder if fmt == "hf" else folder / FILES[fmt]
    entry = {"path": str(path)} | ({"ds_type": ds_type} if ds_type else {}) | options
    return {"datasets": [entry]}


def unanswered(rows: list[dict]) -> int:
    """Rows a trainer would learn an empty answer from: those the training formats (and
    06_finetune) leave out, so only `jsonl` and `parquet` can hold any."""
    return sum(1 for r in rows if not r.get("response"))


def write_trainer_configs(fmt: str, tmp: Path, final: Path, rows: list[dict]) -> list[str]:
    """Write the configs this format has into tmp (paths point at final); the file names written.
    rows are the records written: a format that keeps unanswered rows gets no config then."""
    from workbench.core.io import atomic_write_text

    written = []
    if unanswered(rows):
        return written
    info = llama_factory_info(fmt)
    if info:
        atomic_write_text(tmp / "dataset_info.json", json.dumps(info, indent=2, ensure_ascii=False) + "\n")
        written.append("dataset_info.json")
    axolotl = axolotl_config(fmt, final.resolve())
    if axolotl:
        text = "# Axolotl: paste into your training config (paths are where this export was written)\n"
        atomic_write_text(tmp / "axolotl.yaml", text + yaml.safe_dump(axolotl, sort_keys=False, allow_unicode=True))
        written.append("axolotl.yaml")
    return written


def trainer_notes(fmt: str, folder: Path, no_response: int = 0) -> str:
    """The card's "Training with it" section; no_response: rows written without a response."""
    lines = ["## Training with it\n"]
    if no_response and fmt in ("jsonl", "parquet"):
        lines.append(f"{no_response} rows have no response, so no trainer config was written (a trainer would "
                     "learn an empty answer from them): export `--format messages` or `alpaca`, which leave them out.")
        return "\n".join(lines) + "\n"
    if fmt in ("prompt_completion", "hf"):
        lines.append("- **TRL** `SFTTrainer`: pass the train split as it is; it is read as conversational "
                     "prompt-completion data and the loss is on the answer only, as in 06_finetune.")
    elif fmt in ("messages", "sharegpt"):
        lines.append("- **TRL** `SFTTrainer`: pass the train split as it is; it is read as conversational data "
                     "(loss on every turn unless `assistant_only_loss=True`; export `prompt_completion` to train "
                     "on the answer only, as 06_finetune does).")
    else:
        lines.append("- **TRL** `SFTTrainer`: export `--format messages` or `prompt_completion` instead.")
    if fmt in LLAMA_FACTORY:
        lines.append(f"- **LLaMA-Factory**: `dataset: {DATASET_NAME}` and `dataset_dir: {folder}` "
                     "(this folder's `dataset_info.json`) in your training YAML, then `llamafactory-cli train <yaml>`"
                     + (". Instruction and input are joined with one newline there (06_finetune: a blank line)."
                        if fmt in _ALPACA_STYLE else "."))
    else:
        lines.append("- **LLaMA-Factory**: export `--format messages` or `alpaca` instead.")
    if fmt in AXOLOTL:
        lines.append("- **Axolotl**: paste the `datasets:` entry from this folder's `axolotl.yaml` into your "
                     "training YAML, then `axolotl train <yaml>`"
                     + (" (the Alpaca prompt: `### Instruction:` ... `### Response:`, not the chat template)."
                        if fmt in _ALPACA_STYLE else "."))
    else:
        lines.append("- **Axolotl**: export `--format messages` instead.")
    return "\n".join(lines) + "\n"
