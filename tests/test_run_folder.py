"""RunFolder: the one reader of run-folder file names."""

import subprocess
from pathlib import Path

import pytest

from workbench.core import run_folder as RF
from workbench.core.io import write_json, write_jsonl
from workbench.core.run_folder import (
    FILES,
    MissingInputError,
    RunFolder,
    latest_run,
    runs,
    stage_of,
)

REPO = Path(__file__).resolve().parent.parent


def make(outputs: Path, name: str) -> RunFolder:
    run = RunFolder(outputs / "runs" / name)
    write_json(run.manifest_file, {"run_id": name})
    return run


def test_every_role_names_a_file_in_its_stage_folder_and_stages_are_in_order():
    stages = [stage_of(r) for r in FILES]
    assert stages == sorted(stages), "FILES is kept sorted by stage"
    for role, rel in FILES.items():
        assert not Path(rel).is_absolute() and ".." not in rel
        assert stage_of(role) == (rel.split("/")[0] if "/" in rel else "")
    assert set(RF.DATASET_ROLES) <= set(FILES)


def test_roles_read_the_files_the_stages_write(tmp_path):
    run = make(tmp_path, "20260101-000000_a")
    write_jsonl(run.path / "01_seed" / "records.jsonl", [{"id": "s"}])
    write_json(run.path / "02_evolve" / "stats.json", {"attempts": 3})
    assert run.rows("seeds") == [{"id": "s"}] and run.has("seeds") and not run.has("attempts")
    assert run.file("seeds") == run.path / "01_seed" / "records.jsonl"
    assert run.stats("02_evolve") == {"attempts": 3} and run.stats("03_filter") == {}
    assert run.rows_or_none("filtered") is None
    assert run.manifest() == {"run_id": run.name}


def test_a_missing_file_names_the_stage_to_run(tmp_path):
    run = make(tmp_path, "20260101-000000_a")
    with pytest.raises(MissingInputError, match=r"02_evolve/dataset.jsonl not found .*run stage 02_evolve first"):
        run.rows("evolved")
    with pytest.raises(MissingInputError, match=r"05_diversity/selection.jsonl .*run stage 05_diversity first"):
        run.rows("selection")
    with pytest.raises(MissingInputError, match="run the earlier stages first"):
        run.latest_dataset()
    with pytest.raises(MissingInputError, match="not a run folder"):
        RunFolder(tmp_path / "nowhere").manifest()
    assert isinstance(MissingInputError("x"), FileNotFoundError)


def test_latest_dataset_prefers_the_filtered_rows(tmp_path):
    run = make(tmp_path, "20260101-000000_a")
    write_jsonl(run.file("evolved"), [{"id": "e"}])
    assert run.latest_dataset() == ([{"id": "e"}], "evolved")
    write_jsonl(run.file("filtered"), [{"id": "f"}])
    assert run.latest_dataset() == ([{"id": "f"}], "filtered")
    write_jsonl(run.file("scored"), [{"id": "d"}])
    assert run.latest_dataset(("scored", *RF.DATASET_ROLES)) == ([{"id": "d"}], "scored")
    assert run.latest_dataset()[1] == "filtered"  # the default order ignores the scored rows


def test_runs_are_oldest_first_and_folders_without_a_manifest_are_not_runs(tmp_path):
    b = make(tmp_path, "20260102-000000_b")
    a = make(tmp_path, "20260101-000000_a")
    (tmp_path / "runs" / "20260103-000000_half").mkdir()  # a run being created: no manifest yet
    assert [r.name for r in runs(tmp_path)] == [a.name, b.name]
    assert latest_run(tmp_path).path == b.path
    with pytest.raises(MissingInputError, match="workbench run params/default.yaml"):
        latest_run(tmp_path / "empty")


def test_paths_resolve_from_the_project_not_the_working_directory(tmp_path, monkeypatch):
    expected = [r.path for r in runs(REPO / "outputs")]
    monkeypatch.chdir(tmp_path)
    assert RF.OUTPUTS == REPO / "outputs" and RF.OUTPUTS.is_absolute()
    assert [r.path for r in runs()] == expected
    assert RunFolder("outputs/runs/x").path == tmp_path / "outputs" / "runs" / "x"  # a typed path: from the cwd


def test_no_module_but_the_table_and_run_folder_spells_a_run_file_name():
    """The contract: the stage table declares every file name, run_folder the run-level ones;
    every name they hold is looked for (docstrings and comments may mention them)."""
    names = {Path(rel).name for rel in FILES.values()} | {RF.STATS, RF.MANIFEST, RF.PARAMS, RF.RESPONSES}
    names -= {"model"}  # 06_finetune's model/ folder: too common a word to grep
    hits = subprocess.run(["grep", "-rnF", *[f"-e{n}" for n in sorted(names)], "workbench", "notebooks"],
                          capture_output=True, text=True, cwd=REPO).stdout.splitlines()
    owners = ("workbench/core/run_folder.py", "workbench/core/stage_table.py")
    code = [h for h in hits if not h.startswith(owners) and not _in_docstring(h)]
    assert code == []


def test_the_name_check_finds_a_spelled_name(tmp_path):
    """Positive control for the check above: a quoted file name in code is a hit."""
    (tmp_path / "mod.py").write_text('PATH = "selection.jsonl"\n', encoding="utf-8")
    hits = subprocess.run(["grep", "-rnF", "-eselection.jsonl", str(tmp_path)], capture_output=True, text=True)
    assert hits.stdout and not _in_docstring(f"{tmp_path / 'mod.py'}:1:PATH = \"selection.jsonl\"")


def _in_docstring(hit: str) -> bool:
    """True when the grep hit lies inside a module/function docstring or a comment."""
    path, line_no, text = hit.split(":", 2)
    if "#" in text and any(name in text.split("#", 1)[1] for name in (".json", ".jsonl", ".yaml", ".sqlite")):
        return True  # a comment
    before = Path(path) if Path(path).is_absolute() else REPO / path
    source = before.read_text(encoding="utf-8").splitlines()[: int(line_no) - 1]
    return sum(line.count('"""') for line in source) % 2 == 1 or text.strip().startswith('"""')
