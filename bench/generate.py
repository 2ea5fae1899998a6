"""Throughput of the workbench generator vs raw `model.generate`, on the embedded model.

Prompts are real evolution prompts (the add_constraints template around bundled seeds,
>= 250 prompt tokens), 128 new tokens, sampling. Three measurements in one run:
  workbench  HFBackend.generate at batch B (chat template, length-sorted batches, decode)
  raw        model.generate on the same B prompts as one left-padded batch
  single     model.generate one prompt at a time
Useful tokens are counted up to the first end-of-turn token, the same way for all three.

    python bench/generate.py [--batch 32] [--new-tokens 128] [--single-prompts 4]
Last line: vs_raw=<workbench/raw> vs_single=<workbench/single>
"""

from __future__ import annotations

import argparse
import time
from importlib import resources

import torch

from workbench.llm import GenParams
from workbench.llm.hf import EMBEDDED_ID, HFBackend, embedded_model_dir
from workbench.seeds import load_seeds


def evolution_prompts(n: int) -> list[list[dict]]:
    template = (resources.files("workbench") / "prompts" / "add_constraints.txt").read_text()
    seeds = load_seeds("bundled").records
    seeds = sorted(seeds, key=lambda r: -len(r["instruction"]))[:n]
    return [[{"role": "user", "content": template.replace("{instruction}", s["instruction"])}] for s in seeds]


def useful_tokens(rows: list[list[int]], eos: set[int]) -> int:
    return sum(next((k for k, t in enumerate(r) if t in eos), len(r)) for r in rows)


def raw_generate(backend: HFBackend, prompts, gen: GenParams) -> int:
    tok, model = backend.tokenizer, backend.model
    enc = tok([backend.render(p) for p in prompts], return_tensors="pt", padding=True, add_special_tokens=False)
    torch.manual_seed(gen.seed)
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=gen.max_new_tokens, do_sample=True,
                             temperature=gen.temperature, top_p=gen.top_p, top_k=None,
                             pad_token_id=tok.pad_token_id)
    return useful_tokens(out[:, enc["input_ids"].shape[1]:].tolist(), backend._eos_ids())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--single-prompts", type=int, default=4)
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    backend = HFBackend(str(embedded_model_dir()), batch_size=args.batch, model_id=EMBEDDED_ID)
    prompts = evolution_prompts(args.batch)
    lengths = [len(backend.tokenizer(backend.render(p), add_special_tokens=False).input_ids) for p in prompts]
    gen = GenParams(max_new_tokens=args.new_tokens, temperature=0.7, top_p=0.95, seed=0)
    print(f"model={EMBEDDED_ID} batch={args.batch} new_tokens={args.new_tokens} threads={torch.get_num_threads()}")
    print(f"prompt tokens: min={min(lengths)} mean={sum(lengths) / len(lengths):.0f} max={max(lengths)}")

    raw_generate(backend, prompts[:2], GenParams(max_new_tokens=8, temperature=0.7, top_p=0.95))  # warm-up

    t0 = time.perf_counter()
    outs = backend.generate(prompts, gen)
    wb_s = time.perf_counter() - t0
    wb_tps = sum(c.completion_tokens for c in outs) / wb_s
    print(f"workbench: {sum(c.completion_tokens for c in outs)} tokens in {wb_s:.1f}s = {wb_tps:.1f} tok/s")

    t0 = time.perf_counter()
    raw_tokens = raw_generate(backend, prompts, gen)
    raw_s = time.perf_counter() - t0
    raw_tps = raw_tokens / raw_s
    print(f"raw generate: {raw_tokens} tokens in {raw_s:.1f}s = {raw_tps:.1f} tok/s")

    single_tokens, t0 = 0, time.perf_counter()
    for p in prompts[:args.single_prompts]:
        single_tokens += raw_generate(backend, [p], gen)
    single_s = time.perf_counter() - t0
    single_tps = single_tokens / single_s
    print(f"one at a time: {single_tokens} tokens in {single_s:.1f}s = {single_tps:.1f} tok/s")
    print(f"vs_raw={wb_tps / raw_tps:.2f} vs_single={wb_tps / single_tps:.2f}")


if __name__ == "__main__":
    main()
