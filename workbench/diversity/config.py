"""The 05_diversity parameters as one typed object, and the checks a type cannot express.

`Config`'s fields are exactly the parameters of notebooks/05_diversity.py (all but run_dir,
which only says where the run is), with the same defaults; a contract test keeps them equal.
The notebook builds it in one line: `cfg = Config.from_namespace(globals())`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import StageConfig
from .projection import PROJECTIONS, UMAP_MISSING, umap_available
from .selection import SELECTION_SCORES, SELECTION_TEXTS


@dataclass(frozen=True)
class Config(StageConfig):
    embed_model: str = "minilm"
    batch_size: int = 64
    knn_k: int = 10
    kmeans_k: int = 16
    near_dup_threshold: float = 0.95
    equal_n: int = 0
    equal_n_repeats: int = 200
    score_field: str = "difficulty"
    quality_judge: bool = True
    quality_model: str = ""
    quality_mode: str = "auto"
    quality_min_mass: float = 0.1
    selection_score: str = "auto"
    selection_text: str = "auto"
    deita_tau: float = 0.9
    deita_budget: int = 0
    projection: str = "pca"
    scatter_points: int = 5000
    hist_bins: int = 30

    def check(self) -> list[str]:
        return check_config(self.as_dict())

def check_config(values: dict) -> list[str]:
    """Checks on the diversity params section that a type cannot express (params.SECTION_CHECKS)."""
    errors = []
    projection = values.get("projection", "pca")
    if projection not in PROJECTIONS:
        errors.append(f"diversity.projection: {projection!r} is not one of {', '.join(PROJECTIONS)}")
    elif projection == "umap" and not umap_available():
        errors.append(UMAP_MISSING)
    model = values.get("embed_model", "minilm")
    if model != "minilm" and not Path(model).expanduser().is_dir():
        errors.append(f"diversity.embed_model: {model!r} is neither minilm (the bundled all-MiniLM-L6-v2) "
                      "nor a local sentence-transformers folder")
    score = values.get("selection_score", "auto")
    if score not in SELECTION_SCORES:
        errors.append(f"diversity.selection_score: {score!r} is not one of {', '.join(SELECTION_SCORES)}")
    elif score == "complexity_x_quality" and not values.get("quality_judge", True):
        errors.append("diversity.selection_score: complexity_x_quality needs quality_judge: true "
                      "(the quality score is computed in this stage)")
    text = values.get("selection_text", "auto")
    if text not in SELECTION_TEXTS:
        errors.append(f"diversity.selection_text: {text!r} is not one of {', '.join(SELECTION_TEXTS)}")
    return errors
