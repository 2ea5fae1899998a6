"""The 05_diversity parameters as one typed object, and the checks a type cannot express.

`Config`'s fields are exactly the parameters of notebooks/05_diversity.py (all but run_dir,
which only says where the run is), with the same defaults; a contract test keeps them equal.
The notebook builds it in one line: `cfg = Config.from_namespace(globals())`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.core.config import StageConfig
from workbench.stages.diversity.projection import PROJECTIONS, UMAP_MISSING, umap_available
from workbench.stages.diversity.selection import SELECTION_SCORES, SELECTION_TEXTS


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
        errors = []
        if self.projection not in PROJECTIONS:
            errors.append(f"diversity.projection: {self.projection!r} is not one of {', '.join(PROJECTIONS)}")
        elif self.projection == "umap" and not umap_available():
            errors.append(UMAP_MISSING)
        if self.embed_model != "minilm" and not Path(self.embed_model).expanduser().is_dir():
            errors.append(f"diversity.embed_model: {self.embed_model!r} is neither minilm (the bundled "
                          "all-MiniLM-L6-v2) nor a local sentence-transformers folder")
        if self.selection_score not in SELECTION_SCORES:
            errors.append(f"diversity.selection_score: {self.selection_score!r} is not one of "
                          f"{', '.join(SELECTION_SCORES)}")
        elif self.selection_score == "complexity_x_quality" and not self.quality_judge:
            errors.append("diversity.selection_score: complexity_x_quality needs quality_judge: true "
                          "(the quality score is computed in this stage)")
        if self.selection_text not in SELECTION_TEXTS:
            errors.append(f"diversity.selection_text: {self.selection_text!r} is not one of "
                          f"{', '.join(SELECTION_TEXTS)}")
        return errors
