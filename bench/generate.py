"""Throughput of the workbench generator vs raw `model.generate`, on the embedded model.

Prompts are real evolution prompts: the bundled seeds put through the evolve stage's own op
assignment, so every template appears (add_constraints, deepening, concretizing,
increase_reasoning, complicate_input in several data formats, breadth); greedy decoding,
128 new tokens. Measurements, one process, one load:
  workbench  HFBackend.generate at batch B: shared template prefixes, one decode batch (fp32)
  raw        model.generate on the same B prompts as one left-padded batch (fp32)
  single     model.generate one prompt at a time (fp32)
  bf16       HFBackend.generate with bfloat16 weights (run.dtype=bfloat16)
Greedy outputs of workbench and raw must be identical token for token; the count of
identical outputs is printed. Useful tokens are counted up to the first end-of-turn token.

    python bench/generate.py [--batch 32] [--new-tokens 128] [--single-prompts 4] [--repeats 2] [--no-bf16]
Last line: vs_raw=<workbench/raw> vs_single=<workbench/single>
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from workbench.llm import GenParams
from workbench.llm.hf import EMBEDDED_ID, HFBackend, embedded_model_dir
from workbench.llm.prefix_cache import PrefixStore
from workbench.stages.evolve import loop as EV
from workbench.stages.evolve.stage import Config
from workbench.stages.seed.loaders import load_seeds


def evolution_prompts(n: int, offset: int = 0) -> tuple[list[list[dict]], list[str]]:
    seeds = load_seeds("bundled").records[offset:offset + n]
    cfg = Config()
    picks = EV.assign_ops(cfg, [s["id"] for s in seeds], 1, seed=0)
    prompts = [[{"role": "user", "content": EV.evolution_prompt(cfg.pack(), op, s, fmt)}] for s, (op, fmt) in zip(seeds, picks)]
    return prompts, [op if fmt is None else f"{op}/{fmt}" for op, fmt in picks]


def useful(row: list[int], eos: set[int]) -> list[int]:
    return row[:next((k for k, t in enumerate(row) if t in eos), len(row))]


def raw_generate(backend: HFBackend, prompts, new_tokens: int) -> list[list[int]]:
    tok, model = backend.tokenizer, backend.model
    enc = tok([backend.render(p) for p in prompts], return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
    eos = backend._eos_ids()
    return [useful(r, eos) for r in out[:, enc["input_ids"].shape[1]:].tolist()]


def workbench_generate(backend: HFBackend, prompts, new_tokens: int) -> tuple[float, list]:
    backend.prefixes = PrefixStore()  # cold: no template prefix left over from the warm-up
    t0 = time.perf_counter()
    outs = backend.generate(prompts, GenParams(max_new_tokens=new_tokens))
    return time.perf_counter() - t0, outs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--single-prompts", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2, help="workbench/raw pairs; the best time of each counts")
    ap.add_argument("--no-bf16", action="store_true")
    args = ap.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  cpus: {os.cpu_count()}")
    backend = HFBackend(str(embedded_model_dir()), batch_size=args.batch, model_id=EMBEDDED_ID)
    prompts, ops = evolution_prompts(args.batch, offset=8)
    lengths = [len(backend.tokenizer(backend.render(p), add_special_tokens=False).input_ids) for p in prompts]
    print(f"model={EMBEDDED_ID} batch={args.batch} new_tokens={args.new_tokens} threads={torch.get_num_threads()} greedy")
    print(f"prompt tokens: min={min(lengths)} mean={sum(lengths) / len(lengths):.0f} max={max(lengths)}; "
          f"templates: {len(set(ops))} ({', '.join(sorted(set(ops)))})")

    warm, _ = evolution_prompts(2)
    backend.generate(warm, GenParams(max_new_tokens=8))
    raw_generate(backend, warm, 8)

    # interleaved and repeated, best time of each: the machine is shared, and a neighbour's
    # burst during one measurement must not decide the ratio
    wb_times, raw_times = [], []
    for _ in range(args.repeats):
        wb_s, wb_outs = workbench_generate(backend, prompts, args.new_tokens)
        wb_times.append(wb_s)
        t0 = time.perf_counter()
        raw = raw_generate(backend, prompts, args.new_tokens)
        raw_times.append(time.perf_counter() - t0)
    wb_s, raw_s = min(wb_times), min(raw_times)
    wb_tokens = sum(c.completion_tokens for c in wb_outs)
    raw_tokens = sum(len(r) for r in raw)
    print(f"workbench fp32: {wb_tokens} tokens in {wb_s:.1f}s = {wb_tokens / wb_s:.1f} tok/s "
          f"(runs: {', '.join(f'{t:.1f}s' for t in wb_times)})")
    print(f"raw generate fp32: {raw_tokens} tokens in {raw_s:.1f}s = {raw_tokens / raw_s:.1f} tok/s "
          f"(runs: {', '.join(f'{t:.1f}s' for t in raw_times)})")
    raw_texts = [backend.tokenizer.decode(r, skip_special_tokens=True).strip() for r in raw]
    same = sum(a == c.text for a, c in zip(raw_texts, wb_outs))
    print(f"greedy identical to raw: {same}/{len(prompts)}")

    single_tokens, t0 = 0, time.perf_counter()
    for p in prompts[:args.single_prompts]:
        single_tokens += len(raw_generate(backend, [p], args.new_tokens)[0])
    single_s = time.perf_counter() - t0
    print(f"one at a time fp32: {single_tokens} tokens in {single_s:.1f}s = {single_tokens / single_s:.1f} tok/s")

    wb_tps, raw_tps, single_tps = wb_tokens / wb_s, raw_tokens / raw_s, single_tokens / single_s
    if not args.no_bf16:
        del backend
        bf16 = HFBackend(str(embedded_model_dir()), batch_size=args.batch, model_id=EMBEDDED_ID, dtype="bfloat16")
        bf16.generate(warm, GenParams(max_new_tokens=8))
        bf_s, bf_outs = workbench_generate(bf16, prompts, args.new_tokens)
        bf_tokens = sum(c.completion_tokens for c in bf_outs)
        bf_same = sum(a == c.text for a, c in zip(raw_texts, bf_outs))
        print(f"workbench bf16: {bf_tokens} tokens in {bf_s:.1f}s = {bf_tokens / bf_s:.1f} tok/s; "
              f"greedy identical to fp32 raw: {bf_same}/{len(prompts)}")
        print(f"bf16_vs_raw={bf_tokens / bf_s / raw_tps:.2f}")
    print(f"vs_raw={wb_tps / raw_tps:.2f} vs_single={wb_tps / single_tps:.2f}")


if __name__ == "__main__":
    main()
