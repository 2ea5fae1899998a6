"""Params: one YAML file per run, validated strictly before any work starts.

    include: base.yaml          # optional; this file's keys override the base's
    run:      {name, seed, limit, model, ...}    # core/run_section.py
    seed:     {...}             # keys of notebooks/01_seed.py's parameters cell
    evolve:   {...}             # keys of notebooks/02_evolve.py's parameters cell
    ...                         # one section per stage of core/stage_table.py

A section is checked key by key against its notebook's parameters cell (type and rule), then
by building the stage's Config: its check() on the values, its preflight() on the files they
name. Those are the only checks; nothing here restates a stage's defaults or rules.

Papermill alone only warns about an unknown parameter; here an unknown section or key, a
wrong type or an impossible value is a ParamsError naming the file (the included file where
the value was written) and the key. A key given twice in one mapping is an error too (YAML
would silently keep the last); an empty file is a warning, as it runs the full default job.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import sys
from pathlib import Path

import yaml

from workbench.core.config import ConfigError
from workbench.core.run_section import RUN_SECTION
from workbench.core.stage_table import pipeline, stage
from workbench.pipeline.nbparams import Param, parse_params_source, read_params

# The run section (core/run_section.py), parsed and checked like a parameters cell.
RUN_PARAMS: dict[str, Param] = parse_params_source(RUN_SECTION.strip("\n"), 1, "workbench/core/run_section.py:RUN_SECTION")


class ParamsError(ValueError):
    pass


# Keys naming a file or folder: checked before any work. "bundled" means the shipped data;
# seed.source may also be a dataset hub name (org/name), loaded where a network exists.
PATH_KEYS = {"source", "eval_set", "labelled_set"}
NOT_LLM_KEYS = {"embed_model"}  # sentence-transformers models, checked by the diversity section
HUB_NAME = re.compile(r"^[\w.-]+/[\w.-]+$")


def check_path(section: str, key: str, value: str) -> str | None:
    if value == "bundled" or Path(value).expanduser().exists():
        return None
    if section == "seed" and HUB_NAME.match(value) and not value.endswith((".jsonl", ".json", ".csv")):
        return None
    return f"file or folder not found: {value}"


def stage_notebooks() -> dict[str, Path]:
    """{"seed": notebooks/01_seed.py, ...} for every pipeline stage, in order."""
    return {s.section: s.notebook for s in pipeline()}


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load, except that a key given twice in one mapping is an error, not 'last wins'."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def load_yaml(path: Path, seen: tuple = (), origins: dict | None = None) -> dict:
    """The file's sections merged over its includes'. `origins` gets "section.key" -> the file
    the value came from, so an error can name the included file rather than the including one."""
    path = path.resolve()
    if path in seen:
        raise ParamsError(f"{path}: include cycle ({' -> '.join(str(p) for p in seen + (path,))})")
    if not path.is_file():
        raise ParamsError(f"{seen[-1] if seen else 'params'}: file not found: {path}")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ParamsError(f"{where}: invalid YAML: {getattr(e, 'problem', e)}") from None
    if data is None:
        data = {}
        if not seen:
            warn(f"{path} is empty: every stage runs with its defaults (the full default job)")
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    include = data.pop("include", None)
    if include is not None and not isinstance(include, str):
        raise ParamsError(f"{path}: include: expected a file path")
    base = load_yaml(path.parent / include, seen + (path,), origins) if include is not None else {}
    if origins is not None:
        for section, values in data.items():
            origins[section] = str(path)
            for key in values if isinstance(values, dict) else ():
                origins[f"{section}.{key}"] = str(path)
    return deep_merge(base, data)


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def set_values(params: dict, values: dict, what: str = "--set") -> dict:
    """{"evolve.rounds": 2} -> a copy of params with params["evolve"]["rounds"] = 2."""
    out = copy.deepcopy(params)
    for key, value in values.items():
        section, _, name = key.partition(".")
        if out.get(section) is None:
            out[section] = {}
        if not isinstance(out[section], dict):
            raise ParamsError(f"{what} {key}: section {section!r} is not a mapping")
        out[section][name] = copy.deepcopy(value)
    return out


def apply_sets(params: dict, sets: list[str]) -> dict:
    """`--set evolve.rounds=2` -> params["evolve"]["rounds"] = 2 (value parsed as YAML)."""
    values = {}
    for item in sets:
        key, eq, raw = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not eq or not dot or not section or not name:
            raise ParamsError(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. evolve.rounds=2")
        try:
            values[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError:
            values[key.strip()] = raw
    return set_values(params, values)


ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
KEY_PREFIXES = ("sk-", "sk_", "hf_", "gsk_", "xai-", "pk-", "AIza", "ghp_", "github_pat_")


def check_api_key_env(value: str) -> str | None:
    """api_key_env must name a variable: a key pasted there would be written to params.yaml."""
    looks_random = len(value) >= 24 and any(c.isdigit() for c in value) and any(c.islower() for c in value) \
        and any(c.isupper() for c in value)
    if not ENV_NAME.match(value) or value.startswith(KEY_PREFIXES) or looks_random:
        return ("looks like an API key, not the name of an environment variable; put the key in a variable "
                "(export MY_KEY=...) and set api_key_env: MY_KEY, so the key is never written to disk")
    return None


def check_value(section: str, key: str, value) -> str | None:
    """Checks on a single value that its parameters-cell type and rule cannot express."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    if section == "run" and key == "model" and not str(value).strip():
        return "empty; use embedded, hf:<path or name> or openai:<model>@<base_url>"
    if section == "run" and key == "api_key_env" and isinstance(value, str):
        return check_api_key_env(value)
    if section == "run" and key == "vllm_args" and isinstance(value, dict):
        # late: it imports vllm where vllm is installed, to check the names against its EngineArgs
        from workbench.llm.vllm_backend import vllm_args_problems

        return "; ".join(vllm_args_problems(value)) or None
    return None


def validate(params: dict, source: str = "params", origins: dict | None = None) -> dict:
    """Check every section and key; return params completed with defaults.

    Raises ParamsError naming the offending key and its file: `origins["section.key"]` where
    given (see load_yaml), else `source`.
    """
    origins = origins or {}
    from workbench.llm.registry import (
        check_model_string,  # late: keeps params importable without torch
    )

    stages = stage_notebooks()
    known = {"run": RUN_PARAMS} | {s: read_params(p) for s, p in stages.items()}
    errors = []
    resolved: dict = {}
    for section, values in params.items():
        where = origins.get(section, source)
        if section not in known:
            errors.append(f"{where}: unknown section {section!r} (known: {', '.join(known)})")
            continue
        if values is None:
            values = {}
        if not isinstance(values, dict):
            errors.append(f"{where}: {section}: expected a mapping of keys")
            continue
        for key, value in values.items():
            where = origins.get(f"{section}.{key}", source)
            spec = known[section].get(key)
            if spec is None or key == "run_dir":
                errors.append(f"{where}: unknown key {section}.{key} (known: {', '.join(k for k in known[section] if k != 'run_dir')})")
                continue
            why = spec.check(value) or check_value(section, key, value)
            if why is None and (key == "model" or key.endswith("_model")) and key not in NOT_LLM_KEYS and value:
                why = check_model_string(value)
            if why is None and key in PATH_KEYS and isinstance(value, str):
                why = check_path(section, key, value)
            if why:
                errors.append(f"{where}: {section}.{key}: {why}")
    if errors:
        raise ParamsError("\n".join(errors))
    for section, spec in known.items():
        given = params.get(section) or {}
        resolved[section] = {k: given.get(k, p.default) for k, p in spec.items() if k != "run_dir"}
        if section != "run":
            errors += [f"{source}: {e}" for e in config_errors(section, resolved[section])]
    if errors:
        raise ParamsError("\n".join(errors))
    return resolved


def config_errors(section: str, values: dict) -> list[str]:
    """The stage's own checks: build its Config from the section, then pre-flight its files."""
    try:
        cfg = stage(section).config_class()(**values)
    except ConfigError as e:
        return e.errors
    return cfg.preflight()


def load(path: Path | str, sets: list[str] | None = None) -> dict:
    """Read, merge includes, apply --set overrides, validate: the resolved params of a run."""
    path = Path(path)
    origins: dict = {}
    raw = load_yaml(path, origins=origins)
    origins.update({item.partition("=")[0].strip(): f"--set {item}" for item in sets or []})
    raw = apply_sets(raw, sets or [])
    return validate(raw, str(path), origins)


def params_hash(resolved: dict) -> str:
    return hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()[:8]


_SERVED = re.compile(r"^(openai(?:-batch)?:[^@]+)@(https?://\S+)$")


def without_servers(value):
    """The params with every server list of a model string left out (`openai:m@urls` ->
    `openai:m`): what a run's answers depend on. Servers may change between a run and its
    resume (one fewer, other ports, a router in front); the response cache keys on the model
    name, so the resumed run repays nothing."""
    if isinstance(value, dict):
        return {k: without_servers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_servers(v) for v in value]
    if isinstance(value, str) and (m := _SERVED.match(value)):
        return m.group(1)
    return value
