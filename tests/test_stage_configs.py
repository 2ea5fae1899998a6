"""The stage contract: each notebook's parameters cell and its stage's Config agree exactly."""

import dataclasses

import pytest

from workbench.core.config import StageConfig
from workbench.core.stage_table import NOTEBOOKS_DIR, STAGES, stage
from workbench.pipeline.nbparams import config_disagreements, read_params

NAMES = [s.name for s in STAGES]


def test_every_notebook_is_a_row_of_the_stage_table():
    assert sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.py")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_config_fields_and_defaults_equal_the_parameters_cell(name):
    cls = stage(name).config_class()
    assert issubclass(cls, StageConfig) and dataclasses.is_dataclass(cls)
    assert config_disagreements(cls, stage(name).notebook) == []


@pytest.mark.parametrize("name", NAMES)
def test_config_builds_from_a_notebook_namespace(name):
    cls = stage(name).config_class()
    params = {k: p.default for k, p in read_params(stage(name).notebook).items()}
    cfg = cls.from_namespace(params | {"unrelated": 1})
    assert cfg == cls()
    first = dataclasses.fields(cls)[0].name
    with pytest.raises(KeyError, match=first):
        cls.from_namespace({k: v for k, v in params.items() if k != first})


def test_a_disagreeing_notebook_is_caught(tmp_path):
    """The contract check on a notebook whose knn_k default, then whose order, differs."""
    spec = stage("05_diversity")
    source = spec.notebook.read_text(encoding="utf-8")
    changed = tmp_path / "05_diversity.py"
    changed.write_text(source.replace("knn_k = 10", "knn_k = 11"), encoding="utf-8")
    assert config_disagreements(spec.config_class(), changed) == [
        f"{changed}: knn_k = 11 but Config.knn_k = 10"]
    lines = source.splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if line.startswith("knn_k = "))
    lines[i], lines[i + 1] = lines[i + 1], lines[i]
    changed.write_text("".join(lines), encoding="utf-8")
    assert "fields" in config_disagreements(spec.config_class(), changed)[0]


def test_lists_from_a_notebook_are_held_as_tuples_and_checks_run():
    cls = stage("07_evaluate").config_class()
    cfg = cls(candidates=["seeds", "evolved"], pairs=[["evolved", "seeds"]])
    assert cfg.candidates == ("seeds", "evolved") and cfg.pairs == (("evolved", "seeds"),)
    hash(cfg)  # frozen and hashable: nothing mutable left inside
    with pytest.raises(ValueError, match="flying"):
        stage("02_evolve").config_class()(rules=["flying"])
