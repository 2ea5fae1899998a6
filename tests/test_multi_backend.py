"""Several OpenAI-compatible servers behind one model string, streaming cache commits, and
the in-process vLLM backend (its real runs skip where vllm is absent)."""

import importlib.util
import sys
import types

import pytest
from openai_stub import StubServer, obliging_reply

from workbench.llm import BackendError, GenParams, get_generator
from workbench.llm.base import Completion
from workbench.llm.cache import ResponseCache
from workbench.llm.generator import Generator
from workbench.llm.multi import ServerPool, split_urls
from workbench.llm.registry import load_backend, parse_model_string

RUN = {"max_concurrency": 4, "max_retries": 2, "request_timeout": 5.0, "cache": True}


def _prompts(n):
    return [[{"role": "user", "content": f"question {i}"}] for i in range(n)]


def test_url_list_is_checked():
    assert split_urls("http://a/v1, http://b/v1") == ["http://a/v1", "http://b/v1"]
    with pytest.raises(BackendError, match="http://"):
        split_urls("http://a/v1,ftp://b")
    with pytest.raises(BackendError, match="twice"):
        split_urls("http://a/v1,http://a/v1")


def test_requests_are_spread_over_every_server_and_come_back_in_order(tmp_path):
    with StubServer() as a, StubServer() as b:
        gen = get_generator(f"openai:m@{a.url},{b.url}", RUN, tmp_path / "responses.sqlite")
        outs = gen.generate(_prompts(40), GenParams(max_new_tokens=8))
        assert [c.text for c in outs] == [obliging_reply(f"question {i}") for i in range(40)]
        assert len(a.requests) + len(b.requests) == 40
        assert len(a.requests) >= 8 and len(b.requests) >= 8  # both used, neither starved
        assert gen.model_id == f"openai:m@{','.join(sorted([a.url, b.url]))}"
        again = gen.generate(_prompts(40), GenParams(max_new_tokens=8))
        assert all(c.cached for c in again) and len(a.requests) + len(b.requests) == 40


def test_one_url_keeps_the_single_server_model_id():
    backend = load_backend("openai:m@http://127.0.0.1:9/v1", RUN)
    assert isinstance(backend, ServerPool)
    assert backend.model_id == "openai:m@http://127.0.0.1:9/v1"  # stats and records name the server
    assert backend.cache_id == "openai:m"  # the cache key names only the model


def test_a_failing_server_fails_its_items_with_a_reason_and_loses_none(tmp_path):
    with StubServer() as good, StubServer(fail_every=1, fail_status=400) as bad:
        gen = get_generator(f"openai:m@{good.url},{bad.url}", RUN, tmp_path / "responses.sqlite")
        outs = gen.generate(_prompts(20), GenParams(max_new_tokens=8))
        assert len(outs) == 20 and all(c is not None for c in outs)
        failed = [c for c in outs if not c.ok]
        assert failed and all("HTTP 400" in c.error for c in failed)
        assert gen.stats["errors"] == len(failed) == len(bad.requests)
        assert len(ResponseCache(tmp_path / "responses.sqlite")) == 20 - len(failed)


class _Streaming:
    """Yields two batches, then dies like a killed process would."""
    model_id, chunk_size = "fake:stream", 100

    def generate_each(self, prompts, gen):
        yield [(0, Completion("a")), (1, Completion("b"))]
        yield [(2, Completion("c"))]
        raise KeyboardInterrupt

    def generate(self, prompts, gen):  # pragma: no cover - the stream is used
        raise AssertionError("streaming backends are not called per chunk")


def test_streamed_completions_are_cached_as_they_arrive(tmp_path):
    cache = ResponseCache(tmp_path / "r.sqlite")
    gen = Generator(_Streaming(), cache)
    with pytest.raises(KeyboardInterrupt):
        gen.generate(_prompts(6), GenParams())
    assert len(cache) == 3  # everything delivered before the kill survives it


def test_vllm_model_string_parses():
    assert parse_model_string("vllm:/models/llama") == ("vllm", "/models/llama", None)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_vllm_absent_gives_a_clear_error():
    with pytest.raises(BackendError, match="needs the vllm package.*openai:"):
        load_backend("vllm:/models/x", {})


# vLLM's documented signatures (docs.vllm.ai, "Inference Parameters" and the LLM class, v0.8):
# the fake below takes exactly these keywords, so a misspelt or dropped argument is a TypeError,
# as it would be against the real module.
VLLM_LLM_ARGS = (
    "model", "tokenizer", "tokenizer_mode", "skip_tokenizer_init", "trust_remote_code", "tensor_parallel_size",
    "dtype", "quantization", "revision", "tokenizer_revision", "seed", "gpu_memory_utilization", "swap_space",
    "cpu_offload_gb", "enforce_eager", "max_seq_len_to_capture", "task",
    # engine arguments LLM passes on (EngineArgs)
    "enable_prefix_caching", "max_model_len", "data_parallel_size", "pipeline_parallel_size", "max_num_seqs",
)
VLLM_SAMPLING_ARGS = (
    "n", "best_of", "presence_penalty", "frequency_penalty", "repetition_penalty", "temperature", "top_p", "top_k",
    "min_p", "seed", "stop", "stop_token_ids", "ignore_eos", "max_tokens", "min_tokens", "logprobs",
    "prompt_logprobs", "detokenize", "skip_special_tokens", "spaces_between_special_tokens",
    "include_stop_str_in_output", "truncate_prompt_tokens", "logit_bias", "allowed_token_ids", "bad_words",
)
VLLM_GENERATE_ARGS = ("prompts", "sampling_params", "prompt_token_ids", "use_tqdm", "lora_request", "priority")


def _only(names, what):
    def check(*args, **kw):
        unknown = set(kw) - set(names)
        if unknown:
            raise TypeError(f"{what}() got unexpected keyword arguments {sorted(unknown)}")
        return kw
    return check


def test_vllm_backend_maps_requests_and_outputs(monkeypatch):
    made = {}
    sampling_args = _only(VLLM_SAMPLING_ARGS, "SamplingParams")
    generate_args = _only(VLLM_GENERATE_ARGS, "LLM.generate")

    class LLM:
        def __init__(self, **kw):
            made.update(_only(VLLM_LLM_ARGS, "LLM")(**kw))

        def get_tokenizer(self):
            return types.SimpleNamespace(apply_chat_template=lambda m, **kw: "<user>" + m[-1]["content"])

        def generate(self, prompts, sampling_params=None, **kw):
            generate_args(**kw)
            made["prompts"], made["sampling"] = prompts, sampling_params
            out = lambda t: types.SimpleNamespace(text=f" {t} ", token_ids=[1] * len(t))  # noqa: E731
            return [types.SimpleNamespace(prompt_token_ids=[0, 0], outputs=[out(p.upper())]) if "x" not in p
                    else types.SimpleNamespace(prompt_token_ids=[0], outputs=[]) for p in prompts]

    fake = types.ModuleType("vllm")
    fake.LLM, fake.SamplingParams = LLM, sampling_args
    monkeypatch.setitem(sys.modules, "vllm", fake)
    from workbench.llm.multi import VLLMBackend

    backend = VLLMBackend("/models/m")
    assert made["enable_prefix_caching"] is True and backend.model_id == "vllm:/models/m"
    outs = backend.generate([[{"role": "user", "content": "hi"}], [{"role": "user", "content": "x"}]],
                            GenParams(max_new_tokens=5))
    assert made["prompts"] == ["<user>hi", "<user>x"]
    assert made["sampling"]["max_tokens"] == 5 and made["sampling"]["temperature"] == 0.0
    assert outs[0].text == "<USER>HI" and outs[0].completion_tokens == 8 and outs[0].prompt_tokens == 2
    assert not outs[1].ok and "no output" in outs[1].error
    with pytest.raises(TypeError, match="max_new_tokens"):  # the check itself: a drifted name fails
        sampling_args(max_new_tokens=5)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm is not installed")
def test_vllm_real_backend_loads_a_local_model():  # pragma: no cover - GPU machines only
    from workbench.llm.hf import embedded_model_dir

    backend = load_backend(f"vllm:{embedded_model_dir()}", {})
    outs = backend.generate([[{"role": "user", "content": "Say hi."}]], GenParams(max_new_tokens=8))
    assert outs[0].ok and outs[0].text


class _StreamingProbs:
    model_id, chunk_size = "fake:probs", 100

    def choice_probs_each(self, prompts, choices):
        yield [(1, {"Equal": 0.1, "Not Equal": 0.9}), (0, None)]
        raise KeyboardInterrupt

    def choice_probs(self, prompts, choices):  # pragma: no cover - the stream is used
        raise AssertionError("streaming backends are not called per chunk")


def test_streamed_probabilities_are_cached_as_they_arrive_and_none_is_not(tmp_path):
    cache = ResponseCache(tmp_path / "r.sqlite")
    gen = Generator(_StreamingProbs(), cache)
    with pytest.raises(KeyboardInterrupt):
        gen.choice_probs(_prompts(4), ["Equal", "Not Equal"])
    assert len(cache) == 1  # the delivered probabilities; "no probabilities" is asked again
