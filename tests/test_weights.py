"""Where the hf: backend places a model: the GPU when there is one, float32 on CPU, run.dtype when set."""

from types import SimpleNamespace

import pytest
import torch

from workbench.llm import hf, weights
from workbench.llm.base import BackendError
from workbench.llm.weights import cpu_lacks_bf16, load_kwargs


@pytest.mark.parametrize("dtype,gpu,expected", [
    ("auto", False, {"dtype": torch.float32}),
    ("auto", True, {"dtype": "auto", "device_map": "auto"}),  # the checkpoint's own dtype, spread over GPUs
    ("bfloat16", False, {"dtype": torch.bfloat16}),
    ("bfloat16", True, {"dtype": torch.bfloat16, "device_map": "auto"}),
    ("float32", True, {"dtype": torch.float32, "device_map": "auto"}),
])
def test_load_kwargs(dtype, gpu, expected):
    assert load_kwargs(dtype, gpu) == expected


def test_unknown_dtype_is_refused():
    with pytest.raises(BackendError, match="float16"):
        load_kwargs("float16", False)


def test_bf16_on_a_cpu_without_bf16_instructions_warns(tmp_path, monkeypatch):
    old = tmp_path / "old"
    old.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n")
    new = tmp_path / "new"
    new.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_tile\n")
    arm = tmp_path / "arm"
    arm.write_text("Features\t: fp asimd bf16 i8mm\n")
    assert cpu_lacks_bf16(str(old)) and not cpu_lacks_bf16(str(new)) and not cpu_lacks_bf16(str(arm))
    assert not cpu_lacks_bf16(str(tmp_path / "missing"))  # unknown: no claim either way
    monkeypatch.setattr(weights, "cpu_lacks_bf16", lambda: True)
    with pytest.warns(UserWarning, match="float32"):
        load_kwargs("bfloat16", False)


class _Model:
    dtype = torch.bfloat16
    generation_config = SimpleNamespace(eos_token_id=0)

    def eval(self):
        return self


@pytest.mark.parametrize("gpu", [True, False])
def test_backend_asks_for_the_gpu_only_when_cuda_is_available(monkeypatch, tmp_path, gpu):
    """HFBackend hands from_pretrained the placement chosen from torch.cuda.is_available()."""
    import transformers

    seen = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained",
                        lambda path: SimpleNamespace(pad_token="<p>", padding_side="right", chat_template=None))
    monkeypatch.setattr(hf, "load_model", lambda path, kwargs: seen.setdefault("kwargs", kwargs) and _Model())
    backend = hf.HFBackend(str(tmp_path), batch_size=2)
    assert seen["kwargs"] == ({"dtype": "auto", "device_map": "auto"} if gpu else {"dtype": torch.float32})
    assert backend.model_id == f"hf:{tmp_path}@bfloat16"  # a dtype other than float32 is part of the cache key
