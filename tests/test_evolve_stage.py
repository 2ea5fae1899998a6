"""workbench.stages.evolve.stage: 02_evolve on a run folder with a scripted model."""

import pytest
from fakes import FakeBackend, scripted_model
from stage_fixtures import make_stage

from workbench.core import rules as R
from workbench.core.io import read_jsonl
from workbench.core.records import new_seed
from workbench.llm import Completion, Generator
from workbench.pipeline.params import config_errors
from workbench.stages.evolve import loop as EV
from workbench.stages.evolve.stage import Config, dataset, evolve_stats, run

SEEDS = ["Name three rivers.", "LEAK this one.", "SORRY please.", "DEGEN text.", "UNCHANGED text.", "SAME thing."]


def stage_with(tmp_path, backend, seeds=SEEDS):
    st = make_stage(tmp_path, "02_evolve", {"seeds": [new_seed(t) for t in seeds]})
    gen = Generator(backend)
    st.generator = lambda model="": gen
    return st


def test_attempts_are_kept_or_eliminated_per_reason_and_written_by_role(tmp_path):
    st = stage_with(tmp_path, FakeBackend(reply=scripted_model))
    res = run(st, Config(rounds=2), log=lambda m: None)
    attempts = [r for r in res.records if r["round"]]
    s = res.stats
    assert s["attempts"] == len(attempts) == 12 == sum(s["status"].values())
    assert s["status"] == {"kept": 2, "eliminated": 10}
    # every eliminated attempt is counted under each of its reasons, and only there
    assert s["reasons"] == {"prompt_leak": 2, "sorry_short_response": 2, "degenerate_response": 2, "unchanged": 2,
                            "no_information_gain": 2}
    assert sum(n for ops in s["by_rule_op_round"].values() for rounds in ops.values() for n in rounds.values()) == 10
    assert set(s["reasons"]) <= R.vocabulary("evolve") and s["rules"] == list(Config.rules)
    assert read_jsonl(st.out("attempts")) == res.records
    assert read_jsonl(st.out("evolved")) == res.dataset == dataset(res.records, 0)
    assert s["dataset"] == 6 + 2


def test_a_rule_switched_off_is_neither_applied_nor_counted(tmp_path):
    st = stage_with(tmp_path, FakeBackend(reply=scripted_model))
    rules = [r for r in Config.rules if r not in ("prompt_leak", "no_information_gain")]
    res = run(st, Config(rounds=1, rules=rules), log=lambda m: None)
    leak = next(r for r in res.records if r["round"] and r["instruction"].startswith("New Task"))
    assert leak["status"] == "kept" and "leaked_phrases" not in leak["checks"]
    assert "prompt_leak" not in res.stats["reasons"] and "prompt_leak" not in res.stats["by_rule_op_round"]
    assert res.stats["judge_verdicts"] == {}  # the judge was never asked
    assert res.stats["unchecked_kept_share"] == 1.0


def test_decoding_params_come_from_the_config_not_restated_defaults():
    cfg = Config()
    gens = EV.gen_params(cfg, seed=7)
    assert (gens["evolve"].max_new_tokens, gens["answer"].max_new_tokens) == (160, 192)
    assert (gens["evolve"].temperature, gens["evolve"].top_p, gens["evolve"].seed) == (0.7, 0.95, 7)


def test_backend_failures_fail_the_stage_after_the_records_are_written(tmp_path):
    class Down(FakeBackend):
        def generate(self, prompts, gen):
            return [Completion(None, error="HTTP 503") if "<<New Task>>" in m[-1]["content"]
                    else Completion("A fine answer.") for m in prompts]

    st = stage_with(tmp_path, Down(), seeds=SEEDS[:2])
    with pytest.raises(RuntimeError, match="failed at the model backend"):
        run(st, Config(rounds=1), log=lambda m: None)
    written = read_jsonl(st.out("attempts"))
    assert len(written) == 4 and [r["reasons"] for r in written] == [[], [], ["backend_error"], ["backend_error"]]
    assert evolve_stats(written[:2], written[2:], Config(rounds=1))["backend_failures"] == 2


def test_check_config_names_the_key():
    assert config_errors("evolve", {"rules": ["empty", "flying"]})[0].startswith("evolve.rules: unknown rule 'flying'")
    with pytest.raises(ValueError, match="evolve.ops: unknown"):
        Config(ops=["flying"], op_weights=[1])


def test_rounds_go_in_slices_to_the_sink_and_give_the_same_records(tmp_path, monkeypatch):
    """A big pool is evolved slice by slice, each slice handed on when done; the records are
    the same as in one piece, and none are kept in memory by run_evolution."""
    seeds = [new_seed(f"Name {k} rivers of the world.") for k in range(5)]
    whole = EV.run_evolution(seeds, Config(rounds=2), *[Generator(FakeBackend(reply=scripted_model))] * 3)
    monkeypatch.setattr(EV, "SLICE", 2)
    delivered = []
    gen = Generator(FakeBackend(reply=scripted_model))
    sliced = EV.run_evolution(seeds, Config(rounds=2), gen, gen, gen, sink=delivered.append)
    assert [len(d) for d in delivered] == [5, 2, 2, 1, 2, 2, 1]  # the seeds, then each slice of each round
    assert sliced.attempts == [] and [r for d in delivered for r in d] == whole.records


def test_the_dataset_drawn_from_the_file_equals_the_one_drawn_in_memory(tmp_path):
    from workbench.core.io import write_jsonl
    from workbench.stages.evolve.stage import write_dataset

    records = [{"id": str(k), "status": ("kept", "eliminated", "failed")[k % 3], "response": "ответ" if k % 4 else "",
                "round": k % 2} for k in range(200)]
    write_jsonl(tmp_path / "records.jsonl", records)
    n = write_dataset(tmp_path / "records.jsonl", tmp_path / "dataset.jsonl", seed=7)
    assert read_jsonl(tmp_path / "dataset.jsonl") == dataset(records, 7) and n == len(dataset(records, 7)) > 0
