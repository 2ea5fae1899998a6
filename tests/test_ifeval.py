"""IFEval's 25 instruction types: a passing and a failing response each, IFEval's edge cases,
its loose variants, and eval rows in IFEval's own shape."""

import json
from pathlib import Path

import pytest

from workbench.stages.evaluate import ifeval as IF
from workbench.stages.evaluate.checks import (
    CHECKERS,
    accuracy,
    check,
    check_loose,
    evaluate_item,
    from_ifeval,
    loose_variants,
)
from workbench.stages.evaluate.eval_sets import load_eval_items

FIXTURES = Path(__file__).parent / "fixtures"
LESS, AT_LEAST = "less than", "at least"

# (IFEval id, kwargs, passing response, failing response)
CASES = [
    ("keywords:existence", {"keywords": ["tide", "moon"]}, "The Moon pulls the tides.", "The sun sets."),
    ("keywords:frequency", {"keyword": "river", "frequency": 3, "relation": AT_LEAST},
     "River, river, RIVER.", "One river, two rivers."),  # 3 case-insensitive substrings vs 2
    ("keywords:frequency", {"keyword": "river", "frequency": 2, "relation": LESS},
     "A river.", "A river and a river."),
    ("keywords:forbidden_words", {"forbidden_words": ["cat"]}, "Catalogues and cats.", "A cat sat."),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 2, "let_relation": AT_LEAST},
     "Zany zebra.", "A zebra."),
    ("language:response_language", {"language": "fr"},
     "Je voudrais un café et un croissant, s'il vous plaît. Merci beaucoup pour votre aide.",
     "I would like a coffee and a croissant, please. Thank you very much for your help."),
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": LESS},
     "One here. Two here.", "One. Two. Three."),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2},
     "First part.\n***\nSecond part.", "One.\n***\nTwo.\n***\nThree."),
    ("length_constraints:number_words", {"num_words": 4, "relation": AT_LEAST},
     "one two three four", "one two three"),
    ("length_constraints:nth_paragraph_first_word",
     {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"},
     "First we plan.\n\n\"Then, we build.", "First we plan.\n\nNext we build."),
    ("detectable_content:number_placeholders", {"num_placeholders": 2},
     "Send it to [address] by [date].", "Send it to [address]."),
    ("detectable_content:postscript", {"postscript_marker": "P.S."},
     "See you soon.\n\np.s. bring snacks", "See you soon. PS bring snacks"),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"},
     "Bye.\nP.P.S. one more thing", "Bye.\nP.S. one more thing"),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* a\n- b", "* a\n* b\n* c"),
    ("detectable_format:constrained_response", {}, "I thought about it. My answer is maybe.",
     "My answer is probably."),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2},
     "*first* and **second**", "*first* and ** ** and **"),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2},
     "Section 1\nfor\nSection 2\nagainst", "Section 1\nonly one"),
    ("detectable_format:json_format", {}, '```JSON\n{"a": [1, 2]}\n```', 'Here: {"a": 1}'),
    ("detectable_format:title", {}, "<<Ode to Rain>>\nDrip.", "<<  >>\nDrip."),
    ("combination:two_responses", {}, "Yes.\n******\nNo.", "Yes.\n******\nYes."),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Name a color."},
     "name a color. Blue.", "Blue. Name a color."),
    ("startend:end_checker", {"end_phrase": "Any other questions?"},
     "Done.\nAny other questions?\"", "Any other questions? Done."),
    ("startend:quotation", {}, '  "Wrapped whole."  ', '"Wrapped" only in part.'),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": AT_LEAST},
     "It is VERY URGENT.", "It is VERY urgent."),
    ("change_case:english_capital", {}, "THIS IS A SHORT NOTE ABOUT THE WEATHER TODAY.",
     "This is a short note about the weather today."),
    ("change_case:english_lowercase", {}, "this is a short note about the weather today.",
     "This is a short note about the weather today."),
    ("punctuation:no_comma", {}, "No commas here.", "Yes, one."),
]


def test_all_25_ifeval_types_have_a_pass_and_a_fail_case():
    assert len(IF.TYPES) == 25 and set(IF.TYPES) <= set(CHECKERS)
    assert {c[0] for c in CASES} == set(IF.TYPES)


@pytest.mark.parametrize(("kind", "kwargs", "good", "bad"), CASES)
def test_ifeval_type_passes_and_fails(kind, kwargs, good, bad):
    spec = {"type": kind, **kwargs}
    assert check(good, spec) is True
    assert check(bad, spec) is False


# The six cases where the workbench's checks used to disagree with IFEval's published rules.
EDGE_CASES = [
    # 1 hyphenated words: IFEval's \w+ tokenizer counts "cross-functional" as two words
    ({"type": "length_constraints:number_words", "num_words": 3, "relation": LESS}, "cross-functional team", False),
    ({"type": "word_count_max", "n": 2}, "cross-functional", True),
    ({"type": "word_count_max", "n": 1}, "cross-functional", False),
    # 2 "*x" at a line start is a bullet too (and "- x"), "**bold**" is not
    ({"type": "detectable_format:number_bullet_lists", "num_bullets": 2}, "*first\n-second\n**bold**", True),
    # 3 a keyword is found inside a longer word, in any case
    ({"type": "keywords:existence", "keywords": ["refraction"]}, "REFRACTIONS only.", True),
    # 4 the end phrase is compared in any case
    ({"type": "startend:end_checker", "end_phrase": "Sleep well!"}, "Tips.\nsleep WELL!", True),
    # 5 "Section N" starts a section wherever it stands, not only at a line start
    ({"type": "detectable_format:multiple_sections", "section_spliter": "SECTION", "num_sections": 3},
     "See SECTION 1, SECTION 2 and SECTION 3.", True),
    # 6 no sentence ends after "Dr." or after "p.m." before a lowercase word
    ({"type": "length_constraints:number_sentences", "num_sentences": 2, "relation": LESS},
     "Dr. Smith arrived at 5 p.m. and left at once.", True),
    ({"type": "length_constraints:number_sentences", "num_sentences": 2, "relation": AT_LEAST},
     "We met at 5 p.m. The talk began late.", True),
]


@pytest.mark.parametrize(("spec", "response", "expected"), EDGE_CASES)
def test_ifeval_edge_cases(spec, response, expected):
    assert check(response, spec) is expected


def test_text_measures():
    assert IF.count_words("Don't pay $1.10") == 5  # don, t, pay, 1, 10
    assert IF.split_sentences("Dr. Smith came. She left! Why? e.g. this") == [
        "Dr. Smith came.", "She left!", "Why?", "e.g. this"]
    assert IF.count_sentences("It costs $1.10 today. J. K. Rowling wrote it.") == 2
    assert IF.count_sentences("1. First item\n2. Second item") == 3  # as Punkt splits a numbered list
    assert IF.count_sentences("") == 0
    assert IF.word_tokens("STATE-OF-THE-ART, DON'T") == ["STATE-OF-THE-ART", ",", "DO", "N'T"]


def test_relations_are_strict_less_than_and_inclusive_at_least():
    spec = {"type": "length_constraints:number_words", "num_words": 3}
    assert not check("a b c", {**spec, "relation": LESS}) and check("a b", {**spec, "relation": LESS})
    assert check("a b c", {**spec, "relation": AT_LEAST})


def test_undetectable_language_counts_as_followed_as_in_ifeval():
    assert check("12345 67890", {"type": "language:response_language", "language": "de"})


def test_loose_variants_are_ifevals_eight():
    response = "Sure:\n**body**\nBye"
    variants = loose_variants(response)
    assert len(variants) == 8 and variants[:2] == ["Sure:\n**body**\nBye", "Sure:\nbody\nBye"]
    assert set(variants) == {"Sure:\n**body**\nBye", "Sure:\nbody\nBye", "**body**\nBye", "Sure:\n**body**",
                             "**body**", "body\nBye", "Sure:\nbody", "body"}
    # every asterisk goes, bullets included: IFEval's loose score forgives markup, not counts
    assert check_loose("Sure:\nno_comma here", {"type": "punctuation:no_comma"})
    assert check_loose("Intro line\nMy answer is yes.", {"type": "startend:end_checker", "end_phrase": "yes."})
    assert not check_loose("Sure, yes.\nMore, words.\nBye, now", {"type": "punctuation:no_comma"})


def test_from_ifeval_drops_nulls_and_rejects_unknown_ids():
    specs = from_ifeval(["punctuation:no_comma", "keywords:existence"],
                        [{"keywords": None}, {"keywords": ["tea"], "num_words": None}])
    assert specs == [{"type": "punctuation:no_comma"}, {"type": "keywords:existence", "keywords": ["tea"]}]
    with pytest.raises(ValueError, match="unknown IFEval instruction id 'keywords:rhyme'"):
        from_ifeval(["keywords:rhyme"], [{}])
    with pytest.raises(ValueError, match="one per instruction id"):
        from_ifeval(["punctuation:no_comma"], [{}, {}])
    with pytest.raises(ValueError, match="missing argument 'num_words'"):
        from_ifeval(["length_constraints:number_words"], [{"relation": LESS}])
    with pytest.raises(ValueError, match="'relation' must be one of"):
        from_ifeval(["length_constraints:number_words"], [{"num_words": 3, "relation": "at most"}])


def test_ifeval_shaped_file_is_accepted_with_every_type_recognised():
    path = FIXTURES / "ifeval.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    items, report = load_eval_items(str(path), instruction_field="prompt", id_field="key")
    assert report.rows_in == len(rows) == len(items) and not report.dropped  # in = kept + dropped
    assert {s["type"] for it in items for s in it["checks"]} == set(IF.TYPES)
    assert [it["id"] for it in items] == [str(r["key"]) for r in rows]  # the file's own ids
    assert items[0]["instruction"] == rows[0]["prompt"] and items[0]["difficulty"] is None


def test_accuracy_prompt_and_instruction_level_strict_and_loose_by_type():
    specs = [{"type": "punctuation:no_comma"}, {"type": "startend:end_checker", "end_phrase": "Bye"}]
    results = [evaluate_item("Hello there\nBye", specs), evaluate_item("Sure, here:\nok\n**Bye**", specs)]
    acc = accuracy(results)
    assert (acc["prompt_strict"], acc["prompt_loose"]) == (0.5, 1.0)
    assert (acc["instruction_strict"], acc["instruction_loose"]) == (0.5, 1.0)
    assert acc["by_type"]["punctuation:no_comma"] == {"n": 2, "strict": 0.5, "loose": 1.0}
    empty = accuracy([])
    assert empty["prompt_strict"] is None and empty["reason"]
