from workbench.core.io import write_json
from workbench.export.card import validity_section


def test_card_states_unchecked_share_judge_verdict_and_claims(tmp_path):
    write_json(tmp_path / "04_difficulty" / "stats.json", {
        "judge_verdict": "not validated",
        "validation": {"judge": {"rho": 0.15, "lo": -0.2, "hi": 0.45, "n": 30}, "baseline_word_count": {"rho": 0.66}},
        "claim": {"id": "difficulty_rises", "statement": "difficulty rises by round", "verdict": "undetermined"}})
    write_json(tmp_path / "07_evaluate" / "stats.json", {"claims": [
        {"id": "evolved_tuned_wins", "statement": "evolved beats seeds", "verdict": "undetermined"}]})
    text = validity_section(tmp_path, {"unchecked_kept_share": 0.6})
    assert "| difficulty judge | not validated |" in text and "0.15 [-0.2, 0.45], n=30" in text
    assert "| difficulty rises by round | undetermined |" in text and "| evolved beats seeds | undetermined |" in text
    assert "0.6" in text and "not validated against human labels" in text
    empty = validity_section(tmp_path / "none", {})
    assert "no 04_difficulty stage in this run" in empty
