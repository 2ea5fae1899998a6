from fakes import FakeBackend

from workbench.llm import Generator
from workbench.stages.evaluate import stage as EVS


def test_failed_answers_are_errors_not_losses_and_the_claim_is_stated():
    items = [{"id": f"e{i}", "instruction": f"q{i}", "input": "", "skill": "math", "difficulty": d,
              "checks": [{"type": "word_count_max", "n": 5}] if i == 0 else []} for i, d in enumerate([2, 6, 9, 9])]
    answers = {"evolved": ["good short", "good", None, "good"], "seeds": ["bad", "bad", "bad", "bad"]}

    def fair(prompt):
        if "<<Reply A>>" not in prompt:
            return "7"
        return "A" if "good" in prompt.split("<<Reply A>>")[1].split("<<Reply B>>")[0] else "B"

    judge = Generator(FakeBackend(reply=fair))
    results, samples = EVS.evaluate(None, items, answers, [["evolved", "seeds"]], judge, "auto", 0.5, True, True)
    o = results["pairs"]["evolved_vs_seeds"]["overall"]
    assert (o["win"], o["error"], o["loss"]) == (3, 1, 0) and o["headline"] == 1.0
    assert samples[2]["pairwise"]["evolved_vs_seeds"]["outcome"] == "error"
    assert results["single"]["evolved"]["overall"]["n"] == 3  # the failed answer is not rated
    assert results["verifiable"]["evolved"]["prompt_strict"] == 1.0
    assert results["claims"][0]["verdict"] == "undetermined"  # 3 wins: the interval still reaches below 0.5
    assert results["claims"][0]["interval"][0] < 0.5


def test_no_items_is_a_plain_error():
    import pytest

    with pytest.raises(ValueError, match="no eval item"):
        EVS.evaluate(None, [], {}, [], Generator(FakeBackend()), "auto", 0.5, True, True)


def test_run_on_a_run_folder_writes_results_and_samples_by_role(tmp_path):
    import yaml

    from workbench.core.io import read_json, read_jsonl
    from workbench.stages.base import Stage

    run_dir = tmp_path / "runs" / "20250101-000000_t_00000000"
    run_dir.mkdir(parents=True)
    (run_dir / "params.yaml").write_text(yaml.safe_dump({"run": {"name": "t", "seed": 0, "model": "embedded"}}))
    st = Stage(run_dir, "07_evaluate")
    replies = {"hf:good": lambda p: "good", "hf:bad": lambda p: "bad",
               "": lambda p: "7" if "<<Reply A>>" not in p else ("A" if "good" in p.split("<<Reply A>>")[1].split("<<Reply B>>")[0] else "B")}

    def generator(model=""):
        gen = Generator(FakeBackend(reply=replies[model], model_id=f"fake:{model}"))
        st._generators.append(gen)
        return gen

    st.generator = generator
    cfg = EVS.Config(n=6, candidates=["hf:good", "hf:bad"], pairs=[["hf:good", "hf:bad"]], verifiable=False)
    res = EVS.run(st, cfg)
    results = read_json(st.folder.file("eval_results"))
    assert results["items"] == 6 and results["models"] == {"hf:good": "hf:good", "hf:bad": "hf:bad"}
    overall = results["pairs"]["hf:good_vs_hf:bad"]["overall"]
    assert overall["win"] == 6 and overall["loss"] == 0  # the judge prefers "good" in both orders
    assert {it["bucket"] for it in res.samples} == {"easy", "medium", "hard"}  # n spread over buckets
    assert len(read_jsonl(st.folder.file("eval_samples"))) == 6
    assert [name for name, _ in EVS.figures(results)] == ["hf:good_vs_hf:bad_by_bucket", "hf:good_vs_hf:bad_by_skill",
                                                          "capacity_hf:good"]
    assert read_json(st.path("stats.json"))["claims"] == results["claims"]
