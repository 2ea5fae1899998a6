"""Prefix-KV reuse for batched generation with a transformers causal LM.

An evolution prompt is almost all template: for add_constraints about 261 of ~281 tokens are
the same for every seed. Recomputing them for every prompt is most of the prefill cost, and
decoding each template group as its own small batch loses more than prefill saves. So:

  1. the chunk's token sequences are split into groups sharing a long token prefix (found on
     the token ids themselves, so no template knowledge is needed and nothing is re-tokenised);
  2. each group's prefix is prefilled once at batch 1 (or continued from a stored prefix: the
     template part is kept across calls in a small LRU store);
  3. each group's own tokens (after the prefix) go through the model as one batch on top of
     the prefix; every row's cache (all its tokens but the last) is then right-aligned into
     one batch laid out exactly like the plain left-padded one, and `generate` decodes every
     prompt of the chunk together from there.

Every real token keeps the position it has in the plain path, the decode batch has the plain
path's width, mask and positions, and masked slots add exactly zero to attention: greedy
outputs match the plain left-padded batch (tests/test_prefix_cache.py checks it on the real
model). A padded suffix batch over the whole chunk was tried first: one long suffix (a
complicate_input demonstration) padded every row to its length and widened decoding.
"""

from __future__ import annotations

import functools
import inspect
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


BLOCK = 64  # prefixes are prefilled in blocks that start at multiples of this


class PrefixStore:
    """KV tensors of recently prefilled prefixes, least recently used dropped first.

    Bounded in cached tokens, not entries, because memory is per token. A new prefix is
    continued from the longest stored prefix of it, so the template part computed in one
    call serves every later call that uses the same template.

    A prefix's KV must not depend on what the store held: a resumed run starts with an empty
    store, and in bfloat16 a prefix computed in one piece and one continued from a shorter
    stored prefix differ enough to change greedy outputs. So every prefix is computed the
    same way, block by block at fixed offsets (BLOCK), and continued only from a stored
    block boundary; the result is the same tensors whatever was stored before.
    """

    def __init__(self, max_tokens: int = 4096):
        self.max_tokens = max_tokens
        self._entries: OrderedDict[tuple, list] = OrderedDict()
        self.hits = 0  # prefix tokens served from the store instead of being recomputed

    def kv(self, model, prefix: tuple, keep: bool = True) -> list[tuple]:
        """Per-layer (keys, values), each [1, kv_heads, len(prefix), head_dim]. keep=False for a
        prefix no other prompt shares: it is used once and must not evict a template's prefix."""
        if prefix in self._entries:
            self._entries.move_to_end(prefix)
            self.hits += len(prefix)
            return self._entries[prefix]
        aligned = len(prefix) // BLOCK * BLOCK
        base = max((k for k in self._entries if len(k) % BLOCK == 0 and len(k) <= aligned and prefix[:len(k)] == k),
                   key=len, default=())
        layers = None
        if base:
            self._entries.move_to_end(base)
            self.hits += len(base)
            layers = self._entries[base]
        pos = len(base)
        while pos < len(prefix):
            end = min(pos + BLOCK, len(prefix))
            layers = _extend(model, layers, prefix[pos:end], pos)
            pos = end
            if keep and pos == aligned and aligned > len(base) and aligned < len(prefix):
                self._entries[prefix[:aligned]] = layers  # the boundary later prefixes continue from
        if keep:
            self._entries[prefix] = layers
            self._evict()
        return layers

    def _evict(self) -> None:
        while len(self._entries) > 1 and sum(len(k) for k in self._entries) > self.max_tokens:
            self._entries.popitem(last=False)


def _extend(model, layers: list[tuple] | None, tokens: tuple, start: int) -> list[tuple]:
    """The KV of `layers` followed by `tokens` at positions start.. (batch 1)."""
    import torch

    past = as_cache(model, layers) if layers else None
    ids = torch.tensor([list(tokens)], device=model.device)
    positions = torch.arange(start, start + len(tokens), device=model.device)[None]
    with torch.inference_mode():
        out = model(input_ids=ids, position_ids=positions, **cache_arg(model, past), use_cache=True)
    return [(layer.keys, layer.values) for layer in kv_of(out).layers]


def cache_arg(model, cache) -> dict:
    """The KV-cache keyword argument: `cache` where this transformers takes it (5.x, which
    deprecates `past_key_values` and drops it in 5.40), else `past_key_values`."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # a PEFT wrapper passes kwargs on
    return {_cache_keyword(type(base)): cache}


@functools.cache
def _cache_keyword(model_class) -> str:
    return "cache" if "cache" in inspect.signature(model_class.forward).parameters else "past_key_values"


def kv_of(output):
    """The KV cache a forward pass returned, under either name."""
    return output.cache if getattr(output, "cache", None) is not None else output.past_key_values


def as_cache(model, layers: list[tuple]):
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=layers, config=model.config)


def length_buckets(lengths: list[int], max_rows: int = 0, slack: float = 0.75) -> list[list[int]]:
    """Indices grouped by similar length, longest first, for padded batches: a row starts a new
    bucket when it is shorter than `slack` times its bucket's longest (or the bucket holds
    `max_rows`), so the pads of a batch stay a fraction of its real tokens. One long item in a
    batch of short ones otherwise pads every row to its length: prefill work is per token."""
    buckets: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        if buckets and lengths[i] >= slack * lengths[buckets[-1][0]] and not 0 < max_rows <= len(buckets[-1]):
            buckets[-1].append(i)
        else:
            buckets.append([i])
    return buckets


def _row_caches(model, seqs: list[list[int]], group: Group, kv) -> list[list[tuple]]:
    """Per member: per-layer (keys, values) [kv_heads, len - 1, head_dim] for all its tokens but
    the last. The members' own tokens after the prefix go through the model on top of the
    shared prefix, in batches of similar length (length_buckets), right-padded: causal
    attention keeps the pads out of every real token's view, and their entries are cut off."""
    p = group.prefix_len
    tails = [seqs[m][p:-1] for m in group.members]
    out: list = [None] * len(tails)
    for bucket in length_buckets([len(t) for t in tails]):
        for j, row in zip(bucket, _tail_batch(model, [tails[j] for j in bucket], p, kv)):
            out[j] = row
    return out


def _tail_batch(model, tails: list[list[int]], p: int, kv) -> list[list[tuple]]:
    import torch

    longest = max(len(t) for t in tails)
    if longest == 0:
        return [[(k[0], v[0]) for k, v in kv] if kv is not None else None for _ in tails]
    k_rows = len(tails)
    ids = torch.tensor([t + [t[-1] if t else 0] * (longest - len(t)) for t in tails], device=model.device)
    mask = torch.tensor([[1] * (p + len(t)) + [0] * (longest - len(t)) for t in tails], device=model.device)
    positions = torch.arange(p, p + longest, device=model.device).expand(k_rows, -1)
    past = as_cache(model, [(k.expand(k_rows, -1, -1, -1), v.expand(k_rows, -1, -1, -1)) for k, v in kv]) if kv else None
    with torch.inference_mode():
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, **cache_arg(model, past), use_cache=True)
    layers = kv_of(out).layers
    return [[(layer.keys[j, :, :p + len(t)], layer.values[j, :, :p + len(t)]) for layer in layers]
            for j, t in enumerate(tails)]


def assemble(model, seqs: list[list[int]], groups: list[Group], store: PrefixStore, pad_id: int):
    """-> (input_ids, attention_mask, cache) for `generate`, laid out exactly like the plain
    left-padded batch: input_ids and mask are the plain ones, and the cache holds every row's
    tokens but the last, right-aligned, so `generate` starts by feeding the last column."""
    import torch

    n, width = len(seqs), max(len(s) for s in seqs)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, width - len(seq):] = torch.tensor(seq, dtype=torch.long)
        mask[row, width - len(seq):] = 1
    rows: list = [None] * n
    for g in groups:
        prefix = tuple(seqs[g.members[0]][:g.prefix_len])
        kv = store.kv(model, prefix, keep=len(g.members) > 1) if prefix else None
        for m, row_kv in zip(g.members, _row_caches(model, seqs, g, kv)):
            rows[m] = row_kv
    cache = None
    sample = next((r for r in rows if r is not None), None)
    if sample is not None and width > 1:
        layers = []
        for layer, (k0, v0) in enumerate(sample):
            keys = k0.new_zeros((n, k0.shape[0], width - 1, k0.shape[2]))
            values = v0.new_zeros((n, v0.shape[0], width - 1, v0.shape[2]))
            for row, row_kv in enumerate(rows):
                if row_kv is not None:
                    k, v = row_kv[layer]
                    keys[row, :, width - 1 - k.shape[1]:] = k
                    values[row, :, width - 1 - v.shape[1]:] = v
            layers.append((keys, values))
        cache = as_cache(model, layers)
    return ids.to(model.device), mask.to(model.device), cache


def generate_shared(model, seqs: list[list[int]], store: PrefixStore, pad_id: int, **generate_kwargs) -> list[list[int]]:
    """New token ids for each sequence, decoded together in one batch on shared-prefix caches."""
    import torch

    groups = group_by_prefix(seqs)
    ids, mask, cache = assemble(model, seqs, groups, store, pad_id)
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=mask, **cache_arg(model, cache),
                             pad_token_id=pad_id, **generate_kwargs)
    return out[:, ids.shape[1]:].tolist()


def prefill_shared(model, seqs: list[list[int]], store: PrefixStore, pad_id: int):
    """The forward pass over a left-padded batch, computed on shared-prefix caches: -> (output
    with logits for the last column and the full cache, attention mask). Same layout as
    model(input_ids=left-padded ids, ...), so scoring code can continue from it unchanged."""
    import torch

    ids, mask, cache = assemble(model, seqs, group_by_prefix(seqs), store, pad_id)
    start = cache.get_seq_length() if cache is not None else 0
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        out = model(input_ids=ids[:, start:], attention_mask=mask, position_ids=positions[:, start:],
                    **cache_arg(model, cache), use_cache=True)
    return out, mask
