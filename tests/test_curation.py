"""Curation marks: append-only, last mark wins, survive a restart, honoured by export."""

import json

import pytest
from export_fixtures import make_run  # the same small run folder the export tests use

from workbench.core.io import BadLineError, read_jsonl
from workbench.explore import curation as C
from workbench.export.run_export import export


def test_marks_append_and_the_last_one_per_id_wins(tmp_path):
    C.mark(tmp_path, "a", "rejected", "wrong answer", now="2026-01-01T00:00:00Z")
    C.mark(tmp_path, "b", "accepted")
    C.mark(tmp_path, "a", "accepted", "on second look fine")
    C.mark(tmp_path, "c", "rejected")
    C.mark(tmp_path, "c", "unmarked")
    lines = C.curation_path(tmp_path).read_text().splitlines()
    assert len(lines) == 5  # append-only: the history stays
    assert json.loads(lines[0]) == {"id": "a", "mark": "rejected", "note": "wrong answer", "time": "2026-01-01T00:00:00Z"}
    # a fresh read (what a restarted kernel does) sees the same state
    marks = C.load_marks(tmp_path)
    assert {k: v["mark"] for k, v in marks.items()} == {"a": "accepted", "b": "accepted"}
    assert marks["a"]["note"] == "on second look fine"
    records = [{"id": i, "root_id": "a"} for i in ("a", "b", "d")]
    assert C.curation_stats(marks, records) == {"accepted": 2, "rejected": 0, "with_note": 1,
                                                "unmarked": 1, "marks_for_unknown_ids": 0}
    assert C.stats_by_seed(marks, records) == {"a": {"records": 3, "accepted": 2, "rejected": 0}}


def test_bad_marks_are_refused_and_a_bad_line_is_named(tmp_path):
    with pytest.raises(C.CurationError, match="use one of"):
        C.mark(tmp_path, "a", "maybe")
    with pytest.raises(C.CurationError, match="non-empty"):
        C.mark(tmp_path, "", "accepted")
    assert C.load_marks(tmp_path) == {}
    C.mark(tmp_path, "a", "accepted")
    with open(C.curation_path(tmp_path), "a") as f:
        f.write('{"id": "b", "mark": "nah"}\n')
    with pytest.raises(BadLineError, match=r"curation.jsonl:2"):
        C.load_marks(tmp_path)


def test_export_leaves_out_rejected_rows_and_the_card_counts_them(tmp_path):
    run = make_run(tmp_path)
    rows = read_jsonl(run / "02_evolve" / "dataset.jsonl")
    C.mark(run, rows[2]["id"], "rejected", "constraint not met")
    C.mark(run, rows[3]["id"], "rejected")
    C.mark(run, rows[3]["id"], "accepted", "fine after all")  # last mark wins
    C.mark(run, rows[0]["id"], "accepted")
    C.mark(run, "not-in-this-dataset", "rejected")
    summary = export(run, "jsonl", tmp_path / "out")
    written = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert [r["id"] for r in written] == [rows[0]["id"], rows[1]["id"], rows[3]["id"]]
    assert summary["rows_in"] == 4 and summary["rows_written"] == 3
    assert summary["curation"] == {"rejected": 1, "accepted": 2}
    card = (tmp_path / "out" / "README.md").read_text()
    assert "1 rows marked rejected were left out" in card and "2 of the exported rows were marked accepted" in card


def test_export_without_marks_is_unchanged(tmp_path):
    run = make_run(tmp_path)
    summary = export(run, "alpaca", tmp_path / "out")
    assert summary["rows_written"] == 4 and summary["curation"] == {"rejected": 0, "accepted": 0}
    assert "Curated by hand" not in (tmp_path / "out" / "README.md").read_text()


def test_explorer_marks_a_record_and_a_fresh_browser_shows_it(tmp_path):
    from workbench.explore.explore import browser, tree_html

    run = make_run(tmp_path)
    records = read_jsonl(run / "02_evolve" / "records.jsonl")
    ui = browser(run)
    ui.seed_pick.value = records[0]["id"]  # the seed whose lineage has two evolutions
    target = ui.record_pick.options[1][1]
    ui.record_pick.value, ui.verdict_pick.value, ui.note.value = target, "rejected", "constraint ignored"
    ui.save.click()
    assert C.load_marks(run)[target]["note"] == "constraint ignored"
    assert "✗ rejected" in ui.tree.value and "constraint ignored" in ui.tree.value
    assert "1 rejected" in ui.counts.value
    assert "✓0 ✗1]" in dict((v, k) for k, v in ui.seed_pick.options)[records[0]["id"]]  # the seed's count
    # a kernel restart: a new browser reads the marks back from the run folder
    assert "✗ rejected" in tree_html(records, records[0]["id"], C.load_marks(run))
    fresh = browser(run)
    fresh.seed_pick.value = records[0]["id"]
    assert "✗ rejected" in fresh.tree.value
