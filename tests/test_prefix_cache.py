"""Prefix-KV reuse: grouping by shared token prefix, assembled caches, and exactness against
the plain left-padded batch (on a tiny random Llama, and on the real embedded model)."""

import pytest
import torch

from workbench.core.packs import load_pack
from workbench.llm.prefix_cache import (
    BLOCK,
    PrefixStore,
    assemble,
    generate_shared,
    group_by_prefix,
    length_buckets,
)

T1 = list(range(100, 140))  # a 40-token "template"
T2 = list(range(100, 120)) + list(range(200, 220))  # shares only a 20-token header with T1


def test_groups_follow_templates_not_the_shared_header():
    seqs = [T1 + [1, 2], T2 + [3], T1 + [4, 5, 6], T2 + [7, 8], T1 + [9]]
    groups = group_by_prefix(seqs)
    got = sorted((sorted(g.members), g.prefix_len) for g in groups)
    # merging everything would share only the 20-token header; per template saves more
    assert got == [([0, 2, 4], 40), ([1, 3], 40)]


def test_every_member_keeps_at_least_one_token_outside_the_prefix():
    seqs = [T1, T1 + [5], T1]
    for g in group_by_prefix(seqs):
        assert all(len(seqs[m]) > g.prefix_len for m in g.members)
        assert all(seqs[m][:g.prefix_len] == seqs[g.members[0]][:g.prefix_len] for m in g.members)


def test_unrelated_prompts_are_singletons_and_every_index_is_placed_once():
    seqs = [[1, 2, 3], [4, 5], [6], [1, 2, 9]]
    groups = group_by_prefix(seqs, min_shared=8)
    assert sorted(m for g in groups for m in g.members) == [0, 1, 2, 3]
    assert all(len(g.members) == 1 for g in groups)  # a 2-token overlap is not worth a group


def test_length_buckets_keep_one_long_row_from_padding_the_short_ones():
    lengths = [20, 300, 22, 18, 290, 5, 21]
    buckets = length_buckets(lengths, max_rows=2)
    assert sorted(i for b in buckets for i in b) == list(range(len(lengths)))
    assert buckets[0] == [1, 4]  # the two long rows together, longest first
    for b in buckets:
        assert len(b) <= 2
        assert min(lengths[i] for i in b) >= 0.75 * max(lengths[i] for i in b)
    assert [5] in buckets  # too short to share a batch with the 18-22 rows
    assert length_buckets([]) == []


@pytest.fixture(scope="module")
def tiny_model():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      initializer_range=0.5, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return LlamaForCausalLM(cfg).eval()


def _plain_last_logits(model, seqs):
    width = max(len(s) for s in seqs)
    ids = torch.tensor([[0] * (width - len(s)) + s for s in seqs])
    mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs])
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        return model(input_ids=ids, attention_mask=mask, position_ids=pos).logits[:, -1]


def test_assembled_caches_give_the_plain_logits(tiny_model):
    seqs = [T1 + [5, 6, 7], T2 + [8], T1 + [9], T2 + [10, 11, 12, 13], [50, 51, 52]]
    store = PrefixStore()
    ids, mask, cache = assemble(tiny_model, seqs, group_by_prefix(seqs), store, pad_id=0)
    width_p = cache.get_seq_length()
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        shared = tiny_model(input_ids=ids[:, width_p:], attention_mask=mask, position_ids=pos[:, width_p:],
                            past_key_values=cache).logits[:, -1]
    torch.testing.assert_close(shared, _plain_last_logits(tiny_model, seqs), rtol=1e-4, atol=1e-4)


def test_greedy_tokens_match_plain_and_the_store_is_reused(tiny_model):
    seqs = [T1 + [5, 6], T1 + [7], T2 + [8, 9], T2 + [10]]
    store = PrefixStore()
    first = generate_shared(tiny_model, seqs, store, pad_id=0, max_new_tokens=6, do_sample=False)
    width = max(len(s) for s in seqs)
    ids = torch.tensor([[0] * (width - len(s)) + s for s in seqs])
    mask = (ids != 0).long()
    with torch.inference_mode():
        plain = tiny_model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=6, do_sample=False,
                                    pad_token_id=0)[:, width:].tolist()
    assert first == plain
    assert store.hits == 0
    again = generate_shared(tiny_model, [T1 + [11], T1 + [12, 13]], store, pad_id=0, max_new_tokens=6, do_sample=False)
    assert store.hits >= 40  # the T1 prefix came from the store
    assert len(again) == 2


def longest_entries(store: PrefixStore) -> list[tuple]:
    """Stored prefixes that are not the block boundary of a longer stored one."""
    keys = list(store._entries)
    return [k for k in keys if not any(o != k and o[:len(k)] == k for o in keys)]


def test_a_prefix_is_the_same_tensors_whatever_the_store_held(tiny_model):
    # a resumed run starts with an empty store: its prefixes must match the first run's exactly
    prefix = tuple(range(3, 3 + BLOCK * 2 + 22))
    fresh = PrefixStore().kv(tiny_model, prefix)
    warm = PrefixStore()
    warm.kv(tiny_model, prefix[:BLOCK + 9])  # stores a block boundary and an unaligned prefix
    warm.kv(tiny_model, prefix[:BLOCK * 2 + 5])
    before = warm.hits
    again = warm.kv(tiny_model, prefix)
    assert warm.hits - before == BLOCK * 2  # continued from the stored boundary at 2 * BLOCK
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(fresh, again))


def test_store_is_bounded_in_tokens(tiny_model):
    store = PrefixStore(max_tokens=60)
    store.kv(tiny_model, tuple(T1))
    store.kv(tiny_model, tuple(T2))
    assert sum(len(k) for k in store._entries) <= 60
    assert tuple(T2) in store._entries  # the most recent one stays
    store.kv(tiny_model, tuple(range(5, 30)), keep=False)
    assert tuple(range(5, 30)) not in store._entries


@pytest.mark.slow
def test_embedded_model_greedy_outputs_identical_to_plain_path():
    from workbench.llm import GenParams
    from workbench.llm.hf import EMBEDDED_ID, HFBackend, embedded_model_dir

    instructions = ["Name three rivers in Europe.", "Explain why the sky is blue.",
                    "Write a haiku about autumn rain.", "List two uses of baking soda.",
                    "Summarise the causes of the French Revolution.", "Convert 5 km to miles."]
    ops = ["add_constraints", "deepening", "breadth"]
    prompts = [[{"role": "user", "content": load_pack("general").prompt(ops[i % 3], t)}]
               for i, t in enumerate(instructions)]
    backend = HFBackend(str(embedded_model_dir()), batch_size=16, model_id=EMBEDDED_ID)
    gen = GenParams(max_new_tokens=16)
    shared = backend.generate(prompts, gen)
    # templates sharing a long header may share one prefix; unrelated ones never do
    assert backend.prefixes.hits == 0 and 1 < len(longest_entries(backend.prefixes)) <= 3
    backend.share_prefix = False
    plain = backend.generate(prompts, gen)
    assert [c.text for c in shared] == [c.text for c in plain]
    assert [c.completion_tokens for c in shared] == [c.completion_tokens for c in plain]
    assert all(c.text for c in shared)


@pytest.mark.slow
def test_embedded_model_choice_probs_match_the_plain_path():
    from workbench.core import templates
    from workbench.llm.hf import EMBEDDED_ID, HFBackend, embedded_model_dir

    pairs = [("Name three rivers.", "Name three rivers in Europe, longest first."),
             ("Explain why the sky is blue.", "Explain why the sky is blue."),
             ("Write a haiku.", "Write a haiku about autumn rain in Kyoto."),
             ("List two uses of baking soda.", "List two uses of baking soda in cleaning, with reasons.")]
    prompts = [[{"role": "user", "content": templates.load("equal_judge").render(first=a, second=b)}] for a, b in pairs]
    backend = HFBackend(str(embedded_model_dir()), batch_size=16, model_id=EMBEDDED_ID)
    shared = backend.choice_probs(prompts, ["Equal", "Not Equal"])
    assert len(longest_entries(backend.prefixes)) == 1  # the judge template, prefilled once
    backend.share_prefix = False
    plain = backend.choice_probs(prompts, ["Equal", "Not Equal"])
    for s, p in zip(shared, plain):
        assert s.keys() == p.keys()
        for c in s:
            assert s[c] == pytest.approx(p[c], rel=1e-3, abs=1e-6)
