"""Opening and saving a notebook in JupyterLab changes nothing; executed notebooks are
reports (trusted, no library noise); checkpoints stay out of run folders."""

import asyncio
import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from jupytext.async_contentsmanager import build_async_jupytext_contents_manager_class
from nbformat.sign import NotebookNotary

from workbench.pipeline.lab import ProjectCheckpoints, ProjectContentsManager, kernel_language_info
from workbench.pipeline.notebook_files import KERNELSPEC, as_report, is_noise, sign

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.py"))


def installed_kernelspec() -> dict:
    """The spec JupyterLab attaches: the kernel `make setup` installed in this environment."""
    path = Path(sys.prefix) / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"
    if not path.is_file():
        pytest.skip("no project kernel installed in this environment (make setup installs it)")
    spec = json.loads(path.read_text())
    return {"name": "python3", "display_name": spec["display_name"], "language": spec["language"]}


def lab_save(root: Path, names: list[str], kernelspec: dict, cm_class=ProjectContentsManager) -> None:
    """What JupyterLab does: jupytext's contents manager (as `workbench lab` configures it)
    reads the .py with the project's configuration, the frontend attaches the running kernel's
    spec and language, and it saves."""
    cm = cm_class(root_dir=str(root))

    async def save_all():
        for name in names:
            model = await cm.get(name)
            if cm_class is ProjectContentsManager:  # opened with the kernel's language: not modified
                assert model["content"]["metadata"]["language_info"] == kernel_language_info()
            model["content"]["metadata"]["kernelspec"] = dict(kernelspec)
            model["content"]["metadata"]["language_info"] = {"name": "python", "version": sys.version.split()[0]}
            await cm.save(model, name)

    asyncio.run(save_all())


def project_copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")  # holds [tool.jupytext]
    return tmp_path


def test_the_installed_kernel_is_the_one_the_notebooks_and_runner_name():
    assert installed_kernelspec() == KERNELSPEC
    assert f'--display-name "{KERNELSPEC["display_name"]}"' in (REPO / "Makefile").read_text()


def test_saving_every_notebook_in_jupyterlab_leaves_it_byte_identical(tmp_path):
    root = project_copy(tmp_path)
    lab_save(root, [f"notebooks/{p.name}" for p in NOTEBOOKS], installed_kernelspec())
    changed = [p.name for p in NOTEBOOKS if (root / "notebooks" / p.name).read_bytes() != p.read_bytes()]
    assert len(NOTEBOOKS) == 10 and changed == []


def test_the_save_check_sees_a_header_jupyterlab_would_rewrite(tmp_path):
    # the control: the header as it was (no version filter, the kernel's old display name)
    root = project_copy(tmp_path)
    nb = root / "notebooks" / "01_seed.py"
    nb.write_text(nb.read_text().replace("display_name: Python 3 (workbench)", "display_name: Python 3"))
    (root / "pyproject.toml").write_text(
        (root / "pyproject.toml").read_text().replace("notebook_metadata_filter", "# notebook_metadata_filter"))
    before = nb.read_text()
    plain_jupytext = build_async_jupytext_contents_manager_class(AsyncLargeFileManager)
    lab_save(root, ["notebooks/01_seed.py"], KERNELSPEC, plain_jupytext)
    after = nb.read_text()
    assert after != before
    assert "display_name: Python 3 (workbench)" in after and "jupytext_version" in after


def stream(text, name="stderr"):
    return nbformat.v4.new_output("stream", name=name, text=text)


def test_a_report_drops_progress_bars_and_library_warnings_but_keeps_errors_and_results():
    cell = nbformat.v4.new_code_cell("load()")
    cell.outputs = [
        stream("Loading weights:   0%|          | 0/272 [00:00<?, ?it/s]\rLoading weights: 100%|##| 272/272 [00:01<00:00, 210.5it/s]\n"),
        stream("/v/lib/transformers/x.py:12: FutureWarning: past_key_values is deprecated\n  warnings.warn(\n"),
        stream("Loading weights: 100%|##| 272/272\nValueError: the model folder has no config.json\n"),
        stream("kept 12 of 16 rows\n", name="stdout"),
        stream("warning: 3 rows had no answer\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=1),
        nbformat.v4.new_output("display_data", data={  # tqdm.auto's widget, frozen at 0% once saved
            "application/vnd.jupyter.widget-view+json": {"model_id": "m1", "version_major": 2, "version_minor": 0},
            "text/plain": "Loading weights:   0%|          | 0/272 [00:00<?, ?it/s]"}),
    ]
    nb = nbformat.v4.new_notebook(cells=[cell], metadata={"widgets": {"state": {"m1": {}}}})
    kept = as_report(nb).cells[0].outputs
    texts = [o.get("text", "") for o in kept]
    assert len(kept) == 4 and "widgets" not in nb.metadata
    assert any("config.json" in t for t in texts)  # a chunk with a real message stays whole
    assert "kept 12 of 16 rows\n" in texts and "warning: 3 rows had no answer\n" in texts
    assert nb.metadata["kernelspec"] == KERNELSPEC
    assert not is_noise("Traceback (most recent call last):")


def test_a_signed_report_is_trusted_and_an_edited_one_is_not(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("fig")])
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data={"text/html": "<script>plot()</script>"})]
    sign(nb)
    notary = NotebookNotary()
    assert notary.check_signature(nb)
    nb.cells[0].outputs[0].data["text/html"] = "<script>other()</script>"
    assert not notary.check_signature(nb)


def test_checkpoints_go_under_the_root_and_never_into_a_run_folder(tmp_path):
    stage = tmp_path / "outputs" / "runs" / "r1" / "02_evolve"
    stage.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("v1")]), stage / "notebook.ipynb")
    cm = AsyncLargeFileManager(root_dir=str(tmp_path), checkpoints_class=ProjectCheckpoints)
    path = "outputs/runs/r1/02_evolve/notebook.ipynb"

    async def open_edit_revert():
        cp = await cm.create_checkpoint(path)  # what JupyterLab does on open
        model = await cm.get(path)
        model["content"]["cells"][0]["source"] = "v2"
        await cm.save(model, path)
        await cm.restore_checkpoint(cp["id"], path)
        return (await cm.get(path))["content"]["cells"][0]["source"]

    assert asyncio.run(open_edit_revert()) == "v1"
    assert sorted(p.name for p in stage.iterdir()) == ["notebook.ipynb"]
    assert (tmp_path / ".ipynb_checkpoints" / "outputs" / "runs" / "r1" / "02_evolve" / "notebook-checkpoint.ipynb").is_file()


def test_an_executed_stage_notebook_opens_read_only_and_a_save_is_refused(tmp_path):
    from tornado.web import HTTPError

    stage = tmp_path / "outputs" / "runs" / "r1" / "04_difficulty"
    stage.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("as it ran")]), stage / "notebook.ipynb")
    before = (stage / "notebook.ipynb").read_bytes()
    shutil.copy(stage / "notebook.ipynb", tmp_path / "outputs" / "copy.ipynb")
    cm = ProjectContentsManager(root_dir=str(tmp_path))
    path = "outputs/runs/r1/04_difficulty/notebook.ipynb"

    async def open_and_save():
        model = await cm.get(path)
        assert model["writable"] is False  # JupyterLab does not autosave it
        model["content"]["cells"][0]["source"] = "edited"
        with pytest.raises(HTTPError) as refused:
            await cm.save(model, path)
        assert refused.value.status_code == 403 and "Save As" in refused.value.log_message
        other = await cm.get("outputs/copy.ipynb")  # any other notebook saves as usual
        assert other["writable"] is True
        await cm.save(other, "outputs/copy.ipynb")

    asyncio.run(open_and_save())
    assert (stage / "notebook.ipynb").read_bytes() == before
