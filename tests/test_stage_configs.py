"""The stage contract: each notebook's parameters cell and its stage's Config agree exactly."""

import dataclasses
from pathlib import Path

import pytest

from workbench.core.config import STAGE_CONFIGS, StageConfig, config_class
from workbench.pipeline.nbparams import read_params

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise AssertionError(f"{f.name} has no default")


def _plain(v):
    """Tuples (a frozen Config's list defaults) compared as the notebook's lists, nested too."""
    return [_plain(x) for x in v] if isinstance(v, (tuple, list)) else v


def test_every_notebook_has_a_config():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.py")) == sorted(STAGE_CONFIGS)


@pytest.mark.parametrize("stage", sorted(STAGE_CONFIGS))
def test_config_fields_and_defaults_equal_the_parameters_cell(stage):
    cls = config_class(stage)
    assert issubclass(cls, StageConfig) and dataclasses.is_dataclass(cls)
    params = {k: p.default for k, p in read_params(NOTEBOOKS / f"{stage}.py").items() if k != "run_dir"}
    config = {f.name: _plain(_default(f)) for f in dataclasses.fields(cls)}
    assert list(config) == list(params), "same names, same order"
    assert config == {k: _plain(v) for k, v in params.items()}


@pytest.mark.parametrize("stage", sorted(STAGE_CONFIGS))
def test_config_builds_from_a_notebook_namespace(stage):
    cls = config_class(stage)
    params = {k: p.default for k, p in read_params(NOTEBOOKS / f"{stage}.py").items()}
    cfg = cls.from_namespace(params | {"unrelated": 1})
    assert cfg == cls()
    first = dataclasses.fields(cls)[0].name
    with pytest.raises(KeyError, match=first):
        cls.from_namespace({k: v for k, v in params.items() if k != first})


def test_a_disagreeing_default_is_caught(tmp_path):
    """The check above is not vacuous: a changed default makes the two differ."""
    cls = config_class("05_diversity")
    params = {k: p.default for k, p in read_params(NOTEBOOKS / "05_diversity.py").items() if k != "run_dir"}
    changed = dict(params, knn_k=params["knn_k"] + 1)
    assert {f.name: _default(f) for f in dataclasses.fields(cls)} != changed


def test_lists_from_a_notebook_are_held_as_tuples_and_checks_run():
    cls = config_class("07_evaluate")
    cfg = cls(candidates=["seeds", "evolved"], pairs=[["evolved", "seeds"]])
    assert cfg.candidates == ("seeds", "evolved") and cfg.pairs == (("evolved", "seeds"),)
    hash(cfg)  # frozen and hashable: nothing mutable left inside
    with pytest.raises(ValueError, match="flying"):
        config_class("02_evolve")(rules=["flying"])
