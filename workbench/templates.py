"""Prompt templates are data: text files in workbench/prompts/, filled by plain replacement.

    t = load("add_constraints")
    t.render(instruction="Name three rivers.")   # str.replace, so braces in JSON/LaTeX are safe
    t.sha                                        # recorded on every record it produced
    t.markers                                    # ["Original Task", "New Task"]

The "leaked template words" elimination rule is derived from the markers of the templates
actually in use (and the demonstration labels), never from a hand-kept list.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

MARKER = re.compile(r"^<<([^<>\n]+)>>\s*$", re.M)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
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
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), self.text).rstrip("\n")


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


def leak_phrases(template_names: list[str]) -> list[str]:
    """Lower-cased marker labels of these templates, plus demonstration labels when used."""
    phrases = set()
    for name in template_names:
        phrases.update(m.strip().lower() for m in load(name).markers)
        if name == "complicate_input":
            for fmt in FORMATS:
                phrases.update(label.lower() for label in DEMO_LABEL.findall(demonstration(fmt)))
    return sorted(phrases)
