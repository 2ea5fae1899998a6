"""The row shapes `workbench export` writes, one per format, and how each is read back.

    jsonl              train.jsonl              our full records, every field
    alpaca             alpaca.json              [{instruction, input, output}]       (a JSON list, as Alpaca ships)
    sharegpt           sharegpt.json            [{id, conversations: [human, gpt]}]  (a JSON list, as FastChat reads)
    messages           messages.jsonl           {id, messages: [user, assistant]}    (role/content, TRL conversational)
    prompt_completion  prompt_completion.jsonl  {id, prompt: [user], completion: [assistant]}
    parquet            train.parquet            flat columns: FLAT_COLUMNS
    hf                 dataset_dict.json + train/   DatasetDict({"train"}): FLAT_COLUMNS + messages, prompt, completion

The user turn is built by 06_finetune's own `to_conversations` (instruction, a blank line, the
input), so `messages`, `prompt_completion` and `hf` train on exactly what 06_finetune trains on.
TRL's SFTTrainer reads `prompt_completion` and `hf` as prompt-completion data (loss on the
answer only, as in 06_finetune) and `messages` as conversational data (loss on the whole
conversation unless `assistant_only_loss`).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path

from workbench.core.io import atomic_write_bytes, atomic_write_text, write_jsonl
from workbench.core.records import full_text
from workbench.stages.finetune.train import to_conversations

FILES = {"jsonl": "train.jsonl", "alpaca": "alpaca.json", "sharegpt": "sharegpt.json",
         "messages": "messages.jsonl", "prompt_completion": "prompt_completion.jsonl",
         "parquet": "train.parquet", "hf": "dataset_dict.json"}
FORMATS = ("hf", "jsonl", "alpaca", "sharegpt", "messages", "prompt_completion", "parquet")
# A row without a response would teach an empty answer: these formats leave such rows out.
TRAINING_FORMATS = ("alpaca", "sharegpt", "messages", "prompt_completion", "hf")
FLAT_COLUMNS = ("id", "root_id", "parent_id", "round", "op", "instruction", "input", "response", "difficulty")

# How the hub / `datasets.load_dataset(folder)` finds the rows: the card's `configs` data_files.
DATA_FILES = dict(FILES, hf="train/*.arrow")
LOADING = {  # how to read each export back, shown on the card
    "jsonl": 'datasets.load_dataset("json", data_files="train.jsonl", split="train")',
    "alpaca": 'datasets.load_dataset("json", data_files="alpaca.json", split="train")',
    "sharegpt": 'datasets.load_dataset("json", data_files="sharegpt.json", split="train")',
    "messages": 'datasets.load_dataset("json", data_files="messages.jsonl", split="train")',
    "prompt_completion": 'datasets.load_dataset("json", data_files="prompt_completion.jsonl", split="train")',
    "parquet": 'datasets.load_dataset("parquet", data_files="train.parquet", split="train")',
    "hf": 'datasets.load_from_disk(".")["train"]',
}

_RECORD = {
    "id": "stable hash of (root_id, round, op, instruction)", "root_id": "id of the seed this lineage started from",
    "parent_id": "id of the row it was evolved from; null for seeds", "round": "0 for seeds, 1..M for evolutions",
    "op": "evolution operation (add_constraints, deepening, concretizing, increase_reasoning, complicate_input, "
          "breadth); null for seeds",
    "instruction": "the instruction text", "input": "optional input the instruction refers to (\"\" when none)",
    "response": "the teacher model's answer",
    "difficulty": "judge difficulty score (04_difficulty); null where not scored",
}
_USER = "user turn: the instruction, and the input after a blank line when there is one"
FIELDS = {  # field -> description, per format, for the card
    "jsonl": _RECORD | {"status, reasons, model, gen, scores, ...": "every other field of the workbench record"},
    "alpaca": {"instruction": _RECORD["instruction"], "input": _RECORD["input"], "output": _RECORD["response"]},
    "sharegpt": {"id": _RECORD["id"], "conversations": f"[{{from: human, value}}, {{from: gpt, value}}]: {_USER}, "
                                                        "then the answer"},
    "messages": {"id": _RECORD["id"], "messages": f"[{{role: user, content}}, {{role: assistant, content}}]: {_USER}, "
                                                  "then the answer"},
    "prompt_completion": {"id": _RECORD["id"], "prompt": f"[{{role: user, content}}]: {_USER}",
                          "completion": "[{role: assistant, content}]: the answer"},
    "parquet": _RECORD,
    "hf": _RECORD | {"messages": "user and assistant turns (role/content)",
                     "prompt": f"[{{role: user, content}}]: {_USER}",
                     "completion": "[{role: assistant, content}]: the answer"},
}


def to_alpaca(rec: dict) -> dict:
    return {"instruction": rec["instruction"], "input": rec.get("input") or "", "output": rec["response"]}


def to_sharegpt(rec: dict) -> dict:
    return {"id": rec["id"], "conversations": [
        {"from": "human", "value": full_text(rec)}, {"from": "gpt", "value": rec["response"]}]}


def to_prompt_completion(rec: dict) -> dict:
    return {"id": rec["id"]} | to_conversations([rec])[0]


def to_messages(rec: dict) -> dict:
    pair = to_conversations([rec])[0]
    return {"id": rec["id"], "messages": pair["prompt"] + pair["completion"]}


def _difficulty(rec: dict) -> float | None:
    value = (rec.get("scores") or {}).get("difficulty")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def to_flat(rec: dict) -> dict:
    row = {k: rec.get(k) for k in FLAT_COLUMNS if k != "difficulty"}
    row["input"] = row["input"] or ""
    row["difficulty"] = _difficulty(rec)
    return row


CONVERT = {"alpaca": to_alpaca, "sharegpt": to_sharegpt, "messages": to_messages,
           "prompt_completion": to_prompt_completion}


def sample_row(fmt: str, rec: dict) -> dict:
    """One row as this format writes it (the card shows one)."""
    if fmt in CONVERT:
        return CONVERT[fmt](rec)
    if fmt == "hf":
        return _hf_row(rec)
    return to_flat(rec) if fmt == "parquet" else rec


def _schema(chat: bool):
    """Explicit column types: a column that is null in every row must still load as text / float."""
    import pyarrow as pa

    fields = [(k, pa.string()) for k in FLAT_COLUMNS]
    fields[FLAT_COLUMNS.index("round")] = ("round", pa.int64())
    fields[FLAT_COLUMNS.index("difficulty")] = ("difficulty", pa.float64())
    if chat:
        turns = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
        fields += [("messages", turns), ("prompt", turns), ("completion", turns)]
    return pa.schema(fields)


def _hf_row(rec: dict) -> dict:
    pair = to_conversations([rec])[0]
    return to_flat(rec) | {"messages": pair["prompt"] + pair["completion"]} | pair


def _write_parquet(path: Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([to_flat(r) for r in rows], schema=_schema(False)), sink)
    atomic_write_bytes(path, sink.getvalue())


def _write_hf(out: Path, rows: list[dict]) -> None:
    """save_to_disk writes a folder, so it goes to a temp folder first and is moved in whole."""
    import datasets
    from datasets import Dataset, DatasetDict, Features

    datasets.disable_progress_bars()  # one-shot command: the bars only clutter its output
    features = Features.from_arrow_schema(_schema(True))
    dd = DatasetDict({"train": Dataset.from_list([_hf_row(r) for r in rows], features=features)})
    tmp = Path(tempfile.mkdtemp(prefix=".hf-export-", dir=out))
    try:
        dd.save_to_disk(str(tmp))
        for item in sorted(tmp.iterdir()):
            target = out / item.name
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(item, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_rows(fmt: str, out: Path, rows: list[dict]) -> tuple[Path, list[dict]]:
    """Write rows in one format into out; returns (the main file, the records written)."""
    path = out / FILES[fmt]
    if fmt in TRAINING_FORMATS:
        rows = [r for r in rows if r.get("response")]
    if fmt == "jsonl":
        write_jsonl(path, rows)
    elif fmt == "parquet":
        _write_parquet(path, rows)
    elif fmt == "hf":
        _write_hf(out, rows)
    elif fmt in ("messages", "prompt_completion"):
        write_jsonl(path, [CONVERT[fmt](r) for r in rows])
    else:
        atomic_write_text(path, json.dumps([CONVERT[fmt](r) for r in rows], indent=1, ensure_ascii=False) + "\n")
    return path, rows
