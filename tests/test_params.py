import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workbench.pipeline import params as P

REPO = Path(__file__).resolve().parent.parent


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def test_include_and_set_override(tmp_path):
    base = write(tmp_path / "base.yaml", {"run": {"name": "base", "seed": 3}, "seed": {"n": 5}})
    child = write(tmp_path / "child.yaml", {"include": "base.yaml", "run": {"name": "child"}})
    assert base.exists()
    resolved = P.load(child, ["seed.n=7", "run.batch_size=4"])
    assert resolved["run"]["name"] == "child" and resolved["run"]["seed"] == 3
    assert resolved["seed"]["n"] == 7 and resolved["run"]["batch_size"] == 4
    # defaults come from the notebooks' parameters cells
    assert resolved["seed"]["on_bad_line"] == "fail"


@pytest.mark.parametrize("data,needle", [
    ({"seed": {"nn": 1}}, "unknown key seed.nn"),
    ({"sed": {"n": 1}}, "unknown section 'sed'"),
    ({"seed": {"n": "many"}}, "seed.n: expected int"),
    ({"seed": {"n": -1}}, "seed.n: must be >= 0"),
    ({"run": {"batch_size": 0}}, "run.batch_size: must be > 0"),
    ({"run": {"model": "llama:7b"}}, "run.model: model 'llama:7b': unknown backend"),
    ({"run": {"model": "openai:gpt"}}, "expected openai:<model>@<base_url>"),
    ({"run": {"model": "hf:/no/such/folder"}}, "model folder not found"),
    ({"seed": {"on_bad_line": "ignore"}}, "must be one of fail, skip"),
    ({"run": {"seed": 1.5}}, "run.seed: expected int"),
])
def test_rejections_name_file_and_key(tmp_path, data, needle):
    f = write(tmp_path / "p.yaml", data)
    with pytest.raises(P.ParamsError) as e:
        P.load(f)
    assert needle in str(e.value) and str(f) in str(e.value)


def test_set_syntax_and_include_errors(tmp_path):
    f = write(tmp_path / "p.yaml", {"include": "missing.yaml"})
    with pytest.raises(P.ParamsError, match="missing.yaml"):
        P.load(f)
    f = write(tmp_path / "q.yaml", {})
    with pytest.raises(P.ParamsError, match="SECTION.KEY=VALUE"):
        P.load(f, ["rounds=2"])
    loop = write(tmp_path / "loop.yaml", {"include": "loop.yaml"})
    with pytest.raises(P.ParamsError, match="include cycle"):
        P.load(loop)
    (tmp_path / "bad.yaml").write_text("run:\n  name: [unclosed\n")
    with pytest.raises(P.ParamsError, match="bad.yaml:.*invalid YAML"):
        P.load(tmp_path / "bad.yaml")


def test_hash_changes_with_params():
    a = P.load(REPO / "params/smoke.yaml")
    b = P.load(REPO / "params/smoke.yaml", ["run.seed=1"])
    assert P.params_hash(a) != P.params_hash(b) and len(P.params_hash(a)) == 8


def test_cli_rejects_unknown_key_before_any_notebook_starts(tmp_path):
    f = write(tmp_path / "p.yaml", {"include": str(REPO / "params/smoke.yaml"), "seed": {"bogus_key": 1}})
    r = subprocess.run([sys.executable, "-m", "workbench.cli", "run", str(f), "--outputs", str(tmp_path / "out")],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode != 0
    assert "seed.bogus_key" in r.stderr and str(f) in r.stderr
    assert not (tmp_path / "out").exists()  # no run folder: nothing started


def test_cli_rejects_unknown_stage(tmp_path):
    r = subprocess.run([sys.executable, "-m", "workbench.cli", "run", "params/smoke.yaml", "--stages", "99_magic",
                        "--outputs", str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO)
    assert r.returncode != 0 and "unknown stage '99_magic'" in r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("section,key,value,ok", [
    ("seed", "source", "bundled", True), ("seed", "source", "/no/such/seeds.jsonl", False),
    ("seed", "source", "tatsu-lab/alpaca", True),  # a hub name: loaded only where a network exists
    ("seed", "source", "data/missing.jsonl", False), ("evaluate", "eval_set", "/nope.jsonl", False),
    ("filter", "eval_set", "bundled", True), ("difficulty", "labelled_set", "/nope.jsonl", False),
])
def test_paths_are_checked_before_work(tmp_path, section, key, value, ok):
    f = write(tmp_path / "p.yaml", {section: {key: value}})
    if ok:
        P.load(f)
    else:
        with pytest.raises(P.ParamsError, match=f"{section}.{key}: file or folder not found"):
            P.load(f)


def test_resolved_params_of_every_file_validate_again():
    # --resume re-validates a manifest's params; every default must pass its own checks
    for f in ("default.yaml", "smoke.yaml", "paper.yaml"):
        resolved = P.load(REPO / "params" / f)
        assert P.validate(resolved, f) == resolved


@pytest.mark.parametrize("data,needle", [
    ({"run": {"model": ""}}, "run.model: empty"),
    ({"run": {"request_timeout": float("inf")}}, "run.request_timeout: must be a finite number"),
    ({"evolve": {"formats": []}}, "evolve.formats: empty while evolve.ops has complicate_input"),
    ({"run": {"api_key_env": "sk-proj-a81Bc02dE9fG7hJ3kL"}}, "run.api_key_env: looks like an API key"),
])
def test_values_that_would_fail_only_after_model_calls(tmp_path, data, needle):
    f = write(tmp_path / "p.yaml", data)
    with pytest.raises(P.ParamsError) as e:
        P.load(f)
    assert needle in str(e.value) and str(f) in str(e.value)


def test_empty_formats_are_fine_without_complicate_input(tmp_path):
    f = write(tmp_path / "p.yaml", {"evolve": {"formats": [], "ops": ["deepening", "breadth"], "op_weights": [1, 1]}})
    assert P.load(f)["evolve"]["formats"] == []
    weightless = {"formats": [], "ops": ["deepening", "complicate_input"], "op_weights": [1, 0]}
    assert P.load(write(tmp_path / "w.yaml", {"evolve": weightless}))["evolve"]["formats"] == []
    assert P.load(write(tmp_path / "q.yaml", {"run": {"api_key_env": "MY_OPENAI_KEY"}}))


def test_duplicate_keys_are_an_error_naming_the_line(tmp_path):
    (tmp_path / "p.yaml").write_text("evolve:\n  rounds: 2\n  temperature: 0.5\n  rounds: 3\n")
    with pytest.raises(P.ParamsError, match=r"p.yaml:4: invalid YAML: duplicate key 'rounds' \(first on line 2\)"):
        P.load(tmp_path / "p.yaml")


def test_empty_params_file_warns(tmp_path, capsys):
    (tmp_path / "p.yaml").write_text("# nothing here yet\n")
    assert P.load(tmp_path / "p.yaml")["evolve"]["rounds"] >= 1
    assert "p.yaml is empty: every stage runs with its defaults" in capsys.readouterr().err


def test_a_bad_value_in_an_included_file_names_that_file(tmp_path):
    base = write(tmp_path / "base.yaml", {"seed": {"n": -3}, "evolve": {"rounds": 1}})
    child = write(tmp_path / "child.yaml", {"include": "base.yaml", "evolve": {"rounds": "two"}})
    with pytest.raises(P.ParamsError) as e:
        P.load(child)
    assert f"{base}: seed.n: must be >= 0" in str(e.value)
    assert f"{child}: evolve.rounds: expected int" in str(e.value)
    with pytest.raises(P.ParamsError, match=r"--set evolve.rounds=x: evolve.rounds"):
        P.load(write(tmp_path / "ok.yaml", {}), ["evolve.rounds=x"])


def test_offline_hub_model_is_caught_before_work(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    f = write(tmp_path / "p.yaml", {"evolve": {"answer_model": "hf:no-such-org/no-such-model"}})
    with pytest.raises(P.ParamsError, match="evolve.answer_model: hf:no-such-org/no-such-model: not a local model "
                                            "folder, not in the local Hugging Face cache.*HF_HUB_OFFLINE"):
        P.load(f)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: refused at once
    with pytest.raises(P.ParamsError, match=r"127.0.0.1:9 unreachable"):
        P.load(f)


def test_cli_rejects_a_stage_list_naming_no_stage(tmp_path):
    r = subprocess.run([sys.executable, "-m", "workbench.cli", "run", "params/smoke.yaml", "--stages", " , ",
                        "--outputs", str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2 and "--stages ' , ': no stage named" in r.stderr
    assert not (tmp_path / "out").exists()
