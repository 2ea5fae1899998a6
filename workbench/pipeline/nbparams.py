"""Read a notebook's `parameters` cell: the single source of truth for a stage's params.

A parameters cell is a block of plain typed values, one per line, each with a help comment;
the comment may end with a rule the runner enforces before anything executes:

    rounds = 4  # evolution rounds M [min 0]
    temperature = 0.7  # sampling temperature [0..2]
    batch_size = 16  # prompts per batch [>0]
    on_bad_line = "fail"  # malformed input lines {fail|skip}
    limit: int | None = None  # optional cap

  -> {"rounds": Param(default=4, types=(int,), rule=(">=", 0)), ...}

Rules: [min X] [max X] [>X] [<X] [lo..hi] {a|b|c}. A help comment may not contain "=":
Papermill's own parameter reader (`papermill --help-notebook`) gives up on such lines.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

PARAMETERS_MARK = re.compile(r"^# %%.*tags=\[[^\]]*[\"']parameters[\"']")
CELL_MARK = re.compile(r"^# %%")
_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict, "None": type(None)}
_RANGE = re.compile(r"\[(min|max|>|<)\s*(-?[\d.]+)\]\s*$|\[(-?[\d.]+)\s*\.\.\s*(-?[\d.]+)\]\s*$")
_OPS = {"min": ">=", "max": "<=", ">": ">", "<": "<"}
_CHOICES = re.compile(r"\{([\w\-.|]+)\}\s*$")


class NotebookParamsError(ValueError):
    pass


@dataclass(frozen=True)
class Param:
    name: str
    default: object
    types: tuple
    help: str
    rule: tuple | None = None  # (">=", 0) | ("range", lo, hi) | ("choices", (...))
    line: int = 0

    def check(self, value) -> str | None:
        """Why `value` is not acceptable for this param, or None when it is."""
        if not _type_ok(value, self.types):
            want = " or ".join(t.__name__ if t is not type(None) else "null" for t in self.types)
            return f"expected {want}, got {type(value).__name__} {value!r}"
        if value is None or self.rule is None:
            return None
        kind = self.rule[0]
        if kind == "choices":
            if value not in self.rule[1]:
                return f"must be one of {', '.join(self.rule[1])}, got {value!r}"
            return None
        if kind == "range":
            lo, hi = self.rule[1], self.rule[2]
            return None if lo <= value <= hi else f"must be between {lo} and {hi}, got {value!r}"
        bound = self.rule[1]
        ok = {">=": value >= bound, ">": value > bound, "<=": value <= bound, "<": value < bound}[kind]
        return None if ok else f"must be {kind} {bound}, got {value!r}"


def _type_ok(value, types) -> bool:
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int) and (int in types or float in types):
        return True
    return any(t is not bool and isinstance(value, t) for t in types)


def _annotation_types(node) -> tuple:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _annotation_types(node.left) + _annotation_types(node.right)
    if isinstance(node, ast.Constant) and node.value is None:
        return (type(None),)
    if isinstance(node, ast.Name) and node.id in _TYPES:
        return (_TYPES[node.id],)
    raise NotebookParamsError(f"unsupported annotation {ast.unparse(node)!r}")


def _parse_rule(help_text: str):
    m = _RANGE.search(help_text)
    if m:
        if m.group(1):
            return (_OPS[m.group(1)], float(m.group(2)) if "." in m.group(2) else int(m.group(2)))
        lo, hi = (float(x) if "." in x else int(x) for x in (m.group(3), m.group(4)))
        return ("range", lo, hi)
    m = _CHOICES.search(help_text)
    if m:
        return ("choices", tuple(m.group(1).split("|")))
    return None


def parameters_cell(path: Path | str) -> tuple[str, int]:
    """Source of the one cell tagged `parameters` and the file line it starts on."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if PARAMETERS_MARK.match(line)]
    if len(starts) != 1:
        raise NotebookParamsError(f"{path}: expected exactly one parameters cell, found {len(starts)}")
    body = []
    for line in lines[starts[0] + 1:]:
        if CELL_MARK.match(line):
            break
        body.append(line)
    return "\n".join(body), starts[0] + 2


def read_params(path: Path | str) -> dict[str, Param]:
    src, first_line = parameters_cell(path)
    return parse_params_source(src, first_line, str(path))


def parse_params_source(src: str, first_line: int = 1, path: str = "<params>") -> dict[str, Param]:
    comments = {}
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    params: dict[str, Param] = {}
    for node in ast.parse(src).body:
        where = f"{path}:{first_line + node.lineno - 1}"
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, value_node, types = node.targets[0].id, node.value, None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name, value_node, types = node.target.id, node.value, _annotation_types(node.annotation)
        else:
            raise NotebookParamsError(f"{where}: a parameters cell holds only `name = literal` lines")
        try:
            default = ast.literal_eval(value_node)
        except ValueError:
            raise NotebookParamsError(f"{where}: {name} must be a literal value") from None
        if types is None:
            if default is None:
                raise NotebookParamsError(f"{where}: {name} = None needs an annotation, e.g. `{name}: int | None = None`")
            types = (float,) if isinstance(default, float) else (type(default),)
        help_text = comments.get(node.lineno, "")
        if not help_text:
            raise NotebookParamsError(f"{where}: {name} needs a help comment")
        if "=" in help_text:
            raise NotebookParamsError(f"{where}: {name}: no '=' in a help comment (papermill cannot read the line)")
        params[name] = Param(name, default, types, help_text, _parse_rule(help_text), first_line + node.lineno - 1)
    return params


def config_disagreements(config_class, notebook: Path | str) -> list[str]:
    """How a stage's Config differs from its notebook's parameters cell (run_dir aside): the
    names, their order and their defaults must be the same; [] when they agree."""
    cell = {k: p.default for k, p in read_params(notebook).items() if k != "run_dir"}
    fields = {f.name: _plain(f.default if f.default_factory is dataclasses.MISSING else f.default_factory())
              for f in dataclasses.fields(config_class)}
    if list(fields) != list(cell):
        return [f"{notebook}: parameters {list(cell)} but {config_class.__qualname__} fields {list(fields)}"]
    return [f"{notebook}: {k} = {cell[k]!r} but {config_class.__qualname__}.{k} = {fields[k]!r}"
            for k in cell if _plain(cell[k]) != fields[k]]


def _plain(value):
    """Tuples (a frozen Config's list defaults) compared as the notebook's lists, nested too."""
    return [_plain(x) for x in value] if isinstance(value, tuple | list) else value
