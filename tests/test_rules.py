"""workbench.core.rules: one registry, one reason vocabulary, `rules:` lists checked before any work."""

import inspect
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from workbench.core import fields
from workbench.core import rules as R
from workbench.core.packs import load_pack
from workbench.core.records import OPS, new_evolution, new_seed
from workbench.pipeline import params as P
from workbench.stages.evolve import loop as EV
from workbench.stages.evolve import rules as E
from workbench.stages.evolve.stage import Config as EvolveConfig
from workbench.stages.filter.filters import FilterState
from workbench.stages.filter.stage import Config as FilterConfig
from workbench.stages.seed import rules as SR
from workbench.stages.seed.loaders import SeedChecks
from workbench.stages.seed.stage import Config as SeedConfig

WORKBENCH = Path(__file__).resolve().parent.parent / "workbench"
CONFIGS = {"seed": SeedConfig, "evolve": EvolveConfig, "filter": FilterConfig}


def _answered(rec, response="An answer of a few words."):
    return dict(rec, response=response)


def triggers() -> dict:
    """A row and context that each rule with a check drops."""
    vocab = load_pack("general").leak_vocabulary(tuple(OPS), E.STOP_WORDS)
    evolve = EV.EvolveChecks(max_chars=8, sorry_max_words=80, leak=vocab)
    state = FilterState(FilterConfig(near_dup_threshold=0.5), ["one two three four five six seven eight nine"])
    kept = _answered(new_seed("Explain how a rainbow forms after a storm in simple words."))
    state.remember(kept)
    other_lineage = _answered(new_seed("Explain how a rainbow forms after a storm in very simple words."))
    same_text = _answered(new_evolution(new_seed("Why?"), 1, "deepening", "explain HOW a rainbow forms after a "
                                                                          "storm, in simple words"))
    lengths = SimpleNamespace(min_instruction_words=3, max_instruction_words=3, min_response_words=2,
                              max_response_words=2)
    return {
        "empty": ({"instruction": " \n", "input": "data"}, None),
        "too_long": ({"instruction": "x" * 9, "input": ""}, evolve),
        "template_marker": ({"instruction": "Rewrite this. <<New Task>>", "input": ""}, None),
        "duplicate": ({"instruction": "Name a river.", "input": ""}, SeedChecks(100, {("Name a river.", "")})),
        "unchanged": ({"instruction": "Name  a river!", "parent_text": "name a river"}, evolve),
        "prompt_leak": ({"instruction": "New Task: list rivers", "parent_text": "List rivers."}, evolve),
        "input_lost": ({"instruction": "Sort this JSON.", "input_lost": True}, evolve),
        "empty_response": ({"response": "  "}, evolve),
        "sorry_short_response": ({"response": "Sorry, I cannot."}, evolve),
        "degenerate_response": ({"response": "the, and of ..."}, evolve),
        "no_information_gain": ({"checks": {"equal_judge": {"verdict": E.EQUAL}}}, evolve),
        "instruction_too_few_words": ({"instruction": "Hi", "response": "a b"}, lengths),
        "instruction_too_many_words": ({"instruction": "one two three four", "response": "a b"}, lengths),
        "response_too_few_words": ({"instruction": "one two three", "response": "a"}, lengths),
        "response_too_many_words": ({"instruction": "one two three", "response": "a b c"}, lengths),
        "contaminated": ({"instruction": "Say one two three four five six seven eight, please"}, state),
        "exact_duplicate": (same_text, state),
        "near_duplicate": (other_lineage, state),
    }


def test_every_rule_with_a_check_drops_with_its_own_name_and_keeps_a_clean_row():
    cases = triggers()
    assert set(cases) == {n for n, r in R.RULES.items() if r.check}  # no rule goes untested
    for name, (row, ctx) in cases.items():
        verdict = R.RULES[name].check(row, ctx)
        assert (verdict.keep, verdict.reason) == (False, name), name
    clean = {"instruction": "Name three rivers.", "input": "", "parent_text": "Name rivers.", "input_lost": False,
             "response": "The Nile, the Amazon and the Yangtze.", "checks": {"equal_judge": {"verdict": E.NOT_EQUAL}}}
    evolve = triggers()["too_long"][1]
    for name in R.switchable("evolve"):
        assert R.RULES[name].check(clean, EV.EvolveChecks(100, 80, evolve.leak)).keep, name


def test_the_vocabulary_is_one_set_and_every_emitted_reason_is_registered():
    """Reasons written in the stages' code (not only through a rule) are registered too."""
    found = {
        # reasons registered by name in the stage's rules.py, used by the code that records them
        "seed": {getattr(SR, c) for c in re.findall(r'SR\.([A-Z_]+)', (WORKBENCH / "stages/seed/loaders.py").read_text())}
        | set(re.findall(r'return [^,\n]+, "(\w+)"', inspect.getsource(fields.resolve_id))),
        "evolve": {getattr(E, c) for c in re.findall(r'E\.([A-Z_]+)\b', (WORKBENCH / "stages/evolve/loop.py").read_text())
                   if isinstance(getattr(E, c), str) and c not in ("EQUAL", "NOT_EQUAL", "UNPARSABLE")},
    }
    assert {"cell_too_long", "missing_field", "not_text", "not_sampled", "bad_id", "duplicate_id"} <= found["seed"]
    assert {"backend_error", "judge_unparsable"} <= found["evolve"]
    for stage, reasons in found.items():
        assert reasons <= R.vocabulary(stage), (stage, reasons - R.vocabulary(stage))
    assert "too_short" not in R.RULES and "response_too_short" not in R.RULES


def test_one_name_per_unit_of_length():
    chars = {n for n, r in R.RULES.items() if r.doc.startswith("characters")}
    words = {n for n, r in R.RULES.items() if r.doc.startswith("words")}
    assert chars == {"too_long"} and words and all(n.endswith("_words") for n in words)


def test_registry_shape():
    for r in R.RULES.values():
        assert r.doc and (r.switchable or r.always) and not set(r.switchable) & set(r.always), r.name
        assert r.check is not None or not r.switchable, f"{r.name} can be switched but has no check"
    phases = [n for phase in ("instruction", "answer", "judge") for n in R.applied("evolve", R.switchable("evolve"), phase)]
    assert phases == list(R.switchable("evolve"))  # every evolve rule runs in one phase, in registry order
    rows = R.listing()
    assert len({(r["stage"], r["name"]) for r in rows}) == len(rows)
    assert {r["name"] for r in R.listing("filter")} == R.vocabulary("filter")


@pytest.mark.parametrize("stage", R.STAGES)
def test_every_switchable_rule_is_on_by_default(stage):
    assert CONFIGS[stage]().rules == R.switchable(stage)


def test_applied_keeps_registry_order_and_always_on_rules():
    assert R.applied("seed", ["template_marker"]) == ("empty", "template_marker", "duplicate")
    assert R.applied("evolve", ["no_information_gain", "empty"], phase="instruction") == ("empty",)
    assert R.applied("filter", []) == ()


@pytest.mark.parametrize("stage,bad", [("seed", "flying"), ("evolve", "near_duplicate"), ("filter", "near_dup"),
                                       ("seed", "duplicate")])
def test_an_unknown_or_always_on_rule_name_fails_validation_naming_the_key(stage, bad):
    with pytest.raises(P.ParamsError, match=rf"{stage}\.rules: .*{bad}"):
        P.load("params/smoke.yaml", [f"{stage}.rules=[{bad}]"])
    with pytest.raises(ValueError, match=bad):
        CONFIGS[stage](rules=[bad])


def test_the_old_switches_are_gone():
    for key in ("evolve.rule_empty=false", "filter.near_dup=false", "filter.dedup_exact=false",
                "filter.decontaminate=false"):
        with pytest.raises(P.ParamsError, match="unknown key"):
            P.load("params/smoke.yaml", [key])
    assert R.check_names("filter", ["near_duplicate", "near_duplicate"]) == ["filter.rules: near_duplicate listed twice"]
    assert R.check_names("evolve", "empty")[0].startswith("evolve.rules: expected a list")
