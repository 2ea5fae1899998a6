"""Prefix-KV reuse for batched generation with a transformers causal LM.

An evolution prompt is almost all template: for add_constraints about 261 of ~281 tokens are
the same for every seed. Recomputing them for every prompt is most of the prefill cost, and
decoding each template group as its own small batch loses more than prefill saves. So:

  1. the chunk's token sequences are split into groups sharing a long token prefix (found on
     the token ids themselves, so no template knowledge is needed and nothing is re-tokenised);
  2. each group's prefix is prefilled once at batch 1 (or continued from a stored prefix: the
     template part is kept across calls in a small LRU store);
  3. each row's cache is laid out as [pad][its prefix][pad][its suffix], with an attention
     mask that hides both pads; `generate` prefills all suffixes as one batch on top of the
     assembled caches and decodes every prompt of the chunk together.

Positions come from the attention mask (cumsum), so every real token keeps the position it has
in the plain path, and masked slots add exactly zero to attention: greedy outputs match the
plain left-padded batch (tests/test_prefix_cache.py checks it on the real model).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


def common_prefix_len(a: list[int] | tuple, b: list[int] | tuple) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


@dataclass
class Group:
    members: list[int]  # indices into the chunk
    prefix_len: int  # tokens shared by every member, always < each member's length


def group_by_prefix(seqs: list[list[int]], min_shared: int = 8) -> list[Group]:
    """Contiguous groups of the lexicographically sorted sequences that minimise prefill work.

    Sorting puts sequences with long common prefixes next to each other, and a group's shared
    prefix is the minimum of its neighbours' common prefixes. Splitting is an exact dynamic
    programme over the sorted order (n is a chunk, so n^2 is nothing), maximising the tokens
    saved: (members - 1) * shared prefix, summed over groups. Merging two templates that only
    share a header would save less than keeping each template's long prefix, so they stay apart.
    """
    order = sorted(range(len(seqs)), key=lambda i: seqs[i])
    n = len(order)
    adj = [common_prefix_len(seqs[order[k - 1]], seqs[order[k]]) for k in range(1, n)]
    best = [0] * (n + 1)  # best[j]: tokens saved by the best split of order[:j]
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        best[j], cut[j] = best[j - 1], j - 1  # order[j-1] alone
        shared = None
        for i in range(j - 2, -1, -1):  # group order[i:j]
            shared = adj[i] if shared is None else min(shared, adj[i])
            saved = best[i] + (j - 1 - i) * shared
            if shared >= min_shared and saved > best[j]:
                best[j], cut[j] = saved, i
    groups, j = [], n
    while j > 0:
        i = cut[j]
        members = order[i:j]
        # at least one token of every member is left for the batched step: its logits start decoding
        shared = min(len(seqs[m]) for m in members) - 1
        if len(members) > 1:
            shared = min(shared, min(adj[i:j - 1]))
        groups.append(Group(members, max(0, shared)))
        j = i
    return groups[::-1]


class PrefixStore:
    """KV tensors of recently prefilled prefixes, least recently used dropped first.

    Bounded in cached tokens, not entries, because memory is per token. A new prefix is
    continued from the longest stored prefix of it, so the template part computed in one
    call serves every later call that uses the same template.
    """

    def __init__(self, max_tokens: int = 4096):
        self.max_tokens = max_tokens
        self._entries: OrderedDict[tuple, list] = OrderedDict()
        self.hits = 0  # prefix tokens served from the store instead of being recomputed

    def kv(self, model, prefix: tuple, keep: bool = True) -> list[tuple]:
        """Per-layer (keys, values), each [1, kv_heads, len(prefix), head_dim]. keep=False for a
        prefix no other prompt shares: it is used once and must not evict a template's prefix."""
        import torch

        base = max((k for k in self._entries if len(k) <= len(prefix) and prefix[:len(k)] == k),
                   key=len, default=())
        if base == prefix:
            self._entries.move_to_end(base)
            self.hits += len(prefix)
            return self._entries[base]
        past = None
        if base:
            self._entries.move_to_end(base)
            self.hits += len(base)
            past = as_cache(model, self._entries[base])
        rest = torch.tensor([list(prefix[len(base):])], device=model.device)
        positions = torch.arange(len(base), len(prefix), device=model.device)[None]
        with torch.inference_mode():
            out = model(input_ids=rest, position_ids=positions, past_key_values=past, use_cache=True)
        layers = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
        if keep:
            self._entries[prefix] = layers
            self._evict()
        return layers

    def _evict(self) -> None:
        while len(self._entries) > 1 and sum(len(k) for k in self._entries) > self.max_tokens:
            self._entries.popitem(last=False)


def as_cache(model, layers: list[tuple]):
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=layers, config=model.config)


def assemble(model, seqs: list[list[int]], groups: list[Group], store: PrefixStore, pad_id: int):
    """-> (input_ids, attention_mask, cache) for `generate`: the cache holds every row's prefix,
    right-aligned in a block as wide as the longest prefix; input_ids holds each row's suffix,
    right-aligned after that block. `generate` skips the cached block and prefills the rest."""
    import torch

    prefix_of = {}
    for g in groups:
        prefix = tuple(seqs[g.members[0]][:g.prefix_len])
        kv = store.kv(model, prefix, keep=len(g.members) > 1) if prefix else None
        for m in g.members:
            prefix_of[m] = (g.prefix_len, kv)
    width_p = max(p for p, _ in prefix_of.values())
    width_s = max(len(seqs[i]) - prefix_of[i][0] for i in range(len(seqs)))
    n, width = len(seqs), width_p + width_s
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        p = prefix_of[row][0]
        suffix = seq[p:]
        ids[row, width_p - p:width_p] = torch.tensor(seq[:p], dtype=torch.long)
        ids[row, width - len(suffix):] = torch.tensor(suffix, dtype=torch.long)
        mask[row, width_p - p:width_p] = 1
        mask[row, width - len(suffix):] = 1
    cache = None
    if width_p:
        sample = next(kv for _, kv in prefix_of.values() if kv is not None)
        layers = []
        for layer, (k0, v0) in enumerate(sample):
            keys = k0.new_zeros((n, k0.shape[1], width_p, k0.shape[3]))
            values = v0.new_zeros((n, v0.shape[1], width_p, v0.shape[3]))
            for row in range(n):
                p, kv = prefix_of[row]
                if p:
                    keys[row, :, width_p - p:] = kv[layer][0][0]
                    values[row, :, width_p - p:] = kv[layer][1][0]
            layers.append((keys, values))
        cache = as_cache(model, layers)
    return ids.to(model.device), mask.to(model.device), cache


def generate_shared(model, seqs: list[list[int]], store: PrefixStore, pad_id: int, **generate_kwargs) -> list[list[int]]:
    """New token ids for each sequence, decoded together in one batch on shared-prefix caches."""
    import torch

    groups = group_by_prefix(seqs)
    ids, mask, cache = assemble(model, seqs, groups, store, pad_id)
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=mask, past_key_values=cache,
                             pad_token_id=pad_id, **generate_kwargs)
    return out[:, ids.shape[1]:].tolist()
