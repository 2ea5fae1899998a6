"""The export's trainer configs, read by the trainers themselves: LLaMA-Factory and Axolotl.

A small run (answers in three scripts, one with an input, one over several lines) is exported
in every format; each dataset_info.json then goes through LLaMA-Factory's own loading path
(`get_train_args` -> template -> `get_dataset(stage="sft")`, what `llamafactory-cli train` runs
before its first step) and each axolotl.yaml `datasets:` entry through `axolotl preprocess`,
both with the embedded SmolLM2 tokenizer. Every row must come out, and the tokens each
trainer trains on (labels other than -100) must decode to that row's answer, with the
instruction and the input in the prompt. `--train` also runs one real training step of
`llamafactory-cli train` per format (Axolotl's train imports CUDA-only kernels: bitsandbytes).

Neither trainer installs beside this project (each pins its own transformers, datasets and
trl), so each runs with its own interpreter, e.g. a venv per trainer:

    python -m venv /tmp/lf && /tmp/lf/bin/pip install llamafactory       # on a GPU machine
    .venv/bin/python bench/trainer_configs.py --llamafactory-python /tmp/lf/bin/python \\
        --axolotl-python /tmp/ax/bin/python [--train] [--work /tmp/workbench-trainer-configs]

LLaMA-Factory imports torchaudio at module level (for audio datasets); where that does not
import (a torchaudio built for another torch), the check stubs it and says so: text datasets
never call it. Axolotl runs with AXOLOTL_DO_NOT_TRACK=1 and HF_HUB_OFFLINE=1.
Last line: llamafactory=<ok|FAILED|absent> (k/n formats) axolotl=<...> (k/n formats) schema_errors=N
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from workbench.core.io import write_json, write_jsonl  # noqa: E402
from workbench.core.records import new_evolution, new_seed  # noqa: E402
from workbench.export.formats import FORMATS  # noqa: E402
from workbench.export.run_export import export  # noqa: E402
from workbench.export.trainer_schema import axolotl_errors, llama_factory_errors  # noqa: E402

LF_SCRIPT = r'''
import json, sys
try:
    import torchaudio  # noqa: F401
except Exception as e:
    import importlib.machinery, types
    stub = types.ModuleType("torchaudio")
    stub.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
    sys.modules["torchaudio"] = stub
    print("NOTE torchaudio does not import (" + type(e).__name__ + "); stubbed: text datasets never call it")
cfg, mode = sys.argv[1], sys.argv[2]
if mode == "train":
    sys.argv = ["llamafactory-cli", "train", cfg]
    from llamafactory.cli import main
    main()
else:
    import yaml
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer
    model_args, data_args, training_args, _, _ = get_train_args(yaml.safe_load(open(cfg)))
    module = load_tokenizer(model_args)
    tok = module["tokenizer"]
    template = get_template_and_fix_tokenizer(tok, data_args)
    train = get_dataset(template, model_args, data_args, training_args, stage="sft", **module)["train_dataset"]
    rows = [{"prompt": tok.decode([t for t, l in zip(r["input_ids"], r["labels"]) if l == -100]),
             "trained": tok.decode([t for t in r["labels"] if t != -100], skip_special_tokens=True)} for r in train]
    print("RESULT " + json.dumps(rows, ensure_ascii=False))
'''


def make_run(root: Path) -> tuple[Path, list[dict]]:
    """A finished run whose dataset has an input, non-Latin answers and a multi-line answer."""
    run_dir = root / "runs" / "20260101-000000_trainers_abcd1234"
    s1 = new_seed("Name three primary colours.", response="Red, yellow, blue.", model="hf:t")
    s2 = new_seed("Summarise the text.", "Cats sleep a lot.", response="Cats nap often.", model="hf:t")
    s3 = new_seed("请用一句话解释光合作用。", response="光合作用是植物利用阳光制造养分的过程。", model="hf:t")
    e1 = new_evolution(s1, 1, "add_constraints", "Name three primary colours and one use of each.", model="hf:t",
                       response="1. Red: stop signs.\n2. Yellow: warnings.\n3. Blue: uniforms.", answer_model="hf:t")
    e2 = new_evolution(s2, 1, "deepening", "Summarise the text in Russian.", model="hf:t",
                       response="Кошки много спят.", answer_model="hf:t")
    rows = [s1, s2, s3, e1, e2]
    write_json(run_dir / "manifest.json", {
        "run_id": run_dir.name, "params_hash": "abcd1234", "git": {"sha": "0" * 16, "dirty": False},
        "params": {"run": {"name": "trainers", "model": "hf:t"}, "seed": {"source": "bundled"}, "evolve": {}},
        "stages": {"01_seed": {"status": "done"}, "02_evolve": {"status": "done"}}})
    write_jsonl(run_dir / "02_evolve" / "dataset.jsonl", rows)
    return run_dir, rows


def compare(fmt: str, rows: list[dict], got: list[dict]) -> list[str]:
    """Each exported row must come out once: the answer trained on, instruction and input in the prompt."""
    problems = [] if len(got) == len(rows) else [f"{len(got)} examples for {len(rows)} rows"]
    left = list(got)
    for r in rows:
        match = next((g for g in left if g["trained"].strip() == r["response"].strip()), None)
        if match is None:
            problems.append(f"no example trains on the answer {r['response']!r}")
            continue
        left.remove(match)
        for part in (r["instruction"], r.get("input") or ""):
            if part and part not in match["prompt"]:
                problems.append(f"{part!r} not in the prompt of {r['response']!r}: {match['prompt']!r}")
    return problems


def llama_factory(py: str, folder: Path, fmt: str, work: Path, base: str, train: bool) -> tuple[list[dict], str]:
    cfg = work / f"lf-{fmt}.yaml"
    cfg.write_text(yaml.safe_dump({
        "model_name_or_path": base, "stage": "sft", "do_train": True, "finetuning_type": "lora", "lora_target": "all",
        "dataset": "evol_instruct", "dataset_dir": str(folder), "template": "default", "cutoff_len": 512,
        "overwrite_cache": True, "output_dir": str(work / f"lf-out-{fmt}"), "overwrite_output_dir": True,
        "per_device_train_batch_size": 2, "max_steps": 1, "logging_steps": 1, "report_to": "none",
        "use_cpu": True, "save_strategy": "no"}))
    script = work / "lf_check.py"
    script.write_text(LF_SCRIPT)
    r = subprocess.run([py, str(script), str(cfg), "load"], capture_output=True, text=True, timeout=900)
    lines = r.stdout.splitlines()
    note = "; ".join(ln[5:] for ln in lines if ln.startswith("NOTE "))
    result = next((ln[7:] for ln in lines if ln.startswith("RESULT ")), None)
    if r.returncode or result is None:
        raise RuntimeError(f"LLaMA-Factory failed on {fmt}: {r.stderr.strip()[-1500:]}")
    if train:
        t = subprocess.run([py, str(script), str(cfg), "train"], capture_output=True, text=True, timeout=900)
        loss = next((ln.split("=")[-1].strip() for ln in (t.stdout + t.stderr).splitlines()
                     if ln.strip().startswith("train_loss")), None)
        if t.returncode or loss is None:
            raise RuntimeError(f"llamafactory-cli train failed on {fmt}: {t.stderr.strip()[-1500:]}")
        note = (note + "; " if note else "") + f"one training step, train_loss {loss}"
    return json.loads(result), note


def axolotl(py: str, folder: Path, fmt: str, work: Path, base: str) -> tuple[list[dict], str]:
    import datasets
    from transformers import AutoTokenizer

    prepared = work / f"ax-prepared-{fmt}"
    shutil.rmtree(prepared, ignore_errors=True)
    cfg = work / f"ax-{fmt}.yaml"
    cfg.write_text(yaml.safe_dump({
        "base_model": base, "sequence_len": 512, "micro_batch_size": 1, "gradient_accumulation_steps": 1,
        "num_epochs": 1, "learning_rate": 1e-4, "optimizer": "adamw_torch", "val_set_size": 0,
        "output_dir": str(work / f"ax-out-{fmt}"), "dataset_prepared_path": str(prepared),
        **yaml.safe_load((folder / "axolotl.yaml").read_text())}, sort_keys=False))
    env = dict(os.environ, AXOLOTL_DO_NOT_TRACK="1", HF_HUB_OFFLINE="1")
    r = subprocess.run([py, "-m", "axolotl.cli.preprocess", str(cfg)], capture_output=True, text=True, env=env,
                       timeout=900)
    saved = [p.parent for p in prepared.glob("*/dataset_info.json")]
    if r.returncode or len(saved) != 1:
        raise RuntimeError(f"axolotl preprocess failed on {fmt}: {(r.stdout + r.stderr).strip()[-1500:]}")
    tok = AutoTokenizer.from_pretrained(base)
    got = []
    for ex in datasets.load_from_disk(str(saved[0])):
        got.append({"prompt": tok.decode([t for t, lab in zip(ex["input_ids"], ex["labels"]) if lab == -100]),
                    "trained": tok.decode([t for t in ex["labels"] if t != -100], skip_special_tokens=True)})
    return got, ""


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--llamafactory-python", default="", help="interpreter with llamafactory installed")
    ap.add_argument("--axolotl-python", default="", help="interpreter with axolotl installed")
    ap.add_argument("--train", action="store_true", help="also one llamafactory-cli train step per format")
    ap.add_argument("--work", default="/tmp/workbench-trainer-configs")
    args = ap.parse_args(argv)
    from workbench.llm.hf import embedded_model_dir

    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    base = str(embedded_model_dir())
    run_dir, rows = make_run(work)
    folders, schema_errors = {}, 0
    for fmt in FORMATS:
        folders[fmt] = work / "exports" / fmt
        written = export(run_dir, fmt, folders[fmt])["trainer_configs"]
        errors = (llama_factory_errors(folders[fmt]) if "dataset_info.json" in written else []) + \
                 (axolotl_errors(folders[fmt]) if "axolotl.yaml" in written else [])
        schema_errors += len(errors)
        print(f"{fmt:<18} writes {', '.join(written) or 'no trainer config'}; schema checks: "
              f"{'; '.join(errors) or 'ok'}")
    summary = {}
    for trainer, py, has, run in (
            ("llamafactory", args.llamafactory_python, "dataset_info.json",
             lambda py, f, fmt: llama_factory(py, f, fmt, work, base, args.train)),
            ("axolotl", args.axolotl_python, "axolotl.yaml", lambda py, f, fmt: axolotl(py, f, fmt, work, base))):
        if not py:
            summary[trainer] = "absent"
            print(f"{trainer}: no interpreter given (--{trainer}-python), not run")
            continue
        fmts, ok = [f for f in FORMATS if (folders[f] / has).is_file()], 0
        for fmt in fmts:
            try:
                got, note = run(py, folders[fmt], fmt)
                problems = compare(fmt, rows, got)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                got, note, problems = [], "", [str(e)]
            ok += not problems
            print(f"{trainer} {fmt:<10} {len(got)} examples: {'ok' if not problems else 'FAILED'}"
                  + (f" ({note})" if note else "") + "".join(f"\n    {p}" for p in problems))
            if got:
                print(f"    first prompt as trained: {got[0]['prompt']!r}")
        summary[trainer] = f"{'ok' if ok == len(fmts) else 'FAILED'} ({ok}/{len(fmts)} formats)"
    print(f"llamafactory={summary['llamafactory']} axolotl={summary['axolotl']} schema_errors={schema_errors}")


if __name__ == "__main__":
    main()
