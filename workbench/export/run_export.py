"""Export a run's dataset for training elsewhere, with a dataset card that says where it came from.

    workbench export RUN_DIR --format FORMAT --out DIR [--selection] [--allow-incomplete]
                                 [--push-to-hub OWNER/NAME [--push-models] [--private]]

FORMAT is one of hf, jsonl, alpaca, sharegpt, messages, prompt_completion, parquet (the row
shapes are in export_formats.py). Rows are the run's latest dataset (03_filter, else 02_evolve;
--selection: the 05_diversity selection). Written into DIR:

    the rows           in the format's file (export_formats.FILES)
    README.md          dataset card: hub metadata (pretty_name, task_categories, language,
                       size_categories, configs), fields, a sample record, the WizardLM citation,
                       teacher models, params hash, git sha, counts, drops, seeds, validity
    dataset_info.json  LLaMA-Factory, and axolotl.yaml, Axolotl (trainer_configs.py), where the
                       format maps onto the trainer's own (checked: trainer_schema.py,
                       bench/trainer_configs.py)

Rows whose last curation mark (made in 00_explore) is "rejected" are left out of every format,
and the card counts them: rows in = written + rejected + no response. Training formats
(export_formats.TRAINING_FORMATS) leave rows without a response out, since they would teach an
empty answer; the card counts those too. The other formats keep every row.

A stage that failed (02_evolve past max_failure_rate still writes its dataset), one that never
finished, or an empty dataset is refused unless --allow-incomplete, and then the card says so
at the top. Everything is written into a temp folder beside DIR and moved in at the end, so a
failure (a corrupt manifest, a full disk) never leaves a dataset without its card.
The summary lists the files written (`files`); --push-to-hub uploads exactly those after the
export is complete, and the run's tuned models with --push-models (hub.py); without a network
or a token it fails with one line and the local export stays.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from workbench.core.io import atomic_write_text, current_umask
from workbench.core.run_folder import DATASET_ROLES, RunFolder, stage_of
from workbench.core.run_folder import FILES as RUN_FILES
from workbench.explore.curation import load_marks, without_rejected
from workbench.export.formats import FILES, FORMATS, write_rows
from workbench.export.trainer_configs import write_trainer_configs

__all__ = ["FILES", "FORMATS", "ExportError", "export"]


class ExportError(ValueError):
    pass


def source_role(run: RunFolder, selection: bool = False) -> str:
    """The role rows come from: the latest dataset stage the run has, or the diversity selection."""
    if not run.is_run():
        raise ExportError(f"{run.path}: not a run folder (no {run.manifest_file.name})")
    if selection:
        if not run.has("selection"):
            raise ExportError(f"{run.path}: no {RUN_FILES['selection']}; run stage {stage_of('selection')} first, "
                              "or export without --selection")
        return "selection"
    found = run.first_role(DATASET_ROLES)
    if found:
        return found
    raise ExportError(f"{run.path}: no dataset yet ({' or '.join(RUN_FILES[r] for r in DATASET_ROLES)}); "
                      "run stage 02_evolve first")


def incomplete_reasons(manifest: dict, source: str, rows: list[dict]) -> list[str]:
    """Why this export would not be the finished dataset: the source stage or one before it
    failed or never finished, or there are no rows. Empty when all is well."""
    stages = manifest.get("stages")
    if not isinstance(stages, dict):
        return ["the manifest records no stage status"]
    source_stage = source.split("/")[0]
    reasons = []
    for stage, info in stages.items():
        if stage > source_stage and stage != "03_filter":  # a failed filter means unfiltered rows here
            continue
        status = info.get("status") if isinstance(info, dict) else None
        error = f": {info['error']}" if isinstance(info, dict) and info.get("error") else ""
        if status in ("failed", "running") or (stage == source_stage and status != "done"):
            reasons.append(f"stage {stage} is {status or 'not recorded'}{error}")
    if not rows:
        reasons.append(f"{source} has no rows")
    return reasons


def _read_manifest(run: RunFolder) -> dict:
    manifest = run.manifest()
    if not isinstance(manifest, dict):
        raise ExportError(f"{run.manifest_file}: expected a JSON object, got {type(manifest).__name__}")
    return manifest


def _move_into(tmp: Path, out: Path) -> None:
    """Every file made in tmp into out, replacing files of the same name."""
    out.mkdir(parents=True, exist_ok=True)
    for item in sorted(tmp.iterdir()):
        target = out / item.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(item, target)


def export(run_dir: Path | str, fmt: str, out: Path | str, selection: bool = False,
           allow_incomplete: bool = False) -> dict:
    """Export one run's dataset as fmt into out, with README.md; returns a summary of what was written."""
    from workbench.export.card import dataset_card

    run, out = RunFolder(run_dir), Path(out)
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out}: is a file; give a folder (it gets {FILES[fmt]} and README.md)")
    role = source_role(run, selection)
    source = RUN_FILES[role]
    manifest = _read_manifest(run)  # before anything is written: a corrupt one stops here
    rows = run.rows(role)
    # --- curation (curation.py): rows a researcher rejected in 00_explore are left out ---
    rows_in = len(rows)
    marks = load_marks(run.path)
    rows, rejected = without_rejected(rows, marks)
    curated = {"rejected": rejected, "accepted": sum(marks.get(r.get("id"), {}).get("mark") == "accepted" for r in rows)}
    # --- end curation ---
    incomplete = incomplete_reasons(manifest, source, rows)
    if incomplete and not allow_incomplete:
        raise ExportError(f"{run.path}: not exporting an incomplete dataset: {'; '.join(incomplete)}. "
                          "Finish the run (workbench run --resume), or pass --allow-incomplete to export it "
                          "anyway; the card will say so")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())
        path, written = write_rows(fmt, tmp, rows)
        summary = {"run_dir": str(run.path), "source": source, "format": fmt, "out": str(out.resolve()),
                   "file": path.name, "rows_in": rows_in, "rows_written": len(written),
                   "left_out_no_response": len(rows) - len(written), "incomplete": incomplete,
                   "curation": curated}
        summary["trainer_configs"] = write_trainer_configs(fmt, tmp, out, written)
        atomic_write_text(tmp / "README.md", dataset_card(run.path, rows, summary, written))
        summary["files"] = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
        _move_into(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary
