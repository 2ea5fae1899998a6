"""The `vllm:` backend against a fake `vllm` module with vLLM's public shapes (LLM, SamplingParams,
EngineArgs, RequestOutput with prompt_logprobs and per-token {token id: Logprob}): engine
settings reach LLM(...) and are checked by name before work; choice probabilities and IFD losses
mean what they mean on the HF backend, by hand on a bigram table and against HFBackend itself on
a tiny random model."""

import dataclasses
import math
import sys
import types

import pytest
import yaml

from workbench.llm import GenParams, registry
from workbench.llm.cache import ResponseCache
from workbench.llm.generator import Generator
from workbench.llm.rating import RATINGS, rate
from workbench.pipeline import params as P

CHARS = list("0123456789 ./,:\nabcdefghijklmnopqrstuvwxyzUA")
TEMPLATE = "{% for m in messages %}U:{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}A:{% endif %}"
# vLLM's documented SamplingParams keywords the backend may use; anything else is a TypeError, as there
SAMPLING_ARGS = {"max_tokens", "temperature", "top_p", "seed", "logprobs", "prompt_logprobs", "detokenize"}
# P(next token | last token), as text; the rest of the vocabulary has probability 0
BIGRAMS = {
    ":": {"7": 0.5, "1": 0.3, " ": 0.1, "<eos>": 0.1},   # the prompt ends "A:"
    "7": {"<eos>": 0.6, "/": 0.2, "0": 0.1, ".": 0.1},   # "7/10" ends the reply, "70" and "7." do not
    "1": {"0": 0.5, ".": 0.3, "<eos>": 0.2},
    "0": {"<eos>": 0.9, "a": 0.1},
}
OTHERWISE = {"a": 0.5, "<eos>": 0.5}
JUDGE = [[{"role": "user", "content": "rate it"}]]


def char_tokenizer():
    """One token per character, <eos> special, the chat template above."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<eos>": 0, "<unk>": 1} | {c: i + 2 for i, c in enumerate(CHARS)}
    inner = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    inner.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=inner, eos_token="<eos>", unk_token="<unk>", pad_token="<eos>")
    tok.chat_template = TEMPLATE
    return tok


@pytest.fixture(scope="module")
def tok():
    return char_tokenizer()


def bigram_model(tok):
    """ids -> [probabilities of the token after ids[:t + 1]] for every t: a model's one forward pass."""
    def after(token):
        probs = [0.0] * len(tok)
        for text, p in BIGRAMS.get(tok.convert_ids_to_tokens(token), OTHERWISE).items():
            probs[tok.convert_tokens_to_ids(text)] = p
        return probs
    return lambda ids: [after(t) for t in ids]


def install_fake_vllm(monkeypatch, tok, forward) -> dict:
    """A `vllm` module whose LLM answers from forward(token ids) -> next-token probabilities at
    each position; returns what its LLM is given (engine settings, then "requests")."""
    made: dict = {}

    @dataclasses.dataclass
    class Logprob:
        logprob: float
        rank: int | None = None
        decoded_token: str | None = None

    @dataclasses.dataclass
    class EngineArgs:
        model: str = "facebook/opt-125m"
        tokenizer: str | None = None
        dtype: str = "auto"
        seed: int = 0
        tensor_parallel_size: int = 1
        data_parallel_size: int = 1
        gpu_memory_utilization: float = 0.9
        max_model_len: int | None = None
        enable_prefix_caching: bool | None = None
        max_logprobs: int = 20
        quantization: str | None = None
        skip_tokenizer_init: bool = False
        speculative_config: dict | None = None

    class SamplingParams:
        def __init__(self, **kw):
            if set(kw) - SAMPLING_ARGS:
                raise TypeError(f"SamplingParams() got unexpected keyword arguments {sorted(set(kw) - SAMPLING_ARGS)}")
            self.__dict__.update(dict.fromkeys(SAMPLING_ARGS) | kw)

    def ranked(probs, token, k):
        order = sorted(range(len(probs)), key=lambda t: -probs[t])
        keep = order if k == -1 else order[:k]
        return {t: Logprob(math.log(probs[t]) if probs[t] else -math.inf, order.index(t) + 1) for t in {*keep, token}}

    class LLM:
        def __init__(self, model, **kw):
            self.args = EngineArgs(model=model, **kw)  # an unknown name is a TypeError, as in vLLM
            made.update(model=model, **kw)

        def get_tokenizer(self):
            return tok

        def generate(self, prompts, sampling_params=None, use_tqdm=True):
            sp = sampling_params
            if sp.logprobs is not None and sp.logprobs > self.args.max_logprobs:
                raise ValueError(f"Requested sample logprobs of {sp.logprobs}, which is greater than max allowed: "
                                 f"{self.args.max_logprobs}")
            made.setdefault("requests", []).append((prompts, sp))
            return [self._one(p["prompt_token_ids"] if isinstance(p, dict) else tok(p).input_ids, sp) for p in prompts]

        def _one(self, ids, sp):
            new, samples = [], []
            while len(new) < sp.max_tokens and (not new or new[-1] != tok.eos_token_id):
                probs = forward(ids + new)[-1]
                new.append(max(range(len(probs)), key=probs.__getitem__))
                samples.append(ranked(probs, new[-1], sp.logprobs or 0))
            dists = forward(ids)  # dists[t - 1]: the distribution prompt token t was drawn from
            prompt_lps = None if sp.prompt_logprobs is None else [None] + [
                ranked(dists[t - 1], ids[t], sp.prompt_logprobs) for t in range(1, len(ids))]
            out = types.SimpleNamespace(text=tok.decode(new, skip_special_tokens=True), token_ids=new,
                                        logprobs=samples if sp.logprobs is not None else None)
            return types.SimpleNamespace(prompt_token_ids=ids, prompt_logprobs=prompt_lps, outputs=[out])

    fake = types.ModuleType("vllm")
    fake.LLM, fake.SamplingParams, fake.EngineArgs = LLM, SamplingParams, EngineArgs
    monkeypatch.setitem(sys.modules, "vllm", fake)
    monkeypatch.setattr(registry, "_LOADED", {})
    return made


def backend(monkeypatch, tok, forward=None, **vllm_args):
    """(a vllm: backend on the fake engine, what the engine was given)."""
    made = install_fake_vllm(monkeypatch, tok, forward or bigram_model(tok))
    return registry.load_backend("vllm:/models/judge", {"vllm_args": vllm_args}), made


def test_engine_settings_reach_llm_and_name_the_model(monkeypatch, tok):
    made = install_fake_vllm(monkeypatch, tok, bigram_model(tok))
    args = {"tensor_parallel_size": 2, "data_parallel_size": 2, "gpu_memory_utilization": 0.5, "max_model_len": 4096,
            "enable_prefix_caching": False}
    b = registry.load_backend("vllm:/models/judge", {"vllm_args": args, "dtype": "bfloat16"})
    assert made == {"model": "/models/judge", "dtype": "bfloat16"} | args  # the user's prefix caching wins
    assert b.model_id == "vllm:/models/judge@bfloat16"  # parallelism and memory do not change answers
    quantized = registry.load_backend("vllm:/models/judge", {"vllm_args": {"quantization": "awq"}})
    assert quantized is not b and quantized.model_id == "vllm:/models/judge[quantization=awq]"
    assert registry.load_backend("vllm:/models/judge", {"vllm_args": {"quantization": "awq"}}) is quantized


def _params_error(tmp_path, vllm_args) -> str:
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump({"run": {"vllm_args": vllm_args}}))
    with pytest.raises(P.ParamsError) as e:
        P.load(f)
    assert str(f) in str(e.value)
    return str(e.value)


def test_unknown_engine_settings_fail_before_work_with_a_suggestion(monkeypatch, tok, tmp_path):
    install_fake_vllm(monkeypatch, tok, bigram_model(tok))
    why = _params_error(tmp_path, {"tensor_paralel_size": 2})
    assert "run.vllm_args: 'tensor_paralel_size' is not a vLLM engine setting (did you mean 'tensor_parallel_size'?)" in why
    assert "not installed" not in why
    ok = P.validate({"run": {"vllm_args": {"speculative_config": {"method": "ngram"}}}})  # the installed EngineArgs
    assert ok["run"]["vllm_args"] == {"speculative_config": {"method": "ngram"}}
    assert P.validate({"run": {}})["run"]["vllm_args"] == {}


def test_without_vllm_common_settings_are_checked_and_the_message_says_so(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm fails, as where it is not installed
    assert P.validate({"run": {"vllm_args": {"gpu_memory_utilization": 0.8, "max_model_len": 2048}}})
    why = _params_error(tmp_path, {"gpu_memory_utilisation": 0.8, "speculative_config": {}})
    assert "did you mean 'gpu_memory_utilization'?" in why and "'speculative_config' is not a vLLM engine setting" in why
    assert "checked where vllm is installed" in why


def test_settings_the_workbench_makes_are_refused_naming_its_own(monkeypatch, tok, tmp_path):
    install_fake_vllm(monkeypatch, tok, bigram_model(tok))
    why = _params_error(tmp_path, {"model": "/other", "dtype": "half"})
    assert "model is set by the workbench (from the model string" in why and "dtype is set by the workbench (from run.dtype)" in why
    with pytest.raises(registry.BackendError, match="did you mean 'max_model_len'"):  # library use: same check
        registry.load_backend("vllm:/m", {"vllm_args": {"max_model_length": 10}})


def test_choice_probabilities_are_whole_reply_probabilities(monkeypatch, tok):
    b, made = backend(monkeypatch, tok)
    [probs] = b.choice_probs(JUDGE, RATINGS)
    # "7": 0.5 x stop after it (<eos> 0.6 + "/" 0.2; "0" and "." carry on); "1": 0.3 x <eos> 0.2;
    # "10": 0.3 x 0.5 x <eos> 0.9; no other rating is reachable. Not normalised, as on HF.
    expect = dict.fromkeys(RATINGS, 0.0) | {"7": 0.5 * 0.8, "1": 0.3 * 0.2, "10": 0.3 * 0.5 * 0.9}
    assert probs == pytest.approx(expect, abs=1e-12)
    prompt = tok("U:rate it\nA:", add_special_tokens=False).input_ids
    assert probs.prompt_tokens == 10 * len(prompt) + 11 and probs.completion_tokens == 10
    [(requests, scoring)] = made["requests"]
    assert requests[9] == {"prompt_token_ids": prompt + tok("10", add_special_tokens=False).input_ids}
    assert (scoring.max_tokens, scoring.temperature, scoring.prompt_logprobs, scoring.logprobs) == (1, 0.0, 0, 20)


def test_the_stop_mass_counts_the_top_tokens_vllm_returns(monkeypatch, tok):
    b, _ = backend(monkeypatch, tok, max_logprobs=1)  # the top token only: a lower bound, never more
    [probs] = b.choice_probs(JUDGE, ["7", "1", "10"])
    assert probs == pytest.approx({"7": 0.5 * 0.6, "1": 0.0, "10": 0.3 * 0.5 * 0.9}, abs=1e-12)
    assert b.model_id == "vllm:/models/judge[max_logprobs=1]"  # other probabilities, other cache rows


def test_continuation_losses_are_the_mean_negative_log_probability(monkeypatch, tok):
    b, _ = backend(monkeypatch, tok)
    ids = lambda text: tok(text, add_special_tokens=False).input_ids  # noqa: E731
    losses = b.continuation_losses([ids("A:"), ids("x7")], [ids("10"), ids("/")])
    assert losses == pytest.approx([-(math.log(0.3) + math.log(0.5)) / 2, -math.log(0.2)])
    assert math.isnan(b.continuation_losses([ids("A:")], [[]])[0])  # HF's mean over no token
    with pytest.raises(registry.BackendError, match="every context needs a token"):
        b.continuation_losses([[]], [ids("1")])


def test_a_judge_rates_through_the_generator_on_vllm(monkeypatch, tok, tmp_path):
    b, made = backend(monkeypatch, tok)
    gen = Generator(b, ResponseCache(tmp_path / "responses.sqlite"))
    [rating] = rate(JUDGE, gen, mode="auto")
    mass = 0.4 + 0.06 + 0.135
    assert rating["rating_mode"] == "expected" and rating["rating_reason"] is None
    assert rating["rating"] == pytest.approx((7 * 0.4 + 1 * 0.06 + 10 * 0.135) / mass)
    assert rating["rating_mass"] == round(mass, 4)
    assert rate(JUDGE, gen, mode="auto") == [rating] and len(made["requests"]) == 1  # cached
    assert gen.stats["prompt_tokens"] > 0 and gen.stats["calls"] == 1
    [reply] = b.generate(JUDGE, GenParams(max_new_tokens=4))
    assert reply.text == "7" and reply.completion_tokens == 2  # greedy: "7" then <eos>


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, tok):
    """A random 2-layer Llama over the character vocabulary, saved as a model folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight.mul_(20)  # peaked distributions, so the choices differ by more than noise
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture
def one_thread():
    """A model this small runs ~30x faster on one thread than on two contended ones."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_choice_probs_and_losses_match_the_hf_backend_on_one_model(monkeypatch, tok, tiny_model, one_thread):
    import torch

    from workbench.llm.hf import HFBackend

    hf = HFBackend(str(tiny_model), batch_size=4)

    def forward(ids):  # the engine's forward pass: the same weights as the HF backend's
        with torch.inference_mode():
            return torch.softmax(hf.model(input_ids=torch.tensor([ids])).logits[0].float(), -1).tolist()

    judges = JUDGE + [[{"role": "user", "content": "how hard is this, 1 to 10"}]]
    exact, _ = backend(monkeypatch, tok, forward, max_logprobs=len(tok))  # every next token returned
    want = hf.choice_probs(judges, RATINGS)
    for got, expect in zip(exact.choice_probs(judges, RATINGS), want):
        assert got == pytest.approx(expect, rel=1e-4, abs=1e-9)
    top20, _ = backend(monkeypatch, tok, forward)
    for got, expect in zip(top20.choice_probs(judges, RATINGS), want):
        assert all(got[c] <= expect[c] * (1 + 1e-4) + 1e-9 for c in RATINGS)  # a lower bound of HF's
    contexts = [tok(hf.render(j), add_special_tokens=False).input_ids for j in judges]
    answers = [tok("7 because", add_special_tokens=False).input_ids] * 2
    assert exact.continuation_losses(contexts, answers) == pytest.approx(hf.continuation_losses(contexts, answers),
                                                                         rel=1e-4)
