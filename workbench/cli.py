"""`workbench` command line: run, sweep, export, validate, rules, setup, lab."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from workbench.core.run_folder import FILES
from workbench.core.stage_table import REPO_ROOT, pipeline
from workbench.pipeline import params as P
from workbench.pipeline import runner, runs
from workbench.pipeline import sweep as SW
from workbench.pipeline.lock import NotWritable, RunBusy

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Evol-Instruct Workbench")


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _preflight():
    """Checks before any work: a bad params file or stage list exits 2 with one clear line."""
    try:
        yield
    except typer.Exit:
        raise
    except (P.ParamsError, NotWritable, RunBusy) as e:
        _fail(str(e))
    except Exception as e:  # unreadable notebook parameters etc.: still before any work
        _fail(f"{type(e).__name__}: {e}")


@app.command()
def run(
    params_file: Annotated[Path | None, typer.Argument(help="params YAML, e.g. params/default.yaml")] = None,
    stages: Annotated[str | None, typer.Option(help="comma-separated subset, e.g. 02_evolve,03_filter")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override SECTION.KEY=VALUE (repeatable)")] = None,
    resume: Annotated[Path | None, typer.Option(help="run folder to continue: the stages it was started for, "
                                                 "or --stages; done stages are skipped")] = None,
    outputs: Annotated[Path, typer.Option(help="where runs/ and cache/ live")] = Path("outputs"),
):
    """Run the pipeline notebooks with Papermill into a new (or resumed) run folder."""
    sets = list(set_ or [])
    with _preflight():
        if resume is not None:
            the_run = runs.open_run(resume)
            if params_file is not None or sets:
                wanted = P.load(params_file, sets) if params_file else P.validate(
                    P.apply_sets(the_run.manifest()["params"], sets), f"--resume {resume}")
                manifest = the_run.manifest()
                if P.params_hash(wanted) != manifest["params_hash"]:
                    if P.without_servers(wanted) != P.without_servers(manifest["params"]):
                        _fail(f"params differ from the run being resumed ({resume}); start a new run instead")
                    # only servers changed: the stages still to run use the new ones; the run says so
                    manifest.setdefault("server_changes", []).append({"time": runs.utc_now(), "params": wanted})
                    manifest["params"] = wanted
                    the_run.write_params(wanted)
                    the_run.save_manifest()
        else:
            if params_file is None:
                _fail("give a params file (e.g. params/default.yaml) or --resume RUN_DIR")
            resolved = P.load(params_file, sets)
        selected = runs.select_stages(stages, the_run if resume is not None else None)
        if resume is None:
            runs.check_outputs(outputs, resolved)
        else:
            # the stages the run was started for, unless --stages names others (then remembered too)
            selected = the_run.requested_stages if stages is None else selected
            order = runs.stage_order()
            wanted = set(selected) | set(the_run.requested_stages)
            the_run.manifest()["requested_stages"] = [s for s in order if s in wanted]
            runs.check_writable(the_run.path, "run folder")
            runs.check_outputs(the_run.path.parent.parent, the_run.manifest()["params"])
    if resume is None:
        the_run = runs.create_run(resolved, outputs, str(params_file), sets, selected)
    typer.echo(f"run folder: {the_run.path}")
    try:
        runner.run_pipeline(the_run, selected, log=typer.echo)
    except RunBusy as e:
        _fail(str(e))
    except runner.StageFailed as e:
        from workbench.llm.batch import BatchDryRun

        if e.error.startswith(f"{BatchDryRun.__name__}:"):  # run.batch_dry_run: the estimate is the result
            typer.echo(f"{e.error.partition(': ')[2]}\nstopped at {e.stage} (dry run): {the_run.path}")
            return
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"finished: {the_run.path}")


@app.command()
def sweep(
    params_file: Annotated[Path, typer.Argument(help="params YAML with a grid: section, e.g. params/sweeps/rounds.yaml")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the runs the grid expands to; create nothing")] = False,
    stages: Annotated[str | None, typer.Option(help="comma-separated subset, e.g. 01_seed,02_evolve")] = None,
    outputs: Annotated[Path, typer.Option(help="where runs/, sweeps/ and cache/ live")] = Path("outputs"),
):
    """One run per combination of the grid; every combination is validated before the first run."""
    with _preflight():
        plan = SW.expand(params_file)
        selected = runs.select_stages(stages)
        if not dry_run:
            runs.check_writable(outputs / "sweeps", "outputs folder")
            for combo in plan.combinations[:1]:
                runs.check_outputs(outputs, combo.params)
    for combo in plan.combinations:
        values = " ".join(f"{k}={v!r}" for k, v in combo.values.items())
        typer.echo(f"{combo.name}  {values}  (params hash {P.params_hash(combo.params)})")
    if dry_run:
        typer.echo(f"dry run: {len(plan.combinations)} runs, stages {','.join(selected)}; nothing created")
        return
    manifest = SW.run_sweep(plan, outputs, selected, log=typer.echo)
    done = sum(1 for r in manifest["runs"] if r["status"] == "done")
    typer.echo(f"sweep {manifest['sweep_id']}: {done}/{len(manifest['runs'])} runs done")
    if manifest["failed"]:
        for r in manifest["runs"]:
            if r["status"] == "failed":
                typer.echo(f"error: run {r['name']} failed ({r['run_dir']}):\n  {r['error']}", err=True)
        typer.echo(f"error: {len(manifest['failed'])} of {len(manifest['runs'])} runs failed: "
                   f"{', '.join(manifest['failed'])}", err=True)
        raise typer.Exit(1)


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="run folder, e.g. outputs/runs/<run>")],
    format_: Annotated[str, typer.Option("--format", help="hf | jsonl | alpaca | sharegpt | messages | "
                                                          "prompt_completion | parquet | preference "
                                                          "(chosen/rejected pairs from 07_evaluate's scores)")],
    out: Annotated[Path, typer.Option(help="folder to write the dataset and its README.md card into")],
    selection: Annotated[bool, typer.Option("--selection", help=f"export {FILES['selection']} instead of the dataset")] = False,
    allow_incomplete: Annotated[bool, typer.Option("--allow-incomplete", help="export even if a stage failed or "
                                                   "the dataset is empty; the card says so")] = False,
    push_to_hub: Annotated[str | None, typer.Option("--push-to-hub", metavar="OWNER/NAME",
                                                    help="then upload the files this export wrote to this hub "
                                                         "dataset repo (token: HF_TOKEN or `hf auth login`)")] = None,
    push_models: Annotated[bool, typer.Option("--push-models", help="with --push-to-hub: also each model 06_finetune "
                                              "tuned, with its model card, to OWNER/NAME-<variant>")] = False,
    private: Annotated[bool, typer.Option("--private", help="with --push-to-hub: create the repos private")] = False,
    min_margin: Annotated[float, typer.Option("--min-margin", help="preference: the least score margin "
                                              "between chosen and rejected")] = 1.0,
):
    """Export a run's latest dataset (03_filter, else 02_evolve) with a dataset card."""
    from workbench.core.io import BadLineError
    from workbench.export.run_export import ExportError
    from workbench.export.run_export import export as export_run

    if (push_models or private) and not push_to_hub:
        _fail("--push-models and --private go with --push-to-hub OWNER/NAME")
    if format_ == "preference":
        from workbench.export.preference import PreferenceError, export_preferences, summary_line

        try:
            summary = export_preferences(run_dir, out, min_margin)
        except (PreferenceError, BadLineError) as e:
            _fail(str(e))
        typer.echo(summary_line(summary, out))
    else:
        try:
            summary = export_run(run_dir, format_, out, selection, allow_incomplete)
        except (ExportError, BadLineError) as e:
            _fail(str(e))
        if summary["incomplete"]:
            typer.echo(f"warning: incomplete export ({'; '.join(summary['incomplete'])}); the card says so", err=True)
        extra = ", ".join(["README.md", *summary["trainer_configs"]])
        typer.echo(f"{summary['rows_written']} rows from {summary['source']} -> {out / summary['file']} (+ {extra})")
    if push_to_hub:
        from workbench.export.hub import PushError
        from workbench.export.hub import push_to_hub as push

        try:
            for url in push(out, push_to_hub, summary["files"], run_dir if push_models else None, private):
                typer.echo(f"pushed to {url}")
        except PushError as e:
            _fail(str(e), code=1)


@app.command()
def validate(
    params_file: Path,
    set_: Annotated[list[str] | None, typer.Option("--set")] = None,
):
    """Check a params file against the notebooks' parameters cells without running anything."""
    try:
        resolved = P.load(params_file, list(set_ or []))
    except P.ParamsError as e:
        _fail(str(e))
    typer.echo(f"{params_file}: ok (params hash {P.params_hash(resolved)})")


@app.command()
def rules(stage: Annotated[str | None, typer.Argument(help="seed, evolve or filter; every stage when left out")] = None):
    """List the drop rules: stage, name, whether its `rules:` list switches it, what it drops."""
    from workbench.core import rules as R

    if stage is not None and stage not in R.STAGES:
        _fail(f"unknown stage {stage!r} (rules belong to {', '.join(R.STAGES)})")
    for spec in pipeline():  # importing each stage registers its rules
        spec.config_class()
    for row in R.listing(stage):
        typer.echo(f"{row['stage']:<7} {row['name']:<27} {row['switch']:<10} {row['doc']}")


@app.command()
def setup(rebuild: bool = typer.Option(False, help="dequantise the embedded model again")):
    """Prepare the embedded model: dequantise the shipped GGUF once and cache it as safetensors."""
    from workbench.llm.hf import embedded_model_dir, model_cache_dir

    path = embedded_model_dir(rebuild=rebuild)
    marker = model_cache_dir() / ".embedded-ready"
    marker.write_text(str(path) + "\n")
    typer.echo(f"embedded model ready: {path}")
    from workbench.pipeline.lab import set_default_viewers

    typer.echo(f"JupyterLab opens .py notebooks as notebooks: {set_default_viewers()}")


@app.command()
def lab(
    port: int = typer.Option(8888, help="port on 127.0.0.1"),
    token: str = typer.Option("", help="access token; empty lets Jupyter make one and print it"),
    browser: bool = typer.Option(False, help="open a browser"),
):
    """JupyterLab on the project folder (notebooks/ and outputs/runs/) with the project kernel;
    .py notebooks open as notebooks on double-click."""
    from workbench.pipeline.lab import set_default_viewers

    set_default_viewers()  # also here: a venv set up before this setting existed gets it now
    args = [sys.executable, "-m", "jupyter", "lab", f"--port={port}", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={REPO_ROOT}", "--LabApp.default_url=/lab/tree/notebooks",
            "--ServerApp.contents_manager_class=workbench.pipeline.lab.ProjectContentsManager",
            "--ContentsManager.checkpoints_class=workbench.pipeline.lab.ProjectCheckpoints"]
    if token:
        args.append(f"--IdentityProvider.token={token}")
    if not browser:
        args.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")  # containers and CI run as root
    # become the server process, so a signal to `workbench lab` reaches JupyterLab itself
    os.execv(sys.executable, args)


if __name__ == "__main__":
    app()
