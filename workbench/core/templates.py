"""Prompt templates are data: text files in workbench/prompts/, filled by plain replacement.

    t = load("add_constraints")
    t.render(instruction="Name three rivers.")   # str.replace, so braces in JSON/LaTeX are safe
    t.sha                                        # recorded on every record it produced
    t.markers                                    # ["Original Task", "New Task"]

The "leaked template words" elimination rule is derived from the templates actually in use,
never from a hand-kept list: see `leak_vocabulary`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from workbench.core.records import OPS

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


# Words only a template uses to talk about itself (its sections and its rewriting). "task"
# alone is not one of them: evolutions legitimately say "the task must ...".
SELF_REFERENCE = frozenset("rewrite rewrites rewritten rewriting section sections label labels".split())
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


@cache
def leak_vocabulary(template_names: tuple[str, ...], stop_words: frozenset[str]) -> frozenset[str]:
    """Phrases that only a copy of these templates would contain: every content-word pair of
    their own text that names a part of the template (section labels such as "original task",
    rule wording such as "section labels", "rewritten task", "rewrite task"), plus the
    demonstration labels of complicate_input. The item-specific placeholders are left out.

    A pair is matched word by word, so "task" inside "multitasking" never matches, and a
    leak is only called when the phrase is in the evolution but not in its parent
    (eliminate.prompt_leak): a seed about "a new task in my to-do app" may keep saying so.
    """
    vocab = set()
    for name in template_names:
        template = load(name)
        labels = list(template.markers)
        if name == "complicate_input":
            labels += [label for fmt in FORMATS for label in DEMO_LABEL.findall(demonstration(fmt))]
        vocab.update(" ".join(content_words(label, stop_words)) for label in labels
                     if len(content_words(label, stop_words)) > 1)
        text = _PLACEHOLDER.sub(" ", template.text)
        vocab.update(p for p in phrase_pairs(text, stop_words) if SELF_REFERENCE & set(p.split()))
    return frozenset(vocab)


def leak_phrases(template_names: list[str]) -> list[str]:
    """Lower-cased marker labels of these templates, plus demonstration labels when used."""
    phrases = set()
    for name in template_names:
        phrases.update(m.strip().lower() for m in load(name).markers)
        if name == "complicate_input":
            for fmt in FORMATS:
                phrases.update(label.lower() for label in DEMO_LABEL.findall(demonstration(fmt)))
    return sorted(phrases)


@cache
def _template_markers() -> tuple[str, ...]:
    return tuple(m for p in leak_phrases(list(OPS) + ["equal_judge"]) for m in (f"<<{p}>>", f"<< {p} >>"))


def has_template_marker(text: str) -> bool:
    """Whether text carries a template's own section marker (e.g. "<<New Task>>"): a seed with
    one would rewrite the evolution prompt around it."""
    low = " ".join(text.lower().split())
    return any(m in low for m in _template_markers())
