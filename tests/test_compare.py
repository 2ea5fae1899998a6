import json
from pathlib import Path

from workbench.core.io import write_json
from workbench.explore import compare as CMP

REPO = Path(__file__).resolve().parent.parent


def fake_run(root: Path, name: str, rounds: int, temp: float, means: list[float], win: float) -> Path:
    d = root / name
    write_json(d / "manifest.json", {"run_id": name, "params": {"run": {"name": name, "seed": 0},
                                                               "evolve": {"rounds": rounds, "temperature": temp}}})
    write_json(d / "02_evolve" / "stats.json", {"attempts": 10, "kept_rate": 0.5, "dataset": 8,
                                                "reason_share": {"prompt_leak": 0.3, "unchanged": 0.2}})
    write_json(d / "04_difficulty" / "stats.json", {"judge_verdict": "not validated",
                                                    "claim": {"id": "difficulty_rises", "verdict": "undetermined"},
                                                    "difficulty": {
        "overall": {"mean": sum(means) / len(means)},
        "by_round": {str(i): {"mean": m, "lo": m - 0.5, "hi": m + 0.5, "n": 4} for i, m in enumerate(means)}}})
    write_json(d / "07_evaluate" / "stats.json", {
        "claims": [{"id": "evolved_tuned_wins", "statement": "evolved beats seeds", "verdict": "undetermined",
                    "interval": [win - 0.2, win + 0.2]}],
        "pairs": {"evolved_vs_seeds": {
            "status": "determined" if win >= 0.5 else "undetermined",
            "overall": {"win_rate": win, "win_rate_lo": win - 0.2, "win_rate_hi": win + 0.2, "headline": win},
            "by_bucket": {"easy": {"win_rate": win, "win_rate_lo": 0.1, "win_rate_hi": 0.9},
                          "hard": {"win_rate": win / 2, "win_rate_lo": 0.1, "win_rate_hi": 0.9}}}}})
    return d


def test_summaries_legends_and_figures(tmp_path):
    runs = [fake_run(tmp_path, "a", 1, 0.7, [3.0, 4.0], 0.6), fake_run(tmp_path, "b", 2, 0.7, [3.0, 4.5, 5.0], 0.4)]
    summaries = [CMP.summarise_run(r) for r in runs]
    assert CMP.varying_params(summaries) == ["evolve.rounds"]
    labels = CMP.legend_labels(summaries)
    assert labels == ["evolve.rounds=1", "evolve.rounds=2"]
    fig = CMP.difficulty_by_round(summaries, labels)
    assert [t.name for t in fig.data] == [f"{lab} (judge not validated)" for lab in labels]
    assert list(fig.data[1].y) == [3.0, 4.5, 5.0]
    assert list(CMP.elimination_rates(summaries, labels).data[0].y) == [0.3, 0.2]
    win = CMP.win_rates(summaries, labels)
    assert list(win.data[0].y) == [0.6, None, 0.3, 0.6]
    assert list(win.data[1].y) == [None] * 4 and win.data[1].name.endswith("(undetermined)")  # no number drawn
    assert len(CMP.diversity_metrics(summaries, labels).data) == 0  # no 05 stats: no bars, no crash
    assert CMP.table(summaries, labels)[1]["evolved_vs_seeds"] == 0.4
    claims = CMP.claims(summaries, labels)
    assert [c["verdict"] for c in claims] == ["undetermined"] * 4 and "interval=[0.4, 0.8]" in claims[1]["evidence"]


def annotations(fig) -> str:
    return " ".join(a.text for a in fig.layout.annotations)


def test_one_run_keeps_its_legend_and_every_figure_says_why_it_is_empty(tmp_path):
    run = fake_run(tmp_path, "only", 2, 0.7, [3.0, 4.0, 4.5], 0.4)  # 07 undetermined, no 05
    summaries = [CMP.summarise_run(run)]
    labels = CMP.legend_labels(summaries)
    diff = CMP.difficulty_by_round(summaries, labels)
    assert diff.layout.showlegend is True and diff.data[0].name == "only (judge not validated)"
    assert diff.layout.xaxis.dtick == 1  # rounds, not half-steps
    win = CMP.win_rates(summaries, labels)
    assert win.layout.showlegend is True and win.data[0].name == "only (undetermined)"
    assert "nothing to draw" in annotations(win) and "only: undetermined, order consistency" in annotations(win)
    div = CMP.diversity_metrics(summaries, labels)
    assert len(div.data) == 0 and "only: no 05_diversity stats" in annotations(div)
    assert annotations(CMP.elimination_rates(summaries, labels)) == ""  # drawn whole: nothing to explain
    partly = CMP.win_rates([summaries[0], CMP.summarise_run(fake_run(tmp_path, "b", 2, 0.7, [3.0], 0.7))], ["a", "b"])
    assert "nothing to draw" not in annotations(partly) and "a: undetermined" in annotations(partly)


def test_compare_notebook_runs_headless(tmp_path):
    import jupytext
    import nbformat
    import papermill as pm

    runs = [fake_run(tmp_path, "a", 1, 0.0, [3.0], 0.5), fake_run(tmp_path, "b", 1, 0.7, [4.0], 0.5)]
    nb = tmp_path / "compare.ipynb"
    nbformat.write(jupytext.read(REPO / "notebooks" / "08_compare.py"), nb)
    pm.execute_notebook(str(nb), str(nb), parameters={"run_dirs": [str(r) for r in runs]}, kernel_name="python3",
                        progress_bar=False)
    text = nb.read_text()
    assert "evolve.temperature=0.7" in text and json.loads(text)["cells"]


def test_compare_finds_runs_from_the_project_wherever_the_kernel_starts(tmp_path, monkeypatch):
    project = tmp_path / "project" / "outputs"  # the project's outputs/, with two runs in it
    early = fake_run(project / "runs", "20251201-000000_p", 1, 0.0, [3.0], 0.5)
    late = fake_run(project / "runs", "20251202-000000_q", 2, 0.0, [3.0], 0.5)
    monkeypatch.setattr(CMP, "OUTPUTS", project)
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # JupyterLab starts kernels in the notebook's folder
    dirs, where = CMP.run_dirs_of(CMP.Config())
    assert dirs == [early, late] and str(project) in where
    a = fake_run(tmp_path / "runs", "20260101-000000_a", 1, 0.0, [3.0], 0.5)
    b = fake_run(tmp_path / "runs", "20260102-000000_b", 2, 0.0, [3.0], 0.5)
    assert CMP.run_dirs_of(CMP.Config(outputs=str(tmp_path), latest=1))[0] == [b]
    lines = []
    runs_ = CMP.load(CMP.Config(outputs=str(tmp_path)), log=lines.append)
    assert runs_.dirs == [a, b] and lines == [f"comparing 2 runs from the latest runs under {tmp_path / 'runs'}"]
    assert list(runs_.table()["run"]) == ["evolve.rounds=1", "evolve.rounds=2"]


def test_no_runs_says_so_and_draws_nothing(tmp_path):
    lines = []
    runs_ = CMP.load(CMP.Config(outputs=str(tmp_path)), log=lines.append)
    assert runs_.dirs == [] and len(lines) == 1 and lines[0].startswith("no runs to compare: none found in")
    assert "workbench run params/default.yaml" in lines[0]
    assert len(runs_.difficulty_by_round().data) == 0 and runs_.claims().empty


def test_compare_notebook_with_no_runs_prints_why_from_another_folder(tmp_path):
    import jupytext
    import nbformat
    import papermill as pm

    nb = tmp_path / "compare.ipynb"
    nbformat.write(jupytext.read(REPO / "notebooks" / "08_compare.py"), nb)
    pm.execute_notebook(str(nb), str(nb), parameters={"outputs": str(tmp_path / "empty")}, kernel_name="python3",
                        progress_bar=False, cwd=str(tmp_path))
    assert "no runs to compare: none found in the latest runs under" in nb.read_text()


def test_difficulty_distributions_name_runs_whose_04_wrote_no_records(tmp_path):
    # fake_run writes 04's stats but not its records: nothing to draw, and each run says why
    runs_ = CMP.load(CMP.Config(run_dirs=(str(fake_run(tmp_path, "a", 1, 0.7, [3.0], 0.5)),
                                          str(fake_run(tmp_path, "b", 2, 0.7, [3.0], 0.5)))), log=lambda m: None)
    fig = runs_.difficulty_distributions()
    assert len(fig.data) == 0 and fig.layout.showlegend is True
    assert "evolve.rounds=1: no 04_difficulty scores (04_difficulty/records.jsonl not found" in annotations(fig)
    table = runs_.difficulty_table()
    assert list(table["run"]) == ["evolve.rounds=1", "evolve.rounds=2"] and table["n"].isna().all()
    assert list(table["judge"]) == ["not validated"] * 2  # 04 stats without a validation report: the verdict alone
