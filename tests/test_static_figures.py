"""Figures that render without plotly.js: PNG and SVG files, and a PNG in notebook outputs."""

import base64

import plotly.graph_objects as go
import plotly.io as pio

from workbench.core import plots, static_figures


def _fig():
    return go.Figure(go.Bar(x=["seeds", "évolué", "进化"], y=[3, 5, 2])).update_layout(title="Rows per group")


def test_save_writes_png_and_svg_beside_the_html(tmp_path):
    (tmp_path / "params.yaml").write_text("run: {}\n")  # a run folder
    html = plots.save(_fig(), tmp_path / "02_evolve" / "figures" / "rows.html")
    png, svg = html.with_suffix(".png"), html.with_suffix(".svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png.read_bytes()[16:20], "big")
    assert width == static_figures.WIDTH * static_figures.SCALE
    text = svg.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<svg") and "Rows per group" in text and "进化" in text


def test_notebook_outputs_carry_a_png_next_to_the_interactive_figure(monkeypatch):
    static_figures.use_in_notebooks()
    bundle = pio.renderers._build_mime_bundle(_fig().to_plotly_json())  # what fig.show() displays
    assert "application/vnd.plotly.v1+json" in bundle
    png = base64.b64decode(bundle["image/png"])
    assert png[:4] == b"\x89PNG"
    # JupyterLab shows this PNG at its natural size until hovered: the figure's own size, not 2x
    assert int.from_bytes(png[16:20], "big") == static_figures.WIDTH


def test_without_a_renderer_figures_stay_interactive_and_nothing_breaks(tmp_path, monkeypatch):
    monkeypatch.setattr(static_figures, "_scope", None)
    monkeypatch.setattr(static_figures, "_unavailable", "ImportError: no kaleido")
    monkeypatch.setattr(static_figures, "_recent", type(static_figures._recent)())
    html = plots.save(_fig(), tmp_path / "f.html")
    assert html.is_file() and not html.with_suffix(".png").exists()
    assert static_figures.PngRenderer().to_mimebundle(_fig().to_plotly_json()) == {}


def test_verifiable_accuracy_carries_n_and_a_wilson_interval():
    fig = plots.verifiable_accuracy({"seeds": {"n_prompts": 3, "n_instructions": 3, "prompt_strict": 2 / 3,
                                               "prompt_loose": 2 / 3, "instruction_strict": 2 / 3,
                                               "instruction_loose": 1.0}, "evolved": None})
    bar = fig.data[0]
    assert list(bar.x) == ["seeds (n=3 prompts)"]
    # 2 of 3: Wilson 95 % [0.2077, 0.9385], computed by hand
    assert abs(bar.y[0] - bar.error_y.arrayminus[0] - 0.2077) < 1e-3
    assert abs(bar.y[0] + bar.error_y.array[0] - 0.9385) < 1e-3
    assert plots.verifiable_accuracy({"seeds": None}) is None
