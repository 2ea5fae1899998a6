from workbench.core.records import new_evolution, new_seed
from workbench.stages.filter.filters import MinHashLSH, filter_dataset, jaccard, shingles
from workbench.stages.filter.stage import Config, filter_stats


def rec(text, response="A sensible answer here.", round_=0, parent=None):
    if round_ == 0:
        return new_seed(text, response=response)
    r = new_evolution(parent, round_, "deepening", text)
    r["response"] = response
    return r


def test_each_filter_drops_with_its_reason_and_keeps_the_earliest():
    seed = rec("Explain how a rainbow forms after a storm in simple words.")
    rows = [
        rec("Explain how a rainbow forms after a storm, in simple words!", round_=1, parent=seed),  # exact dup after norm
        rec("Explain how a rainbow forms after a storm in very simple words.", round_=2,
            parent=rec("Why is the sky blue?")),  # near dup from another lineage
        seed,
        rec("Hi", round_=1, parent=seed),
        rec("Describe the water cycle for a ten year old child in a short story.", response="", round_=1, parent=seed),
        rec("List the steps the model should follow to sort a list of numbers in Python quickly.", round_=1, parent=seed),
        rec("Write a poem about the sea at night with exactly four lines.", round_=1, parent=seed),
    ]
    eval_texts = ["Please list the steps the model should follow to sort a list of numbers."]
    kept, dropped = filter_dataset(rows, Config(near_dup_threshold=0.7), eval_texts)
    reasons = {d["id"]: d["drop_reason"] for d in dropped}
    assert reasons[rows[0]["id"]] == "exact_duplicate" and reasons[rows[1]["id"]] == "near_duplicate"
    assert seed in kept and len(kept) + len(dropped) == len(rows)
    assert sorted(d["drop_reason"] for d in dropped) == sorted(
        ["exact_duplicate", "near_duplicate", "instruction_too_few_words", "response_too_few_words", "contaminated"])
    assert all(d["drop_detail"] for d in dropped)
    stats = filter_stats(rows, kept, dropped, Config(near_dup_threshold=0.7))
    assert stats["dropped_by_reason"]["near_duplicate"] == 1 and stats["kept"] == 2
    assert stats["by_reason_op_round"]["instruction_too_few_words"]["deepening"][1] == 1


def test_filters_can_be_switched_off():
    seed = rec("Explain how a rainbow forms after a storm in simple words.")
    copy = rec("Explain how a rainbow forms after a storm in simple words", round_=1, parent=seed)
    kept, dropped = filter_dataset([seed, copy], Config(rules=[r for r in Config.rules if r not in ("exact_duplicate", "near_duplicate")]))
    assert len(kept) == 2 and not dropped


NO_DECONTAMINATION = Config(rules=[r for r in Config.rules if r != "contaminated"])


def test_minhash_lsh_finds_similar_and_skips_different():
    a = shingles("the quick brown fox jumps over the lazy dog near the river bank")
    b = shingles("the quick brown fox jumps over the lazy dog near the river banks")
    c = shingles("completely unrelated text about baking sourdough bread at home")
    assert jaccard(a, b) > 0.85 and jaccard(a, c) < 0.1
    lsh = MinHashLSH(0.8)
    assert lsh.query_insert("a", a) == set()
    assert lsh.query_insert("b", b) == {"a"}
    assert lsh.query_insert("c", c) == set()


def test_near_duplicate_filter_never_compares_a_record_with_its_own_lineage():
    words = ("river mountain city market garden science history music paint letter number table chair "
             "water light stone bread apple green quickly").split()
    text = " ".join(words[(i * 7) % len(words)] for i in range(40))
    seed = dict(new_seed(text), response="an answer")
    child = dict(new_evolution(seed, 1, "add_constraints", text + " and answer in exactly three short bullet points please"),
                 response="an answer")
    kept, dropped = filter_dataset([seed, child], NO_DECONTAMINATION)
    assert len(kept) == 2 and dropped == []  # the paper's evolution is kept
    other = dict(new_seed(text + " and answer in exactly three short bullet points, thanks"), response="an answer")
    kept, dropped = filter_dataset([seed, child, other], NO_DECONTAMINATION)
    assert [d["drop_reason"] for d in dropped] == ["near_duplicate"]  # another lineage still is one
