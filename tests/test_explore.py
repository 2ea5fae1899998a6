import pytest
from fakes import FakeBackend

from workbench.core.io import write_json, write_jsonl
from workbench.core.records import new_seed
from workbench.core.run_folder import MissingInputError
from workbench.explore.explore import (
    Config,
    browser,
    curation_counts,
    eliminations_by_rule,
    lineage,
    seed_counts,
    status_by_round,
    tree_html,
    word_diff_html,
)
from workbench.explore.widgets import Explorer
from workbench.llm import Generator
from workbench.stages.evolve import loop as EV
from workbench.stages.evolve.stage import Config as EvolveConfig


def evolved_records():
    def reply(p):
        if "<<Second Task>>" in p:
            return "Not Equal"
        if "<<New Task>>" in p:
            original = p.split("<<Original Task>>")[1].split("<<New Task>>")[0].strip()
            return "new task: x" if "bad" in original else original + " Use exactly three steps."
        return "A full answer " * 5
    gen = Generator(FakeBackend(reply=reply))
    seeds = [new_seed("Describe a volcano."), new_seed("A bad seed here.")]
    return EV.run_evolution(seeds, EvolveConfig(rounds=3), gen, gen, gen).records


def test_lineage_is_parent_first_with_depths_and_filters():
    recs = evolved_records()
    root = recs[0]["id"]
    tree = lineage(recs, root)
    assert [d for d, _ in tree] == [0, 1, 2, 3] and tree[0][1]["round"] == 0
    assert all(tree[i + 1][1]["parent_id"] == tree[i][1]["id"] for i in range(3))
    assert [r["round"] for _, r in lineage(recs, root, rounds=(2, 3))] == [2, 3]
    bad_root = recs[1]["id"]
    # eliminated attempts hang off the seed (their parent stayed in the pool)
    assert {d for d, r in lineage(recs, bad_root) if r["status"] == "eliminated"} == {1}
    assert [r["status"] for _, r in lineage(recs, bad_root, statuses={"kept"})] == ["kept"]


def test_diff_and_html():
    d = word_diff_html("Describe a volcano.", "Describe a volcano. Use <three> steps.")
    assert "<ins" in d and "&lt;three&gt;" in d and "<del" not in d
    recs = evolved_records()
    page = tree_html(recs, recs[1]["id"])
    assert "prompt_leak" in page and "eliminated" in page
    assert "nothing matches" in tree_html(recs, recs[1]["id"], statuses={"failed"})


def test_browser_builds_and_reacts(tmp_path):
    recs = evolved_records()
    (tmp_path / "02_evolve").mkdir()
    write_jsonl(tmp_path / "02_evolve" / "records.jsonl", recs)
    ui = browser(tmp_path)
    assert ui.run == str(tmp_path.resolve()) and ui.run_pick.value == ui.run
    assert "Describe a volcano" in ui.tree.value
    ui.seed_pick.value = recs[1]["id"]
    assert "A bad seed here" in ui.tree.value and "prompt_leak" in ui.tree.value
    ui.status_boxes["eliminated"].value = False  # a checkbox filter hides what it unticks
    assert "prompt_leak" not in ui.tree.value and "A bad seed here" in ui.tree.value


def fake_run(outputs, name: str, records: list[dict]):
    run = outputs / "runs" / name
    write_jsonl(run / "02_evolve" / "records.jsonl", records)
    write_json(run / "manifest.json", {"run_id": name})
    return run


def test_run_picker_lists_runs_newest_first_and_switches_run(tmp_path):
    recs = evolved_records()
    old = fake_run(tmp_path, "20260101-000000_old_aaaa0000", recs[:1])
    new = fake_run(tmp_path, "20260102-000000_new_bbbb0000", recs)
    ui = Explorer("", Config(), outputs=tmp_path)
    assert [v for _, v in ui.run_pick.options] == [str(new), str(old)] and ui.run == str(new)  # latest picked
    assert len(ui.seed_pick.options) == 2
    ui.run_pick.value = str(old)
    assert [v for _, v in ui.seed_pick.options] == [recs[0]["id"]] and ui.op_row.children == ()
    empty = Explorer("", Config(), outputs=tmp_path / "nothing")
    assert empty.run_pick.value is None and "no runs yet" in empty.tree.value
    with pytest.raises(MissingInputError, match="no runs under"):
        _ = empty.run


def test_checkbox_filters_start_from_the_config_and_seed_labels_count(tmp_path):
    recs = evolved_records()
    run = fake_run(tmp_path, "20260101-000000_x_aaaa0000", recs)
    ops = sorted({r["op"] for r in recs if r["op"]})
    ui = Explorer(run, Config(statuses=["kept"], ops=[ops[0]]), outputs=tmp_path)
    assert [s for s, b in ui.status_boxes.items() if b.value] == ["kept"]
    assert [o for o, b in ui.op_boxes.items() if b.value] == [ops[0]]
    counts = seed_counts(recs)
    bad = counts[recs[1]["id"]]
    assert bad["records"] == sum(r["root_id"] == recs[1]["id"] for r in recs)
    assert bad["records"] == bad["kept"] + bad["eliminated"] + bad["failed"] and bad["eliminated"] >= 1
    label = dict((v, k) for k, v in ui.seed_pick.options)[recs[1]["id"]]
    assert label.startswith(f"[{bad['records']}: {bad['kept']} kept, {bad['eliminated']} elim.")
    with pytest.raises(ValueError, match="maybe"):
        Config(statuses=["kept", "maybe"])


def test_notebook_helpers_read_the_run(tmp_path):
    recs = evolved_records()
    run = fake_run(tmp_path, "20260101-000000_x_aaaa0000", recs)
    table = status_by_round(run)
    assert table.loc[0, "kept"] == 2 and int(table.to_numpy().sum()) == len(recs)
    assert "no 02_evolve stats" in eliminations_by_rule(run).layout.annotations[0].text  # says why it is empty
    assert curation_counts(run)["unmarked"] == len(recs)


def test_explore_notebook_runs_headless_from_another_folder(tmp_path):
    import json
    from pathlib import Path

    import jupytext
    import nbformat
    import papermill as pm

    recs = evolved_records()
    run = fake_run(tmp_path, "20260101-000000_x_aaaa0000", recs)
    nb = tmp_path / "explore.ipynb"
    nbformat.write(jupytext.read(Path(__file__).resolve().parent.parent / "notebooks" / "00_explore.py"), nb)
    pm.execute_notebook(str(nb), str(nb), parameters={"run_dir": str(run)}, kernel_name="python3",
                        progress_bar=False, cwd=str(tmp_path))
    outputs = json.dumps([c.get("outputs") for c in json.loads(nb.read_text())["cells"]])
    assert "application/vnd.jupyter.widget-view+json" in outputs  # the explorer was displayed
    assert "marks_for_unknown_ids" in outputs and "no 02_evolve stats" in outputs
