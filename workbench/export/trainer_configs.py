"""Ready-made trainer configs written next to an export, so a trainer reads it as it is.

    dataset_info.json   LLaMA-Factory: `dataset: evol_instruct` with `dataset_dir: <export folder>`
    axolotl.yaml        Axolotl: a `datasets:` entry to paste into a training config

Column mappings follow each trainer's documented dataset formats (LLaMA-Factory's
data/README.md "alpaca" and "sharegpt" formattings; Axolotl's `alpaca`, `chat_template` and
custom instruction types). A format a trainer cannot read without conversion gets no entry,
and `trainer_notes` says which format to export instead.
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

_RECORD_TYPE = {"field_instruction": "instruction", "field_input": "input", "field_output": "response",
                "format": "{instruction}\n\n{input}", "no_input_format": "{instruction}"}
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


def write_trainer_configs(fmt: str, tmp: Path, final: Path) -> list[str]:
    """Write the configs this format has into tmp (paths point at final); the file names written."""
    from workbench.core.io import atomic_write_text

    written = []
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


def trainer_notes(fmt: str, folder: Path) -> str:
    """The card's "Training with it" section."""
    lines = ["## Training with it\n"]
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
                     "(this folder's `dataset_info.json`).")
    else:
        lines.append("- **LLaMA-Factory**: export `--format messages` or `alpaca` instead.")
    if fmt in AXOLOTL:
        lines.append("- **Axolotl**: paste the `datasets:` entry from this folder's `axolotl.yaml`.")
    else:
        lines.append("- **Axolotl**: export `--format messages` instead.")
    return "\n".join(lines) + "\n"
