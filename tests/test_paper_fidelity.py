"""The method as the paper states it: IFEval's own argument space, the paper's leak labels,
short answers that are answers."""

import json

import pytest

from workbench.core.packs import load_pack
from workbench.core.records import OPS
from workbench.stages.evaluate.checks import check, from_ifeval
from workbench.stages.evaluate.eval_sets import load_eval_items
from workbench.stages.evolve import rules as E

# Every IFEval instruction type with the argument shapes its published rows use (values of the
# kinds those rows hold, written here), in the hub's shape too: every other key present as null.
IFEVAL_ARGUMENTS = {
    "punctuation:no_comma": [{}],
    "detectable_format:title": [{}],
    "detectable_format:json_format": [{}],
    "detectable_format:constrained_response": [{}],
    "change_case:english_lowercase": [{}],
    "change_case:english_capital": [{}],
    "startend:quotation": [{}],
    "combination:two_responses": [{}],
    "detectable_format:number_highlighted_sections": [{"num_highlights": 1}, {"num_highlights": 4}],
    "detectable_format:number_bullet_lists": [{"num_bullets": 1}, {"num_bullets": 5}],
    "detectable_format:multiple_sections": [{"section_spliter": "Section", "num_sections": 4},
                                            {"section_spliter": "SECTION", "num_sections": 2},
                                            {"section_spliter": "PARAGRAPH", "num_sections": 3},
                                            {"section_spliter": "Day", "num_sections": 7}],
    "detectable_content:number_placeholders": [{"num_placeholders": 1}, {"num_placeholders": 3}],
    "detectable_content:postscript": [{"postscript_marker": "P.S."}, {"postscript_marker": "P.P.S"}],
    "length_constraints:number_words": [{"relation": "less than", "num_words": 200},
                                        {"relation": "at least", "num_words": 600}],
    "length_constraints:number_sentences": [{"relation": "less than", "num_sentences": 5},
                                            {"relation": "at least", "num_sentences": 30}],
    "length_constraints:number_paragraphs": [{"num_paragraphs": 1}, {"num_paragraphs": 6}],
    "length_constraints:nth_paragraph_first_word": [{"first_word": "weekend", "num_paragraphs": 3,
                                                     "nth_paragraph": 1},
                                                    {"first_word": "president", "num_paragraphs": 4,
                                                     "nth_paragraph": 4}],
    "keywords:existence": [{"keywords": ["remainder"]}, {"keywords": ["rate", "fund", "loan"]}],
    "keywords:frequency": [{"keyword": "rap", "frequency": 3, "relation": "at least"},
                           {"keyword": "Jiang", "frequency": 2, "relation": "less than"}],
    "keywords:forbidden_words": [{"forbidden_words": ["good", "bad"]}],
    "keywords:letter_frequency": [{"letter": "q", "let_frequency": 6, "let_relation": "less than"},
                                  {"letter": "#", "let_frequency": 4, "let_relation": "at least"},
                                  {"letter": "!", "let_frequency": 3, "let_relation": "less than"},
                                  {"letter": "Z", "let_frequency": 1, "let_relation": "at least"}],
    "change_case:capital_word_frequency": [{"capital_relation": "at least", "capital_frequency": 10},
                                           {"capital_relation": "less than", "capital_frequency": 4}],
    "language:response_language": [{"language": code} for code in
                                   ("kn", "pa", "mr", "fa", "vi", "ko", "sw", "ru", "hi", "bn", "ar", "th",
                                    "te", "ur", "ta", "gu", "ne", "fi", "it", "de", "bg")],
    "startend:end_checker": [{"end_phrase": "Is there anything else I can help with?"},
                             {"end_phrase": "Peace!"}],
    "combination:repeat_prompt": [{"prompt_to_repeat": "Write a riddle: what has keys, but can't open locks?"}],
}
ALL_KEYS = sorted({k for shapes in IFEVAL_ARGUMENTS.values() for args in shapes for k in args})


def test_the_argument_space_covers_every_type():
    from workbench.stages.evaluate import ifeval as IF

    assert set(IFEVAL_ARGUMENTS) == set(IF.TYPES)


@pytest.mark.parametrize("kind", sorted(IFEVAL_ARGUMENTS))
def test_every_published_argument_shape_is_accepted_plain_and_hub_shaped(kind):
    for args in IFEVAL_ARGUMENTS[kind]:
        hub = {k: args.get(k) for k in ALL_KEYS}  # the dataset hub's file: every key, null when unused
        for shape in (args, hub):
            [spec] = from_ifeval([kind], [shape])
            assert spec == {"type": kind, **args}
            assert check("Some response text.", spec) in (True, False)


def test_ifevals_own_rows_with_a_symbol_for_a_letter_load_and_count_it(tmp_path):
    rows = [{"key": 1122, "prompt": "Use the character # at least 4 times.",
             "instruction_id_list": ["keywords:letter_frequency"],
             "kwargs": [{"letter": "#", "let_frequency": 4, "let_relation": "at least"}]},
            {"key": 1129, "prompt": "Use fewer than 3 exclamation marks!",
             "instruction_id_list": ["keywords:letter_frequency"],
             "kwargs": [{"letter": "!", "let_frequency": 3, "let_relation": "less than"}]}]
    path = tmp_path / "input_data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    items, report = load_eval_items(str(path), instruction_field="prompt", id_field="key")
    assert [it["id"] for it in items] == ["1122", "1129"] and report.kept == 2
    sharp, bang = items[0]["checks"][0], items[1]["checks"][0]
    assert check("#1 #2 #3 #4", sharp) and not check("#1 #2 #3", sharp)
    assert check("Hi! Yes!", bang) and not check("Hi! Yes! Go!", bang)
    with pytest.raises(ValueError, match="single character"):
        from_ifeval(["keywords:letter_frequency"], [{"letter": "ab", "let_frequency": 1, "let_relation": "at least"}])


VOCAB = load_pack("general").leak_vocabulary(tuple(OPS), E.STOP_WORDS) | E.PAPER_LABELS


@pytest.mark.parametrize("evolved", [
    "#Rewritten Prompt#: Describe the water cycle in 3 steps.",
    "Rewrite the given prompt so that it asks for the water cycle in 3 steps.",
    "Created Prompt: Describe the water cycle in 3 steps.",
    "#created   PROMPT# describe the water cycle",  # another case and spacing
    "#RewrittenPrompt# Describe the water cycle.",
])
def test_the_papers_labels_are_leaks(evolved):
    assert E.leaked_phrases(evolved, "Describe the water cycle.", VOCAB)


def test_a_seed_that_really_talks_about_prompts_keeps_its_words():
    parent = "Explain how a rewritten prompt can change what a language model answers, given a prompt of 10 words."
    child = parent + " Compare two examples, each of at most 20 words."
    assert E.leaked_phrases(child, parent, VOCAB) == []
    assert E.leaked_phrases("Write an image-generation prompt for a red fox.", "Write a prompt.", VOCAB) == []


@pytest.mark.parametrize("answer", ["No.", "Yes, it is.", "yes", "OK.", "No, it is not."])
def test_a_short_correct_answer_is_not_degenerate(answer):
    assert not E.degenerate(answer)
    assert E.degenerate_response({"response": answer}, None).keep


@pytest.mark.parametrize("answer", ["...", "the, and of it!!", "It is.", "?!"])
def test_filler_is_still_degenerate(answer):
    assert E.degenerate_response({"response": answer}, None).reason == "degenerate_response"


def test_the_evolve_loop_eliminates_the_papers_labels():
    from fakes import FakeBackend

    from workbench.llm import Generator
    from workbench.stages.evolve import loop as EV
    from workbench.stages.evolve.stage import Config

    def reply(prompt: str) -> str:
        if "<<Second Task>>" in prompt:
            return "Not Equal"
        if "<<New Task>>" in prompt:
            original = prompt.split("<<Original Task>>")[1].split("<<New Task>>")[0].strip()
            return f"#Rewritten Prompt#: {original} Give three steps."
        return "A careful answer " + "with detail " * 10

    gen = Generator(FakeBackend(reply=reply))
    res = EV.run_evolution([{"id": "s1", "root_id": "s1", "parent_id": None, "round": 0, "depth": 0, "op": None,
                             "instruction": "Describe the water cycle.", "input": "", "response": "It cycles.",
                             "status": "kept", "reasons": []}],
                           Config(rounds=1, ops=["deepening"], op_weights=[1]), gen, gen, gen)
    [attempt] = [r for r in res.records if r["round"] == 1]
    assert attempt["status"] == "eliminated" and attempt["reasons"] == ["prompt_leak"]


def test_reanswered_seeds_keep_their_source_answer_beside_the_teachers():
    from fakes import FakeBackend

    from workbench.core.records import new_seed
    from workbench.llm import Generator
    from workbench.stages.evolve import loop as EV
    from workbench.stages.evolve.stage import Config

    gen = Generator(FakeBackend(reply=lambda p: "Not Equal" if "<<Second Task>>" in p else "Teacher's answer here."))
    seeds = [new_seed("Name a river.", response="Source answer."), new_seed("Name a lake.")]
    kept = EV.run_evolution(seeds, Config(rounds=0), gen, gen, gen).seeds
    assert [s["response"] for s in kept] == ["Source answer.", "Teacher's answer here."]  # default: fill gaps
    again = EV.run_evolution(seeds, Config(rounds=0, reanswer_seeds=True, answer_temperature=0.7,
                                           answer_top_p=0.9), gen, gen, gen).seeds
    assert [s["response"] for s in again] == ["Teacher's answer here."] * 2
    assert again[0]["source_response"] == "Source answer." and "source_response" not in again[1]
    assert again[0]["gen"]["top_p"] == 0.9 and again[0]["model"] == "fake:echo"


def test_the_schedule_warmup_and_decay_reach_the_trainer(tmp_path):
    from workbench.stages.finetune.stage import Config
    from workbench.stages.finetune.train import sft_config

    args = sft_config(Config(lr_scheduler="cosine", warmup_ratio=0.03, weight_decay=0.1, grad_accum=8,
                             batch_size=8), tmp_path, seed=0)
    warmup = getattr(args, "warmup_ratio", None) or args.warmup_steps
    assert str(args.lr_scheduler_type).lower().endswith("cosine") and warmup == 0.03
    assert args.weight_decay == 0.1 and args.gradient_accumulation_steps * args.per_device_train_batch_size == 64
