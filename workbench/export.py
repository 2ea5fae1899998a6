"""Export a run's dataset for training elsewhere, with a dataset card that says where it came from.

    workbench export RUN_DIR --format hf|jsonl|alpaca|sharegpt|parquet --out DIR [--selection]
                                 [--allow-incomplete]

Rows are the latest dataset the run has: 03_filter/dataset.jsonl, else 02_evolve/dataset.jsonl
(--selection: 05_diversity/selection.jsonl). Files written into DIR:

    jsonl     train.jsonl      our full records, every field
    alpaca    alpaca.json      [{instruction, input, output}]            (a JSON list, as Alpaca ships)
    sharegpt  sharegpt.json    [{id, conversations: [human, gpt]}]       (a JSON list, as FastChat reads)
    parquet   train.parquet    flat columns: FLAT_COLUMNS
    hf        dataset_dict.json + train/   DatasetDict({"train"}) with FLAT_COLUMNS + messages
    every     README.md        dataset card: teacher models, params hash, git sha, counts, drops, seeds

Rows whose last curation mark (`<run>/curation.jsonl`, made in 00_explore) is "rejected" are
left out of every format, and the card counts them: rows in = written + rejected + no response.

alpaca and sharegpt are training formats: a row without a response would teach an empty answer,
so such rows are left out of them and the card counts them. The other formats keep every row.
A synthetic dataset is only reusable when its teacher models, settings and seed license travel
with it; the card carries them from the run's manifest.json and stats files.

A stage that failed (02_evolve past max_failure_rate still writes its dataset), one that never
finished, or an empty dataset is refused unless --allow-incomplete, and then the card says so
at the top. Everything is written into a temp folder beside DIR and moved in at the end, so a
failure (a corrupt manifest, a full disk) never leaves a dataset without its card.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path

from .curation import load_marks, without_rejected
from .io import (
    atomic_write_bytes,
    atomic_write_text,
    current_umask,
    read_json,
    read_jsonl,
    write_jsonl,
)
from .records import full_text
from .stage import DATASETS, first_existing

FORMATS = ("hf", "jsonl", "alpaca", "sharegpt", "parquet")
FILES = {"jsonl": "train.jsonl", "alpaca": "alpaca.json", "sharegpt": "sharegpt.json",
         "parquet": "train.parquet", "hf": "dataset_dict.json"}
FLAT_COLUMNS = ("id", "root_id", "parent_id", "round", "op", "instruction", "input", "response", "difficulty")
SOURCES = DATASETS
SELECTION = "05_diversity/selection.jsonl"


class ExportError(ValueError):
    pass


def source_file(run_dir: Path, selection: bool = False) -> Path:
    """The file rows come from: the latest dataset stage the run has, or the diversity selection."""
    if not (run_dir / "manifest.json").is_file():
        raise ExportError(f"{run_dir}: not a run folder (no manifest.json)")
    if selection:
        path = run_dir / SELECTION
        if not path.is_file():
            raise ExportError(f"{run_dir}: no {SELECTION}; run stage 05_diversity first, or export without --selection")
        return path
    found = first_existing(run_dir, SOURCES)
    if found:
        return run_dir / found
    raise ExportError(f"{run_dir}: no dataset yet ({' or '.join(SOURCES)}); run stage 02_evolve first")


def to_alpaca(rec: dict) -> dict:
    return {"instruction": rec["instruction"], "input": rec.get("input") or "", "output": rec["response"]}


def to_sharegpt(rec: dict) -> dict:
    return {"id": rec["id"], "conversations": [
        {"from": "human", "value": full_text(rec)}, {"from": "gpt", "value": rec["response"]}]}


def _difficulty(rec: dict) -> float | None:
    value = (rec.get("scores") or {}).get("difficulty")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def to_flat(rec: dict) -> dict:
    row = {k: rec.get(k) for k in FLAT_COLUMNS if k != "difficulty"}
    row["input"] = row["input"] or ""
    row["difficulty"] = _difficulty(rec)
    return row


def _schema(messages: bool):
    """Explicit column types: a column that is null in every row must still load as text / float."""
    import pyarrow as pa

    fields = [(k, pa.string()) for k in FLAT_COLUMNS]
    fields[FLAT_COLUMNS.index("round")] = ("round", pa.int64())
    fields[FLAT_COLUMNS.index("difficulty")] = ("difficulty", pa.float64())
    if messages:
        fields.append(("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))))
    return pa.schema(fields)


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
    flat = [to_flat(r) | {"messages": [{"role": "user", "content": full_text(r)},
                                       {"role": "assistant", "content": r.get("response") or ""}]}
            for r in rows]
    features = Features.from_arrow_schema(_schema(True))
    dd = DatasetDict({"train": Dataset.from_list(flat, features=features)})
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


def write_rows(fmt: str, out: Path, rows: list[dict]) -> tuple[Path, int]:
    """Write rows in one format into out; returns (the main file, rows written)."""
    path = out / FILES[fmt]
    if fmt == "jsonl":
        return path, write_jsonl(path, rows)
    if fmt == "parquet":
        _write_parquet(path, rows)
        return path, len(rows)
    if fmt == "hf":
        _write_hf(out, rows)
        return path, len(rows)
    convert = to_alpaca if fmt == "alpaca" else to_sharegpt
    data = [convert(r) for r in rows if r.get("response")]
    atomic_write_text(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return path, len(data)


def incomplete_reasons(manifest: dict, source: str, rows: list[dict]) -> list[str]:
    """Why this export would not be the finished dataset: the source stage or one before it
    failed or never finished, or there are no rows. Empty when all is well."""
    stages = manifest.get("stages")
    if not isinstance(stages, dict):
        return ["manifest.json records no stage status"]
    source_stage = source.split("/")[0]
    reasons = []
    for stage, info in stages.items():
        if stage > source_stage and stage != "03_filter":  # a failed filter means unfiltered rows here
            continue
        status = info.get("status") if isinstance(info, dict) else None
        error = f": {info['error']}" if isinstance(info, dict) and info.get("error") else ""
        if status in ("failed", "running") or (stage == source_stage and status != "done"):
            reasons.append(f"stage {stage} is {status or 'not recorded'}{error}")
    if not rows:
        reasons.append(f"{source} has no rows")
    return reasons


def _read_manifest(run_dir: Path) -> dict:
    manifest = read_json(run_dir / "manifest.json")
    if not isinstance(manifest, dict):
        raise ExportError(f"{run_dir / 'manifest.json'}: expected a JSON object, got {type(manifest).__name__}")
    return manifest


def _move_into(tmp: Path, out: Path) -> None:
    """Every file made in tmp into out, replacing files of the same name."""
    out.mkdir(parents=True, exist_ok=True)
    for item in sorted(tmp.iterdir()):
        target = out / item.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(item, target)


def export(run_dir: Path | str, fmt: str, out: Path | str, selection: bool = False,
           allow_incomplete: bool = False) -> dict:
    """Export one run's dataset as fmt into out, with README.md; returns a summary of what was written."""
    from .card import dataset_card

    run_dir, out = Path(run_dir), Path(out)
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out}: is a file; give a folder (it gets {FILES[fmt]} and README.md)")
    src = source_file(run_dir, selection)
    source = str(src.relative_to(run_dir))
    manifest = _read_manifest(run_dir)  # before anything is written: a corrupt one stops here
    rows = read_jsonl(src)
    # --- curation (curation.py): rows a researcher rejected in 00_explore are left out ---
    rows_in = len(rows)
    marks = load_marks(run_dir)
    rows, rejected = without_rejected(rows, marks)
    curated = {"rejected": rejected, "accepted": sum(marks.get(r.get("id"), {}).get("mark") == "accepted" for r in rows)}
    # --- end curation ---
    incomplete = incomplete_reasons(manifest, source, rows)
    if incomplete and not allow_incomplete:
        raise ExportError(f"{run_dir}: not exporting an incomplete dataset: {'; '.join(incomplete)}. "
                          "Finish the run (workbench run --resume), or pass --allow-incomplete to export it "
                          "anyway; the card will say so")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())
        path, written = write_rows(fmt, tmp, rows)
        summary = {"run_dir": str(run_dir), "source": source, "format": fmt,
                   "file": path.name, "rows_in": rows_in, "rows_written": written,
                   "left_out_no_response": len(rows) - written, "incomplete": incomplete,
                   "curation": curated}
        atomic_write_text(tmp / "README.md", dataset_card(run_dir, rows, summary))
        _move_into(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary

