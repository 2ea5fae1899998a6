"""`vllm:<path or hub name>`: vLLM in this process, on a GPU machine. vllm is imported only here.

Engine settings come from `run.vllm_args`, passed to `vllm.LLM` by vLLM's own names
(EngineArgs: tensor_parallel_size, data_parallel_size, gpu_memory_utilization, max_model_len,
...). They are checked by name before any work (`vllm_args_problems`, called by params
validation): against the installed vLLM's EngineArgs, or where vLLM is not installed against
COMMON_ENGINE_ARGS, saying that the full check happens where it is.

Probabilities mean what they mean on the HF backend (hf.py), so judges, ratings and IFD give
the same figures on either backend of one model:
  choice_probs          P(the whole reply is c) = P(c's tokens after the prompt) x P(a stop
                        token follows them), not normalised (ratings divide by the mass).
                        Each prompt + choice is one request: its prompt log-probabilities give
                        c's tokens exactly, whatever their rank; the next token's top
                        `max_logprobs` give the stop mass. vLLM returns no more than that
                        (20 unless run.vllm_args.max_logprobs says otherwise; -1 returns the
                        whole vocabulary, exact and slow), so the stop mass counts the stop
                        tokens among them: exact when the stop tokens with weight are there,
                        otherwise lower by at most what was left out, never higher.
  continuation_losses   mean negative log-probability of the continuation's tokens after the
                        context, from the prompt log-probabilities of context + continuation.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Mapping

from workbench.llm.base import BackendError, ChoiceProbs, Completion, GenParams, Messages
from workbench.llm.hf import STOP_PUNCTUATION, HFBackend

# EngineArgs fields present in vLLM releases from 0.6 on: what a machine without vLLM can check.
COMMON_ENGINE_ARGS = frozenset({
    "tokenizer", "tokenizer_mode", "trust_remote_code", "download_dir", "load_format", "revision",
    "tokenizer_revision", "code_revision", "quantization", "kv_cache_dtype", "seed", "max_model_len",
    "tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "distributed_executor_backend",
    "gpu_memory_utilization", "swap_space", "cpu_offload_gb", "block_size", "enable_prefix_caching",
    "enable_chunked_prefill", "max_num_batched_tokens", "max_num_seqs", "max_logprobs", "enforce_eager",
    "disable_custom_all_reduce", "disable_log_stats", "hf_overrides", "rope_scaling", "compilation_config",
    "generation_config", "enable_lora", "max_loras", "max_lora_rank", "served_model_name",
})
# Settings the workbench makes itself: set there, never twice.
WORKBENCH_ENGINE_ARGS = {
    "model": "from the model string, vllm:<path or hub name> in run.model or a stage's model parameter",
    "dtype": "from run.dtype",
    "skip_tokenizer_init": "it renders prompts and scores choices with the model's tokenizer",
}
# Settings that change what the model answers or how choices score: part of the model id, so
# the response cache keeps their results apart.
OUTPUT_ENGINE_ARGS = ("hf_overrides", "kv_cache_dtype", "max_logprobs", "quantization", "revision", "tokenizer",
                      "tokenizer_revision")
DEFAULT_MAX_LOGPROBS = 20  # vLLM's own default for EngineArgs.max_logprobs


def engine_arg_names() -> tuple[frozenset[str], bool]:
    """(names vLLM's engine takes, whether they come from the installed vLLM)."""
    try:
        import vllm
    except ImportError:
        return COMMON_ENGINE_ARGS, False
    return frozenset(f.name for f in dataclasses.fields(vllm.EngineArgs)), True


def vllm_args_problems(args) -> list[str]:
    """Why each entry of run.vllm_args cannot go to vLLM's engine; [] when all can."""
    if not isinstance(args, Mapping):
        return [f"expected a mapping of vLLM engine settings, got {args!r}"]
    if not args:
        return []
    known, installed = engine_arg_names()
    problems = []
    for name in args:
        if name in WORKBENCH_ENGINE_ARGS:
            problems.append(f"{name} is set by the workbench ({WORKBENCH_ENGINE_ARGS[name]})")
        elif name not in known:
            close = difflib.get_close_matches(str(name), known, n=1)
            problems.append(f"{name!r} is not a vLLM engine setting" + (f" (did you mean {close[0]!r}?)" if close else "")
                            + ("" if installed else "; vllm is not installed here, so only common settings are known "
                               "and the full list of EngineArgs is checked where vllm is installed"))
    return problems


def vllm_model_id(name_or_path: str, dtype: str, engine_args: Mapping) -> str:
    """vllm:<name>[@dtype][[setting=value,...]] with the settings that change outputs, so the
    response cache never mixes their results: vllm:/models/m@bfloat16[quantization=awq]."""
    shown = [f"{k}={v if isinstance(v, str) else json.dumps(v, sort_keys=True)}"
             for k, v in sorted(engine_args.items()) if k in OUTPUT_ENGINE_ARGS]
    return (f"vllm:{name_or_path}" + ("" if dtype == "auto" else f"@{dtype}")
            + (f"[{','.join(shown)}]" if shown else ""))


class VLLMBackend:
    """The whole list goes to one `LLM.generate` call, which schedules it continuously and
    reuses shared prompt prefixes (enable_prefix_caching, on unless run.vllm_args turns it off)."""

    def __init__(self, name_or_path: str, dtype: str = "auto", **engine_args):
        try:
            import vllm
        except ImportError:
            raise BackendError(
                "model vllm:... needs the vllm package, which runs on a GPU machine: `pip install vllm` there, "
                "or serve the model with `vllm serve` and use openai:<model>@http://host:8000/v1") from None
        problems = vllm_args_problems(engine_args)
        if problems:
            raise BackendError("run.vllm_args: " + "; ".join(problems))
        self._vllm = vllm
        self.model_path = name_or_path
        self.model_id = vllm_model_id(name_or_path, dtype, engine_args)
        self.top_logprobs = engine_args.get("max_logprobs", DEFAULT_MAX_LOGPROBS)
        self.llm = vllm.LLM(model=name_or_path, dtype=dtype, **({"enable_prefix_caching": True} | engine_args))
        self.tokenizer = self.llm.get_tokenizer()
        self.chunk_size = 1024  # vLLM batches internally; the chunk only bounds work lost to a kill
        self._stop: dict[int, bool] = {}  # token id -> whether it ends a short reply
        self._end_ids: set[int] | None = None

    def render(self, messages: Messages) -> str:
        """The HF backend's prompt text, so both backends score the same tokens; a tokenizer
        without the attribute (vLLM's Mistral tokenizer) applies its own template."""
        if not hasattr(self.tokenizer, "chat_template"):
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return HFBackend.render(self, messages)

    def generate(self, prompts: list[Messages], gen: GenParams) -> list[Completion]:
        sampling = self._vllm.SamplingParams(
            max_tokens=gen.max_new_tokens, temperature=gen.temperature,
            top_p=gen.top_p if gen.temperature > 0 else 1.0, seed=gen.seed if gen.temperature > 0 else None)
        outs = self.llm.generate([self.render(m) for m in prompts], sampling, use_tqdm=False)
        result = []
        for o in outs:
            if not o.outputs:
                result.append(Completion(None, error="vllm returned no output"))
                continue
            best = o.outputs[0]
            result.append(Completion(best.text.strip(), prompt_tokens=len(o.prompt_token_ids or []),
                                     completion_tokens=len(best.token_ids)))
        return result

    def choice_probs(self, prompts: list[Messages], choices: list[str]) -> list[ChoiceProbs]:
        """P(each choice is the whole reply), as HFBackend.choice_probs defines it (see the
        module docstring for how vLLM's log-probabilities give it)."""
        choices = list(dict.fromkeys(choices))
        choice_ids = {c: self._token_ids(c) for c in choices}
        prompt_ids = [self._token_ids(self.render(m)) for m in prompts]
        rows = [p + choice_ids[c] for p in prompt_ids for c in choices]
        # one greedy token, so vLLM reports the top log-probabilities of the token after the choice
        outs = self._score(rows, logprobs=self.top_logprobs)
        result = []
        for i, prompt in enumerate(prompt_ids):
            probs = {}
            for k, c in enumerate(choices):
                row = i * len(choices) + k
                tokens = math.fsum(self._prompt_logprobs(outs[row], rows[row], len(prompt)))
                probs[c] = math.exp(tokens) * self._stop_mass(outs[row])
            result.append(ChoiceProbs(probs, prompt_tokens=sum(len(prompt) + len(choice_ids[c]) for c in choices),
                                      completion_tokens=len(choices)))
        return result

    def continuation_losses(self, contexts: list[list[int]], continuations: list[list[int]]) -> list[float]:
        """Mean cross-entropy of each continuation's tokens after its context (token ids), as
        HFBackend.continuation_losses: every continuation token is scored, the context never is."""
        if any(not c for c in contexts):
            raise BackendError("continuation_losses: every context needs a token (the first token has no prediction)")
        rows = [list(c) + list(a) for c, a in zip(contexts, continuations)]
        outs = self._score(rows, logprobs=None)
        losses = []
        for out, row, context in zip(outs, rows, contexts):
            logps = self._prompt_logprobs(out, row, len(context))
            losses.append(-math.fsum(logps) / len(logps) if logps else math.nan)  # HF's mean of nothing: nan
        return losses

    def _token_ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def _score(self, rows: list[list[int]], logprobs: int | None) -> list:
        """One request per row of token ids, each returning the log-probability of its own
        tokens (prompt_logprobs=0) and, with `logprobs`, the top ones of the token after."""
        scoring = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0, logprobs=logprobs,
                                            detokenize=False)
        outs = self.llm.generate([{"prompt_token_ids": row} for row in rows], scoring, use_tqdm=False)
        if len(outs) != len(rows):
            raise BackendError(f"vllm returned {len(outs)} outputs for {len(rows)} scoring requests")
        return outs

    @staticmethod
    def _prompt_logprobs(out, row: list[int], start: int) -> list[float]:
        """log P(row[t] | row[:t]) for t from `start` on, from a request's prompt log-probabilities."""
        seen = out.prompt_logprobs or []
        logps = []
        for t in range(start, len(row)):
            entry = seen[t] if t < len(seen) else None
            if not entry or row[t] not in entry:
                raise BackendError(f"vllm returned no prompt log-probability for token {t} of a scoring request")
            logps.append(float(entry[row[t]].logprob))
        return logps

    def _stop_mass(self, out) -> float:
        """P(a stop token follows), summed over the top tokens vLLM returned for the next position."""
        if not out.outputs or not out.outputs[0].logprobs:
            raise BackendError("vllm returned no log-probabilities for the token after a choice")
        top = out.outputs[0].logprobs[0]
        return math.fsum(math.exp(p.logprob) for token, p in top.items() if self._ends_reply(token))

    def _ends_reply(self, token_id: int) -> bool:
        """HFBackend's stop tokens: end-of-reply or special, or text that opens with whitespace
        or STOP_PUNCTUATION ("7/10", "7, as"), but not a digit, "." or ")" ("10", "1. First")."""
        if token_id not in self._stop:
            text = self.tokenizer.decode([token_id])
            self._stop[token_id] = (token_id in self._reply_end_ids() or text[:1].isspace()
                                    or text[:1] in STOP_PUNCTUATION)
        return self._stop[token_id]

    def _reply_end_ids(self) -> set[int]:
        """Special tokens and every end-of-sequence id the model's generation config names, as
        the HF backend counts them (the config is read from the local folder or HF cache)."""
        if self._end_ids is None:
            ids = set(self.tokenizer.all_special_ids)
            for source in (self.tokenizer.eos_token_id, self._generation_config_eos()):
                ids.update([source] if isinstance(source, int) else source or [])
            self._end_ids = ids
        return self._end_ids

    def _generation_config_eos(self):
        try:
            from transformers import GenerationConfig

            return GenerationConfig.from_pretrained(self.model_path, local_files_only=True).eos_token_id
        except Exception:  # no generation_config.json (or no transformers): the tokenizer's ids stand
            return None
