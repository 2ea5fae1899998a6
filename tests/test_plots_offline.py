"""Figure files render with no network: one plotly.js per run folder, loaded by relative path."""

import re
from pathlib import Path

import plotly.graph_objects as go

from workbench.core import plots


def script_sources(html: str) -> list[str]:
    return re.findall(r'<script[^>]*src="([^"]+)"', html)


def test_figures_in_a_run_share_one_local_plotlyjs(tmp_path):
    run = tmp_path / "runs" / "20260101-000000_x_abcd1234"
    (run / "02_evolve" / "figures").mkdir(parents=True)
    (run / "params.yaml").write_text("run: {}\n")
    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    a = plots.save(fig, run / "02_evolve" / "figures" / "a.html")
    b = plots.save(fig, run / "04_difficulty" / "figures" / "b.html")
    assets = list(run.rglob("plotly*.js"))
    assert len(assets) == 1 and assets[0].parent == run / plots.ASSETS_DIR
    for page in (a, b):
        html = page.read_text()
        assert "cdn.plot.ly" not in html and "https://" not in "".join(script_sources(html))
        (src,) = [s for s in script_sources(html) if "plotly" in s]
        assert not Path(src).is_absolute()
        assert (page.parent / src).resolve() == assets[0].resolve()  # works opened from disk
        assert len(html) < 100_000  # the 4 MB library is not inlined
    js = assets[0].read_text()
    assert len(js) > 1_000_000 and "plotly" in js[:2000].lower()
    # the folder moves as a whole: relative paths still resolve
    moved = tmp_path / "moved"
    run.rename(moved)
    (src,) = [s for s in script_sources((moved / "02_evolve" / "figures" / "a.html").read_text()) if "plotly" in s]
    assert (moved / "02_evolve" / "figures" / src).is_file()


def test_a_figure_outside_a_run_folder_gets_its_own_copy(tmp_path):
    page = plots.save(go.Figure(), tmp_path / "loose" / "f.html")
    (src,) = [s for s in script_sources(page.read_text()) if "plotly" in s]
    assert (page.parent / src).is_file() and src.startswith(plots.ASSETS_DIR + "/")
