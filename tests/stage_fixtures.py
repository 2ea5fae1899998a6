"""A run folder for the stage tests: params.yaml, and earlier stages' files written by role."""

import yaml

from workbench.core.io import write_json, write_jsonl
from workbench.core.run_folder import FILES
from workbench.stages.base import Stage


def make_stage(tmp_path, stage: str, files: dict | None = None, limit: int = 0, stats: dict | None = None) -> Stage:
    run_dir = tmp_path / "runs" / "20250101-000000_t_00000000"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "params.yaml").write_text(yaml.safe_dump({"run": {"name": "t", "seed": 0, "limit": limit,
                                                                 "model": "embedded"}}))
    for role, rows in (files or {}).items():
        (run_dir / FILES[role]).parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(run_dir / FILES[role], rows)
    for name, content in (stats or {}).items():
        (run_dir / name).mkdir(parents=True, exist_ok=True)
        write_json(run_dir / name / "stats.json", content)
    return Stage(run_dir, stage)
