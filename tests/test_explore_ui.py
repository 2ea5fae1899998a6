"""The explorer's record picker as a browser shows it: what the picker displays is what "save mark" marks.

Found in JupyterLab: the picker came up blank (ipywidgets 8 selects nothing when options arrive),
so "save mark" silently did nothing; after a save it jumped to the seed while the verdict stayed
"rejected", so a second click would have rejected the seed.
"""

import re

from export_fixtures import make_run  # the same small run folder the export and curation tests use

from workbench.core.io import read_jsonl
from workbench.explore import curation as C
from workbench.explore.explore import browser


def test_the_picker_shows_a_record_from_the_start_and_save_marks_it(tmp_path):
    run = make_run(tmp_path)
    ui = browser(run)
    shown = ui.record_pick.value
    assert shown is not None and shown == ui.record_pick.options[0][1]
    ui.verdict_pick.value = "rejected"
    ui.save.click()
    assert C.load_marks(run)[shown]["mark"] == "rejected"
    assert "saved: <b>rejected</b>" in ui.saved.value


def test_after_a_save_the_picker_stays_on_the_record_just_marked(tmp_path):
    run = make_run(tmp_path)
    records = read_jsonl(run / "02_evolve" / "records.jsonl")
    seed = records[1]["id"]  # not the first seed: a save refills the seed picker, which used to jump
    ui = browser(run)
    ui.seed_pick.value = seed
    target = ui.record_pick.options[1][1]  # an evolution, not the seed
    assert target != seed
    ui.record_pick.value, ui.verdict_pick.value = target, "rejected"
    ui.save.click()
    assert ui.seed_pick.value == seed and ui.record_pick.value == target  # not back at a seed, "rejected" on
    ui.save.click()  # a second click re-marks the same record, never a seed
    assert set(C.load_marks(run)) == {target}
    status = next(r["status"] for r in records if r["id"] == target)
    other = next(s for s in ("eliminated", "failed") if s != status)
    ui.status_boxes[other].value = False  # a filter change keeps the record while it is still listed
    assert ui.record_pick.value == target
    ui.status_boxes[status].value = False  # once filtered out, the picker shows the first record left
    assert ui.record_pick.value == seed == ui.record_pick.options[0][1]


def test_save_with_nothing_listed_says_so_and_writes_nothing(tmp_path):
    run = make_run(tmp_path)
    ui = browser(run)
    for box in ui.status_boxes.values():
        box.value = False  # no status ticked: no record listed
    assert ui.record_pick.options == () and ui.record_pick.value is None
    ui.save.click()
    assert "nothing saved" in ui.saved.value
    assert not C.curation_path(run).exists()


def test_the_buttons_show_each_records_own_mark_and_note_and_start_unmarked(tmp_path):
    run = make_run(tmp_path)
    ui = browser(run)
    first, second = ui.record_pick.options[0][1], ui.record_pick.options[1][1]
    assert ui.verdict_pick.value == "unmarked" and ui.note.value == ""  # nothing preselected
    assert "no mark" in ui.current.value
    ui.verdict_pick.value, ui.note.value = "rejected", "answer is wrong"
    ui.save.click()
    assert "saved mark" in ui.current.value and "answer is wrong" in ui.current.value
    assert ui.note.value == "answer is wrong"  # the saved note stays on screen
    ui.record_pick.value = second  # the last choice does not carry over to the next record
    assert ui.verdict_pick.value == "unmarked" and ui.note.value == "" and "no mark" in ui.current.value
    ui.record_pick.value = first  # and coming back shows what was saved
    assert ui.verdict_pick.value == "rejected" and ui.note.value == "answer is wrong"
    fresh = browser(run)  # a kernel restart reads the same state back
    assert fresh.record_pick.value == first and fresh.verdict_pick.value == "rejected"


def test_clearing_a_mark_withdraws_it(tmp_path):
    run = make_run(tmp_path)
    ui = browser(run)
    shown = ui.record_pick.value
    ui.verdict_pick.value = "accepted"
    ui.save.click()
    assert C.load_marks(run)[shown]["mark"] == "accepted"
    ui.verdict_pick.value = "unmarked"
    ui.save.click()
    assert shown not in C.load_marks(run) and "mark cleared" in ui.saved.value
    assert "no mark" in ui.current.value


def test_the_judge_verdict_on_a_card_is_said_in_words_with_a_hover():
    from workbench.explore.explore import JUDGE_WORDS, judge_html
    from workbench.stages.evolve.rules import EQUAL, NOT_EQUAL, UNPARSABLE

    assert set(JUDGE_WORDS) == {EQUAL, NOT_EQUAL, UNPARSABLE}  # every verdict the evolve judge records
    shown = judge_html(UNPARSABLE)
    visible = re.sub(r"<[^>]+>", "", shown)
    assert visible == "not checked for information gain" and "no judge checked" in shown  # the hover
