"""One real-GPU check of the workbench's HF code paths (issue 24): scoring, generation and
fine-tuning on a CUDA model, compared with the same model on the CPU.

The model is the embedded SmolLM2-135M-Instruct's architecture, config and tokenizer with
RANDOM weights (seeded): the real weights (a 98 MB GGUF, 538 MB once dequantised to
safetensors) are too big to carry to the GPU machine. Only the tokenizer and config files
travel, from --tok (default .gpucheck/tok, copied from outputs/cache/models/smollm2-135m-instruct/).
The random model is saved with save_pretrained into a temporary folder and then loaded
through the workbench itself (workbench.llm.registry.load_backend("hf:<folder>", run)), so
placement is weights.load_kwargs' own: CPU float32, GPU device_map="auto" in the checkpoint's
dtype (float32 here), and bfloat16 on the GPU when asked.

Checks, GPU (float32) against CPU (float32):
  choice_probs  a difficulty-judge prompt (judge.judge_prompt) per record over the ratings
                "1".."10" (rating.RATINGS): max absolute and max relative probability difference
  ifd           ifd.ifd_scores of the same records (continuation_losses): max |ifd| difference
  greedy        HFBackend.generate of a few prompts, max 24 new tokens: identical texts k/n;
                also the shared-prefix path against the plain left-padded batch on the GPU
  bfloat16      the same three on a bfloat16 GPU copy, reported, not judged (rounding moves them)
  training      train.train_variant (TRL SFT, in-process) for --steps steps on a few rows, full
                fine-tuning, then launch.train_launched (finetune.launcher: accelerate,
                num_processes 1): steps, first and last loss, where the parameters sat; each
                saved model reloads through the HF backend, on the GPU, and scores its training
                answer with a lower loss than the base model does (reload_ok)

--device cpu is a dry mode for a machine without CUDA: both sides on the CPU, everything else
the same (use --layers 2 there). Without CUDA and without --device cpu the script exits 2.

The last line of the output is, with exit status 0 (ok) or 1 (FAILED):
  cuda=<gpu name|none> device=<model device> dtype=<dtype> probs_max_diff=<abs> probs_max_rel=<rel>
  ifd_diff=<abs> greedy_same=k/n shared_vs_plain=k/n bf16_probs_max_rel=<rel> bf16_greedy_same=k/n
  train_steps=<n> train_device=<dev> loss_first=<x> loss_last=<x> accel_steps=<n> accel_device=<dev>
  accel_loss_first=<x> accel_loss_last=<x> reload_ok=<bool> seconds=<s> ok|FAILED
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# the accelerate launcher's child processes import the workbench too
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
os.environ.setdefault("TQDM_DISABLE", "1")  # progress bars would bury the numbers in the log

RECORDS = [
    {"instruction": "Sort the numbers in ascending order.", "input": "7 3 9 1",
     "response": "1 3 7 9", "round": 0},
    {"instruction": "Write a haiku about autumn leaves, with exactly three lines and no rhyme.",
     "response": "Red leaves drift and fall\nthe wind carries them away\nbare branches remain", "round": 0},
    {"instruction": "Explain why the sky is blue in two sentences.",
     "response": "Sunlight scatters off air molecules, and blue light scatters most because of its short "
                 "wavelength. So blue reaches our eyes from every direction of the sky.", "round": 0},
    {"instruction": "Name three prime numbers greater than 10.", "response": "11, 13 and 17.", "round": 0},
]
GREEDY_PROMPTS = ["What is 2 + 2?", "Name a colour.", "Write one sentence about the sea.",
                  "Translate 'good morning' into French.", "List three fruits."]


def build_random_model(tok_dir: Path, out: Path, layers: int, seed: int) -> None:
    """SmolLM2-135M's config and tokenizer, random weights (seeded), saved as a model folder."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    config = AutoConfig.from_pretrained(tok_dir)
    if layers:
        config.num_hidden_layers = layers
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config).float()
    if (tok_dir / "generation_config.json").is_file():
        model.generation_config = GenerationConfig.from_pretrained(tok_dir)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tok_dir).save_pretrained(out)


def load(path: Path, dtype: str, cpu: bool):
    """The workbench's own hf:<path> backend; cpu=True places it as on a machine without a GPU."""
    import workbench.llm.hf as hf
    from workbench.llm.registry import load_backend

    original = hf.load_kwargs
    if cpu:
        hf.load_kwargs = lambda d, gpu: original(d, False)
    try:
        return load_backend(f"hf:{path}", {"batch_size": 4, "dtype": dtype, "seed": 0})
    finally:
        hf.load_kwargs = original


def where(backend) -> str:
    devices = sorted({str(p.device) for p in backend.model.parameters()})
    return f"{backend.model.device}[{','.join(devices)}]/{str(backend.model.dtype).removeprefix('torch.')}"


def measure(backend) -> dict:
    from workbench.llm import GenParams
    from workbench.llm.rating import RATINGS
    from workbench.stages.difficulty.ifd import ifd_scores
    from workbench.stages.difficulty.judge import judge_prompt

    probs = backend.choice_probs([judge_prompt(r) for r in RECORDS], RATINGS)
    ifd = ifd_scores(RECORDS, backend)
    texts = [c.text for c in backend.generate([[{"role": "user", "content": p}] for p in GREEDY_PROMPTS],
                                              GenParams(max_new_tokens=24))]
    return {"probs": probs, "ifd": ifd, "texts": texts}


def compare(a: dict, b: dict) -> dict:
    diffs = [(abs(pa[c] - pb[c]), abs(pa[c] - pb[c]) / max(pa[c], 1e-30))
             for pa, pb in zip(a["probs"], b["probs"]) for c in pa]
    ifd = [abs(x["ifd"] - y["ifd"]) for x, y in zip(a["ifd"], b["ifd"])]
    same = sum(x == y for x, y in zip(a["texts"], b["texts"]))
    return {"abs": max(d[0] for d in diffs), "rel": max(d[1] for d in diffs), "ifd": max(ifd),
            "same": same, "n": len(a["texts"])}


def answer_loss(backend, rec: dict) -> float:
    """Mean loss of a record's response after its chat-formatted instruction."""
    from workbench.core.records import full_text

    tok = backend.tokenizer
    ctx = tok(backend.render([{"role": "user", "content": full_text(rec)}]), add_special_tokens=False).input_ids
    return backend.continuation_losses([ctx], [tok(rec["response"], add_special_tokens=False).input_ids])[0]


def train_checks(base: Path, work: Path, steps: int, gpu: bool, base_backend) -> dict:
    from transformers import TrainerCallback

    from workbench.llm import GenParams
    from workbench.stages.finetune.launch import train_launched
    from workbench.stages.finetune.stage import Config
    from workbench.stages.finetune.train import train_variant

    seen = {}

    class Where(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            seen["device"] = str(next(model.parameters()).device)

    rows = RECORDS[:4]  # one batch of all rows each step: the loss must fall on a random model
    cfg = Config(base_model=f"hf:{base}", variants=("seeds",), method="full", max_steps=steps, batch_size=len(rows),
                 learning_rate=1e-3, max_length=128, save_as="float32")
    out = {}
    t = time.time()
    summary = train_variant(rows, cfg.base_model, work / "inproc", cfg, seed=0, callbacks=[Where()])
    losses = [e["loss"] for e in summary["log"]]
    out.update(train_steps=summary["steps"], train_device=seen.get("device"), loss_first=losses[0],
               loss_last=losses[-1], train_s=round(time.time() - t, 1))
    print(f"in-process: {summary['steps']} steps on {seen.get('device')}, losses {losses}, {out['train_s']} s", flush=True)

    t = time.time()
    launched = dataclasses.replace(cfg, launcher="accelerate", num_processes=1)
    summary2 = train_launched(rows, cfg.base_model, work / "accel", launched, 0, work / "launch", "seeds")
    losses2 = [e["loss"] for e in summary2["log"]]
    log = (work / "launch" / "seeds.log").read_text(encoding="utf-8", errors="replace")
    dev = re.findall(r"process \d+ of \d+: .*device (\S+)", log)
    out.update(accel_steps=summary2["steps"], accel_device=dev[-1] if dev else "?", accel_loss_first=losses2[0],
               accel_loss_last=losses2[-1], accel_s=round(time.time() - t, 1))
    print(f"accelerate: {summary2['steps']} steps on {out['accel_device']}, losses {losses2}, {out['accel_s']} s",
          flush=True)

    before = answer_loss(base_backend, rows[0])
    ok = True
    for name in ("inproc", "accel"):
        tuned = load(work / name, "auto", cpu=not gpu)
        after = answer_loss(tuned, rows[0])
        placed = where(tuned)
        on_gpu = placed.startswith("cuda") if gpu else placed.startswith("cpu")
        text = tuned.generate([[{"role": "user", "content": GREEDY_PROMPTS[0]}]],
                              GenParams(max_new_tokens=8))[0]
        print(f"reload {name}: {placed}, answer loss {before:.4f} (base) -> {after:.4f}, "
              f"generate ok={text.ok}", flush=True)
        ok = ok and on_gpu and after < before and text.ok
    out["reload_ok"] = ok
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                    help="cpu: a dry run without CUDA, both sides on the CPU")
    ap.add_argument("--layers", type=int, default=0, help="hidden layers (0: the config's 30)")
    ap.add_argument("--tok", type=Path, default=REPO / ".gpucheck" / "tok")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--no-bf16", action="store_true")
    args = ap.parse_args()

    import torch

    from workbench.llm import GenParams

    started = time.time()
    cuda = torch.cuda.is_available()
    if args.device == "cuda" and not cuda:
        print("cuda=none: no CUDA device visible; run with --device cpu for a dry run")
        return 2
    gpu = args.device == "cuda"
    print(f"torch {torch.__version__}, cuda {cuda} ({torch.cuda.get_device_name(0) if cuda else '-'}), "
          f"mode {args.device}", flush=True)
    for name in ("transformers", "trl", "datasets", "accelerate", "pyarrow"):
        try:
            print(f"  {name} {__import__(name).__version__}", flush=True)
        except Exception as e:  # noqa: BLE001
            print(f"  {name}: {type(e).__name__}: {e}", flush=True)

    fields, failed = {"cuda": torch.cuda.get_device_name(0).replace(" ", "_") if cuda else "none"}, []
    work = Path(tempfile.mkdtemp(prefix="gpu_hf_check."))
    try:
        base = work / "base"
        build_random_model(args.tok, base, args.layers, seed=0)
        t = time.time()
        cpu_backend = load(base, "float32", cpu=True)
        ref = measure(cpu_backend)
        print(f"cpu: {where(cpu_backend)} {cpu_backend.model_id} measured in {time.time() - t:.1f} s", flush=True)
        print(f"  probs[0] {ref['probs'][0]}", flush=True)
        print(f"  ifd {[round(x['ifd'], 6) for x in ref['ifd']]}", flush=True)
        t = time.time()
        dev_backend = load(base, "auto", cpu=not gpu)
        got = measure(dev_backend)
        placed = where(dev_backend)
        fields.update(device=placed.split("[")[0], dtype=placed.split("/")[-1])
        print(f"dev: {placed} {dev_backend.model_id} map={getattr(dev_backend.model, 'hf_device_map', None)} "
              f"measured in {time.time() - t:.1f} s", flush=True)
        c = compare(ref, got)
        for i, (x, y) in enumerate(zip(ref["texts"], got["texts"])):
            print(f"  greedy {i}: {'same' if x == y else 'DIFF'} cpu={x!r} dev={y!r}", flush=True)
        dev_backend.share_prefix = False
        plain = [x.text for x in dev_backend.generate([[{"role": "user", "content": p}] for p in GREEDY_PROMPTS],
                 GenParams(max_new_tokens=24))]
        dev_backend.share_prefix = True
        shared_same = sum(x == y for x, y in zip(plain, got["texts"]))
        fields.update(probs_max_diff=f"{c['abs']:.3g}", probs_max_rel=f"{c['rel']:.3g}", ifd_diff=f"{c['ifd']:.3g}",
                      greedy_same=f"{c['same']}/{c['n']}", shared_vs_plain=f"{shared_same}/{len(plain)}")
        if gpu and not placed.startswith("cuda"):
            failed.append("model not on the GPU")
        if c["rel"] > 1e-3 or c["ifd"] > 1e-4:
            failed.append("float32 scores differ")
        if c["same"] < c["n"] or shared_same < len(plain):
            failed.append("greedy texts differ")
        if not args.no_bf16:
            bf = load(base, "bfloat16", cpu=not gpu)
            cb = compare(ref, measure(bf))
            print(f"bf16: {where(bf)} {bf.model_id} ifd diff {cb['ifd']:.3g}", flush=True)
            fields.update(bf16_probs_max_rel=f"{cb['rel']:.3g}", bf16_greedy_same=f"{cb['same']}/{cb['n']}")
            del bf
        tr = train_checks(base, work, args.steps, gpu, dev_backend)
        fields.update({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in tr.items() if not k.endswith("_s")})
        if tr["train_steps"] != args.steps or tr["accel_steps"] != args.steps:
            failed.append("steps")
        if gpu and not (str(tr["train_device"]).startswith("cuda") and str(tr["accel_device"]).startswith("cuda")):
            failed.append("training not on the GPU")
        if not (tr["loss_last"] < tr["loss_first"] and tr["accel_loss_last"] < tr["accel_loss_first"]):
            failed.append("loss did not fall")
        if not tr["reload_ok"]:
            failed.append("reload")
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        failed.append(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        print("failures: " + "; ".join(failed), flush=True)
    fields["seconds"] = f"{time.time() - started:.0f}"
    print(" ".join(f"{k}={v}" for k, v in fields.items()) + (" FAILED" if failed else " ok"), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
