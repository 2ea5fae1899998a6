from pathlib import Path

import pytest

import workbench
from workbench.core.io import read_jsonl
from workbench.stages.evaluate.checks import (
    CHECKERS,
    WORKBENCH_TYPES,
    accuracy,
    check,
    check_loose,
    evaluate_item,
    loose_variants,
    validate_specs,
)

EVAL_FILE = Path(workbench.__file__).parent / "data" / "eval.jsonl"
SECTIONS = "SECTION 1\nfor\nSECTION 2\nagainst\nSECTION 3\nverdict"

# (type, args, response, expected under the strict check)
CASES = [
    ("word_count_max", {"n": 5}, "One two three four five.", True),
    ("word_count_max", {"n": 5}, "One two three four five six.", False),
    ("word_count_max", {"n": 4}, "Don't pay $1.10 cross-functional", False),  # IFEval: 7 \\w+ runs
    ("word_count_max", {"n": 7}, "Don't pay $1.10 cross-functional", True),
    ("word_count_min", {"n": 3}, "a b c", True),
    ("word_count_min", {"n": 3}, "a b", False),
    ("sentence_count_max", {"n": 2}, "Sorry I missed it. Let's do lunch!", True),
    ("sentence_count_max", {"n": 2}, "One. Two? Three!", False),
    ("sentence_count_max", {"n": 1}, "The ball costs $0.05 in total.", True),  # decimal point
    ("sentence_count_max", {"n": 2}, "1. First item\n2. Second item", False),  # Punkt splits "1."
    ("sentence_count_max", {"n": 1}, "Dr. Lee met us at 9 a.m. and left.", True),  # abbreviations
    ("sentence_count_min", {"n": 2}, "One. Two.", True),
    ("sentence_count_min", {"n": 2}, "Only one here.", False),
    ("paragraph_count", {"n": 2}, "First part.\n***\nSecond part.", True),
    ("paragraph_count", {"n": 2}, "***\nFirst part.\n  ***  \nSecond part.\n***", True),
    ("paragraph_count", {"n": 2}, "One.\n***\nTwo.\n***\nThree.", False),
    ("paragraph_count", {"n": 2}, "One.\n***\n\n***\nTwo.", False),  # empty paragraph
    ("paragraph_count", {"n": 2}, "One.\n\nTwo.", False),  # blank line is no *** divider
    ("bullet_count", {"n": 3}, "* a\n- b\n*c", True),  # IFEval: "*x" is a bullet too
    ("bullet_count", {"n": 3}, "Intro\n  * a\n- b\n* c\n***\n**Bold** end", True),  # not ***, **x
    ("bullet_count", {"n": 3}, "* a\n* b", False),
    ("bullet_count", {"n": 2}, "* a\n• b\n- c", True),  # "•" is no markdown bullet
    ("json_output", {}, '{"steps": ["x"], "solutions": [1, -1]}', True),
    ("json_output", {}, '```json\n{"a": [1, 2]}\n```', True),
    ("json_output", {}, "```\n[1, 2]\n```\n", True),
    ("json_output", {}, '{"a": 1', False),
    ("json_output", {}, 'Here you go: {"a": 1}', False),
    ("keywords_required", {"words": ["refraction", "light bends"]},
     "REFRACTION: light bends at the surface.", True),
    ("keywords_required", {"words": ["refraction"]}, "Refractions only.", True),  # IFEval: substring
    ("keywords_required", {"words": ["light bends"]}, "light\nbends", False),  # the phrase as written
    ("keywords_required", {"words": ["refraction", "dispersion"]}, "refraction only", False),
    ("keywords_forbidden", {"words": ["money"]}, "Budget tips; moneybags is fine.", True),
    ("keywords_forbidden", {"words": ["synergy", "leverage"]}, "Use our LEVERAGE.", False),
    ("keywords_forbidden", {"words": ["money"]}, "The money's gone.", False),
    ("all_lowercase", {}, "quiet bus at night\nheadlights hum", True),
    ("all_lowercase", {}, "Quiet bus", False),
    ("all_lowercase", {}, "123 456", False),  # no letters at all
    ("all_uppercase", {}, "STOP NOW, 3 TIMES!", True),
    ("all_uppercase", {}, "STOP now", False),
    ("starts_with", {"phrase": "Dear Customer Support,"}, "\n  Dear Customer Support,\nHi", True),
    ("starts_with", {"phrase": "Dear Customer Support,"}, "Hello. Dear Customer Support,", False),
    ("ends_with", {"phrase": "Sleep well!"}, "Dim the lights.\nSleep well!  \n", True),
    ("ends_with", {"phrase": "Sleep well!"}, "Sleep well! Goodnight.", False),
    ("ends_with", {"phrase": "Sleep well!"}, "Tips.\nsleep well!", True),  # IFEval: any case
    ("title_brackets", {}, "<<Barista to Bookkeeper>>\nDear Hiring Manager,", True),
    ("title_brackets", {}, "<<  >> and no title", False),
    ("title_brackets", {}, "Barista to Bookkeeper", False),
    ("section_count", {"marker": "SECTION", "n": 3}, SECTIONS, True),
    ("section_count", {"marker": "SECTION", "n": 3},
     "## SECTION 1: For\nx\n## SECTION 2: Against\ny\n## SECTION 3\nz\nSECTION 4\nw", True),
    ("section_count", {"marker": "SECTION", "n": 3}, "SECTION 1\nx\nSECTION 2\ny", False),
    ("section_count", {"marker": "SECTION", "n": 3}, "See SECTION 1, SECTION 2, SECTION 3.", True),
    ("section_count", {"marker": "SECTION", "n": 2}, "section 1 and Section 2", False),  # case counts
    ("no_commas", {}, "Our new library opened last month. It offers free classes.", True),
    ("no_commas", {}, "Our library, which opened last month", False),
    ("placeholder_count", {"n": 2}, "Send it to [address] by [date].", True),
    ("placeholder_count", {"n": 2}, "Ask [name] via [the docs](http://x.org).", True),  # IFEval
    ("placeholder_count", {"n": 2}, "Only [one] here.", False),
]


def _spec(kind, args):
    return {"type": kind, **args}


@pytest.mark.parametrize(("kind", "args", "response", "expected"), CASES)
def test_checker_table(kind, args, response, expected):
    assert CHECKERS[kind](response, **args) is expected
    assert check(response, _spec(kind, args)) is expected
    if expected:  # loose never loses a strict pass
        assert check_loose(response, _spec(kind, args))


def test_every_workbench_type_has_a_pass_and_a_fail_case():
    assert len(WORKBENCH_TYPES) == 17 and set(WORKBENCH_TYPES) <= set(CHECKERS)
    assert {k for k, *_, e in CASES if e} == set(WORKBENCH_TYPES)
    assert {k for k, *_, e in CASES if not e} == set(WORKBENCH_TYPES)


@pytest.mark.parametrize("spec", [{"type": "no_commas"}, {"type": "keywords_forbidden",
                                  "words": ["money"]}, {"type": "word_count_max", "n": 5}])
def test_blank_response_fails_every_check(spec):
    for blank in ("", "  \n\t"):
        assert not check(blank, spec) and not check_loose(blank, spec)


# (spec, response): fails strict, passes loose
LOOSE_ONLY = [
    ({"type": "starts_with", "phrase": "Dear Customer Support,"},
     "Sure, here it is:\nDear Customer Support,\nMy notes vanished."),
    ({"type": "json_output"}, 'Sure, here it is:\n{"invoice": "INV-20931"}\nHope this helps!'),
    ({"type": "json_output"}, 'Here is the JSON:\n```json\n{"a": 1}\n```'),
    ({"type": "all_lowercase"}, "Sure! here is a haiku:\nquiet bus at night"),
    ({"type": "keywords_required", "words": ["light bends"]}, "When **light** bends, we see it."),
    ({"type": "ends_with", "phrase": "Sleep well!"}, "Keep a routine.\n**Sleep well!**"),
    ({"type": "ends_with", "phrase": "Sleep well!"}, "Keep a routine. Sleep well!\n- Your coach"),
    ({"type": "section_count", "marker": "SECTION", "n": 2}, "SECTION *1*\nx\nSECTION *2*\ny"),
    ({"type": "bullet_count", "n": 0}, "**Tip one**\n**Tip two**\n* one"),
    ({"type": "word_count_max", "n": 3}, "Sure, here is my answer:\nFive cents."),
]


@pytest.mark.parametrize(("spec", "response"), LOOSE_ONLY)
def test_loose_forgives_preamble_signoff_and_markup(spec, response):
    assert check(response, spec) is False
    assert check_loose(response, spec) is True


def test_loose_still_fails_real_violations():
    assert not check_loose("Sure:\n" + "word " * 50 + "\nBye", {"type": "word_count_max", "n": 30})
    assert not check_loose("Sure:\nSave money.\nBye", {"type": "keywords_forbidden",
                                                       "words": ["money"]})
    assert not check_loose("- a\n- b\n- c\n- d\n- e", {"type": "bullet_count", "n": 2})
    three = "A1\nA2\n***\nB\n***\nC1\nC2"
    assert check(three, {"type": "paragraph_count", "n": 3})
    # IFEval's loose score removes every "*", *** dividers included: a known quirk, kept as published
    assert check_loose(three, {"type": "paragraph_count", "n": 1})
    assert not check_loose(three, {"type": "paragraph_count", "n": 5})


def test_bold_single_keyword_passes_even_strict():
    spec = {"type": "keywords_required", "words": ["refraction", "dispersion"]}
    assert check("**Refraction** and *dispersion* split light.", spec)


def test_loose_variants():
    assert loose_variants("just one line") == ["just one line"]
    variants = loose_variants("Sure:\n**body**\nBye")
    assert variants[0] == "Sure:\n**body**\nBye"
    assert {"**body**\nBye", "Sure:\n**body**", "**body**", "body", "Sure:\nbody\nBye"} <= set(
        variants)
    assert len(variants) == len(set(variants)) == 8 and all(v.strip() for v in variants)
    assert loose_variants("* a\n* b") == ["* a\n* b", " a\n b", "* b", "* a", " b", " a"]


def test_evaluate_item():
    specs = [{"type": "json_output"}, {"type": "no_commas"}, {"type": "word_count_min", "n": 50}]
    out = evaluate_item('Sure here it is:\n{"a": 1}', specs)
    assert out == {"types": ["json_output", "no_commas", "word_count_min"],
                   "strict": [False, True, False], "loose": [True, True, False],
                   "strict_all": False, "loose_all": False}
    out = evaluate_item('```json\n{"a": 1}\n```', specs[:2])
    assert out["strict_all"] and out["loose_all"]
    with pytest.raises(ValueError, match="at least one"):
        evaluate_item("text", [])


def test_accuracy_arithmetic():
    results = [
        {"strict": [True, True], "loose": [True, True], "strict_all": True, "loose_all": True},
        {"strict": [False, True], "loose": [True, True], "strict_all": False, "loose_all": True},
        {"strict": [False], "loose": [False], "strict_all": False, "loose_all": False},
    ]
    acc = accuracy(results)
    assert acc["n_prompts"] == 3 and acc["n_instructions"] == 5
    assert acc["prompt_strict"] == pytest.approx(1 / 3)
    assert acc["prompt_loose"] == pytest.approx(2 / 3)
    assert acc["instruction_strict"] == pytest.approx(3 / 5)
    assert acc["instruction_loose"] == pytest.approx(4 / 5)
    empty = accuracy([])  # no default 0.0: nothing was measured
    assert empty["n_prompts"] == 0 and empty["reason"] == "no item with checks was evaluated"
    assert all(empty[k] is None for k in ("prompt_strict", "prompt_loose", "instruction_strict",
                                          "instruction_loose"))


BAD_SPECS = [
    ({"type": "word_cuont_max", "n": 5}, "word_cuont_max"),
    ({"type": "word_count_max"}, r"word_count_max.*missing argument 'n'"),
    ({"type": "word_count_max", "n": 5, "m": 1}, r"word_count_max.*unexpected argument 'm'"),
    ({"type": "word_count_max", "n": "5"}, r"word_count_max.*'n'"),
    ({"type": "word_count_max", "n": True}, r"word_count_max.*'n'"),
    ({"type": "word_count_max", "n": -1}, r"word_count_max.*'n'"),
    ({"type": "keywords_required", "words": "money"}, r"keywords_required.*'words'"),
    ({"type": "keywords_forbidden", "words": []}, r"keywords_forbidden.*'words'"),
    ({"type": "ends_with", "phrase": "  "}, r"ends_with.*'phrase'"),
    ({"type": "section_count", "n": 3}, r"section_count.*missing argument 'marker'"),
    ({"type": "all_lowercase", "n": 1}, r"all_lowercase.*unexpected argument 'n'"),
    ({"n": 5}, "type"),
    ("word_count_max", "type"),
]


@pytest.mark.parametrize(("spec", "message"), BAD_SPECS)
def test_bad_spec_raises_clearly(spec, message):
    for fn in (check, check_loose):
        with pytest.raises(ValueError, match=message):
            fn("", spec)  # raises even on a blank response
    with pytest.raises(ValueError, match=message):
        evaluate_item("Some answer.", [{"type": "no_commas"}, spec])
    with pytest.raises(ValueError, match=rf"eval-999: .*{message}"):
        validate_specs([{"id": "eval-001", "checks": [{"type": "no_commas"}]},
                        {"id": "eval-999", "checks": [spec]}])


def test_checkers_validate_their_own_arguments():
    with pytest.raises(ValueError, match="word_count_max.*'n'"):
        CHECKERS["word_count_max"]("a b")
    with pytest.raises(ValueError, match="no_commas.*'n'"):
        CHECKERS["no_commas"]("a b", n=1)


def test_validate_specs_shapes():
    assert validate_specs([{"id": "a"}, {"id": "b", "checks": [{"type": "no_commas"},
                                                               {"type": "all_uppercase"}]}]) == 2
    for bad in ([], {"type": "no_commas"}, None):
        with pytest.raises(ValueError, match="eval-7: 'checks' must be a non-empty list"):
            validate_specs([{"id": "eval-7", "checks": bad}])
    with pytest.raises(ValueError, match="item #0"):
        validate_specs([{"checks": [{"type": "nope"}]}])


def test_eval_file_specs_validate():
    items = read_jsonl(EVAL_FILE)
    with_checks = [it for it in items if "checks" in it]
    assert len(with_checks) >= 20
    assert validate_specs(items) == sum(len(it["checks"]) for it in with_checks)
    used = {spec["type"] for it in with_checks for spec in it["checks"]}
    assert len(used) >= 10 and used <= set(CHECKERS)
