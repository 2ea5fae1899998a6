"""transformers backend: any causal LM, plus the embedded SmolLM2 shipped as GGUF.

Batching is real: prompts are grouped by shared token prefix (the template), each prefix is
prefilled once, and `batch_size` prompts are decoded together on the assembled caches
(prefix_cache.py); greedy outputs are the same as the plain left-padded batch.
Placement (load_kwargs): on a GPU, `device_map="auto"` and the checkpoint's dtype; on CPU
float32, or bfloat16 when asked (run.dtype), which is faster on CPUs with AMX/AVX512-BF16 but
changes some greedy outputs, so it is part of the model id (and of the cache key).
A folder holding a LoRA adapter (adapter_config.json, as 06_finetune saves it) loads as its
base model with the adapter merged in (beside it, unmerged, on a 16-bit base: weights.load_model).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from workbench.llm.base import BackendError, Completion, GenParams, Messages
from workbench.llm.weights import (  # noqa: F401  (callers import the embedded model's helpers from here)
    DTYPES,
    EMBEDDED_GGUF,
    EMBEDDED_ID,
    embedded_gguf_path,
    embedded_model_dir,
    load_kwargs,
    load_model,
    model_cache_dir,
)

# punctuation that may end a short reply ("7/10", "7, because", "**7**"); "." and ")" may not
STOP_PUNCTUATION = frozenset("/,;:!?*\"'")


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or os.path.sep in name and Path(name).exists()


class HFBackend:
    def __init__(self, name_or_path: str, batch_size: int = 16, model_id: str | None = None,
                 dtype: str = "auto", share_prefix: bool = True):
        import torch
        from transformers import AutoTokenizer

        from workbench.llm.prefix_cache import PrefixStore

        self.batch_size = batch_size
        self.chunk_size = batch_size
        self.share_prefix = share_prefix  # False: the plain left-padded path (benchmarks compare both)
        self.prefixes = PrefixStore()
        path = os.path.expanduser(name_or_path)
        if _looks_like_path(name_or_path) and not Path(path).exists():
            raise BackendError(f"model folder not found: {path}")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = load_model(path, load_kwargs(dtype, torch.cuda.is_available()))
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
        base_id = model_id or f"hf:{name_or_path}"
        actual = str(self.model.dtype).removeprefix("torch.")
        # another dtype gives other outputs: it must never share cache entries with float32
        self.model_id = base_id if actual == "float32" else f"{base_id}@{actual}"

    def render(self, messages: Messages) -> str:
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        # base models without a chat template: a plain transcript
        turns = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
        return "\n\n".join(turns) + "\n\nAssistant:"

    def generate(self, prompts: list[Messages], gen: GenParams) -> list[Completion]:
        import torch

        from workbench.llm.prefix_cache import generate_shared

        token_ids = [self.tokenizer(self.render(m), add_special_tokens=False).input_ids for m in prompts]
        # shared path: sorted by token ids, so prompts of one template land in the same batch;
        # plain path: sorted by length, so left padding is small
        key = (lambda i: token_ids[i]) if self.share_prefix else (lambda i: -len(token_ids[i]))
        order = sorted(range(len(token_ids)), key=key)
        out: list[Completion | None] = [None] * len(token_ids)
        eos_ids = self._eos_ids()
        sample = gen.temperature > 0
        options = dict(max_new_tokens=gen.max_new_tokens, do_sample=sample, top_k=None,
                       temperature=gen.temperature if sample else None, top_p=gen.top_p if sample else None)
        for b, start in enumerate(range(0, len(order), self.batch_size)):
            idx = order[start:start + self.batch_size]
            if sample:
                torch.manual_seed(gen.seed * 1_000_003 + b)
            if self.share_prefix:
                new = generate_shared(self.model, [token_ids[i] for i in idx], self.prefixes,
                                      self.tokenizer.pad_token_id, **options)
            else:
                new = self._generate_plain([token_ids[i] for i in idx], options)
            for row, i in enumerate(idx):
                toks = new[row]
                n = next((k for k, t in enumerate(toks) if t in eos_ids), len(toks))
                text = self.tokenizer.decode(toks[:n], skip_special_tokens=True).strip()
                out[i] = Completion(text, prompt_tokens=len(token_ids[i]), completion_tokens=n)
        return out  # type: ignore[return-value]

    def _generate_plain(self, rows: list[list[int]], options: dict) -> list[list[int]]:
        """One left-padded batch through model.generate: the reference the shared path matches."""
        import torch

        ids, mask = self._left_pad(rows)
        with torch.inference_mode():
            seqs = self.model.generate(input_ids=ids.to(self.model.device), attention_mask=mask.to(self.model.device),
                                       pad_token_id=self.tokenizer.pad_token_id, **options)
        return seqs[:, ids.shape[1]:].tolist()

    def choice_probs(self, prompts: list[Messages], choices: list[str]) -> list[dict[str, float]]:
        """Probability of each choice as the complete reply: P(its tokens) x P(a stop follows).

        A stop is end-of-reply, whitespace or punctuation such as "/" or "," ("7/10", "7, as")
        but not a digit, "." or ")": "1" followed by "0" is the rating 10, and "1." opening a
        numbered list is not the rating 1. The prompt is run once; each choice is scored by
        extending its KV cache and cropping it back, so the long prompt is never recomputed.
        """
        import torch

        from workbench.llm.prefix_cache import cache_arg, kv_of, prefill_shared

        tok = self.tokenizer
        token_seqs = {c: tuple(tok(c, add_special_tokens=False).input_ids) for c in choices}
        prefixes = sorted({seq[:i] for seq in token_seqs.values() for i in range(1, len(seq) + 1)}, key=len)
        stop = self._stop_mask()
        out = []
        for start in range(0, len(prompts), self.batch_size):
            batch = prompts[start:start + self.batch_size]
            rows = [tok(self.render(m), add_special_tokens=False).input_ids for m in batch]
            with torch.inference_mode():
                if self.share_prefix:  # judge templates: prefixes prefilled once, same layout as below
                    res, mask = prefill_shared(self.model, rows, self.prefixes, tok.pad_token_id)
                else:
                    ids, mask = self._left_pad(rows)
                    res = self.model(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
                                     use_cache=True)
                positions = (mask.cumsum(-1) - 1).clamp(min=0)  # real tokens only: left padding shifts nothing
                cache = kv_of(res)
                logp_after = {(): torch.log_softmax(res.logits[:, -1, :].float(), dim=-1)}
                for prefix in prefixes:
                    ext = torch.tensor([list(prefix)] * len(batch), device=mask.device)
                    more = self.model(input_ids=ext, attention_mask=torch.cat([mask, torch.ones_like(ext)], dim=1),
                                      position_ids=positions[:, -1:] + torch.arange(1, len(prefix) + 1, device=mask.device),
                                      **cache_arg(self.model, cache), use_cache=True)
                    logp_after[prefix] = torch.log_softmax(more.logits[:, -1, :].float(), dim=-1)
                    cache.crop(-len(prefix))  # back to the prompt alone
            p_stop = {prefix: lp.exp()[:, stop.to(lp.device)].sum(-1) for prefix, lp in logp_after.items() if prefix}
            for row in range(len(batch)):
                out.append({c: math.exp(sum(float(logp_after[seq[:i]][row, seq[i]]) for i in range(len(seq))))
                            * float(p_stop[seq][row]) for c, seq in token_seqs.items()})
        return out

    def _stop_mask(self, width: int | None = None):
        """Boolean mask over the vocabulary (padded to the logits' width): tokens that end a
        short reply (see choice_probs)."""
        if getattr(self, "_stop", None) is None:
            import torch

            texts = self.tokenizer.batch_decode([[i] for i in range(len(self.tokenizer))])
            special = set(self.tokenizer.all_special_ids) | self._eos_ids()
            width = max(width or 0, self.model.get_output_embeddings().weight.shape[0], len(texts))
            self._stop = torch.zeros(width, dtype=torch.bool)
            self._stop[:len(texts)] = torch.tensor([i in special or t[:1].isspace() or t[:1] in STOP_PUNCTUATION
                                                    for i, t in enumerate(texts)])
        return self._stop

    def continuation_losses(self, contexts: list[list[int]], continuations: list[list[int]]) -> list[float]:
        """Mean cross-entropy of each continuation's tokens after its context (token ids);
        every continuation token is scored, the context never is. Contexts must be non-empty."""
        import torch

        from workbench.llm.prefix_cache import length_buckets

        rows = [(c + a, len(c)) for c, a in zip(contexts, continuations)]
        out: list[float] = [0.0] * len(rows)
        for idx in length_buckets([len(r[0]) for r in rows], max_rows=self.batch_size):
            width = max(len(rows[i][0]) for i in idx)
            pad = self.tokenizer.pad_token_id
            # right padding; on the model's device (a GPU model would refuse CPU tensors)
            ids = torch.tensor([rows[i][0] + [pad] * (width - len(rows[i][0])) for i in idx], device=self.model.device)
            mask = torch.tensor([[1] * len(rows[i][0]) + [0] * (width - len(rows[i][0])) for i in idx],
                                device=self.model.device)
            with torch.inference_mode():
                logits = self.model(input_ids=ids, attention_mask=mask).logits.float()
            logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
            for row, i in enumerate(idx):
                full, first = rows[i]
                out[i] = float(-logp[row, first - 1:len(full) - 1].mean())  # logits at t predict token t+1
        return out

    def _left_pad(self, rows: list[list[int]]):
        """Token id lists -> (ids, attention mask) tensors, padded on the left so every row
        ends at the right edge, where generation and next-token scoring happen; on the model's device."""
        import torch

        width = max(len(r) for r in rows)
        device = self.model.device
        ids = torch.tensor([[self.tokenizer.pad_token_id] * (width - len(r)) + r for r in rows], device=device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
        return ids, mask

    def _eos_ids(self) -> set[int]:
        ids = set()
        for source in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if isinstance(source, int):
                ids.add(source)
            elif source:
                ids.update(source)
        return ids
