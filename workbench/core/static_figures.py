"""Static copies of every figure: PNG and SVG files for papers, and a PNG inside notebook outputs.

Interactive plotly figures need plotly.js to render; exported HTML, GitHub and nbviewer drop
them. So each saved figure also gets `<name>.png` and `<name>.svg`, and every `fig.show()` in a
workbench kernel carries a PNG next to the interactive view (renderer "workbench_png").

The renderer is kaleido 0.2.1, the last kaleido that bundles its own headless Chromium and so
installs from the package registry alone (kaleido 1.x needs a separately installed Chrome,
which a machine without network cannot fetch). It runs plotly's own installed plotly.js, so
the images match the interactive figures. Without kaleido, figures stay interactive-only and
one warning says so.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import warnings
from collections import OrderedDict
from pathlib import Path

import plotly.io as pio
from plotly.io._base_renderers import MimetypeRenderer

WIDTH, HEIGHT, SCALE = 900, 500, 2  # pixels of a PNG file: SCALE x (WIDTH x HEIGHT)
# JupyterLab's plotly extension shows a notebook output's PNG at its natural size until the mouse
# enters it: at SCALE 2 the figure spilled past the cell, so notebook PNGs are drawn at scale 1
NOTEBOOK_SCALE = 1
_scope = None
_unavailable: str | None = None
_recent: OrderedDict[str, bytes] = OrderedDict()  # images just rendered, by format and scale: drawn once


def _renderer():
    global _scope, _unavailable
    if _scope is None and _unavailable is None:
        try:
            import plotly
            from kaleido.scopes.plotly import PlotlyScope

            js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
            _scope = PlotlyScope(plotlyjs=str(js), mathjax=False)
        except Exception as e:  # not installed, or no wheel for this platform
            _unavailable = f"{type(e).__name__}: {e}"
            warnings.warn(f"static figures (PNG/SVG) are off: kaleido 0.2.1 is unavailable ({_unavailable})",
                          stacklevel=3)
    return _scope


def _key(fig_dict: dict) -> str:
    return hashlib.sha1(json.dumps(fig_dict, sort_keys=True, default=str).encode()).hexdigest()


def image(fig_dict: dict, fmt: str, scale: int = SCALE) -> bytes | None:
    """The figure as PNG (scale x WIDTH x HEIGHT) or SVG bytes; None when no renderer is available."""
    scale = scale if fmt == "png" else 1
    key = f"{fmt}:{scale}:{_key(fig_dict)}"
    if key in _recent:
        return _recent[key]
    scope = _renderer()
    if scope is None:
        return None
    data = scope.transform(fig_dict, format=fmt, width=WIDTH, height=HEIGHT, scale=scale)
    _recent[key] = data
    while len(_recent) > 16:
        _recent.popitem(last=False)
    return data


def write_static(fig, html_path: Path | str) -> list[Path]:
    """<name>.png and <name>.svg next to <name>.html; [] when no renderer is available."""
    fig_dict = fig.to_plotly_json()
    written = []
    for fmt in ("png", "svg"):
        data = image(fig_dict, fmt)
        if data is None:
            return written
        out = Path(html_path).with_suffix(f".{fmt}")
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, out)
        written.append(out)
    return written


class PngRenderer(MimetypeRenderer):
    """Adds an image/png to a figure's output bundle, the fallback nbconvert and GitHub show."""

    def to_mimebundle(self, fig_dict):
        data = image(fig_dict, "png", scale=NOTEBOOK_SCALE)
        return {} if data is None else {"image/png": base64.b64encode(data).decode()}


def use_in_notebooks() -> None:
    """fig.show() in this kernel: the interactive figure plus its PNG."""
    pio.renderers["workbench_png"] = PngRenderer()
    pio.renderers.default = "plotly_mimetype+workbench_png"
