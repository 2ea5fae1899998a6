"""The tree reads as the pipeline: layers, sizes, one stage table, and what set-up installed."""

import ast
import re
from pathlib import Path

import pytest

from workbench.core.stage_table import STAGES, pipeline, stage
from workbench.pipeline import params as P
from workbench.pipeline import runs

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "workbench"
# who may import whom: a layer imports only itself and the layers listed for it
LAYERS = {
    "core": {"core", "data"},
    "llm": {"core", "llm"},
    "stages": {"core", "llm", "stages", "data"},
    "export": {"core", "llm", "stages", "export", "explore", "data"},
    "explore": {"core", "llm", "stages", "explore", "data"},
    "pipeline": {"core", "llm", "stages", "pipeline", "data"},
}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every workbench module this file imports, at the top or inside a function."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("workbench"):
            out |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("workbench")}
    return out


def layer_of(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def stage_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "stages" and parts[2] != "base" else None


def test_layers_import_downward_only():
    wrong = []
    for path in modules():
        mine = ".".join(path.relative_to(REPO).with_suffix("").parts)
        if layer_of(mine) not in LAYERS:
            continue  # cli.py and the package root sit above everything
        for name in imported(path):
            if layer_of(name) and layer_of(name) not in LAYERS[layer_of(mine)]:
                wrong.append(f"{mine} imports {name}")
    assert wrong == []


def test_stages_are_siblings():
    """No stage imports another stage's package (stages/base.py is every stage's own kit)."""
    wrong = []
    for path in (PACKAGE / "stages").rglob("*.py"):
        mine = stage_of(".".join(path.relative_to(REPO).with_suffix("").parts))
        wrong += [f"{path.relative_to(REPO)} imports {n}" for n in imported(path)
                  if stage_of(n) and mine and stage_of(n) != mine]
    assert wrong == []


def test_the_layer_check_catches_an_upward_import(tmp_path):
    """Positive control: a core module importing a stage is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("from workbench.stages.evolve import rules\n", encoding="utf-8")
    assert {layer_of(n) for n in imported(bad)} == {"stages"} and "stages" not in LAYERS["core"]
    assert stage_of("workbench.stages.evolve.rules") == "evolve" and stage_of("workbench.stages.base") is None


def test_sizes():
    top = [p.name for p in PACKAGE.glob("*.py")]
    assert len(top) <= 8, top
    long = {str(p.relative_to(REPO)): n for p in modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 300}
    assert long == {}


def test_no_module_is_named_in_a_string():
    """Stages are found through the stage table, never by a module path spelled in code."""
    pattern = re.compile(r"""["']workbench\.[a-z_.]+(:\w+)?["']""")
    hits = [f"{p.relative_to(REPO)}:{n}" for p in modules()
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert hits == []


def test_every_stage_is_one_row_one_notebook_one_package():
    for spec in STAGES:
        assert spec.notebook.is_file(), spec.name
        cls = spec.config_class()
        assert cls.__module__ == spec.module
        if not spec.interactive:
            assert (PACKAGE / "stages" / spec.section / "stage.py").is_file()
            assert hasattr(__import__(spec.module, fromlist=["run"]), "run"), spec.name
    assert [s.section for s in pipeline()] == list(P.stage_notebooks())
    assert stage("evolve") is stage("02_evolve")
    with pytest.raises(KeyError, match="unknown stage 'flying'"):
        stage("flying")


def test_stages_check_their_inputs_before_any_work(tmp_path):
    assert runs.select_stages("02_evolve,03_filter,seed") == ["01_seed", "02_evolve", "03_filter"]
    with pytest.raises(P.ParamsError, match=r"03_filter reads 02_evolve/dataset.jsonl.*add 02_evolve"):
        runs.select_stages("03_filter")
    with pytest.raises(P.ParamsError, match=r"04_difficulty reads 03_filter/dataset.jsonl or 02_evolve/dataset"):
        runs.select_stages("04_difficulty,07_evaluate")
    assert runs.select_stages("07_evaluate") == ["07_evaluate"]  # an eval set and models: nothing from the run
    with pytest.raises(P.ParamsError, match="unknown stage '00_explore'"):
        runs.select_stages("00_explore")  # interactive: never run by the runner
    with pytest.raises(P.ParamsError, match="unknown stage '09_human_eval'"):
        runs.select_stages("09_human_eval")
    assert {s.name for s in STAGES if s.interactive} == {"00_explore", "08_compare", "09_human_eval"}
    assert not {s.name for s in pipeline()} & {"00_explore", "08_compare", "09_human_eval"}


def test_environment_names_each_package_off_the_constraints(tmp_path):
    import importlib.metadata

    pyyaml = importlib.metadata.version("pyyaml")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(f"# a comment\nPyYAML=={pyyaml}\nnot_installed_pkg==1.0\nnumpy==0.0.1\n", encoding="utf-8")
    env = runs.environment(constraints)
    assert env["off_constraints"] == {
        "not-installed-pkg": {"constraint": "1.0", "installed": None},
        "numpy": {"constraint": "0.0.1", "installed": importlib.metadata.version("numpy")}}
    assert env["distributions"] > 20 and len(env["sha256"]) == 16 and env["constraints"] == "constraints.txt"
    assert runs.environment(REPO / "constraints.txt")["constraints"] == "constraints.txt"
