"""06_finetune through `accelerate launch` (finetune.launcher: accelerate): the same training
code (train.train_variant) in finetune.num_processes processes, one per GPU, with DDP, FSDP or
DeepSpeed as finetune.accelerate_config says; without a config, plain data parallel.

For each variant the stage writes, in <stage>/launch/:
    <variant>.rows.jsonl     the variant's rows, as 06 chose them
    <variant>.inputs.json    {rows, out_dir, base_model, seed, config, result}
and runs
    python -m accelerate.commands.launch --num_processes N [--config_file F] \\
        -m workbench.stages.finetune.launch <stage>/launch/<variant>.inputs.json
Every line the launcher and its processes print goes into the notebook and <variant>.log; the
main process writes <variant>.result.json (train_variant's summary with the loss log). The
effective batch is num_processes x batch_size x grad_accum.

A failed launch raises LaunchFailed with the child's error and the log's path. The launcher runs
in its own process group, killed when the stage is interrupted; on Linux it dies with the kernel
and each training process with the launcher (PR_SET_PDEATHSIG), so a killed run leaves none.
"""

from __future__ import annotations

import collections
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from workbench.core import progress
from workbench.core.io import read_jsonl, write_json, write_jsonl

LAUNCHERS = ("in-process", "accelerate")
PR_SET_PDEATHSIG = 1
# the last line of a traceback: "ValueError: ...", "torch.OutOfMemoryError: ...", "[rank1]: OSError: ..."
ERROR_LINE = re.compile(r"^(\[rank\d+\]:\s*)?(\w+\.)*\w*(Error|Exception|Interrupt)\b")
# how the launcher reports that a training process failed: the process's own error says why
LAUNCHER_ERRORS = re.compile(r"^(\[rank\d+\]:\s*)?(\w+\.)*(ChildFailedError|CalledProcessError)\b")


class LaunchFailed(RuntimeError):
    pass


def launcher_errors(cfg) -> list[str]:
    """finetune.launcher and its settings, on the values alone."""
    if cfg.launcher not in LAUNCHERS:
        return [f"finetune.launcher: {cfg.launcher!r} is not one of {', '.join(LAUNCHERS)}"]
    if not isinstance(cfg.num_processes, int) or isinstance(cfg.num_processes, bool) or cfg.num_processes < 1:
        return [f"finetune.num_processes: {cfg.num_processes!r} is not a whole number above 0"]
    return []


def accelerate_config_errors(path: str) -> list[str]:
    """finetune.accelerate_config read before any work: a YAML mapping, and one whose FSDP or
    DeepSpeed settings save the model whole (07_evaluate cannot load sharded checkpoints)."""
    if not path:
        return []
    import yaml

    file = Path(path).expanduser()
    if not file.is_file():
        return [f"finetune.accelerate_config: file not found: {path}"]
    try:
        conf = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        return [f"finetune.accelerate_config: {path} is not readable YAML: {e}"]
    if not isinstance(conf, dict):
        return [f"finetune.accelerate_config: {path} is not a mapping of accelerate settings"]
    kind = str(conf.get("distributed_type", ""))
    fsdp_dict = str((conf.get("fsdp_config") or {}).get("fsdp_state_dict_type", "FULL_STATE_DICT"))
    if kind == "FSDP" and fsdp_dict != "FULL_STATE_DICT":
        return [f"finetune.accelerate_config: {path}: fsdp_state_dict_type {fsdp_dict} saves shards 07_evaluate "
                "cannot load; set fsdp_state_dict_type: FULL_STATE_DICT"]
    deepspeed = conf.get("deepspeed_config") or {}
    if kind == "DEEPSPEED" and str(deepspeed.get("zero_stage")) == "3" and not deepspeed.get("zero3_save_16bit_model"):
        return [f"finetune.accelerate_config: {path}: ZeRO-3 saves shards 07_evaluate cannot load; "
                "set zero3_save_16bit_model: true"]
    return []


def launch_command(inputs: Path, cfg, cuda: bool | None = None) -> list[str]:
    """The accelerate launch command line for one variant's inputs file."""
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(cfg.num_processes)]
    if cfg.accelerate_config:
        # the file's distributed_type (MULTI_GPU, FSDP, DEEPSPEED) chooses the launcher; a flag would override it
        cmd += ["--config_file", str(Path(cfg.accelerate_config).expanduser().resolve())]
    else:
        cmd += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                "--main_process_port", "0"]  # 0: a free port, so two runs on one machine do not collide
        if cfg.num_processes > 1:
            # accelerate's --cpu starts one process unless run under mpirun; its torchrun path
            # (--multi_gpu) starts N, which on a machine without CUDA join a gloo group on the CPU
            cmd += ["--multi_gpu"]
        elif not cuda:
            cmd += ["--cpu"]
    return cmd + ["-m", __spec__.name, str(inputs)]  # this module, also when it runs as __main__


def train_launched(rows: list[dict], base_model: str, out_dir: Path, cfg, seed: int, folder: Path,
                   variant: str) -> dict:
    """Train one variant through accelerate launch; return the main process's summary."""
    folder.mkdir(parents=True, exist_ok=True)
    rows_file, result = folder / f"{variant}.rows.jsonl", folder / f"{variant}.result.json"
    result.unlink(missing_ok=True)  # a result left by an earlier attempt must not pass for this one
    write_jsonl(rows_file, rows)
    inputs = folder / f"{variant}.inputs.json"
    write_json(inputs, {"rows": str(rows_file), "out_dir": str(out_dir), "base_model": base_model, "seed": seed,
                        "config": cfg.as_dict(), "result": str(result)})
    log = folder / f"{variant}.log"
    print(f"accelerate launch: {cfg.num_processes} processes, effective batch "
          f"{cfg.num_processes * cfg.batch_size * cfg.grad_accum}; log: {log}")
    run_streaming(launch_command(inputs, cfg), log, f"training {variant} through accelerate")
    if not result.is_file():
        raise LaunchFailed(f"06_finetune: accelerate launch for {variant} exited without writing {result}; see {log}")
    return json.loads(result.read_text(encoding="utf-8"))


def run_streaming(cmd: list[str], log: Path, what: str) -> None:
    """Run cmd, echoing each line of its output to the notebook and to `log`; on a non-zero
    exit raise LaunchFailed with the child's error and the log's path. Whatever stops the
    stage meanwhile (an interrupt, an exception) ends the child's whole process group."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", TQDM_DISABLE="1")  # whole lines, at once, not bars redrawn
    tail, error = collections.deque(maxlen=40), None
    with open(log, "w", encoding="utf-8") as out:
        out.write(" ".join(cmd) + "\n")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                                env=env, start_new_session=True,
                                preexec_fn=die_with_parent if sys.platform.startswith("linux") else None)
        try:
            for line in proc.stdout:
                print(line, end="", flush=True)
                out.write(line)
                out.flush()
                tail.append(line.strip())
                if ERROR_LINE.match(line) and not LAUNCHER_ERRORS.match(line):
                    error = line.strip()  # the last one: a traceback's own line, after its "During handling"
            code = proc.wait()
        except BaseException:
            end_group(proc)
            raise
    if code != 0:
        words = [line for line in tail if line.strip("=-")]
        why = error or (words[-1] if words else "no output")  # killed by a signal, a worker prints no error
        raise LaunchFailed(f"06_finetune: {what} failed (exit code {code}): {why}; full log: {log}")


def end_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM to the launcher's process group (torchrun's agent then stops its workers), then
    SIGKILL to what is left."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies (the kernel for the launcher, the
    launcher for each training process), however the parent died."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def save_gathered(trainer, out_dir: Path, form: str, method: str) -> None:
    """FSDP and DeepSpeed hold the weights in shards. Trainer.save_model gathers them (every
    process takes part; accelerate_config_errors makes sure the config saves them whole) and
    the main process writes the model as trained: the adapter for LoRA, else the whole model.
    Another save_as form is then made from that copy, on the main process."""
    trainer.save_model(str(out_dir))
    trained = "adapter" if method == "lora" else "float32"
    if form == trained or not trainer.args.should_save:
        return
    import torch

    from workbench.llm.weights import ADAPTER_CONFIG
    from workbench.stages.finetune.train import save_model

    if trained == "adapter":
        from peft import AutoPeftModelForCausalLM as Loader
    else:
        from transformers import AutoModelForCausalLM as Loader
    model = Loader.from_pretrained(out_dir, dtype=torch.float32)
    for name in (ADAPTER_CONFIG, "adapter_model.safetensors", "adapter_model.bin"):
        (out_dir / name).unlink(missing_ok=True)  # left beside merged weights, loaders would take the folder for an adapter
    save_model(model, out_dir, form)


def progress_callback():
    """A TrainerCallback for the runner's progress line: steps done of all, the last loss.
    Only the main process writes it."""
    from transformers import TrainerCallback

    class ProgressLine(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                progress.tracker().begin("train steps", state.max_steps)

        def on_step_end(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                progress.tracker().update(done=1)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and logs and "loss" in logs:
                progress.tracker().note(f"loss {logs['loss']:.4f}")

    return ProgressLine()


def main(argv: list[str] | None = None) -> None:
    """One training process: every process trains, the main one writes the model and result."""
    from accelerate.state import AcceleratorState

    from workbench.stages.finetune.stage import Config
    from workbench.stages.finetune.train import train_variant

    if sys.platform.startswith("linux"):
        ppid = os.getppid()
        die_with_parent()
        if os.getppid() != ppid:  # the launcher died before the line above took effect
            sys.exit(1)
    inputs = json.loads(Path((argv or sys.argv[1:])[0]).read_text(encoding="utf-8"))
    cfg = Config(**inputs["config"])
    summary = train_variant(read_jsonl(inputs["rows"]), inputs["base_model"], Path(inputs["out_dir"]), cfg,
                            inputs["seed"], callbacks=[progress_callback()])
    state = AcceleratorState()  # the trainer's: made before it, it would not know the CPU is meant
    print(f"process {state.process_index} of {state.num_processes}: {state.distributed_type.value}, "
          f"backend {state.backend}, device {state.device}", flush=True)
    if state.is_main_process:
        write_json(Path(inputs["result"]), summary)


if __name__ == "__main__":
    main()
