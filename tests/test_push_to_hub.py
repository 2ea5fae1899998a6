"""`workbench export --push-to-hub OWNER/NAME [--push-models] [--private]` against a faked HfApi:
exactly the export's files go up, each tuned model with a hub-valid card, and every failure is
one line that says what was pushed."""

from pathlib import Path

import huggingface_hub
import pytest
import yaml
from export_fixtures import make_run
from typer.testing import CliRunner

from workbench.cli import app
from workbench.core.io import write_json
from workbench.core.run_folder import FILES
from workbench.export.hub import PushError, push_to_hub
from workbench.export.run_export import export
from workbench.stages.finetune.model_card import (
    EMBEDDED_HUB_ID,
    for_hub,
    hub_base_model,
    model_card,
)

REPO_ID = "someone/evol-unit"
CFG = {"method": "full", "batch_size": 2, "grad_accum": 1, "epochs": 1, "max_steps": -1, "learning_rate": 1e-4,
       "lr_scheduler": "linear", "warmup_ratio": 0.0, "max_length": 256, "seed": 0}


class FakeApi:
    """HfApi as push_to_hub uses it; every call is noted in `calls` (shared by all instances)."""
    calls: list = []
    fail_commit_on: str | None = None
    fail_whoami: Exception | None = None

    def whoami(self):
        self.calls.append(("whoami",))
        if self.fail_whoami:
            raise self.fail_whoami
        return {"name": "someone"}

    def create_repo(self, repo_id, repo_type=None, private=False, exist_ok=False, **kw):
        self.calls.append(("create_repo", repo_id, repo_type, private))

    def create_commit(self, repo_id, operations, commit_message="", repo_type=None, **kw):
        if repo_id == self.fail_commit_on:
            raise RuntimeError("HTTP 500:\nthe hub\nfell over")
        files = {}
        for op in operations:
            src = op.path_or_fileobj
            files[op.path_in_repo] = src if isinstance(src, bytes) else Path(src).read_bytes()
        self.calls.append(("create_commit", repo_id, repo_type, files))

    def upload_folder(self, *a, **kw):  # a whole folder would take whatever lies in it
        raise AssertionError("push_to_hub must commit the listed files, not upload a folder")


@pytest.fixture
def hub(monkeypatch):
    FakeApi.calls, FakeApi.fail_commit_on, FakeApi.fail_whoami = [], None, None
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setenv("HF_TOKEN", "hf_unit_test_token")
    return FakeApi


def commits(calls) -> dict[str, dict[str, bytes]]:
    return {c[1]: c[3] for c in calls if c[0] == "create_commit"}


def add_tuned_models(run_dir: Path, base_model: str = "embedded") -> dict[str, Path]:
    """06_finetune's output for two variants: `evolved` a full model, `seeds` a LoRA adapter, each
    beside the files that must never leave the machine."""
    folders, variants = {}, {}
    for variant, weights in (("evolved", "model.safetensors"), ("seeds", "adapter_model.safetensors")):
        folder = run_dir / FILES["models"] / variant
        summary = {"base_model": base_model, "saved_as": "float32", "examples": 4, "steps": 2, "train_loss": 2.0}
        (folder / "checkpoints" / "checkpoint-1").mkdir(parents=True)
        (folder / "checkpoints" / "checkpoint-1" / "optimizer.pt").write_bytes(b"optimizer")
        (folder / ".cache").mkdir()
        (folder / ".cache" / "lock").write_text("x")
        (folder / ".env").write_text("HF_TOKEN=hf_secret")
        (folder / "training_args.bin").write_bytes(b"pickle with a hub_token")
        (folder / weights).write_bytes(b"weights")
        (folder / "tokenizer.json").write_text("{}")
        write_json(folder / "train_summary.json", summary)
        if variant == "seeds":
            write_json(folder / "adapter_config.json", {"peft_type": "LORA"})
        (folder / "README.md").write_text(model_card(variant, summary, CFG, {"run_id": run_dir.name}, {}), "utf-8")
        variants[variant] = summary | {"model_dir": f"{FILES['models']}/{variant}"}
        folders[variant] = folder
    write_json(run_dir / FILES["train_log"], {"base_model": base_model, "variants": variants})
    return folders


def front_matter(card: bytes) -> dict:
    return yaml.safe_load(card.decode("utf-8").split("---")[1])


@pytest.mark.parametrize("fmt", ["messages", "hf"])
def test_exactly_the_exports_files_go_up(tmp_path, hub, fmt):
    run_dir, out = make_run(tmp_path), tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("someone's own file in the out folder")  # not the export's
    (out / ".env").write_text("HF_TOKEN=hf_secret")
    (out / ".git").mkdir()
    (out / ".git" / "config").write_text("[core]")
    summary = export(run_dir, fmt, out)
    urls = push_to_hub(out, REPO_ID, summary["files"], private=True)

    assert urls == [f"https://huggingface.co/datasets/{REPO_ID}"]
    assert [c for c in hub.calls if c[0] == "create_repo"] == [("create_repo", REPO_ID, "dataset", True)]
    pushed = commits(hub.calls)[REPO_ID]
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert set(pushed) == set(summary["files"]) == on_disk - {"notes.txt", ".env", ".git/config"}
    assert {"README.md", *summary["trainer_configs"]} <= set(pushed)
    assert all(pushed[name] == (out / name).read_bytes() for name in pushed)
    if fmt == "hf":
        assert any(name.startswith("train/") and name.endswith(".arrow") for name in pushed)


def test_push_models_sends_each_variant_with_a_hub_valid_card(tmp_path, hub):
    run_dir, out = make_run(tmp_path), tmp_path / "out"
    folders = add_tuned_models(run_dir)
    summary = export(run_dir, "messages", out)
    urls = push_to_hub(out, REPO_ID, summary["files"], run_dir=run_dir)

    assert urls == [f"https://huggingface.co/datasets/{REPO_ID}", f"https://huggingface.co/{REPO_ID}-evolved",
                    f"https://huggingface.co/{REPO_ID}-seeds"]
    kinds = [c[0] for c in hub.calls]
    assert kinds == ["whoami", "create_repo", "create_repo", "create_repo",
                     "create_commit", "create_commit", "create_commit"]  # every repo first, then one commit each
    assert {c[1]: c[2] for c in hub.calls if c[0] == "create_repo"} == {
        REPO_ID: "dataset", f"{REPO_ID}-evolved": "model", f"{REPO_ID}-seeds": "model"}
    pushed = commits(hub.calls)
    assert set(pushed[f"{REPO_ID}-evolved"]) == {"README.md", "model.safetensors", "tokenizer.json",
                                                 "train_summary.json"}
    assert set(pushed[f"{REPO_ID}-seeds"]) == {"README.md", "adapter_model.safetensors", "adapter_config.json",
                                               "tokenizer.json", "train_summary.json"}
    for variant, library in (("evolved", "transformers"), ("seeds", "peft")):
        files = pushed[f"{REPO_ID}-{variant}"]
        front = front_matter(files["README.md"])
        assert front["base_model"] == EMBEDDED_HUB_ID and front["datasets"] == [REPO_ID]
        assert front["library_name"] == library and f"variant-{variant}" in front["tags"]
        assert b"# " in files["README.md"] and files["tokenizer.json"] == b"{}"
        # the card on disk keeps what 06_finetune wrote
        assert front_matter((folders[variant] / "README.md").read_bytes())["base_model"] == "embedded"


def test_a_local_base_model_is_left_out_of_the_pushed_card(tmp_path, hub):
    run_dir, out = make_run(tmp_path), tmp_path / "out"
    add_tuned_models(run_dir, base_model="hf:/models/local-base")
    summary = export(run_dir, "alpaca", out)
    push_to_hub(out, REPO_ID, summary["files"], run_dir=run_dir)
    front = front_matter(commits(hub.calls)[f"{REPO_ID}-evolved"]["README.md"])
    assert "base_model" not in front and front["datasets"] == [REPO_ID]


def test_hub_base_model_and_for_hub(tmp_path, monkeypatch):
    assert hub_base_model("embedded") == EMBEDDED_HUB_ID
    assert hub_base_model("hf:Qwen/Qwen2.5-7B-Instruct") == "Qwen/Qwen2.5-7B-Instruct"
    assert hub_base_model("vllm:meta-llama/Llama-3.1-8B") == "meta-llama/Llama-3.1-8B"
    (tmp_path / "org" / "model").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)  # a folder here that looks like a hub id is a local model
    for local in ("hf:/models/x", "hf:./models/x", "hf:org/model", "hf:model", "openai:m@http://x/v1"):
        assert hub_base_model(local) is None, local
    card = "---\nbase_model: hf:/models/x\nlibrary_name: transformers\n---\n\n# title\n\nbody\n"
    front = yaml.safe_load(for_hub(card, "a/b", adapter=False).split("---")[1])
    assert front == {"library_name": "transformers", "datasets": ["a/b"]}
    assert "# title\n\nbody" in for_hub(card, "a/b", adapter=True)


def test_no_token_is_one_line_before_any_network_call(tmp_path, hub, monkeypatch):
    run_dir, out = make_run(tmp_path), tmp_path / "out"
    summary = export(run_dir, "messages", out)
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)  # nor one saved by `hf auth login`
    with pytest.raises(PushError) as e:
        push_to_hub(out, REPO_ID, summary["files"])
    message = str(e.value)
    assert "\n" not in message and "no hub token" in message and "HF_TOKEN" in message
    assert "nothing was pushed" in message and "local export" in message
    assert hub.calls == []


@pytest.mark.parametrize("repo", ["no-owner", "two/slashes/here", "bad name/x"])
def test_a_bad_repo_id_is_one_line_before_any_network_call(tmp_path, hub, repo):
    run_dir, out = make_run(tmp_path), tmp_path / "out"
    summary = export(run_dir, "messages", out)
    with pytest.raises(PushError, match=f"push to the hub as {repo} failed") as e:
        push_to_hub(out, repo, summary["files"])
    assert "\n" not in str(e.value) and hub.calls == []


def test_the_hub_refusing_the_token_pushes_nothing(tmp_path, hub):
    run_dir, out = make_run(tmp_path), tmp_path / "out"
    summary = export(run_dir, "messages", out)
    hub.fail_whoami = OSError("connection refused\nretrying")
    with pytest.raises(PushError) as e:
        push_to_hub(out, REPO_ID, summary["files"])
    assert "\n" not in str(e.value) and "nothing was pushed" in str(e.value)
    assert [c[0] for c in hub.calls] == ["whoami"]


def test_a_failure_during_the_commits_names_the_repos_already_pushed(tmp_path, hub):
    run_dir, out = make_run(tmp_path), tmp_path / "out"
    add_tuned_models(run_dir)
    summary = export(run_dir, "messages", out)
    hub.fail_commit_on = f"{REPO_ID}-seeds"
    with pytest.raises(PushError) as e:
        push_to_hub(out, REPO_ID, summary["files"], run_dir=run_dir)
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"push to the hub as {REPO_ID}-seeds failed")
    assert f"pushed before it: https://huggingface.co/datasets/{REPO_ID}, https://huggingface.co/{REPO_ID}-evolved" \
        in message and "the hub fell over" in message
    assert set(commits(hub.calls)) == {REPO_ID, f"{REPO_ID}-evolved"}


def test_push_models_checks_every_model_folder_before_the_network(tmp_path, hub):
    run_dir, out = make_run(tmp_path), tmp_path / "out"
    summary = export(run_dir, "messages", out)
    with pytest.raises(PushError, match="no 06_finetune/train_log.json; run 06_finetune first"):
        push_to_hub(out, REPO_ID, summary["files"], run_dir=run_dir)
    folders = add_tuned_models(run_dir)
    (folders["seeds"] / "adapter_model.safetensors").unlink()
    with pytest.raises(PushError, match="holds no weights"):
        push_to_hub(out, REPO_ID, summary["files"], run_dir=run_dir)
    assert hub.calls == []


def test_a_missing_export_file_is_refused(tmp_path, hub):
    run_dir, out = make_run(tmp_path), tmp_path / "out"
    summary = export(run_dir, "messages", out)
    (out / "messages.jsonl").unlink()
    with pytest.raises(PushError, match="messages.jsonl"):
        push_to_hub(out, REPO_ID, summary["files"])
    assert hub.calls == []


def test_the_cli_pushes_models_private_and_prints_each_url(tmp_path, hub):
    run_dir, out = make_run(tmp_path), tmp_path / "out"
    add_tuned_models(run_dir)
    r = CliRunner().invoke(app, ["export", str(run_dir), "--format", "messages", "--out", str(out),
                                 "--push-to-hub", REPO_ID, "--push-models", "--private"])
    assert r.exit_code == 0, r.output
    assert f"pushed to https://huggingface.co/{REPO_ID}-seeds" in r.output
    assert {c[3] for c in hub.calls if c[0] == "create_repo"} == {True}
    assert len(commits(hub.calls)) == 3


@pytest.mark.parametrize("flag", ["--push-models", "--private"])
def test_push_flags_without_push_to_hub_fail_before_exporting(tmp_path, hub, flag):
    run_dir, out = make_run(tmp_path), tmp_path / "out"
    r = CliRunner().invoke(app, ["export", str(run_dir), "--format", "messages", "--out", str(out), flag])
    assert r.exit_code == 2
    assert "go with --push-to-hub OWNER/NAME" in r.output
    assert not out.exists() and hub.calls == []
