"""workbench.stages.diversity.stage and config: the 05_diversity stage on a run folder built here."""

import json

import numpy as np
import pytest
import yaml
from diversity_fixtures import hashing_embedder
from fakes import FakeBackend

from workbench.core.io import read_jsonl, write_jsonl
from workbench.core.records import new_evolution, new_seed
from workbench.llm import Generator
from workbench.pipeline.nbparams import read_params
from workbench.pipeline.params import config_errors
from workbench.stages.base import Stage
from workbench.stages.diversity import plots as DP
from workbench.stages.diversity.stage import Config, run

NOTEBOOK = __import__("pathlib").Path(__file__).resolve().parent.parent / "notebooks" / "05_diversity.py"
TOPICS = ["river", "bread", "planet", "violin", "tax", "sorting", "poem", "virus", "bridge", "chess"]


def make_run(tmp_path, with_scores=True):
    run_dir = tmp_path / "runs" / "20250101-000000_t_00000000"
    run_dir.mkdir(parents=True)
    (run_dir / "params.yaml").write_text(yaml.safe_dump({"run": {"name": "t", "seed": 0, "model": "embedded"}}))
    rows = []
    for topic in TOPICS:
        seed = new_seed(f"Explain the {topic} in simple words.", response=f"A {topic} is a thing.")
        rows.append(seed)
        parent = seed
        for rnd in (1, 2):
            child = new_evolution(parent, rnd, "deepening", f"Explain the {topic} and its history in {rnd + 2} steps.",
                                  response=f"Step one about the {topic}.")
            rows.append(child)
            parent = child
    rows[4]["response"] = ""  # an evolved row without an answer: no quality score
    rows.append(new_evolution(rows[0], 1, "breadth", "Eliminated attempt.", status="eliminated", reasons=["empty"]))
    for i, r in enumerate(rows):
        r["scores"] = {"difficulty": float(1 + i % 9)} if with_scores else {}
    if with_scores:
        rows[7]["scores"] = {"difficulty": None, "difficulty_reason": "unparsable"}
    (run_dir / "04_difficulty").mkdir()
    write_jsonl(run_dir / "04_difficulty" / "records.jsonl", rows)
    return Stage(run_dir, "05_diversity")


def test_config_fields_and_defaults_are_the_notebook_parameters():
    params = {k: p.default for k, p in read_params(NOTEBOOK).items() if k != "run_dir"}
    fields = Config.__dataclass_fields__
    assert list(fields) == list(params)
    assert {k: f.default for k, f in fields.items()} == params
    assert Config.from_namespace(params | {"run_dir": "", "other": 1}) == Config()
    with pytest.raises(KeyError, match="quality_judge"):
        Config.from_namespace({k: v for k, v in params.items() if k != "quality_judge"})


def test_config_rejects_what_a_type_cannot_express():
    assert any("complexity_x_quality needs quality_judge" in e
               for e in config_errors("diversity", {"selection_score": "complexity_x_quality", "quality_judge": False}))
    with pytest.raises(ValueError, match="selection_text"):
        Config(selection_text="response")


def test_notebook_is_thin():
    src = NOTEBOOK.read_text()
    assert "\ndef " not in src and "\nclass " not in src and "\nfor " not in src
    code_cells = [c for c in src.split("# %%")[1:] if not c.startswith(" [markdown]")]
    assert all("import " not in c for c in code_cells[2:])  # imports only in the first cell after parameters


def test_stage_writes_its_files_and_ranks_by_complexity_times_quality(tmp_path):
    st = make_run(tmp_path)
    embed = hashing_embedder()
    res = run(st, Config(equal_n_repeats=50), embedder=embed, generator=Generator(FakeBackend(reply=lambda p: "7")))
    s = json.loads(st.path("stats.json").read_text())
    assert s == json.loads(json.dumps(res.stats))
    for f in ("embeddings.npy", "embedding_ids.json", "conversation_embeddings.npy", "near_duplicates.jsonl",
              "selection.jsonl"):
        assert st.path(f).is_file(), f
    assert s["rows"] == 30 and s["not_kept_skipped"] == 1 and s["rows_by_round"] == {"0": 10, "1": 10, "2": 10}
    assert s["selection"]["score_used"] == "complexity_x_quality" and s["selection"]["text_embedded"] == "conversation"
    assert s["selection"]["unscored_by_reason"] == {"no_complexity": 1, "no_response": 1}
    d = s["deita"]
    assert d["candidates"] == d["kept"] + d["rejected_by_tau"] + d["not_reached_budget"] + d["missing_scores"] == 30
    assert d["missing_scores"] == 2 and s["quality"]["rated"] == 29 and s["quality"]["nulls"] == {"no_response": 1}
    sel = read_jsonl(st.path("selection.jsonl"))
    assert len(sel) == d["kept"] and all(r["scores"]["quality"] == 7.0 for r in sel)
    source = read_jsonl(st.run_dir / "04_difficulty" / "records.jsonl")
    assert not {r["id"] for r in sel} & {source[4]["id"], source[7]["id"]}  # no answer / no complexity
    conv = np.load(st.path("conversation_embeddings.npy"))
    pos = [json.loads(st.path("conversation_embedding_ids.json").read_text())["ids"].index(r["id"]) for r in sel]
    g = conv[pos] @ conv[pos].T
    np.fill_diagonal(g, -1)
    assert g.max() < d["tau"]
    claim = s["claim"]
    assert claim["id"] == "evolved_as_diverse" and claim["n"] == 10
    assert claim["verdict"] in {"supported", "not supported", "undetermined"}
    assert set(claim["seeds"]) == {"mean", "lo", "hi"}
    assert s["equal_n"]["seeds_vs_evolved"]["groups"]["evolved"]["size"] == 20
    assert set(s["equal_n"]["by_round"]["groups"]) == {"round 0", "round 1", "round 2"}
    assert s["lineage"]["groups"]["evolved"]["within"]["items"] == 20
    assert {"overall", "by_round", "seeds", "evolved"} <= set(s["metrics"])
    # figures build from the stats alone, and compare groups without lines between them
    for fig in (DP.claim_figure(s), DP.equal_n_figure(s["equal_n"]["by_round"]), DP.lineage_figure(s["lineage"]),
                DP.binned_histogram(s["nn_distance_histogram"], "t", "x"),
                DP.projection_scatter(res.xy, res.xy_rounds, res.xy_hover)):
        assert all(getattr(t, "mode", None) in (None, "markers") for t in fig.data)
    assert claim["verdict"].upper() in DP.claim_figure(s).layout.title.text


def test_stage_without_quality_or_scores_says_what_it_used(tmp_path):
    st = make_run(tmp_path, with_scores=False)
    res = run(st, Config(quality_judge=False, equal_n_repeats=20), embedder=hashing_embedder())
    s = res.stats
    assert s["quality"] == {"computed": False, "reason": "quality_judge is false"}
    assert s["selection"]["score_used"] == "none" and s["selection"]["text_embedded"] == "instruction"
    assert s["deita"]["missing_scores"] == 0 and s["deita"]["kept"] >= 1
    assert not st.path("conversation_embeddings.npy").exists()
