"""Push an export, and the run's tuned models, to the Hugging Face Hub.

    workbench export RUN_DIR --format F --out DIR --push-to-hub OWNER/NAME [--push-models] [--private]

What goes up, one commit per repo (a hub commit is all or nothing):
    OWNER/NAME            dataset repo: the files this export wrote into DIR (rows, the README.md
                          card, trainer configs), nothing else that DIR holds
    OWNER/NAME-<variant>  model repo per tuned model of 06_finetune (train_log.json's variants),
                          with --push-models: weights, tokenizer, train_summary.json and the model
                          card README.md, its header made hub-valid (model_card.for_hub: base_model
                          a hub id or left out, datasets: [OWNER/NAME], library_name peft for an adapter)
Never: hidden files or folders (.env, .git, .cache), training_args.bin (a pickle of the trainer's
arguments, which can hold a hub_token) and checkpoints/. The token is read by huggingface_hub
(HF_TOKEN or `hf auth login`) and written nowhere.

Order, so that a failure leaves nothing half-pushed where that can be helped: (1) here, without
a network: repo ids, a token, each model folder's weights and card; (2) `whoami`: the hub is
reachable and takes the token; (3) every repo created, then one commit each. Each failure is
one PushError line; one in (3) names the repos already pushed. The local export is complete
in every case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.run_folder import FILES, RunFolder

NEVER_FILES = {"training_args.bin"}
NEVER_DIRS = {"checkpoints"}
WEIGHTS = (".safetensors", ".bin")


class PushError(RuntimeError):
    pass


@dataclass
class Upload:
    """One repo's commit: path in the repo -> local file, or bytes (a rewritten card)."""
    repo_id: str
    repo_type: str
    files: dict[str, Path | bytes] = field(default_factory=dict)


def pushable(folder: Path) -> dict[str, Path]:
    """Every file under folder that may leave the machine, by its path in the repo."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or path.is_symlink():
            continue
        if any(part.startswith(".") for part in rel.parts) or rel.name in NEVER_FILES \
                or any(part in NEVER_DIRS for part in rel.parts[:-1]):
            continue
        out[rel.as_posix()] = path
    return out


def dataset_upload(out: Path, repo: str, files: list[str]) -> Upload:
    """The export's own files (as export() listed them), never anything else found in out."""
    missing = [f for f in files if not (out / f).is_file()]
    if missing or not files:
        raise PushError(f"{out}: the export's files are not all there ({', '.join(missing) or 'none listed'})")
    allowed = pushable(out)
    return Upload(repo, "dataset", {f: allowed[f] for f in files if f in allowed})


def model_uploads(run_dir: Path, repo: str) -> list[Upload]:
    """One model repo per variant 06_finetune trained, its card naming the dataset repo."""
    from workbench.stages.finetune.model_card import for_hub

    run = RunFolder(run_dir)
    if not run.has("train_log"):
        raise PushError(f"--push-models: {run.path} has no {FILES['train_log']}; run 06_finetune first, "
                        "or push the dataset alone")
    uploads = []
    for variant, info in sorted((run.json("train_log").get("variants") or {}).items()):
        folder = run.path / info.get("model_dir", f"{FILES['models']}/{variant}")
        files = pushable(folder) if folder.is_dir() else {}
        if not any(name.endswith(WEIGHTS) for name in files):
            raise PushError(f"--push-models: {folder} holds no weights (*.safetensors); nothing was pushed")
        if "README.md" not in files:
            raise PushError(f"--push-models: {folder} has no model card (README.md); nothing was pushed")
        card = for_hub(files["README.md"].read_text("utf-8"), repo, adapter="adapter_config.json" in files)
        uploads.append(Upload(f"{repo}-{variant}", "model", files | {"README.md": card.encode("utf-8")}))
    if not uploads:
        raise PushError(f"--push-models: {FILES['train_log']} lists no tuned model; nothing was pushed")
    return uploads


def _one_line(e: Exception) -> str:
    text = " ".join(str(e).split())[:300] or type(e).__name__
    status = getattr(getattr(e, "response", None), "status_code", None)
    if status in (401, 403):
        return f"the hub refused the token (HTTP {status}): {text}"
    return f"{type(e).__name__}: {text}"


def push_to_hub(out: Path | str, repo: str, files: list[str], run_dir: Path | str | None = None,
                private: bool = False) -> list[str]:
    """Push the export in out (files: what export() wrote) to dataset repo `repo`, and with
    run_dir each tuned model to `repo-<variant>`; the URLs pushed. PushError: one line."""
    from huggingface_hub import CommitOperationAdd, HfApi, get_token
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    out = Path(out)
    after = f"the local export in {out} is complete"
    # --- 1. here: ids, a token, the folders ---
    uploads = [dataset_upload(out, repo, files)]
    if run_dir is not None:
        uploads += model_uploads(Path(run_dir), repo)
    for u in uploads:
        try:
            validate_repo_id(u.repo_id)
        except HFValidationError as e:
            raise PushError(f"push to the hub as {u.repo_id} failed: not a repo id ({_one_line(e)}); {after}") from None
        if "/" not in u.repo_id:
            raise PushError(f"push to the hub as {u.repo_id} failed: give OWNER/NAME; {after}")
    if not get_token():
        raise PushError(f"push to the hub as {repo} failed: no hub token (set HF_TOKEN or run `hf auth login`); "
                        f"nothing was pushed; {after}")
    api = HfApi()
    # --- 2. the hub is there and takes the token ---
    try:
        api.whoami()
    except Exception as e:  # network, offline mode and auth errors come in many types: one line each
        raise PushError(f"push to the hub as {repo} failed ({_one_line(e)}); nothing was pushed; {after}") from e
    # --- 3. every repo, then one commit each ---
    pushed = []
    try:
        for u in uploads:
            api.create_repo(u.repo_id, repo_type=u.repo_type, private=private, exist_ok=True)
        for u in uploads:
            ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=src if isinstance(src, bytes) else str(src))
                   for p, src in u.files.items()]
            api.create_commit(u.repo_id, operations=ops, commit_message="workbench export", repo_type=u.repo_type)
            prefix = "datasets/" if u.repo_type == "dataset" else ""
            pushed.append(f"https://huggingface.co/{prefix}{u.repo_id}")
    except Exception as e:
        done = f"pushed before it: {', '.join(pushed)}" if pushed else "nothing was pushed"
        raise PushError(f"push to the hub as {u.repo_id} failed ({_one_line(e)}); {done}; {after}") from e
    return pushed
