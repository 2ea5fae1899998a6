import re
from collections import Counter

import pytest
from fakes import FakeBackend, scripted_model

from workbench.core import rules as R
from workbench.core import templates
from workbench.core.packs import load_pack
from workbench.core.records import OPS, new_seed, schema_errors
from workbench.llm import Generator
from workbench.llm.cache import ResponseCache
from workbench.pipeline.params import config_errors
from workbench.stages.evolve import loop as EV
from workbench.stages.evolve import rules as E
from workbench.stages.evolve import stage as ES

GENERAL = load_pack("general")


@pytest.mark.parametrize("text,verdict", [
    ("Equal", E.EQUAL), ("equal.", E.EQUAL), ("Verdict: Equal", E.EQUAL),
    ("Not Equal", E.NOT_EQUAL), ("NOT EQUAL", E.NOT_EQUAL), ("not  equal", E.NOT_EQUAL),
    ("**Not Equal**", E.NOT_EQUAL), ("The tasks are not equal. Equal would be wrong", E.NOT_EQUAL),
    ("Unequal", E.NOT_EQUAL), ("They are not the same", E.NOT_EQUAL),
    ("", E.UNPARSABLE), (None, E.UNPARSABLE), ("maybe", E.UNPARSABLE), ("equality", E.UNPARSABLE),
    ("Not-Equal", E.NOT_EQUAL), ("Not exactly equal", E.NOT_EQUAL), ("not entirely equal", E.NOT_EQUAL),
    ("Equal? No. Not Equal", E.NOT_EQUAL), ("They aren't equal", E.NOT_EQUAL), ("Non-equal.", E.NOT_EQUAL),
    ("The tasks are equal, but the second one is not", E.NOT_EQUAL), ("Identical.", E.EQUAL),
])
def test_equal_verdict_parsing_never_reads_not_equal_as_equal(text, verdict):
    assert E.parse_equal_verdict(text) == verdict


def test_cheap_rules():
    assert E.sorry_short("Sorry, I cannot help with that.")
    assert not E.sorry_short("sorry " + "word " * 90)
    assert not E.sorry_short("Here is a full answer.")
    assert E.degenerate("... the, and of it!!")
    assert E.degenerate("?!")
    assert not E.degenerate("The river is long.")
    assert E.unchanged({"instruction": "Name  a river!", "parent_text": "name a river"}, None).reason == "unchanged"
    assert R.too_long({"instruction": "x" * 11}, R.Limits(10)).reason == "too_long"
    assert R.too_long({"instruction": "x" * 10}, R.Limits(10)).keep
    assert R.empty({"instruction": "  "}, None).reason == "empty"


def test_leak_vocabulary_comes_from_the_templates_and_matches_words_not_substrings():
    vocab = GENERAL.leak_vocabulary(tuple(OPS), E.STOP_WORDS)
    # section labels, demonstration labels and the rules' own wording
    assert {"original task", "new task", "example rewrite", "rewritten task", "section labels", "rewrite task"} <= vocab
    assert "example rewrite" not in GENERAL.leak_vocabulary(("deepening",), E.STOP_WORDS)
    for leaked in ("Here's the rewritten task: list three rivers.", "#RewrittenTask list three rivers",
                   "Rewrite Task: list rivers", "Do not mention the section labels. List rivers.",
                   "Here is the New  Task: do it"):
        assert E.leaked_phrases(leaked, "List three rivers.", vocab), leaked
    for clean in ("List three rivers in Peru.", "Explain multitasking on a new-ish CPU, task by task.",
                  "The task must be finished in 50 words."):
        assert E.leaked_phrases(clean, "List rivers.", vocab) == [], clean


def test_a_seed_that_uses_a_template_phrase_is_not_a_leak():
    vocab = GENERAL.leak_vocabulary(tuple(OPS), E.STOP_WORDS)
    parent = "Add a new task to my to-do app that reminds me to water the plants."
    child = "Add a new task to my to-do app that reminds me to water the plants every Monday at 8 am."
    assert E.leaked_phrases(child, parent, vocab) == []
    assert E.leaked_phrases("New task: " + child, "Water the plants.", vocab) == ["new task"]


def test_degenerate_rule_reads_unicode_words():
    assert not E.degenerate("Волга — самая длинная река Европы.")
    assert not E.degenerate("长江是中国最长的河流。")
    assert not E.degenerate("富士山は日本で一番高い山です。")
    assert E.degenerate("the, and ... of!")


@pytest.mark.parametrize("op,output,expected", [
    # a verbatim copy of the input goes back to the input field
    ("add_constraints", "Sort these numbers in descending order.\n\n3 1 2", ("Sort these numbers in descending order.", "3 1 2", None)),
    # the model rewrote only the instruction: the input is carried
    ("deepening", "Sort the numbers and explain the algorithm.", ("Sort the numbers and explain the algorithm.", "3 1 2", None)),
    # breadth is a new task: no input
    ("breadth", "Name a sorting algorithm.", ("Name a sorting algorithm.", "", None)),
    # complicate_input that dropped the data it should build on
    ("complicate_input", "Sort this JSON: [9, 8]", ("Sort this JSON: [9, 8]", "", "input_lost")),
])
def test_split_input(op, output, expected):
    assert E.split_input(GENERAL.ops[op], output, "3 1 2") == expected


def test_split_input_keeps_a_rewritten_input_in_place():
    parent_input = "Alice paid 30 dollars for lunch with Bob and Carol"
    out = "Using the note 'Alice paid 30 dollars for a lunch with Bob, Carol and Dan', split the bill."
    assert E.split_input(GENERAL.ops["complicate_input"], out, parent_input) == (out, "", None)


def test_every_op_template_renders_without_leftover_placeholders():
    seed = new_seed("Name three rivers.", "in Europe")
    for op in OPS:
        fmt = "JSON" if op == "complicate_input" else None
        text = EV.evolution_prompt(GENERAL, op, seed, fmt)
        assert "Name three rivers.\n\nin Europe" in text
        assert not re.search(r"\{(instruction|format|demonstration)\}", text), op
        assert text.rstrip().endswith("<<New Task>>")
    demo = templates.demonstration("CSV table")
    prompt = EV.evolution_prompt(GENERAL, "complicate_input", seed, "CSV table")
    assert demo in prompt and "Data format: CSV table" in prompt


def test_op_assignment_is_deterministic_balanced_and_weighted():
    cfg = ES.Config()
    ids = [f"id{i}" for i in range(12)]
    a = EV.assign_ops(cfg, ids, 1, seed=3)
    assert a == EV.assign_ops(cfg, ids, 1, seed=3) and a != EV.assign_ops(cfg, ids, 1, seed=4)
    assert Counter(op for op, _ in a) == dict.fromkeys(OPS, 2)
    assert all((fmt in templates.FORMATS) == (op == "complicate_input") for op, fmt in a)
    cfg = ES.Config(ops=["deepening", "breadth"], op_weights=[3, 1])
    assert Counter(op for op, _ in EV.assign_ops(cfg, ids, 2)) == {"deepening": 9, "breadth": 3}


def test_check_config():
    assert config_errors("evolve", {"ops": ["deepening", "flying"], "op_weights": [1, 1]})[0].startswith("evolve.ops: unknown")
    assert "2 weights for 1 ops" in config_errors("evolve", {"ops": ["deepening"], "op_weights": [1, 1]})[0]
    assert config_errors("evolve", {"ops": ["deepening"], "op_weights": [0]})
    assert config_errors("evolve", {"ops": list(OPS), "op_weights": [1] * 6, "formats": ["YAML"]})
    assert config_errors("evolve", {"ops": list(OPS), "op_weights": [1] * 6, "formats": ["JSON"]}) == []


def make_seeds(*texts):
    return [new_seed(t) for t in texts]


def test_rounds_lineage_elimination_and_requeue(tmp_path):
    backend = FakeBackend(reply=scripted_model)
    gen = Generator(backend, ResponseCache(tmp_path / "c.sqlite"))
    seeds = make_seeds("Name three rivers.", "LEAK this one.", "SORRY please.", "DEGEN text.",
                       "UNCHANGED text.", "SAME thing.")
    cfg = ES.Config(rounds=2)
    res = EV.run_evolution(seeds, cfg, gen, gen, gen, seed=0)
    evolved = [r for r in res.records if r["round"] > 0]
    assert len(evolved) == 12  # every pool member evolved in each round
    for r in res.records:
        assert schema_errors(r) == [], r
    for r in evolved:
        assert r["template_sha"] == GENERAL.ops[r["op"]].template.sha and r["templates"] == "general" and r["model"] == "fake:echo"
    by_seed = {s["instruction"].split()[0]: s["id"] for s in seeds}

    def reasons_of(word):
        return {tuple(r["reasons"]) for r in evolved if r["root_id"] == by_seed[word]}

    assert reasons_of("LEAK") == {("prompt_leak",)}
    assert reasons_of("SORRY") == {("sorry_short_response",)}
    assert reasons_of("DEGEN") == {("degenerate_response",)}
    assert reasons_of("UNCHANGED") == {("unchanged",)}
    assert reasons_of("SAME") == {("no_information_gain",)}
    assert reasons_of("Name") == {()}
    # survivor replaces its parent: round 2 evolves the round-1 child
    rivers = sorted((r for r in evolved if r["root_id"] == by_seed["Name"]), key=lambda r: r["round"])
    assert rivers[1]["parent_id"] == rivers[0]["id"] and rivers[0]["parent_id"] == by_seed["Name"]
    # a failed evolution leaves the parent in the pool: round 2 evolves the seed again
    leak = [r for r in evolved if r["root_id"] == by_seed["LEAK"]]
    assert {r["parent_id"] for r in leak} == {by_seed["LEAK"]}
    # depth counts successful evolutions: the survivor's child is depth 2, while the requeued
    # seed's second attempt, in round 2, is depth 1 (round is not depth)
    assert [(r["round"], r["depth"]) for r in rivers] == [(1, 1), (2, 2)]
    assert sorted((r["round"], r["depth"]) for r in leak) == [(1, 1), (2, 1)]
    assert all(s["depth"] == 0 for s in res.seeds)
    s = ES.evolve_stats(res.seeds, res.attempts, cfg)
    assert s["attempts"] == 12 and s["status"] == {"kept": 2, "eliminated": 10}
    assert s["by_rule_op_round"]["prompt_leak"] and sum(
        n for ops in s["by_rule_op_round"]["prompt_leak"].values() for n in ops.values()) == 2
    data = ES.dataset(res.records, 0)
    assert len(data) == 6 + 2 and all(r["status"] == "kept" and r["response"] for r in data)
    # the whole thing again over the same cache: identical records, zero model calls
    calls = backend.calls
    again = EV.run_evolution(seeds, cfg, gen, gen, gen, seed=0)
    assert again.records == res.records and backend.calls == calls


def test_rules_can_be_switched_off_and_unparsable_policy(tmp_path):
    gen = Generator(FakeBackend(reply=lambda p: "hmm" if "<<Second Task>>" in p else scripted_model(p)))
    seeds = make_seeds("SORRY please.", "Plain one.")
    rules = [r for r in ES.Config.rules if r != "sorry_short_response"]
    res = EV.run_evolution(seeds, ES.Config(rounds=1, rules=rules), gen, gen, gen)
    assert all(r["status"] == "kept" for r in res.records)
    assert {r["checks"]["equal_judge"]["verdict"] for r in res.records if r["round"]} == {"unparsable"}
    res = EV.run_evolution(seeds, ES.Config(rounds=1, judge_unparsable="eliminate"), gen, gen, gen)
    assert {tuple(r["reasons"]) for r in res.records if r["round"]} == {("sorry_short_response",), ("judge_unparsable",)}


def test_backend_failures_are_recorded_not_raised():
    from workbench.llm import Completion

    class Down(FakeBackend):
        def generate(self, prompts, gen):
            return [Completion(None, error="HTTP 503") if "<<New Task>>" in m[-1]["content"]
                    else Completion("fine answer") for m in prompts]

    gen = Generator(Down())
    res = EV.run_evolution(make_seeds("One.", "Two."), ES.Config(rounds=2), gen, gen, gen)
    evolved = [r for r in res.records if r["round"]]
    assert len(evolved) == 4 and all(r["status"] == "failed" and r["reasons"] == ["backend_error"] for r in evolved)
    assert ES.evolve_stats(res.seeds, res.attempts, ES.Config(rounds=2))["backend_failures"] == 4 and "503" in evolved[0]["error"]


def test_children_keep_their_parents_input_and_answers_see_it(tmp_path):
    seen = []

    def model(prompt):
        seen.append(prompt)
        if "<<New Task>>" in prompt:
            return "Sort these numbers and explain each step."
        return "Not Equal" if "<<Second Task>>" in prompt else "A careful answer " + "with detail " * 10

    gen = Generator(FakeBackend(reply=model))
    seeds = [new_seed("Sort these numbers.", "3 1 2")]
    cfg = ES.Config(rounds=1, ops=["deepening"], op_weights=[1])
    res = EV.run_evolution(seeds, cfg, gen, gen, gen)
    child = res.records[-1]
    assert child["input"] == "3 1 2" and child["status"] == "kept"
    assert any(p.startswith("Sort these numbers and explain each step.\n\n3 1 2") for p in seen)  # answered with input


class ProbJudge(FakeBackend):
    """A judge with token probabilities: Equal when both tasks match, else Not Equal."""

    def __init__(self, mass=0.9, **kw):
        super().__init__(**kw)
        self.mass = mass

    def choice_probs(self, prompts, choices):
        out = []
        for m in prompts:
            first, second = m[-1]["content"].split("<<First Task>>")[1].split("<<Second Task>>")
            p_eq = 0.8 if first.strip() == second.replace("Verdict:", "").strip() else 0.1
            out.append({"Equal": p_eq * self.mass, "Not Equal": (1 - p_eq) * self.mass})
        return out


def test_equal_verdict_comes_from_probabilities_and_unchecked_share_is_reported():
    judge = Generator(ProbJudge(reply=lambda p: "no idea"))
    gen = Generator(FakeBackend(reply=scripted_model))
    seeds = make_seeds("Name three rivers.", "UNCHANGED text.", "Plain one.")
    rules = [r for r in ES.Config.rules if r != "unchanged"]
    res = EV.run_evolution(seeds, ES.Config(rounds=1, rules=rules), gen, gen, judge)
    checks = {r["instruction"]: r["checks"]["equal_judge"] for r in res.records if r["round"]}
    assert checks["UNCHANGED text."]["verdict"] == E.EQUAL and checks["UNCHANGED text."]["source"] == "probs"
    assert {c["verdict"] for k, c in checks.items() if k != "UNCHANGED text."} == {E.NOT_EQUAL}
    stats = ES.evolve_stats(res.seeds, res.attempts, ES.Config(rounds=1, rules=rules))
    assert stats["unchecked_kept"] == 0 and stats["unchecked_kept_share"] == 0.0
    # too little mass on the two verdicts: fall back to the text, which says nothing -> unchecked
    low = Generator(ProbJudge(mass=0.01, reply=lambda p: "no idea"))
    res = EV.run_evolution(seeds, ES.Config(rounds=1, rules=rules), gen, gen, low)
    assert {r["checks"]["equal_judge"]["source"] for r in res.records if r["round"]} == {"text"}
    stats = ES.evolve_stats(res.seeds, res.attempts, ES.Config(rounds=1, rules=rules))
    assert stats["unchecked_kept_share"] == 1.0 and "WARNING" in ES.unchecked_banner(stats)


def test_a_parent_evolved_again_gets_a_fresh_sample_but_a_rerun_hits_the_cache(tmp_path):
    calls = []

    class Sampler(FakeBackend):
        def generate(self, prompts, gen):
            calls.append(gen.seed)
            return super().generate(prompts, gen)

    backend = Sampler(reply=lambda p: "New Task: leak" if "<<New Task>>" in p else "answer " * 20)
    gen = Generator(backend, ResponseCache(tmp_path / "c.sqlite"))
    cfg = ES.Config(rounds=3, ops=["deepening"], op_weights=[1])
    res = EV.run_evolution(make_seeds("Plain one."), cfg, gen, gen, gen)
    seeds_used = {r["gen"]["seed"] for r in res.records if r["round"]}
    assert len(seeds_used) == 3  # same parent, same op, three rounds: three different samples
    assert seeds_used <= set(calls)  # and those seeds are what the backend was sent
    n = backend.calls
    EV.run_evolution(make_seeds("Plain one."), cfg, gen, gen, gen)
    assert backend.calls == n
