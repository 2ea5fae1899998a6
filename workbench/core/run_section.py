"""The `run:` section of the params, declared once, written like a notebook's parameters cell
(one literal per line, a `# help` comment with its rule) so it is parsed and checked the same
way (pipeline/params.py). Code that takes a partial run section (a test, a library user)
completes it with `with_defaults`, never with defaults of its own.

    >>> with_defaults({"model": "hf:x"})["max_concurrency"]
    8
"""

from __future__ import annotations

import ast

RUN_SECTION = """
name = "run"  # short name, part of the run folder name
seed = 0  # run seed: sampling, op choice, shuffles [min 0]
limit = 0  # cap on items each stage processes, for quick runs; 0 means no cap [min 0]
model = "embedded"  # default model for every stage: embedded | hf:<path or name> | openai:<model>@<base_url> | openai-batch:<model>@<base_url> | vllm:<path or name>
batch_size = 16  # prompts per generate() call for local models [>0]
dtype = "auto"  # local model weights: auto (float32 on CPU, the checkpoint's on GPU), float32, or bfloat16 (faster on CPU, changes some outputs) {auto|float32|bfloat16}
api_key_env = "OPENAI_API_KEY"  # env var holding the API key for openai: models (never written to disk)
max_concurrency = 8  # parallel requests to an OpenAI-compatible server [>0]
max_retries = 5  # retries per request on 429/5xx/timeouts [min 0]
request_timeout = 120.0  # seconds before one request times out [>0]
cache = True  # reuse cached model responses (outputs/cache/responses.sqlite)
batch_poll_interval = 30.0  # openai-batch: models: seconds between polls of a submitted batch [>0]
batch_dry_run = False  # openai-batch: models: write the batch input and its estimate (requests, prompt tokens) to the stage folder, submit nothing, stop the stage
vllm_args = {}  # vllm: models only: vLLM engine settings by their EngineArgs names (tensor_parallel_size, data_parallel_size, gpu_memory_utilization, max_model_len, max_logprobs, ...), checked by name before work
"""

DEFAULTS: dict = {node.targets[0].id: ast.literal_eval(node.value)
                  for node in ast.parse(RUN_SECTION).body if isinstance(node, ast.Assign)}


def with_defaults(run: dict) -> dict:
    """A run section with every key: `run`'s values over the declared defaults."""
    unknown = set(run) - set(DEFAULTS)
    if unknown:
        raise KeyError(f"unknown run keys: {', '.join(sorted(unknown))} (known: {', '.join(DEFAULTS)})")
    return DEFAULTS | run
