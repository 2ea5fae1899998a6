"""Template packs: one evolution template per op and a manifest, in one folder.

    workbench/prompts/<pack>/manifest.yaml
        about: what the pack evolves
        ops:                              # the order users see them in
          add_constraints: {kind: in-depth}
          complicate_input: {kind: in-depth, adds_input: true}   # fills {format}, {demonstration}
          breadth: {kind: in-breadth}     # a new task: the parent's input is not carried over
          helpfulness: {kind: in-depth, target: response}   # rewrites the answer ({response})
        leak_labels: [rewritten task]     # optional: more phrases the leak rule must catch
        answer: answer.txt                # optional: the answer prompt ({instruction}); default:
                                          # the instruction itself is the user message
    workbench/prompts/<pack>/<op>.txt     # {instruction}; an adds_input op also {format}, {demonstration}

`evolve.templates` names a bundled pack (general, code, math, quality) or a folder of one's own, read
and checked here before any model call: a missing file or placeholder, an unknown kind or a
placeholder the workbench would leave unfilled is a PackError naming the file.

    >>> pack = load_pack("general")
    >>> list(pack.ops)[:2], pack.ops["breadth"].kind
    (['add_constraints', 'deepening'], 'in-breadth')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from pathlib import Path

import yaml

from workbench.core.templates import (
    DEMO_LABEL,
    FORMATS,
    PLACEHOLDER,
    Template,
    content_words,
    demonstration,
    load,
    phrase_pairs,
)

BUNDLED = ("general", "code", "math", "quality")
TARGETS = ("instruction", "response")  # what an op rewrites
KINDS = ("in-depth", "in-breadth")
MANIFEST = "manifest.yaml"
_OP_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Words only a template uses to talk about itself (its sections and its rewriting). "task"
# alone is not one of them: evolutions legitimately say "the task must ...".
SELF_REFERENCE = frozenset("rewrite rewrites rewritten rewriting section sections label labels".split())


class PackError(ValueError):
    pass


@dataclass(frozen=True)
class Op:
    name: str
    kind: str  # in-depth | in-breadth
    adds_input: bool
    template: Template
    target: str = "instruction"  # response: the op rewrites the answer and keeps the task


@dataclass(frozen=True)
class Pack:
    name: str  # the bundled name, or the folder as given: what records carry
    folder: str
    ops: dict[str, Op]
    leak_labels: tuple[str, ...] = ()
    answer: Template | None = None

    def __hash__(self) -> int:
        return hash((self.name, self.folder))

    def prompt(self, op: str, instruction: str, fmt: str | None = None, response: str = "") -> str:
        spec = self.ops[op]
        values = {"instruction": instruction} | ({"response": response} if spec.target == "response" else {})
        if spec.adds_input:
            values |= {"format": fmt, "demonstration": demonstration(fmt)}
        return spec.template.render(**values)

    def answer_prompt(self, instruction: str) -> str:
        return self.answer.render(instruction=instruction) if self.answer else instruction

    def leak_vocabulary(self, ops: tuple[str, ...], stop_words: frozenset[str]) -> frozenset[str]:
        return _leak_vocabulary(self, tuple(ops), stop_words)

    @cached_property
    def markers(self) -> tuple[str, ...]:
        return tuple(sorted({m.strip().lower() for op in self.ops.values() for m in op.template.markers}))


def bundled_folder(name: str) -> Path:
    return Path(str(resources.files("workbench") / "prompts" / name))


@cache
def load_pack(name_or_folder: str) -> Pack:
    """A bundled pack by name, or a folder of one's own; PackError saying what is wrong."""
    folder = bundled_folder(name_or_folder) if name_or_folder in BUNDLED else Path(name_or_folder).expanduser()
    if not (folder / MANIFEST).is_file():
        raise PackError(f"evolve.templates: {name_or_folder!r} is neither a bundled pack ({', '.join(BUNDLED)}) "
                        f"nor a folder with a {MANIFEST}")
    where = folder / MANIFEST
    try:
        manifest = yaml.safe_load(where.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise PackError(f"{where}: invalid YAML: {e}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("ops"), dict) or not manifest["ops"]:
        raise PackError(f"{where}: expected `ops:` mapping each op name to {{kind: in-depth | in-breadth}}")
    unknown = sorted(set(manifest) - {"about", "ops", "leak_labels", "answer"})
    if unknown:
        raise PackError(f"{where}: unknown key(s) {unknown} (known: about, ops, leak_labels, answer)")
    ops, errors = {}, []
    for name, spec in manifest["ops"].items():
        spec = spec or {}
        if not isinstance(name, str) or not _OP_NAME.match(name):
            errors.append(f"{where}: op name {name!r} must be lower_snake_case")
        elif not isinstance(spec, dict) or spec.get("kind") not in KINDS:
            errors.append(f"{where}: op {name}: kind must be one of {', '.join(KINDS)}")
        elif spec.get("target", "instruction") not in TARGETS or (spec.get("target") == "response"
                                                                  and spec.get("adds_input")):
            errors.append(f"{where}: op {name}: target must be one of {', '.join(TARGETS)} "
                          "(and an op that rewrites the answer adds no input)")
        else:
            adds_input, target = bool(spec.get("adds_input", False)), spec.get("target", "instruction")
            needed = {"instruction"} | ({"format", "demonstration"} if adds_input else set())
            needed |= {"response"} if target == "response" else set()
            template, problem = _template(folder / f"{name}.txt", name, needed)
            errors += problem
            if template is not None:
                ops[name] = Op(name, spec["kind"], adds_input, template, target)
    answer = None
    if manifest.get("answer"):
        answer, problem = _template(folder / str(manifest["answer"]), "answer", {"instruction"})
        errors += problem
    labels = manifest.get("leak_labels") or []
    if not isinstance(labels, list) or not all(isinstance(x, str) and x.strip() for x in labels):
        errors.append(f"{where}: leak_labels must be a list of phrases")
    if errors:
        raise PackError("\n".join(errors))
    name = name_or_folder if name_or_folder in BUNDLED else str(folder)
    return Pack(name, str(folder), ops, tuple(labels), answer)


def _template(path: Path, name: str, needed: set[str]) -> tuple[Template | None, list[str]]:
    if not path.is_file():
        return None, [f"{path}: template file missing"]
    text = path.read_text(encoding="utf-8")
    found = set(PLACEHOLDER.findall(text))
    problems = [f"{path}: placeholder {{{p}}} missing" for p in sorted(needed - found)]
    problems += [f"{path}: unknown placeholder {{{p}}} (this template may use {', '.join(sorted(needed))})"
                 for p in sorted(found - needed)]
    return Template(name, text), problems


@cache
def _leak_vocabulary(pack: Pack, ops: tuple[str, ...], stop_words: frozenset[str]) -> frozenset[str]:
    """Phrases that only a copy of these templates would contain: every content-word pair of
    their own text that names a part of the template (section labels such as "original task",
    rule wording such as "section labels", "rewritten task", "rewrite task"), the demonstration
    labels of an op that adds input, and the pack's own leak_labels. The item-specific
    placeholders are left out. A pair is matched word by word, so "task" inside "multitasking"
    never matches, and a leak is only called where the parent lacks the phrase."""
    vocab = {" ".join(content_words(label, stop_words)) for label in pack.leak_labels}
    for op in ops:
        spec = pack.ops[op]
        labels = list(spec.template.markers)
        if spec.adds_input:
            labels += [label for fmt in FORMATS for label in DEMO_LABEL.findall(demonstration(fmt))]
        vocab.update(" ".join(content_words(label, stop_words)) for label in labels
                     if len(content_words(label, stop_words)) > 1)
        text = PLACEHOLDER.sub(" ", spec.template.text)
        vocab.update(p for p in phrase_pairs(text, stop_words) if SELF_REFERENCE & set(p.split()))
    return frozenset(v for v in vocab if v)


@cache
def _bundled_markers() -> tuple[str, ...]:
    labels = {m for name in BUNDLED for m in load_pack(name).markers}
    labels |= {m.strip().lower() for m in load("equal_judge").markers}
    labels |= {label.lower() for fmt in FORMATS for label in DEMO_LABEL.findall(demonstration(fmt))}
    return tuple(m for label in sorted(labels) for m in (f"<<{label}>>", f"<< {label} >>"))


def has_template_marker(text: str) -> bool:
    """Whether text carries a bundled template's own section marker (e.g. "<<New Task>>"): a
    seed with one would rewrite the evolution prompt around it."""
    low = " ".join(text.lower().split())
    return any(m in low for m in _bundled_markers())
