"""Every stage's parameters as one typed object: the notebook's parameter block is the config.

A stage module owns `Config(StageConfig)`, a frozen dataclass whose fields are exactly the
parameters of its notebook (all but run_dir, which only says where the run is), with the same
defaults; tests/test_stage_configs.py keeps the two equal. Params validation builds each
section's Config, so its checks are the only ones. The notebook builds it in one line:

    cfg = Config.from_namespace(globals())
"""

from __future__ import annotations

from dataclasses import fields


class ConfigError(ValueError):
    """A Config whose values fail its checks; `errors` holds one message per problem."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


class StageConfig:
    """Mixin for a stage's frozen dataclass Config: lists a notebook passes are held as tuples
    (nested ones too), then `check()` runs; any message it returns fails the construction."""

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, _frozen(value))
        if errors := self.check():
            raise ConfigError(errors)

    def check(self) -> list[str]:
        """Checks a type cannot express, on the values alone; one message per problem."""
        return []

    def preflight(self) -> list[str]:
        """Checks that read the files the values name (a field mapping tried on its file): run
        by params validation before any work, not on every construction."""
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
