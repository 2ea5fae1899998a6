"""vLLM against the HF backend on one model, on a GPU machine: throughput, a judge verdict, an IFD value.

    python bench/vllm_gpu.py --model /path/to/model [--prompts 64] [--new-tokens 128] [--dtype bfloat16]
        [--gpu-memory-utilization 0.45] [--vllm-arg tensor_parallel_size=2 ...]

One process loads the same model folder twice: `vllm:` (VLLMBackend, engine settings as
run.vllm_args would give them) and `hf:` (HFBackend), in the same dtype. It checks:
  throughput  greedy generation of --prompts bundled seed instructions, --new-tokens each:
              tokens/s of each backend and the ratio (and how many replies are identical,
              for information: bfloat16 kernels differ, so greedy paths may part).
  judge       04_difficulty's judge prompt on one instruction: each rating's probability as
              the whole reply (choice_probs) and the expected rating (the verdict), on both.
              vLLM gets max_logprobs = the vocabulary, so its stop mass is exact and only
              numerics differ. Fails when a probability differs by more than --prob-tolerance
              or the expected rating by more than --rating-tolerance.
  ifd         one record's IFD (stages/difficulty/ifd.py) through each backend's
              continuation_losses; fails when they differ by more than --ifd-tolerance.
Exit status: 0 when every check agrees, 1 when one does not, 2 when vllm or a GPU is missing.
Last line: vllm_tok_s=… hf_tok_s=… speedup=… judge_prob_diff=… rating_diff=… ifd_diff=… ok|FAILED
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workbench.llm import GenParams  # noqa: E402
from workbench.llm.rating import RATINGS, expected_rating  # noqa: E402

JUDGED = {"instruction": "Write a Python function that merges overlapping intervals and explain its complexity."}
IFD_RECORD = {"instruction": "Name the largest planet in the solar system and give one fact about it.",
              "response": "Jupiter is the largest planet in the solar system; it is a gas giant with a Great Red Spot."}


def missing_requirement() -> str | None:
    """Why this machine cannot run the bench, or None."""
    if importlib.util.find_spec("vllm") is None:
        return ("vllm is not installed: this bench runs on a GPU machine with `pip install vllm` "
                "(in the workbench's virtual environment) and the model folder on local disk")
    import torch

    if not torch.cuda.is_available():
        return "no CUDA GPU is visible (torch.cuda.is_available() is False): vLLM and this comparison need one"
    return None


def engine_setting(text: str) -> tuple[str, object]:
    """"tensor_parallel_size=2" -> ("tensor_parallel_size", 2): values read as YAML, like --set."""
    name, eq, value = text.partition("=")
    if not eq or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE, e.g. tensor_parallel_size=2")
    return name.strip(), yaml.safe_load(value)


def vocabulary_size(path: str) -> int:
    """Tokens the model scores: the smaller of the tokenizer's and the output layer's count."""
    from transformers import AutoConfig, AutoTokenizer

    sizes = [len(AutoTokenizer.from_pretrained(path))]
    config_size = getattr(AutoConfig.from_pretrained(path), "vocab_size", None)
    return min(sizes + ([config_size] if config_size else []))


def timed_generate(backend, prompts, new_tokens: int) -> tuple[float, list]:
    backend.generate(prompts[:2], GenParams(max_new_tokens=8))  # warm-up: kernels, graphs, caches
    start = time.perf_counter()
    outs = backend.generate(prompts, GenParams(max_new_tokens=new_tokens))
    return time.perf_counter() - start, outs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a local model folder (or a hub name in the local HF cache)")
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--hf-batch", type=int, default=16, help="HFBackend batch size (run.batch_size)")
    ap.add_argument("--dtype", default="bfloat16", choices=["auto", "float32", "bfloat16"],
                    help="both backends' weights (run.dtype); float32 agrees closest")
    ap.add_argument("--gpu-memory-utilization", type=float, default=0.45,
                    help="vLLM's share of GPU memory; the rest holds the HF copy of the model")
    ap.add_argument("--vllm-arg", type=engine_setting, action="append", default=[],
                    help="another engine setting NAME=VALUE, as in run.vllm_args (repeatable)")
    ap.add_argument("--prob-tolerance", type=float, default=0.05)
    ap.add_argument("--rating-tolerance", type=float, default=0.25)
    ap.add_argument("--ifd-tolerance", type=float, default=0.05)
    args = ap.parse_args()
    why = missing_requirement()
    if why:
        print(f"bench/vllm_gpu.py: {why}", file=sys.stderr)
        return 2

    from workbench.llm.hf import HFBackend
    from workbench.llm.vllm_backend import VLLMBackend
    from workbench.stages.difficulty.ifd import ifd_scores
    from workbench.stages.difficulty.judge import judge_prompt
    from workbench.stages.seed.loaders import load_seeds

    engine_args = {"gpu_memory_utilization": args.gpu_memory_utilization,
                   "max_logprobs": vocabulary_size(args.model)} | dict(args.vllm_arg)
    print(f"model={args.model} dtype={args.dtype} prompts={args.prompts} new_tokens={args.new_tokens} "
          f"vllm_args={engine_args}")
    on_vllm = VLLMBackend(args.model, args.dtype, **engine_args)  # first: it sizes its cache from free memory
    on_hf = HFBackend(args.model, batch_size=args.hf_batch, dtype=args.dtype)
    print(f"loaded {on_vllm.model_id} and {on_hf.model_id}")

    seeds = load_seeds("bundled").records[:args.prompts]
    prompts = [[{"role": "user", "content": s["instruction"]}] for s in seeds]
    results = {}
    for name, backend in (("vllm", on_vllm), ("hf", on_hf)):
        seconds, outs = timed_generate(backend, prompts, args.new_tokens)
        tokens = sum(c.completion_tokens for c in outs)
        results[name] = (tokens / seconds, [c.text for c in outs])
        print(f"{name}: {tokens} tokens in {seconds:.1f}s = {tokens / seconds:.1f} tok/s")
    same = sum(a == b for a, b in zip(results["vllm"][1], results["hf"][1]))
    print(f"greedy replies identical: {same}/{len(prompts)} (bfloat16 kernels may part greedy paths)")

    judge = [judge_prompt(JUDGED)]
    [p_vllm], [p_hf] = on_vllm.choice_probs(judge, RATINGS), on_hf.choice_probs(judge, RATINGS)
    for rating in RATINGS:
        print(f"  P({rating:>2}) vllm={p_vllm[rating]:.5f} hf={p_hf[rating]:.5f} "
              f"diff={abs(p_vllm[rating] - p_hf[rating]):.5f}")
    prob_diff = max(abs(p_vllm[r] - p_hf[r]) for r in RATINGS)
    (r_vllm, why_vllm, _), (r_hf, why_hf, _) = expected_rating(p_vllm, 0.1), expected_rating(p_hf, 0.1)
    print(f"judge verdict (expected rating): vllm={r_vllm} ({why_vllm or 'ok'}) hf={r_hf} ({why_hf or 'ok'})")
    rating_diff = abs(r_vllm - r_hf) if r_vllm is not None and r_hf is not None else float("inf")

    [ifd_vllm], [ifd_hf] = ifd_scores([IFD_RECORD], on_vllm), ifd_scores([IFD_RECORD], on_hf)
    print(f"ifd: vllm={ifd_vllm['ifd']} hf={ifd_hf['ifd']}")
    ifd_diff = (abs(ifd_vllm["ifd"] - ifd_hf["ifd"]) if ifd_vllm["ifd"] is not None and ifd_hf["ifd"] is not None
                else float("inf"))

    ok = (prob_diff <= args.prob_tolerance and rating_diff <= args.rating_tolerance
          and ifd_diff <= args.ifd_tolerance)
    print(f"vllm_tok_s={results['vllm'][0]:.1f} hf_tok_s={results['hf'][0]:.1f} "
          f"speedup={results['vllm'][0] / results['hf'][0]:.2f} judge_prob_diff={prob_diff:.5f} "
          f"rating_diff={rating_diff:.4f} ifd_diff={ifd_diff:.5f} {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
