"""Export: every format round-trips through `datasets`, and the card carries the provenance."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from export_fixtures import ANSWERER, REPO, TEACHER, first_user_line, load_as_card_says, make_run

from workbench.core.io import write_json, write_jsonl
from workbench.core.records import new_seed
from workbench.export.formats import DATA_FILES
from workbench.export.run_export import FORMATS, ExportError, export


def instructions(fmt: str, out: Path, cache: Path) -> list[str]:
    return [first_user_line(fmt, row) for row in load_as_card_says(fmt, out, cache)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_round_trips_with_a_card(tmp_path, fmt):
    run_dir = make_run(tmp_path)
    out = tmp_path / "export"
    summary = export(run_dir, fmt, out)
    assert summary["source"] == "02_evolve/dataset.jsonl" and summary["rows_written"] == 4
    got = instructions(fmt, out, tmp_path / "hf-cache")
    assert got == ["Name three primary colours.", "Summarise the text.",
                   "Name three primary colours in French.", "List three French words for animals."]
    card = (out / "README.md").read_text()
    assert TEACHER in card and ANSWERER in card
    assert "abcd1234" in card and "0123456789abcdef" in card and "dirty" in card and run_dir.name in card
    assert "| 0 | 2 |" in card and "| 1 | 1 |" in card and "| 2 | 1 |" in card  # rows per round
    assert "| seed | 2 |" in card and "| add_constraints | 1 |" in card and "| breadth | 1 |" in card
    assert "| kept | 4 |" in card and "| eliminated | 1 |" in card and "| failed | 1 |" in card
    assert "| unchanged | 1 |" in card and "| backend_error | 1 |" in card
    assert "unit seeds" in card and "CC-BY-4.0" in card and "license: cc-by-4.0" in card
    assert "no 03_filter stage" in card
    from huggingface_hub import DatasetCard

    meta = DatasetCard.load(out / "README.md").data
    assert meta.task_categories == ["text-generation"] and meta.size_categories == ["n<1K"]
    assert meta.pretty_name == "Evol-Instruct unit" and meta.license == "cc-by-4.0" and meta.language
    assert meta.configs == [{"config_name": "default", "data_files": [{"split": "train", "path": DATA_FILES[fmt]}]}]
    assert "## Fields" in card and "## Sample record" in card and "arXiv:2304.12244" in card
    assert "@article{xu2023wizardlm" in card and "Empowering Large Language Models to Follow Complex Instructions" in card


def test_format_shapes(tmp_path):
    import pyarrow.parquet as pq

    run_dir = make_run(tmp_path)
    for fmt in ("alpaca", "sharegpt", "parquet", "hf"):
        export(run_dir, fmt, tmp_path / fmt)
    alpaca = json.loads((tmp_path / "alpaca" / "alpaca.json").read_text())
    assert alpaca[1] == {"instruction": "Summarise the text.", "input": "Cats sleep a lot.", "output": "Cats nap often."}
    share = json.loads((tmp_path / "sharegpt" / "sharegpt.json").read_text())
    assert share[1]["conversations"] == [{"from": "human", "value": "Summarise the text.\n\nCats sleep a lot."},
                                         {"from": "gpt", "value": "Cats nap often."}]
    assert share[1]["id"]
    table = pq.read_table(tmp_path / "parquet" / "train.parquet")
    assert table.column_names == ["id", "root_id", "parent_id", "round", "op", "instruction", "input",
                                  "response", "difficulty"]
    assert table.column("difficulty").to_pylist() == [None, None, 7.0, None]
    assert table.column("op").to_pylist()[:2] == [None, None]


def test_filtered_dataset_is_preferred_and_its_drops_are_on_the_card(tmp_path):
    run_dir = make_run(tmp_path, with_filter=True)
    summary = export(run_dir, "jsonl", tmp_path / "out")
    assert summary["source"] == "03_filter/dataset.jsonl" and summary["rows_written"] == 3
    card = (tmp_path / "out" / "README.md").read_text()
    assert "03_filter/dataset.jsonl" in card and "| near_duplicate | 1 |" in card


def test_rows_without_a_response_are_left_out_of_training_formats_only(tmp_path):
    run_dir = make_run(tmp_path)
    seed = new_seed("Unanswered question?")
    rows = (run_dir / "02_evolve" / "dataset.jsonl").read_text()
    (run_dir / "02_evolve" / "dataset.jsonl").write_text(rows + json.dumps(seed) + "\n")
    assert export(run_dir, "alpaca", tmp_path / "a")["rows_written"] == 4
    assert "1 rows without a response were left out" in (tmp_path / "a" / "README.md").read_text()
    assert export(run_dir, "jsonl", tmp_path / "j")["rows_written"] == 5


def workbench(*args):
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, cwd=REPO)


def test_cli_export_and_missing_selection(tmp_path):
    run_dir = make_run(tmp_path)
    r = workbench("export", str(run_dir), "--format", "sharegpt", "--out", str(tmp_path / "sg"))
    assert r.returncode == 0, r.stderr
    assert "4 rows from 02_evolve/dataset.jsonl" in r.stdout and (tmp_path / "sg" / "sharegpt.json").is_file()
    r = workbench("export", str(run_dir), "--format", "jsonl", "--out", str(tmp_path / "sel"), "--selection")
    assert r.returncode == 2 and "05_diversity/selection.jsonl" in r.stderr
    assert not (tmp_path / "sel").exists()
    r = workbench("export", str(run_dir), "--format", "csv", "--out", str(tmp_path / "csv"))
    assert r.returncode == 2 and "unknown format 'csv'" in r.stderr
    r = workbench("export", str(tmp_path), "--format", "jsonl", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "not a run folder" in r.stderr


def _set_stage(run_dir: Path, stage: str, **info) -> None:
    m = json.loads((run_dir / "manifest.json").read_text())
    m["stages"][stage] = info
    write_json(run_dir / "manifest.json", m)


def test_a_failed_stage_is_not_exported_unless_allowed_and_then_the_card_says_so(tmp_path):
    run_dir = make_run(tmp_path)
    _set_stage(run_dir, "02_evolve", status="failed", error="RuntimeError: 61% of items failed (max_failure_rate 0.3)")
    r = workbench("export", str(run_dir), "--format", "jsonl", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "not exporting an incomplete dataset: stage 02_evolve is failed" in r.stderr
    assert "--allow-incomplete" in r.stderr and not (tmp_path / "x").exists()
    r = workbench("export", str(run_dir), "--format", "jsonl", "--out", str(tmp_path / "x"), "--allow-incomplete")
    assert r.returncode == 0, r.stderr
    assert "warning: incomplete export" in r.stderr
    card = (tmp_path / "x" / "README.md").read_text()
    assert "> **Incomplete:** exported with `--allow-incomplete` although stage 02_evolve is failed" in card
    assert "max_failure_rate" in card


def test_a_failed_filter_stops_the_export_of_the_unfiltered_rows(tmp_path):
    run_dir = make_run(tmp_path)
    _set_stage(run_dir, "03_filter", status="failed", error="OSError: [Errno 28] No space left on device")
    with pytest.raises(ExportError, match="stage 03_filter is failed"):
        export(run_dir, "jsonl", tmp_path / "x")


def test_an_empty_dataset_is_not_exported_unless_allowed(tmp_path):
    run_dir = make_run(tmp_path)
    write_jsonl(run_dir / "02_evolve" / "dataset.jsonl", [])
    with pytest.raises(ExportError, match="02_evolve/dataset.jsonl has no rows"):
        export(run_dir, "alpaca", tmp_path / "x")
    summary = export(run_dir, "alpaca", tmp_path / "x", allow_incomplete=True)
    assert summary["rows_written"] == 0 and "has no rows" in (tmp_path / "x" / "README.md").read_text()


def test_a_corrupt_manifest_leaves_no_dataset_without_its_card(tmp_path):
    run_dir = make_run(tmp_path)
    (run_dir / "manifest.json").write_text('{"run_id": "x", "stages": {')
    r = workbench("export", str(run_dir), "--format", "jsonl", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "manifest.json:1: invalid JSON" in r.stderr
    assert not (tmp_path / "x" / "train.jsonl").exists()
    assert not list(tmp_path.glob(".x.export-*"))  # no temp folder left behind either


def test_out_pointing_at_a_file_is_a_clear_error(tmp_path):
    run_dir = make_run(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    r = workbench("export", str(run_dir), "--format", "jsonl", "--out", str(tmp_path / "notes.txt"))
    assert r.returncode == 2 and "is a file; give a folder" in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_exported_files_are_readable_by_colleagues(tmp_path):
    import os

    run_dir = make_run(tmp_path)
    old = os.umask(0o022)
    try:
        export(run_dir, "hf", tmp_path / "hf")
    finally:
        os.umask(old)
    for path in [tmp_path / "hf", *(tmp_path / "hf").rglob("*")]:
        assert path.stat().st_mode & 0o044 == 0o044, path  # group and others may read
