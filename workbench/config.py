"""Every stage's parameters as one typed object: the notebook's parameter block is the config.

A stage module owns `Config(StageConfig)`, a frozen dataclass whose fields are exactly the
parameters of its notebook (all but run_dir, which only says where the run is), with the same
defaults; tests/test_stage_configs.py keeps the two equal. The notebook builds it in one line:

    cfg = Config.from_namespace(globals())
"""

from __future__ import annotations

import importlib
from dataclasses import fields

# notebook stem -> "module:class" of its Config
STAGE_CONFIGS = {
    "00_explore": "workbench.explore:Config",
    "01_seed": "workbench.seed_stage:Config",
    "02_evolve": "workbench.evolve_stage:Config",
    "03_filter": "workbench.filter_stage:Config",
    "04_difficulty": "workbench.difficulty_stage:Config",
    "05_diversity": "workbench.diversity.config:Config",
    "06_finetune": "workbench.finetune_stage:Config",
    "07_evaluate": "workbench.evaluate_stage:Config",
    "08_compare": "workbench.compare:Config",
}


class StageConfig:
    """Mixin for a stage's frozen dataclass Config: lists a notebook passes are held as tuples
    (nested ones too), then `check()` runs; any message it returns fails the construction."""

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, _frozen(value))
        if errors := self.check():
            raise ValueError("; ".join(errors))

    def check(self) -> list[str]:
        """Checks a type cannot express; one message per problem."""
        return []

    @classmethod
    def from_namespace(cls, namespace: dict):
        """The config from a dict holding (at least) every field by name, e.g. a notebook's globals()."""
        missing = [f.name for f in fields(cls) if f.name not in namespace]
        if missing:
            raise KeyError(f"{cls.__module__}.{cls.__qualname__}: parameters missing: {', '.join(missing)}")
        return cls(**{f.name: namespace[f.name] for f in fields(cls)})

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _frozen(value):
    return tuple(_frozen(v) for v in value) if isinstance(value, list | tuple) else value


def config_class(stage: str):
    module, name = STAGE_CONFIGS[stage].split(":")
    return getattr(importlib.import_module(module), name)
