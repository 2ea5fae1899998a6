"""01_seed's drops (core/rules.py says how a rule is declared and switched).

`empty` (always on here) and `too_long` are shared with 02_evolve and live in core/rules.py.
"""

from __future__ import annotations

from workbench.core.packs import has_template_marker
from workbench.core.rules import drop, reason, rule

# decided while reading a row (core/tables.py, core/fields.py, loaders.py)
CELL_TOO_LONG = reason("cell_too_long", ["seed"], "a CSV cell holds more characters than the csv reader's limit")
reason("bad_id", ["seed"], "the id field holds neither text nor an integer")
reason("duplicate_id", ["seed"], "the id field repeats an id seen earlier in the file")
MISSING_FIELD = reason("missing_field", ["seed"], "the row has no instruction field and no conversation to take one from")
NOT_TEXT = reason("not_text", ["seed"], "a mapped field holds a value that is not a string")


@rule(switchable=["seed"])
def template_marker(row, ctx):
    """the seed holds a template's section marker (e.g. <<New Task>>) that would rewrite its prompt"""
    return drop() if has_template_marker(row["instruction"] + "\n" + (row.get("input") or "")) else None


@rule(always=["seed"])
def duplicate(row, ctx):
    """the same instruction and input (after whitespace normalising) as an earlier seed: one id"""
    return drop() if (row["instruction"], row.get("input") or "") in ctx.seen else None


NOT_SAMPLED = reason("not_sampled", ["seed"], "left out when seed.n sampled fewer seeds than were kept")
