"""06_finetune with finetune.launcher: accelerate: two CPU processes (gloo) train the variant,
the stage fails with the child's error and its log, and a stopped run leaves no process behind."""

import copy
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from workbench.core.io import write_json, write_jsonl
from workbench.core.records import new_seed
from workbench.stages.finetune import launch
from workbench.stages.finetune.stage import Config

ROWS = [dict(new_seed(f"Name a {w} colour."), response=f"A {w} colour is teal.") for w in ("warm", "cold", "bright", "dark")]


def _run_folder(tmp_path: Path) -> Path:
    run = tmp_path / "20250101-000000_t_00000000"
    (run / "02_evolve").mkdir(parents=True)
    (run / "params.yaml").write_text(yaml.safe_dump({"run": {"name": "t", "seed": 0, "model": "embedded"}}))
    write_json(run / "manifest.json", {"run_id": run.name, "params_hash": "00000000", "stages": {}})
    write_jsonl(run / "02_evolve" / "dataset.jsonl", ROWS)
    return run


def alive(pid: int) -> bool:
    """Running, not merely a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.time() + seconds
    while alive(pid):
        if time.time() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.slow
def test_two_cpu_processes_train_through_accelerate_and_07_loads_the_model(tmp_path):
    from workbench.core.run_folder import RunFolder
    from workbench.llm import GenParams, get_generator
    from workbench.stages.base import open_stage
    from workbench.stages.evaluate.stage import resolve_candidates
    from workbench.stages.finetune.stage import run

    run_dir = _run_folder(tmp_path)
    cfg = Config(variants=["seeds"], method="lora", max_steps=4, batch_size=2, max_length=64, learning_rate=1e-3,
                 lora_targets="q_proj,k_proj,v_proj,o_proj", gradient_checkpointing=False,
                 launcher="accelerate", num_processes=2)
    res = run(open_stage(str(run_dir), "06_finetune"), cfg)
    log = (run_dir / "06_finetune" / "launch" / "seeds.log").read_text()
    assert "process 0 of 2: MULTI_CPU, backend gloo" in log and "process 1 of 2: MULTI_CPU, backend gloo" in log
    seeds = res.logs["seeds"]
    assert seeds["processes"] == 2 and seeds["effective_batch"] == 4 and seeds["steps"] == 4
    losses = [e["loss"] for e in seeds["log"]]
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert res.stats["variants"]["seeds"]["effective_batch"] == 4
    model_dir = run_dir / "06_finetune" / "model" / "seeds"
    assert json.loads((model_dir / "train_summary.json").read_text())["processes"] == 2
    assert "2 processes (effective batch 4)" in (model_dir / "README.md").read_text()
    model = resolve_candidates(RunFolder(run_dir), ("seeds",), "embedded")["seeds"]  # as 07_evaluate finds it
    gen = get_generator(model, {"batch_size": 1, "cache": False}, None)
    reply = gen.generate([[{"role": "user", "content": "Name a warm colour."}]], GenParams(max_new_tokens=6))[0]
    assert reply.ok and reply.text


def test_an_unknown_launcher_or_no_processes_is_refused():
    with pytest.raises(ValueError, match="finetune.launcher: 'torchrun' is not one of in-process, accelerate"):
        Config(launcher="torchrun")
    with pytest.raises(ValueError, match="finetune.num_processes: 0"):
        Config(launcher="accelerate", num_processes=0)


def test_a_missing_or_sharded_accelerate_config_fails_before_work(tmp_path, monkeypatch):
    from workbench.pipeline import params as P

    monkeypatch.chdir(tmp_path)
    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump({"finetune": {"launcher": "accelerate", "accelerate_config": "configs/fsdp.yaml"}}))
    with pytest.raises(P.ParamsError, match="finetune.accelerate_config: file not found: configs/fsdp.yaml"):
        P.load(params)
    (tmp_path / "configs").mkdir()
    fsdp = {"distributed_type": "FSDP", "fsdp_config": {"fsdp_state_dict_type": "SHARDED_STATE_DICT"}}
    (tmp_path / "configs" / "fsdp.yaml").write_text(yaml.safe_dump(fsdp))
    with pytest.raises(P.ParamsError, match="set fsdp_state_dict_type: FULL_STATE_DICT"):
        P.load(params)
    fsdp["fsdp_config"]["fsdp_state_dict_type"] = "FULL_STATE_DICT"
    (tmp_path / "configs" / "fsdp.yaml").write_text(yaml.safe_dump(fsdp))
    assert P.load(params)["finetune"]["accelerate_config"] == "configs/fsdp.yaml"
    # in-process training does not read the file
    assert P.config_errors("finetune", {"accelerate_config": "gone.yaml"}) == []


def test_the_command_starts_n_processes_with_the_users_config_or_a_plain_cpu_group(tmp_path):
    cpu = launch.launch_command(Path("in.json"), Config(launcher="accelerate", num_processes=2), cuda=False)
    assert cpu[:3] == [sys.executable, "-m", "accelerate.commands.launch"] and "--multi_gpu" in cpu
    assert cpu[cpu.index("--num_processes") + 1] == "2" and cpu[-3:] == ["-m", "workbench.stages.finetune.launch", "in.json"]
    one = launch.launch_command(Path("in.json"), Config(launcher="accelerate", num_processes=1), cuda=False)
    assert "--cpu" in one and "--multi_gpu" not in one
    conf = tmp_path / "ds.yaml"
    conf.write_text("distributed_type: DEEPSPEED\n")
    own = launch.launch_command(Path("in.json"), Config(launcher="accelerate", num_processes=8, accelerate_config=str(conf)),
                                cuda=True)
    # the file's distributed_type decides: no flag may override it
    assert own[own.index("--config_file") + 1] == str(conf) and "--multi_gpu" not in own and "--cpu" not in own


def test_a_child_that_fails_raises_its_error_and_names_the_log(tmp_path, monkeypatch, capsys):
    # as torchrun reports a failed process: its traceback, then the launcher's own error, then a summary
    child = textwrap.dedent("""
        import sys, traceback
        print("step 1 of 4", flush=True)
        try:
            raise ValueError("boom in the child")
        except ValueError:
            traceback.print_exc()
        print("torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ", flush=True)
        print("=" * 60, flush=True)
        sys.exit(1)
    """)
    monkeypatch.setattr(launch, "launch_command", lambda inputs, cfg: [sys.executable, "-c", child])
    cfg = Config(launcher="accelerate")
    with pytest.raises(launch.LaunchFailed, match=r"exit code 1\): ValueError: boom in the child; full log: .*seeds\.log"):
        launch.train_launched(ROWS, "embedded", tmp_path / "model", cfg, 0, tmp_path / "launch", "seeds")
    assert "step 1 of 4" in capsys.readouterr().out  # streamed into the notebook
    assert "boom in the child" in (tmp_path / "launch" / "seeds.log").read_text()
    written = json.loads((tmp_path / "launch" / "seeds.inputs.json").read_text())
    assert written["config"]["launcher"] == "accelerate" and len((tmp_path / "launch" / "seeds.rows.jsonl").read_text().splitlines()) == 4
    # a clean exit without the main process's result is a failure too, not an empty summary
    monkeypatch.setattr(launch, "launch_command", lambda inputs, cfg: [sys.executable, "-c", "pass"])
    with pytest.raises(launch.LaunchFailed, match="without writing .*seeds.result.json"):
        launch.train_launched(ROWS, "embedded", tmp_path / "model", cfg, 0, tmp_path / "launch", "seeds")


GRANDCHILD = "import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); " \
             "print(p.pid, flush=True); time.sleep(60)"


def test_an_interrupted_stage_ends_the_launchers_process_group(tmp_path):

    def interrupt(*_):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 3.0)
        with pytest.raises(KeyboardInterrupt):
            launch.run_streaming([sys.executable, "-c", GRANDCHILD], tmp_path / "x.log", "a test")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    pids = [int(line) for line in (tmp_path / "x.log").read_text().splitlines()[1:] if line.strip().isdigit()]
    assert pids and gone_within(pids[0], 5)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_kernel_takes_the_launcher_with_it(tmp_path):
    """kill -9 of the process running the stage (the kernel): its launcher dies too."""
    kernel = textwrap.dedent(f"""
        from pathlib import Path
        from workbench.stages.finetune.launch import run_streaming
        run_streaming([{sys.executable!r}, "-c", "import os, time; print(os.getpid(), flush=True); time.sleep(60)"],
                      Path({str(tmp_path / "k.log")!r}), "a test")
    """)
    proc = subprocess.Popen([sys.executable, "-c", kernel], stdout=subprocess.PIPE, text=True, env=os.environ)
    launcher = int(proc.stdout.readline())
    assert alive(launcher)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert gone_within(launcher, 5)


def test_a_sharded_runs_adapter_is_merged_into_the_form_save_as_asks(tmp_path):
    """FSDP and DeepSpeed save through Trainer.save_model (the adapter, for LoRA); save_as
    float32 then merges it on the main process, and no adapter file is left to mislead a loader.
    (This machine has no GPU: accelerate runs an FSDP config on a CPU as plain DDP, so the
    gathering itself is not exercised here, only what follows it.)"""
    import torch
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import load_file
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    base = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, num_key_value_heads=2))
    base.save_pretrained(tmp_path / "base")
    tuned = get_peft_model(LlamaForCausalLM.from_pretrained(tmp_path / "base"),
                           LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, p in tuned.named_parameters():
            if "lora_B" in name:
                p.fill_(0.5)  # a trained adapter: merged, it changes q_proj
    merged_q = copy.deepcopy(tuned).merge_and_unload().model.layers[0].self_attn.q_proj.weight.detach()

    class ShardedTrainer:  # what save_gathered uses of a Trainer
        args = type("Args", (), {"should_save": True})()

        def save_model(self, out):
            tuned.save_pretrained(out)

    out = tmp_path / "model"
    launch.save_gathered(ShardedTrainer(), out, "float32", "lora")
    assert not (out / "adapter_config.json").exists() and not (out / "adapter_model.safetensors").exists()
    saved = load_file(out / "model.safetensors")["model.layers.0.self_attn.q_proj.weight"]
    assert torch.allclose(saved, merged_q) and not torch.allclose(saved, base.model.layers[0].self_attn.q_proj.weight)
