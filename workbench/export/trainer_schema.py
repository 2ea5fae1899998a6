"""Checks of an export's trainer configs against the trainers' documented schemas and the rows.

    llama_factory_errors(folder)            # [] when dataset_info.json reads every row right
    axolotl_errors(folder)                  # [] when axolotl.yaml's datasets: entry does

These are the checks the trainers' own loaders make, written here because neither trainer
installs beside this project (both pull their own transformers, datasets and trl pins; Axolotl
also CUDA-only kernels). `bench/trainer_configs.py` runs the real loaders where they are
installed; these run in the test suite. A check names the key and the row it is about.

LLaMA-Factory (data/README.md, and `DatasetAttr.join` in llamafactory/data/parser.py):
dataset_info.json maps a name to {file_name, formatting: alpaca|sharegpt|openai, columns,
tags, ...}; the file is read from `dataset_dir` by its extension (json, jsonl, parquet, csv,
arrow, txt). alpaca columns: prompt, query, response, history, system (defaults instruction,
input, output); sharegpt columns: messages, system, tools (default conversations) with tags
role_tag, content_tag, user_tag, assistant_tag, ... (defaults from, value, human, gpt). Its
sharegpt converter drops a conversation whose turns do not alternate user, assistant from the
first, or whose count is odd; its alpaca converter joins prompt and query with one newline.

Axolotl (docs/dataset-formats, `SFTDataset` in axolotl/utils/schemas/datasets.py): a
`datasets:` entry has path, ds_type (json, parquet, csv, arrow, text; for a file), split and
type: a prompt style name (alpaca: instruction, input, output), chat_template (field_messages,
default "messages"; message_property_mappings {role, content}; roles {target: [source roles]}),
or a user-defined mapping {field_instruction, field_input, field_output, format,
no_input_format, system_prompt, system_format, field_system} whose format holds {instruction}
and whose no_input_format must not hold {input}.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from workbench.core.io import read_jsonl

# ---------- LLaMA-Factory ----------

LF_KEYS = {"hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name", "file_name", "formatting",
           "ranking", "subset", "split", "folder", "num_samples", "columns", "tags"}
LF_FORMATTINGS = ("alpaca", "sharegpt", "openai")
LF_MEDIA_COLUMNS = {"images", "videos", "audios", "chosen", "rejected", "kto_tag"}
LF_COLUMNS = {"alpaca": {"prompt", "query", "response", "history", "system"} | LF_MEDIA_COLUMNS,
              "sharegpt": {"messages", "system", "tools"} | LF_MEDIA_COLUMNS}
LF_COLUMN_DEFAULTS = {"prompt": "instruction", "query": "input", "response": "output", "messages": "conversations"}
LF_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
           "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}
LF_FILE_TYPES = ("arrow", "csv", "json", "jsonl", "parquet", "txt")  # llamafactory extras/constants.py FILEEXT2TYPE

# ---------- Axolotl ----------

AX_KEYS = {"path", "split", "type", "ds_type", "data_files", "name", "revision", "shards", "shards_idx",
           "preprocess_shards", "conversation", "chat_template", "chat_template_jinja", "input_format",
           "input_transform", "field", "field_human", "field_model", "field_messages", "field_tools",
           "field_thinking", "message_property_mappings", "message_field_training", "message_field_training_detail",
           "roles", "roles_to_train", "train_on_eos", "train_on_eot", "drop_system_message", "trust_remote_code"}
AX_USER_DEFINED_KEYS = {"system_prompt", "system_format", "field_system", "field_instruction", "field_input",
                        "field_output", "format", "no_input_format"}
AX_DS_TYPES = ("json", "parquet", "csv", "arrow", "text")
AX_TYPES = {"alpaca": ("instruction", "output"), "chat_template": None, "completion": None}  # type -> required columns
AX_CHAT_ROLES = ("system", "user", "assistant", "tool")
AX_DEFAULT_ROLES = {"user": ["human", "user"], "assistant": ["gpt", "assistant"], "system": ["system"], "tool": ["tool"]}


def read_rows(path: Path, split: str = "train") -> list[dict]:
    """Every row of an exported file (or a `datasets` folder) as a trainer would read it."""
    if path.is_dir():
        import datasets

        return datasets.load_from_disk(str(path))[split].to_list()
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    data = json.loads(path.read_text("utf-8"))
    return data if isinstance(data, list) else [data]


def _text(value) -> bool:
    return isinstance(value, str) and value.strip() != ""


def llama_factory_errors(folder: Path | str, name: str = "evol_instruct") -> list[str]:
    """What LLaMA-Factory would refuse or drop reading `dataset: name, dataset_dir: folder`."""
    folder = Path(folder)
    try:
        info = json.loads((folder / "dataset_info.json").read_text("utf-8"))
    except (OSError, ValueError) as e:
        return [f"dataset_info.json: {e}"]
    if name not in info:
        return [f"dataset_info.json: no dataset {name!r} (has {sorted(info)})"]
    attr, errors = info[name], []
    errors += [f"{name}: unknown key {k!r} (LLaMA-Factory reads {sorted(LF_KEYS)})" for k in attr if k not in LF_KEYS]
    formatting = attr.get("formatting", "alpaca")
    if formatting not in LF_FORMATTINGS:
        return errors + [f"{name}.formatting: {formatting!r} is not one of {LF_FORMATTINGS}"]
    kind = "alpaca" if formatting == "alpaca" else "sharegpt"
    columns = attr.get("columns") or {}
    errors += [f"{name}.columns: {k!r} is not a {kind} column ({sorted(LF_COLUMNS[kind])})"
               for k in columns if k not in LF_COLUMNS[kind]]
    tags = attr.get("tags") or {}
    errors += [f"{name}.tags: unknown tag {k!r} ({sorted(LF_TAGS)})" for k in tags if k not in LF_TAGS]
    if kind == "alpaca" and tags:
        errors.append(f"{name}.tags: alpaca formatting reads no tags")
    file_name = attr.get("file_name")
    if not file_name:
        return errors + [f"{name}: no file_name"]
    path = folder / file_name
    if path.suffix[1:] not in LF_FILE_TYPES:
        errors.append(f"{name}.file_name: {file_name!r}: LLaMA-Factory reads {', '.join(LF_FILE_TYPES)} files")
    if not path.is_file():
        return errors + [f"{name}.file_name: {path} not found"]
    if errors:
        return errors
    rows = read_rows(path)
    if not rows:
        return [f"{file_name}: no rows"]
    col = {k: columns.get(k, LF_COLUMN_DEFAULTS.get(k)) for k in ("prompt", "query", "response", "messages")}
    if kind == "alpaca" and len({col["prompt"], col["query"], col["response"]}) < 3:
        return [f"{name}.columns: prompt, query and response must be three columns, got {col}"]
    tag = {k: tags.get(k, default) for k, default in LF_TAGS.items()}
    for i, row in enumerate(rows):
        where = f"{file_name} row {i}"
        if kind == "alpaca":
            for key in ("prompt", "response"):
                if not _text(row.get(col[key])):
                    errors.append(f"{where}: column {col[key]!r} ({key}) is not a non-empty text")
            if col["query"] in row and not isinstance(row[col["query"]], str | None):
                errors.append(f"{where}: column {col['query']!r} (query) is not text")
        else:
            errors += [f"{where}: {e}" for e in _sharegpt_turn_errors(row.get(col["messages"]), col["messages"], tag)]
        if len(errors) >= 5:
            break
    return errors


def _sharegpt_turn_errors(turns, column: str, tag: dict) -> list[str]:
    """LLaMA-Factory's sharegpt converter: user (or observation) on even turns, assistant (or
    function) on odd ones, an even count; anything else is dropped as invalid."""
    if not isinstance(turns, list) or not turns:
        return [f"column {column!r} (messages) is not a list of turns"]
    odd, even = (tag["user_tag"], tag["observation_tag"]), (tag["assistant_tag"], tag["function_tag"])
    errors = []
    if turns[0].get(tag["role_tag"]) == tag["system_tag"]:
        turns = turns[1:]
    if len(turns) % 2:
        errors.append(f"{len(turns)} turns: LLaMA-Factory drops an odd count")
    for j, turn in enumerate(turns):
        role = turn.get(tag["role_tag"]) if isinstance(turn, dict) else None
        if role not in (odd if j % 2 == 0 else even):
            errors.append(f"turn {j}: {tag['role_tag']!r} is {role!r}, expected one of {odd if j % 2 == 0 else even}")
        elif not _text(turn.get(tag["content_tag"])):
            errors.append(f"turn {j}: {tag['content_tag']!r} is not a non-empty text")
    return errors


def axolotl_errors(folder: Path | str) -> list[str]:
    """What Axolotl would refuse, or train wrongly on, for the entry in folder/axolotl.yaml."""
    try:
        entries = yaml.safe_load((Path(folder) / "axolotl.yaml").read_text("utf-8"))["datasets"]
    except (OSError, TypeError, KeyError, yaml.YAMLError) as e:
        return [f"axolotl.yaml: no datasets: list ({type(e).__name__}: {e})"]
    return [e for i, entry in enumerate(entries) for e in axolotl_entry_errors(entry, f"datasets[{i}]")]


def axolotl_entry_errors(entry: dict, where: str = "datasets[0]") -> list[str]:
    errors = [f"{where}: unknown key {k!r}" for k in entry if k not in AX_KEYS]
    path = Path(str(entry.get("path", "")))
    if not entry.get("path") or not path.exists():
        return errors + [f"{where}.path: {entry.get('path')!r} does not exist"]
    if path.is_file() and entry.get("ds_type") not in AX_DS_TYPES:
        errors.append(f"{where}.ds_type: {entry.get('ds_type')!r} for a file; use one of {AX_DS_TYPES}")
    kind = entry.get("type")
    if isinstance(kind, dict):
        errors += [f"{where}.type: unknown key {k!r} ({sorted(AX_USER_DEFINED_KEYS)})"
                   for k in kind if k not in AX_USER_DEFINED_KEYS]
        if "{instruction}" not in str(kind.get("format", "")):
            errors.append(f"{where}.type.format: holds no {{instruction}}")
        if "{input}" in str(kind.get("no_input_format", "")):
            errors.append(f"{where}.type.no_input_format: must not hold {{input}}")
        fields = [kind.get(f"field_{k}", k) for k in ("instruction", "input", "output")]
        if len(set(fields)) < 3:
            errors.append(f"{where}.type: field_instruction, field_input and field_output must differ, got {fields}")
    elif kind not in AX_TYPES:
        errors.append(f"{where}.type: {kind!r} is not one of {sorted(AX_TYPES)} or a user-defined mapping")
    if errors:
        return errors
    rows = read_rows(path, entry.get("split") or "train")
    if not rows:
        return [f"{path.name}: no rows"]
    for i, row in enumerate(rows):
        errors += [f"{path.name} row {i}: {e}" for e in _axolotl_row_errors(entry, row)]
        if len(errors) >= 5:
            break
    return errors


def _axolotl_row_errors(entry: dict, row: dict) -> list[str]:
    kind = entry["type"]
    if isinstance(kind, dict):  # user-defined: the output is the trained answer, so it must be there
        fields = {k: kind.get(f"field_{k}", k) for k in ("instruction", "input", "output")}
        errors = [f"field {fields[k]!r} ({k}) is not a non-empty text" for k in ("instruction", "output")
                  if not _text(row.get(fields[k]))]
        return errors + ([f"field {fields['input']!r} (input) is not text"]
                         if not isinstance(row.get(fields["input"], ""), str | None) else [])
    if kind == "alpaca":
        return [f"column {c!r} is not a non-empty text" for c in AX_TYPES["alpaca"] if not _text(row.get(c))]
    if kind != "chat_template":
        return []
    field = entry.get("field_messages") or "messages"
    turns = row.get(field)
    if not isinstance(turns, list) or not turns:
        return [f"field_messages {field!r} is not a list of turns"]
    mapping = {"role": "role", "content": "content"} | (entry.get("message_property_mappings") or {})
    # roles replaces the default mapping; a role it does not name passes through as it is (chat_template.py)
    known = {source: target for target, sources in (entry.get("roles") or AX_DEFAULT_ROLES).items() for source in sources}
    errors, targets = [], []
    for j, turn in enumerate(turns):
        role = turn.get(mapping["role"]) if isinstance(turn, dict) else None
        targets.append(known.get(role, role))
        if targets[-1] not in AX_CHAT_ROLES:
            errors.append(f"turn {j}: role {role!r} is no chat role ({', '.join(AX_CHAT_ROLES)}) and roles maps it to none")
        elif not _text(turn.get(mapping["content"])):
            errors.append(f"turn {j}: {mapping['content']!r} is not a non-empty text")
    if not errors and targets[-1] not in (entry.get("roles_to_train") or ["assistant"]):
        errors.append(f"the last turn is {targets[-1]!r}, not a role trained on: nothing to train on")
    return errors
