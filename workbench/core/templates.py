"""Prompt templates are data: text files in workbench/prompts/, filled by plain replacement.

    t = load("equal_judge")
    t.render(first="...", second="...")   # one pass, so braces in JSON/LaTeX stay literal
    t.sha                                  # recorded on every record it produced
    t.markers                              # ["First Task", "Second Task"]

The judge templates live at the top of workbench/prompts/; the evolution templates come in
packs, one folder each (packs.py). The "leaked template words" rule is derived from the
templates actually in use, never from a hand-kept list: see `packs.Pack.leak_vocabulary`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

MARKER = re.compile(r"^<<([^<>\n]+)>>\s*$", re.M)
PLACEHOLDER = re.compile(r"\{(\w+)\}")
DEMO_LABEL = re.compile(r"^(Example [A-Za-z]+):", re.M)
# complicate_input draws the format of the data it adds from this pool
FORMATS = {
    "JSON": "json", "XML": "xml", "SQL": "sql", "CSV table": "csv", "Python code": "python",
    "HTML": "html", "LaTeX": "latex", "shell command": "shell",
}


@dataclass(frozen=True)
class Template:
    name: str
    text: str

    @property
    def sha(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:12]

    @property
    def markers(self) -> list[str]:
        return MARKER.findall(self.text)

    def render(self, **values: str) -> str:
        """One pass over the template only: a placeholder-like "{format}" inside an inserted
        instruction stays literal text instead of being filled in turn."""
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), self.text).rstrip("\n")


def _read(relative: str) -> str:
    return (resources.files("workbench") / "prompts" / relative).read_text(encoding="utf-8")


@cache
def load(name: str) -> Template:
    return Template(name, _read(f"{name}.txt"))


@cache
def demonstration(fmt: str) -> str:
    if fmt not in FORMATS:
        raise KeyError(f"unknown complicate_input format {fmt!r} (known: {', '.join(FORMATS)})")
    return _read(f"complicate_input_demos/{FORMATS[fmt]}.txt").strip()


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_CLAUSE = re.compile(r"[.:;!?()\n\"]+")


def content_words(text: str, stop_words: frozenset[str]) -> list[str]:
    """Lower-cased words minus stop words, CamelCase and snake_case split, so that
    "#RewrittenTask", "Rewritten_Task" and "the rewritten task" all read ["rewritten", "task"]."""
    return [w for w in re.findall(r"[^\W_]+", _CAMEL.sub(" ", text).lower()) if w not in stop_words]


def phrase_pairs(text: str, stop_words: frozenset[str]) -> set[str]:
    """Adjacent content-word pairs within each clause: "Rewrite the task below." -> {"rewrite task"}."""
    pairs = set()
    for clause in _CLAUSE.split(text):
        ws = content_words(clause, stop_words)
        pairs.update(f"{a} {b}" for a, b in zip(ws, ws[1:]))
    return pairs
