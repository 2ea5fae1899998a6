"""workbench.stages.diversity: metrics, k-means, neighbours and near duplicates, groups, embedding cache.

Equal-n comparison, selection and the stage itself have their own files (test_diversity_*.py)."""

import json

import numpy as np
import pytest
from diversity_fixtures import clustered, hashing_embedder, random_unit, unit

from workbench.core.records import full_text as record_text
from workbench.stages import diversity as DV
from workbench.stages.diversity.embed import EmbedModelError, cached_embeddings, model_path
from workbench.stages.diversity.plots import binned_by_group

# ----------------------------------------------------------------- metrics

def test_vendi_is_n_for_orthogonal_one_for_identical_and_exact_otherwise():
    assert DV.vendi_score(np.eye(5, 8)) == pytest.approx(5.0)
    assert DV.vendi_score(np.tile([[0.3, 0.4, 0.5]], (50, 1))) == pytest.approx(1.0)
    x = random_unit(40, 16, seed=2)  # n > d: the d x d route; compare with the n x n definition
    lam = np.clip(np.linalg.eigvalsh((x @ x.T).astype(np.float64) / len(x)), 0, None)
    lam = lam[lam > 1e-12]
    assert DV.vendi_score(x) == pytest.approx(float(np.exp(-(lam * np.log(lam)).sum())), rel=1e-5)


def test_mean_pairwise_cosine_distance_matches_brute_force():
    x = random_unit(60, 8, seed=4)
    g = x.astype(np.float64) @ x.T
    brute = (1 - g)[~np.eye(60, dtype=bool)].mean()
    assert DV.mean_pairwise_cosine_distance(x) == pytest.approx(brute, abs=1e-6)
    assert DV.mean_pairwise_cosine_distance(np.tile([[1.0, 2.0]], (5, 1))) == pytest.approx(0.0, abs=1e-6)
    assert DV.mean_pairwise_cosine_distance([[1.0, 0.0]]) is None


def test_cluster_coverage_and_entropy_on_constructed_clusters():
    x, truth = clustered(n_clusters=4, per=10, d=16, noise=0.05, seed=5)
    labels, k = DV.kmeans_labels(x, 4, seed=0)
    assert k == 4
    # k-means recovers the planted clusters (same partition, any numbering)
    assert len({(t, lab) for t, lab in zip(truth, labels)}) == 4
    seeds = truth < 2  # a subset in two of the four clusters
    assert DV.cluster_coverage(labels, k, seeds) == 0.5
    assert DV.cluster_coverage(labels, k, ~seeds) == 0.5
    assert DV.cluster_coverage(labels, k) == 1.0
    assert DV.cluster_entropy(labels, k) == pytest.approx(1.0)  # equal sizes
    assert DV.cluster_entropy(labels, k, seeds) == pytest.approx(0.5)  # log 2 / log 4
    assert DV.cluster_entropy(labels, k, truth == 3) == 0.0
    skew = truth.copy()
    skew[:35] = 0
    assert 0 < DV.cluster_entropy(skew, 4) < 0.5


def test_metrics_by_group_reports_overall_rounds_seeds_and_evolved():
    x, truth = clustered(n_clusters=4, per=10, d=16, noise=0.05, seed=6)
    rounds = np.where(truth < 2, 0, truth - 1)  # seeds in clusters 0-1; round 1 and 2 elsewhere
    m = DV.metrics_by_group(x, rounds, kmeans_k=4, seed=0)
    assert set(m["by_round"]) == {"0", "1", "2"}
    assert m["overall"]["n"] == 40 and m["seeds"]["n"] == 20 and m["evolved"]["n"] == 20
    assert m["seeds"]["cluster_coverage"] == 0.5 and m["overall"]["cluster_coverage"] == 1.0
    assert m["by_round"]["1"]["cluster_coverage"] == 0.25
    # one tight cluster is less diverse than the whole set
    assert m["by_round"]["1"]["vendi"] < m["overall"]["vendi"]
    assert m["by_round"]["1"]["mean_pairwise_cosine_distance"] < m["overall"]["mean_pairwise_cosine_distance"]
    json.dumps(m, allow_nan=False)  # stats.json-safe: no NaN


# ----------------------------------------------------------------- neighbours, near duplicates

def brute_nn(x):
    g = x.astype(np.float64) @ x.T
    np.fill_diagonal(g, -np.inf)
    return g.argmax(1), g.max(1)


@pytest.mark.parametrize("method,dtype", [("exact", "auto"), ("blocked", "fp32"), ("blocked", "bf16")])
def test_nn_distances_match_brute_force(method, dtype):
    x = random_unit(300, 32, seed=7)
    idx, sim = brute_nn(x)
    scan = DV.neighbour_scan(x, method=method, block=64, workers=2, dtype=dtype)
    assert (scan.nn_index == idx).mean() >= (0.99 if dtype == "bf16" else 1.0)
    ok = scan.nn_index == idx
    np.testing.assert_allclose(scan.nn_similarity[ok], sim[ok], atol=1e-5)
    np.testing.assert_allclose(scan.nn_distance[ok], 1 - sim[ok], atol=1e-5)
    assert (scan.nn_index != np.arange(300)).all()


def test_nn_of_an_exact_duplicate_is_its_copy_not_itself():
    x = random_unit(50, 16, seed=8)
    x[10] = x[3]
    for method in ("exact", "blocked"):
        scan = DV.neighbour_scan(x, method=method, block=16, dtype="fp32")
        assert scan.nn_index[3] == 10 and scan.nn_index[10] == 3, method
        assert scan.nn_distance[3] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("method", ["exact", "blocked"])
def test_near_duplicate_groups_find_the_planted_groups(method):
    rng = np.random.default_rng(9)
    x = random_unit(200, 64, seed=9)
    planted = [[5, 150], [20, 21, 199], list(range(100, 112))]  # the last is larger than knn_k
    for g in planted:
        for i in g[1:]:
            x[i] = x[g[0]] + 0.01 * rng.standard_normal(64) / 8
    x = unit(x)
    groups = DV.near_duplicate_groups(x, 0.98, knn_k=5, method=method)
    assert sorted(map(sorted, groups)) == sorted(planted)
    assert [len(g) for g in groups] == [12, 3, 2]  # largest first
    assert DV.near_duplicate_groups(random_unit(200, 64, seed=10), 0.98, method=method) == []


@pytest.mark.parametrize("method", ["exact", "blocked"])
def test_a_crowd_of_copies_is_one_group_linked_by_a_bounded_number_of_pairs(method):
    rng = np.random.default_rng(13)
    x = random_unit(400, 32, seed=13)
    crowd = list(range(50, 350))
    x[crowd] = x[50] + 0.002 * rng.standard_normal((300, 32))
    x = unit(x)
    scan = DV.neighbour_scan(x, pair_threshold=0.98, knn_k=5, method=method, block=64, dtype="fp32")
    assert len(scan.pairs) <= 7 * 8 * 64 < 300 * 299 // 2  # not every pair of the crowd
    assert (scan.pair_similarity >= 0.98).all()
    assert DV.near_duplicate_groups(x, 0.98, scan=scan) == [crowd]


def test_blocked_bf16_scan_finds_the_same_pairs_after_the_fp32_check():
    x, _ = clustered(n_clusters=5, per=40, d=32, noise=0.4, seed=11)
    exact = DV.neighbour_scan(x, pair_threshold=0.9, knn_k=400, method="exact")  # k > n: all pairs
    blocked = DV.neighbour_scan(x, pair_threshold=0.9, method="blocked", block=128, dtype="bf16")
    assert 100 < len(exact.pairs) < 8 * 128  # under the spanning-forest cap of a block-row
    assert blocked.pairs.tolist() == exact.pairs.tolist()
    assert (blocked.pair_similarity >= 0.9).all()


def test_binned_histogram_counts_every_value_once():
    vals = np.random.default_rng(12).random(500)
    groups = np.repeat([0, 1, 2, 3], 125)
    b = binned_by_group(vals, groups, bins=17)
    assert len(b["edges"]) == 18 and all(sum(c) == 125 for c in b["counts"].values())


# ----------------------------------------------------------------- embeddings

def test_record_text_joins_input_after_a_blank_line():
    assert record_text({"instruction": "Sort this.", "input": "3 1 2"}) == "Sort this.\n\n3 1 2"
    assert record_text({"instruction": "Sort this.", "input": ""}) == "Sort this."
    assert record_text({"instruction": "Sort this."}) == "Sort this."


def test_embedding_cache_is_reused_and_invalidated(tmp_path):
    embed = hashing_embedder()
    ids, texts = ["a", "b", "c"], ["red apple", "green apple", "blue sky"]
    e1, reused = cached_embeddings(tmp_path, ids, texts, "fake", embedder=embed)
    assert not reused and len(embed.calls) == 1
    assert (tmp_path / "embeddings.npy").is_file() and json.loads((tmp_path / "embedding_ids.json").read_text())["ids"] == ids
    e2, reused = cached_embeddings(tmp_path, ids, texts, "fake", embedder=embed)
    assert reused and len(embed.calls) == 1 and np.array_equal(e1, e2)  # embedder not called
    _, reused = cached_embeddings(tmp_path, ["a", "b", "d"], texts, "fake", embedder=embed)
    assert not reused and len(embed.calls) == 2  # changed ids
    _, reused = cached_embeddings(tmp_path, ["a", "b", "d"], texts, "other-model", embedder=embed)
    assert not reused and len(embed.calls) == 3  # changed model
    (tmp_path / "embeddings.npy").write_bytes(b"torn write")
    e3, reused = cached_embeddings(tmp_path, ["a", "b", "d"], texts, "other-model", embedder=embed)
    assert not reused and len(embed.calls) == 4 and e3.shape == (3, 64)  # unreadable cache recomputed


def test_missing_model_folder_says_what_to_pass(tmp_path):
    with pytest.raises(EmbedModelError, match="minilm"):
        model_path(str(tmp_path / "nope"))


@pytest.mark.slow
def test_real_minilm_embeds_paraphrases_closer_than_an_unrelated_sentence():
    from workbench.stages.diversity.embed import embed_texts

    emb = embed_texts(["How do I bake bread at home?", "What is a simple way to make bread in my kitchen?",
                       "The stock market fell sharply on Tuesday."])
    assert emb.shape == (3, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert float(emb[0] @ emb[1]) > float(emb[0] @ emb[2]) + 0.2


# ----------------------------------------------------------------- lineages

def test_lineage_distances_match_brute_force_and_split_own_from_other_lineages():
    rng = np.random.default_rng(21)
    seeds = random_unit(6, 32, seed=21)
    x, roots, rounds = [], [], []
    for s in range(6):  # each seed and three close rewrites of it
        for r in range(4):
            x.append(seeds[s] + 0.15 * r * rng.standard_normal(32) / np.sqrt(32))
            roots.append(f"seed{s}")
            rounds.append(r)
    x = unit(x)
    within, across = DV.lineage_nn_similarity(x, roots, chunk=5)  # chunks cut across lineages
    g = x.astype(np.float64) @ x.T
    np.fill_diagonal(g, -np.inf)
    same = np.array(roots)[:, None] == np.array(roots)[None, :]
    np.testing.assert_allclose(within, np.where(same, g, -np.inf).max(1), atol=1e-5)
    np.testing.assert_allclose(across, np.where(same, -np.inf, g).max(1), atol=1e-5)
    d = DV.lineage_distances(x, rounds, roots)["groups"]
    assert d["evolved"]["n"] == 18 and d["seeds"]["within"]["items"] == 6
    # rewrites of one seed sit close to it; other seeds' lineages are far
    assert d["evolved"]["within"]["median_distance"] < d["evolved"]["across"]["median_distance"] - 0.3


def test_lineage_distance_drops_when_lineages_converge_and_is_null_above_exact_max():
    a = unit([[1, 0, 0], [1, 0.05, 0], [0, 1, 0], [1, 0.06, 0.01]])  # lineage b's child copies lineage a
    d = DV.lineage_distances(a, [0, 1, 0, 1], ["a", "a", "b", "b"])["groups"]["evolved"]
    assert d["across"]["items"] == 2 and d["across"]["mean_distance"] < 0.01
    lone = DV.lineage_distances(a[:1], [0], ["a"])["groups"]["all"]
    assert lone["within"] == {"items": 0, "mean_distance": None, "median_distance": None}  # null, not 0
    big = DV.lineage_distances(a, [0, 1, 0, 1], ["a", "a", "b", "b"], exact_max=3)
    assert big["groups"] is None and "exact_max" in big["reason"]
