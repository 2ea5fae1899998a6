import math

import pytest
from fakes import FakeBackend

from workbench.core import stats as S
from workbench.core.records import new_seed
from workbench.llm import Generator
from workbench.llm.rating import RATINGS, expected_rating, parse_rating
from workbench.stages.difficulty import judge as D
from workbench.stages.difficulty.ifd import assistant_header, ifd_scores


@pytest.mark.parametrize("text,rating", [
    ("7", 7), ("Rating: 10", 10), ("10/10", 10), (" 3.", 3), ("I'd say 4 out of 10", 4),
    ("eleven", None), ("", None), (None, None), ("0", None), ("2.5", None),
    ("11", None), ("12", None), ("100", None), ("1. First, read the task", None), ("2) Then", None),
    ("Rating: 7.", 7), ("**8**", 8),
])
def test_parse_rating(text, rating):
    assert parse_rating(text) == rating


def test_expected_rating_and_nulls():
    probs = dict.fromkeys(RATINGS, 0.0) | {"2": 0.3, "8": 0.1}
    score, reason, mass = expected_rating(probs, 0.05)
    assert reason is None and math.isclose(score, (2 * 0.3 + 8 * 0.1) / 0.4) and math.isclose(mass, 0.4)
    assert expected_rating(dict.fromkeys(RATINGS, 0.001), 0.05)[:2] == (None, "rating_mass_low")
    assert expected_rating(None, 0.05)[:2] == (None, "no_token_probabilities")


def test_judge_falls_back_to_parsing_and_never_invents_a_score():
    replies = iter(["Rating: 6", "no idea", "9"])
    gen = Generator(FakeBackend(reply=lambda p: next(replies)))  # fake: no token probabilities
    rows = [new_seed("a"), new_seed("b"), new_seed("c")]
    res = D.judge_difficulty(rows, gen, mode="auto")
    assert [r["difficulty"] for r in res] == [6.0, None, 9.0]
    assert res[1]["difficulty_reason"] == "unparsable" and res[0]["difficulty_mode"] == "parsed"
    res = D.judge_difficulty(rows, Generator(FakeBackend()), mode="expected")
    assert all(r["difficulty"] is None and r["difficulty_reason"] == "no_token_probabilities" for r in res)


def test_cheap_features():
    f = D.cheap_features(new_seed("First, list exactly three steps. Then explain (briefly [in order]).", "a b c"))
    assert f["constraints"] >= 1 and f["steps"] >= 3 and f["input_words"] == 3 and f["nesting"] == 2


def test_spearman_and_its_interval():
    assert S.spearman([1, 2, 3, 4], [10, 20, 30, 40])["rho"] == 1.0
    assert S.spearman([1, 2, 3, 4], [4, 3, 2, 1])["rho"] == -1.0
    assert S.spearman([1, None, 3, 4, 5], [1, 2, 3, 4, 5])["n"] == 4
    assert S.spearman([1, 1, 1], [1, 2, 3])["rho"] is None
    # by hand: ranks of x (1, 3, 2, 4) vs y (1, 2, 3, 4): d^2 = 0+1+1+0 = 2, rho = 1 - 6*2/(4*15) = 0.8
    assert S.spearman([10, 30, 20, 40], [1, 2, 3, 4])["rho"] == 0.8
    r = S.spearman(list(range(40)), [x + (7 if x % 3 else -7) for x in range(40)], boot=300)
    assert r["lo"] <= r["rho"] <= r["hi"] and r["hi"] - r["lo"] > 0


def test_judge_validated_only_when_its_interval_clears_the_word_count_baseline():
    labels = [1 + i % 10 for i in range(60)]
    rows = [new_seed("w " * (3 + (i * 7) % 13)) for i in range(60)]  # word count unrelated to labels
    good = D.validate(rows, labels, [lab + 0.1 * (i % 3) for i, lab in enumerate(labels)])
    assert good["verdict"] == "validated" and good["judge"]["lo"] > good["baseline_word_count"]["rho"]
    noisy = D.validate(rows, labels, [(i * 37) % 11 for i in range(60)])
    assert noisy["verdict"] == "not validated"
    wordy = [new_seed("w " * lab * 3) for lab in labels]  # words track the labels perfectly
    assert D.validate(wordy, labels, [lab + 0.1 * (i % 3) for i, lab in enumerate(labels)])["verdict"] == "not validated"
    few = D.validate(rows[:5], labels[:5], [None, None, None, 2, 3])
    assert few["verdict"] == "undetermined" and few["scored"] == 2 and few["coverage"] == 0.4


def test_difficulty_claim_is_undetermined_with_an_unvalidated_judge():
    rows = [dict(new_seed(f"s{i}"), round=i % 4, depth=i % 4, scores={"difficulty": float(i % 4) + 1})
            for i in range(40)]
    assert D.claim_difficulty_rises(rows, "difficulty", "validated")["verdict"] == "supported"
    claim = D.claim_difficulty_rises(rows, "difficulty", "not validated")
    assert claim["verdict"] == "undetermined" and claim["spearman_depth"]["rho"] == 1.0


def test_the_claim_reads_depth_not_round():
    """Requeued parents: round 4 holds depth-1 records whose scores are low. By round the rise
    looks flat; by depth (successful evolutions behind a record) it is there."""
    rows = [dict(new_seed(f"s{i}"), round=r, depth=d, scores={"difficulty": float(d) + 1})
            for i, (r, d) in enumerate([(0, 0), (1, 1), (2, 2), (3, 3), (4, 1), (4, 1), (4, 1), (4, 1)] * 5)]
    claim = D.claim_difficulty_rises(rows, "difficulty", "validated")
    assert claim["by"] == "depth" and claim["spearman_depth"]["rho"] == 1.0
    assert claim["spearman_round"]["rho"] < 0.5 and claim["verdict"] == "supported"
    old = [{k: v for k, v in r.items() if k != "depth"} for r in rows]  # a run from before depth
    assert D.claim_difficulty_rises(old, "difficulty", "validated")["by"] == "round"
    summary = D.summarise(rows, "difficulty")
    assert summary["by_depth"]["1"]["n"] == 25 and summary["by_round"]["4"]["n"] == 20


def test_summarise_counts_nulls_by_reason():
    rows = [dict(new_seed(f"s{i}"), scores={"difficulty": v, "difficulty_reason": None if v else "unparsable"})
            for i, v in enumerate([2.0, 4.0, None])]
    s = D.summarise(rows, "difficulty")
    assert s["overall"]["mean"] == 3.0 and s["overall"]["n"] == 2 and s["nulls"] == {"unparsable": 1}
    assert s["by_round"]["0"]["lo"] < 3.0 < s["by_round"]["0"]["hi"]


@pytest.mark.slow
def test_real_model_whole_reply_probabilities_match_a_hand_computation():
    import torch

    from workbench.llm.registry import load_backend

    b = load_backend("embedded", {"batch_size": 4})
    msgs = [{"role": "user", "content": "Rate from 1 to 10 how hard it is to name a colour. Reply with a number."}]
    got = b.choice_probs([msgs], RATINGS)[0]
    ids = b.tokenizer(b.render(msgs), add_special_tokens=False).input_ids
    stop = b._stop_mask()

    def next_probs(extra):
        with torch.inference_mode():
            return torch.softmax(b.model(input_ids=torch.tensor([ids + extra])).logits[0, -1].float(), -1)

    for rating in ("1", "7", "10"):
        seq = b.tokenizer(rating, add_special_tokens=False).input_ids
        p = 1.0
        for k, t in enumerate(seq):
            p *= float(next_probs(seq[:k])[t])
        p *= float(next_probs(seq)[stop].sum())
        assert math.isclose(got[rating], p, rel_tol=1e-3, abs_tol=1e-7), rating
    assert not stop[b.tokenizer("0", add_special_tokens=False).input_ids[0]]  # "1" then "0" is ten
    assert not stop[b.tokenizer(".", add_special_tokens=False).input_ids[0]]  # "1." opens a list


@pytest.mark.slow
def test_ifd_equals_a_hand_computation_on_the_same_answer_tokens():
    import torch

    from workbench.llm.registry import load_backend

    b = load_backend("embedded", {"batch_size": 4})
    rec = dict(new_seed("Name the largest planet in the solar system."), response="Jupiter is the largest planet.")
    tok = b.tokenizer
    ctx = tok(b.render([{"role": "user", "content": rec["instruction"]}]), add_special_tokens=False).input_ids
    ans = tok(rec["response"], add_special_tokens=False).input_ids
    header = tok(assistant_header(b), add_special_tokens=False).input_ids
    assert header and tok.decode(ctx).endswith(tok.decode(header))

    def mean_loss(context, answer):
        with torch.inference_mode():
            logits = b.model(input_ids=torch.tensor([context + answer])).logits[0].float()
        logp = torch.log_softmax(logits, -1)
        return -sum(float(logp[len(context) + k - 1, t]) for k, t in enumerate(answer)) / len(answer)

    got = ifd_scores([rec], b, max_length=1024)[0]
    assert got["answer_tokens"] == len(ans)
    assert math.isclose(got["ifd"], mean_loss(ctx, ans) / mean_loss(header, ans), rel_tol=1e-4)
    cut = len(ctx) + 3  # only three answer tokens fit: both sides score the same three
    short = ifd_scores([rec], b, max_length=cut)[0]
    assert short["answer_tokens"] == 3
    assert math.isclose(short["ifd"], mean_loss(ctx, ans[:3]) / mean_loss(header, ans[:3]), rel_tol=1e-4)
    assert ifd_scores([rec], b, max_length=len(ctx))[0] == {"ifd": None, "ifd_reason": "instruction_too_long"}
    assert ifd_scores([new_seed("x")], b)[0] == {"ifd": None, "ifd_reason": "no_response"}
