"""The smoke chain: params/smoke.yaml through every pipeline notebook with the real embedded model."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.core.io import read_json, read_jsonl
from workbench.core.records import schema_errors
from workbench.pipeline.runs import stage_order

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    r = subprocess.run([sys.executable, "-m", "workbench.cli", "run", "params/smoke.yaml", "--outputs", str(out)],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    runs = list((out / "runs").iterdir())
    assert len(runs) == 1
    return runs[0]


@pytest.mark.slow
def test_every_stage_done(smoke_run):
    m = read_json(smoke_run / "manifest.json")
    for stage in stage_order():
        assert m["stages"][stage]["status"] == "done", stage
        assert (smoke_run / stage / "DONE").is_file()
        assert (smoke_run / stage / "notebook.ipynb").is_file()
        json.loads((smoke_run / stage / "stats.json").read_text())


@pytest.mark.slow
def test_seed_records_follow_schema(smoke_run):
    records = read_jsonl(smoke_run / "01_seed" / "records.jsonl")
    assert len(records) == 6
    for r in records:
        assert schema_errors(r) == []
        assert r["round"] == 0 and r["root_id"] == r["id"]


@pytest.mark.slow
def test_evolve_records_have_lineage_every_op_and_reasons(smoke_run):
    from workbench.core.records import OPS

    records = read_jsonl(smoke_run / "02_evolve" / "records.jsonl")
    evolved = [r for r in records if r["round"] > 0]
    assert {r["op"] for r in evolved} == set(OPS)
    ids = {r["id"] for r in records}
    for r in evolved:
        assert schema_errors(r) == []
        assert r["parent_id"] in ids and r["root_id"] in ids and r["template_sha"] and r["model"]
        assert (r["status"] == "kept") == (r["reasons"] == [])
    stats = read_json(smoke_run / "02_evolve" / "stats.json")
    assert stats["attempts"] == len(evolved) == 12
    assert sum(stats["reasons"].values()) >= sum(r["status"] != "kept" for r in evolved)
    assert stats["llm"][0]["calls"] > 0
    dataset = read_jsonl(smoke_run / "02_evolve" / "dataset.jsonl")
    assert all(r["status"] == "kept" and r["response"] for r in dataset)
    # no kept evolution holds template wording its parent did not have
    from workbench.core.packs import load_pack
    from workbench.core.records import full_text
    from workbench.stages.evolve import rules as E

    vocab = load_pack("general").leak_vocabulary(tuple(sorted({r["op"] for r in evolved})), E.STOP_WORDS) | E.PAPER_LABELS
    by_id = {r["id"]: r for r in read_jsonl(smoke_run / "02_evolve" / "records.jsonl")}
    for r in evolved:
        if r["status"] == "kept":
            assert E.leaked_phrases(full_text(r), full_text(by_id[r["parent_id"]]), vocab) == [], r["instruction"]
        assert r["depth"] == by_id[r["parent_id"]]["depth"] + 1  # successful evolutions behind it
    assert stats["unchecked_kept_share"] is None or 0 <= stats["unchecked_kept_share"] <= 1
    filtered = read_jsonl(smoke_run / "03_filter" / "dataset.jsonl")
    dropped = read_jsonl(smoke_run / "03_filter" / "dropped.jsonl")
    assert len(filtered) + len(dropped) == len(dataset)


@pytest.mark.slow
def test_explore_notebook_runs_headless_on_the_run(smoke_run, tmp_path):
    import jupytext
    import nbformat
    import papermill as pm

    nb = tmp_path / "explore.ipynb"
    nbformat.write(jupytext.read(REPO / "notebooks" / "00_explore.py"), nb)
    pm.execute_notebook(str(nb), str(nb), parameters={"run_dir": str(smoke_run)}, kernel_name="python3",
                        progress_bar=False)
    executed = json.loads(nb.read_text())
    html_out = [o for c in executed["cells"] for o in c.get("outputs", [])
                if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert html_out, "the browser widget was displayed"


@pytest.mark.slow
def test_diversity_outputs_and_deita_never_keeps_a_close_pair(smoke_run):
    d = smoke_run / "05_diversity"
    stats = read_json(d / "stats.json")
    emb = np.load(d / "embeddings.npy")
    ids = read_json(d / "embedding_ids.json")["ids"]
    assert emb.shape == (stats["rows"], 384) and len(ids) == stats["rows"]
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-4)
    assert {"overall", "by_round", "seeds", "evolved"} <= set(stats["metrics"])
    sel = read_jsonl(d / "selection.jsonl")
    assert len(sel) == stats["deita"]["kept"] and all(schema_errors(r) == [] for r in sel)
    sel_emb = np.load(d / stats["selection"]["embeddings_file"])  # the conversation when ranked by complexity x quality
    pos = [ids.index(r["id"]) for r in sel]
    g = sel_emb[pos] @ sel_emb[pos].T
    np.fill_diagonal(g, -1)
    assert len(sel) < 2 or g.max() < stats["deita"]["tau"]
    assert stats["claim"]["verdict"] in ("supported", "not supported", "undetermined")
    for f in ("projection.html", "nn_distance_hist.html", "metrics_by_round.html", "equal_n_seeds_vs_evolved.html"):
        assert (d / "figures" / f).is_file()


@pytest.mark.slow
def test_difficulty_scores_are_floats_or_null_with_reason(smoke_run):
    rows = read_jsonl(smoke_run / "04_difficulty" / "records.jsonl")
    assert rows
    for r in rows:
        s = r["scores"]
        assert (isinstance(s["difficulty"], float) and 1 <= s["difficulty"] <= 10) or (s["difficulty"] is None and s["difficulty_reason"])
        assert isinstance(s["ifd"], float) or (s["ifd"] is None and s["ifd_reason"])
        assert set(r["features"]) == {"words", "constraints", "steps", "input_words", "nesting"}
    stats = read_json(smoke_run / "04_difficulty" / "stats.json")
    assert "0" in stats["mean_difficulty_by_round"]
    val = stats["validation"]
    assert {"judge", "baseline_word_count", "verdict"} <= set(val) and val["labelled"] > 0
    assert val["verdict"] in ("validated", "not validated", "undetermined")
    assert len(read_jsonl(smoke_run / "04_difficulty" / "validation.jsonl")) == val["labelled"]
    assert stats["claim"]["verdict"] in ("supported", "not supported", "undetermined")
    if val["verdict"] != "validated":
        assert stats["claim"]["verdict"] == "undetermined"


@pytest.mark.slow
def test_finetuned_variants_reload_and_are_compared(smoke_run):
    from workbench.llm import GenParams, get_generator

    for variant in ("seeds", "evolved"):
        model_dir = smoke_run / "06_finetune" / "model" / variant
        gen = get_generator(f"hf:{model_dir}", {"batch_size": 1, "cache": False}, None)
        assert gen.generate([[{"role": "user", "content": "Hi"}]], GenParams(max_new_tokens=4))[0].ok
    log = read_json(smoke_run / "06_finetune" / "train_log.json")
    assert all(v["steps"] >= 1 and v["log"] for v in log["variants"].values())
    results = read_json(smoke_run / "07_evaluate" / "results.json")
    pair = results["pairs"]["evolved_vs_seeds"]
    assert pair["overall"]["n"] == results["items"] and "order_consistency" in pair["overall"]
    assert sum(pair["overall"][o] for o in ("win", "tie", "loss", "undetermined", "error")) == results["items"]
    if pair["status"] == "undetermined":
        assert pair["overall"]["headline"] == "undetermined"
    assert set(pair["by_bucket"]) == {"easy", "medium", "hard"} and pair["by_skill"]
    samples = read_jsonl(smoke_run / "07_evaluate" / "samples.jsonl")
    assert len(samples) == results["items"] and all(set(s["answers"]) == {"seeds", "evolved"} for s in samples)
