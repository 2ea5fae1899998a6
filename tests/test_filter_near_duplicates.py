"""03_filter's near duplicates over hashed shingles (issue 23): the same kept/dropped decisions
as the implementation that held every kept row's shingles as Python strings. The expected
outcomes below were recorded with that implementation."""

import hashlib
import json
import random

import numpy as np

from workbench.core.records import new_evolution, new_seed
from workbench.stages.filter.filters import (
    FilterState,
    filter_dataset,
    hashed_jaccard,
    jaccard,
    norm_text,
    shingle_hashes,
    shingles,
)
from workbench.stages.filter.stage import Config

BASE = "wharf vex glyph mud okay"  # 24 characters, 20 distinct 5-grams
ZH = "请用简单的语言向一个十岁的孩子解释暴风雨过后天空中的彩虹是如何形成的以及为什么它总是出现在太阳的对面"
ONE_WORD_OK = dict(min_instruction_words=1)  # a Chinese sentence is one whitespace word


def answered(rec):
    return dict(rec, response="An answer of a few words.")


def seed(text):
    return answered(new_seed(text))


def child(parent, text, round_=1):
    return answered(new_evolution(parent, round_, "deepening", text))


def fixture() -> list[dict]:
    rainbow = seed("Explain how a rainbow forms after a storm, in simple words.")
    other = seed("Name three rivers in Europe.")
    return [
        rainbow, other, seed(BASE),
        seed("Explain how a rainbow forms after a storm, in very simple words."),  # 0.82, another lineage
        child(rainbow, "Explain how a rainbow forms after a storm, in simple words for kids."),  # own lineage
        seed("Объясните ребёнку, как образуется радуга после сильной грозы, простыми и понятными словами."),
        seed("Объясните ребёнку, как образуется радуга после сильной грозы, простыми и ясными словами."),
        seed("Объясните, почему небо голубое в ясный день."),
        seed(ZH), seed(ZH.replace("十岁", "九岁")),  # 0.80
        seed("اشرح كيف يتشكل قوس قزح بعد العاصفة بكلمات بسيطة."),
        seed("اشرح كيف يتشكل قوس قزح بعد العاصفة بكلمات بسيطة جدا."),  # 0.91
        seed("समझाइए कि तूफान के बाद इंद्रधनुष कैसे बनता है, सरल शब्दों में।"),
        seed("समझाइए कि तूफान के बाद इंद्रधनुष कैसे बनता है, बहुत सरल शब्दों में।"),  # exactly 0.8
        child(other, BASE + " vwxy"),  # 20 of BASE's 25 shingles: exactly 0.8
        child(other, BASE + " vwxyz", 2),  # 20 of 26: 0.769, just under
    ]


def decisions(rows, **cfg) -> list[tuple[int, str]]:
    _, dropped = filter_dataset(rows, Config(**cfg))
    at = {r["id"]: i for i, r in enumerate(rows)}
    return sorted((at[d["id"]], d["drop_detail"].replace(d["id"], "")) for d in dropped)


def test_same_decisions_as_string_shingles_with_non_latin_text_and_the_threshold_boundary():
    rows = fixture()
    ids = [r["id"] for r in rows]
    # rows are visited seeds first, then by id: the Chinese pair keeps 9 and drops 8
    assert decisions(rows, **ONE_WORD_OK) == [
        (3, f"of {ids[0]} (jaccard 0.82)"), (8, f"of {ids[9]} (jaccard 0.80)"),
        (11, f"of {ids[10]} (jaccard 0.91)"), (12, f"of {ids[13]} (jaccard 0.80)"),
        (14, f"of {ids[2]} (jaccard 0.80)")]  # 15 (0.769) stays; so does 5 (0.83 with 6): MinHash missed it
    # the same candidates (0.81 gets the bands of 0.8), but the rows at exactly 0.8 now stay
    assert [i for i, _ in decisions(rows, near_dup_threshold=0.81, **ONE_WORD_OK)] == [3, 11]
    assert decisions(rows, near_dup_threshold=0.5, **ONE_WORD_OK)[1] == (5, f"of {ids[6]} (jaccard 0.83)")
    assert [i for i, _ in decisions(rows, near_dup_threshold=0.5, **ONE_WORD_OK)] == [3, 5, 8, 11, 12, 14, 15]


def test_hashed_jaccard_equals_jaccard_over_the_shingle_strings():
    rows = fixture()
    texts = [norm_text(r) for r in rows] + ["", "abc", "abcde"]
    for a in texts:
        for b in texts:
            assert hashed_jaccard(shingle_hashes(shingles(a)), shingle_hashes(shingles(b))) == jaccard(shingles(a), shingles(b))
    h = shingle_hashes(shingles(norm_text(rows[0])))
    assert h.dtype == np.uint64 and np.all(np.diff(h) > 0)
    # blake2b, not the per-process salted hash(): a digest written down once stays true
    assert int(shingle_hashes({"abcde"})[0]) == int.from_bytes(hashlib.blake2b(b"abcde", digest_size=8).digest(), "big")


def test_a_kept_row_is_remembered_by_a_few_bytes_per_shingle():
    state = FilterState(Config())
    row = seed(" ".join(f"word{i}" for i in range(60)))  # about 400 characters
    state.remember(row)
    root, hashes = state.kept_shingles[row["id"]]
    assert root == row["root_id"] and hashes.nbytes == 8 * len(shingles(norm_text(row)))


def generated(n: int) -> list[dict]:
    """Lineages in three scripts that start from a few shared sentences with words swapped, so
    that many pairs of lineages sit around the threshold (seeded: the same rows every run)."""
    rnd = random.Random(23)
    vocab = {"en": "river storm rainbow market garden letter stone bread apple music light water".split(),
             "ru": "река буря радуга рынок сад письмо камень хлеб яблоко музыка свет вода".split(),
             "el": "ποτάμι καταιγίδα ουράνιο τόξο αγορά κήπος γράμμα πέτρα ψωμί μήλο μουσική φως".split()}
    shared = [(words, [rnd.choice(words) for _ in range(rnd.randint(8, 16))])
              for words in vocab.values() for _ in range(3)]

    def swapped(words, text, swaps):
        text = list(text)
        for _ in range(swaps):
            text[rnd.randrange(len(text))] = rnd.choice(words)
        return text

    rows: list[dict] = []
    for _ in range(n // 4):
        words, text = rnd.choice(shared)
        text = swapped(words, text, rnd.randint(0, 4))
        parent = seed(" ".join(text))
        rows.append(parent)
        for round_ in range(1, 4):
            text = swapped(words, text, 1) + ([rnd.choice(words)] if rnd.random() < 0.5 else [])
            parent = child(parent, " ".join(text), round_)
            rows.append(parent)
    return list({r["id"]: r for r in rows}.values())  # ids are unique in a real dataset


def test_same_decisions_as_string_shingles_over_generated_lineages():
    rows = generated(600)
    for threshold, drops, near, digest in [(0.7, 84, 72, "1ed6633a01cb5ad4"), (0.8, 37, 22, "c871cc49307addb5")]:
        got = decisions(rows, near_dup_threshold=threshold)
        assert len(got) == drops and sum("jaccard" in detail for _, detail in got) == near
        assert hashlib.sha256(json.dumps(got).encode()).hexdigest()[:16] == digest  # every id and Jaccard
