"""What every stage gets from stages/base.py: its own files by role, figures, the run section."""

import plotly.graph_objects as go
import pytest
from stage_fixtures import make_stage

from workbench.core.run_folder import FILES, RunFolder
from workbench.pipeline import params as P
from workbench.pipeline import runs


def test_a_stage_writes_only_its_own_files(tmp_path):
    st = make_stage(tmp_path, "02_evolve", files={"seeds": [{"id": "s"}]})
    assert st.out("attempts") == st.run_dir / FILES["attempts"]
    with pytest.raises(ValueError, match="02_evolve cannot write 01_seed/records.jsonl"):
        st.out("seeds")
    assert st.rows("seeds") == [{"id": "s"}]


def test_the_run_section_is_completed_with_its_declared_defaults(tmp_path):
    st = make_stage(tmp_path, "01_seed")  # a params.yaml from before cache and dtype were keys
    assert st.run["cache"] is True and st.run["dtype"] == "auto" and st.limit == 0


def test_figure_saves_the_html_and_its_static_copies_and_shows_it(tmp_path, monkeypatch):
    st = make_stage(tmp_path, "03_filter")
    shown = []
    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    monkeypatch.setattr(go.Figure, "show", lambda self, *a, **k: shown.append(self))
    path = st.figure(fig, "drops")
    assert path == st.run_dir / "03_filter" / "figures" / "drops.html" and path.is_file()
    assert path.with_suffix(".png").is_file() and shown == [fig]


def test_resumed_stages_may_read_what_the_run_already_has(tmp_path):
    st = make_stage(tmp_path, "02_evolve", files={"evolved": [{"id": "e"}]})
    run = RunFolder(st.run_dir)
    assert runs.select_stages("03_filter", run) == ["03_filter"]
    with pytest.raises(P.ParamsError, match="which no earlier selected stage writes and the run lacks"):
        runs.select_stages("06_finetune,02_evolve", RunFolder(tmp_path / "empty"))  # 02_evolve needs seeds
