"""Blind human evaluation (09_human_eval), the rating widget: what a rater sees (no names, a
stable shuffled order), saving, skipping, going back, resuming, and the notebook headless."""

import json

import ipywidgets as w
import jupytext
import nbformat
import papermill as pm
import pytest
from human_eval_fixtures import CANDS, make_run

from workbench.core.io import BadLineError
from workbench.core.stage_table import NOTEBOOKS_DIR
from workbench.explore import human_eval as HE
from workbench.explore import human_ratings as HR


def rate_all(ui, value=4):
    for buttons in ui.scores.values():
        buttons.value = value


def visible_text(widget) -> str:
    """Everything the widget tree puts on screen: HTML, labels, button and toggle texts, tooltips."""
    if isinstance(widget, w.Box):
        return "\n".join(visible_text(c) for c in widget.children)
    parts = [v for a in ("value", "description", "placeholder", "tooltip") if isinstance(v := getattr(widget, a, None), str)]
    if isinstance(widget, w.ToggleButtons):
        parts += [label for label, _ in widget.options] + list(widget.tooltips)
    return "\n".join(parts)


# --- the widget ---

def test_rate_save_and_a_new_ui_for_the_same_rater_continues_at_the_next_item(tmp_path):
    run = make_run(tmp_path)
    ui = HE.rating_ui(run, HE.Config(rater="ann"))
    assert ui.pos == 0 and "0 of 7 rated by ann" in ui.progress.value
    first, order = ui.items[0], list(ui.order)
    ui.scores[order[0]].value, ui.scores[order[1]].value, ui.scores[order[2]].value = 5, 2, 3
    ui.note.value = "first answer is clearly best"
    ui.save.click()
    assert ui.pos == 1 and "1 of 7 rated by ann" in ui.progress.value and "item 1 saved" in ui.message.value
    (row,) = [json.loads(line) for line in HR.ratings_path(run).read_text().splitlines()]
    assert row["rater"] == "ann" and row["item_id"] == "q1" and row["turn"] == 1 and row["skipped"] is False
    assert row["shown"] == order and row["ratings"] == {order[0]: 5, order[1]: 2, order[2]: 3}
    assert row["note"] == "first answer is clearly best" and row["time"].endswith("Z")
    again = HE.rating_ui(run, HE.Config(rater="ann"))  # a kernel restart: the file is the state
    assert again.pos == 1 and again.items[again.pos].id != first.id and "1 of 7 rated by ann" in again.progress.value
    other = HE.rating_ui(run, HE.Config(rater="bob"))  # another rater starts at the beginning
    assert other.pos == 0 and "0 of 7 rated by bob" in other.progress.value


def test_answers_are_shown_without_names_in_an_order_stable_per_rater_and_item(tmp_path):
    run = make_run(tmp_path)
    ui = HE.rating_ui(run, HE.Config(rater="ann"))
    orders = []
    for pos in range(len(ui.items)):
        ui.go(pos)
        text = visible_text(ui.ui)
        assert not [c for c in CANDS if c in text], f"a candidate's name is on screen at item {pos + 1}"
        assert "Answer 1" in text and "Answer 3" in text
        item = ui.items[pos]
        for k, cand in enumerate(ui.order, 1):  # Answer k is the k-th of the shown order
            card = ui.answers.children[k - 1]
            html_ = (card.children[0] if isinstance(card, w.VBox) else card).value
            assert html_.startswith(f"<b>Answer {k}</b>") and (item.answers[cand] or "no answer") in html_
        orders.append(tuple(ui.order))
    assert len(set(orders)) > 1  # shuffled per item, not one order for the whole run
    fresh = HE.rating_ui(run, HE.Config(rater="ann"))
    assert [tuple(HR.shown_order("ann", it.id, it.answers)) for it in fresh.items] == orders  # stable across sessions
    assert HR.shown_order("ann", "q1", ["seeds", "base", "evolved"]) == HR.shown_order("ann", "q1", CANDS)
    assert any(HR.shown_order("bob", it.id, CANDS) != list(o) for it, o in zip(ui.items, orders))


def test_a_skipped_answer_is_null_not_a_score_and_a_missing_answer_cannot_be_rated(tmp_path):
    run = make_run(tmp_path)
    ui = HE.rating_ui(run, HE.Config(rater="ann"))
    a, b, c = ui.order
    ui.scores[a].value, ui.scores[b].value, ui.scores[c].value = 1, HE.SKIP, 5
    ui.save.click()  # on to q2, where the seeds candidate has no answer
    assert HR.load_ratings(run)[0]["ratings"] == {a: 1, b: None, c: 5}
    card = ui.answers.children[ui.order.index("seeds")]
    assert set(ui.scores) == {"evolved", "base"} and isinstance(card, w.HTML) and "no answer" in card.value
    rate_all(ui, 3)
    shown = list(ui.order)
    ui.save.click()
    row = HR.load_ratings(run)[1]
    assert row["shown"] == shown and "seeds" in shown and row["ratings"] == {"evolved": 3, "base": 3}
    with pytest.raises(HR.RatingError, match="answers to rate"):
        HR.save_rating(run, "ann", ui.items[1], shown, {"evolved": 3, "base": 3, "seeds": 1})
    ui.go(0)  # back on q1, the buttons show what was saved
    assert (ui.scores[a].value, ui.scores[b].value, ui.scores[c].value) == (1, HE.SKIP, 5)


def test_a_rater_name_is_required_and_save_needs_a_choice_for_every_answer(tmp_path):
    run = make_run(tmp_path)
    ui = HE.rating_ui(run, HE.Config(rater=""))
    assert "rater name is required" in ui.message.value and ui.page.layout.display == "none"
    ui.rater_box.value = "  "
    ui.start.click()
    assert "rater name is required" in ui.message.value and ui.page.layout.display == "none"
    ui.rater_box.value = "carla"
    ui.start.click()
    assert ui.page.layout.display is None and "0 of 7 rated by carla" in ui.progress.value
    with pytest.raises(HR.RatingError, match="rater name is required"):
        HR.save_rating(run, " ", ui.items[0], ui.order, {c: 3 for c in ui.order})
    ui.scores[ui.order[0]].value = 4
    ui.save.click()
    assert "nothing saved" in ui.message.value and "Answer 2, Answer 3" in ui.message.value
    assert not HR.ratings_path(run).exists() and ui.pos == 0
    ui.rater_box.value = "dan"  # typed but not started: nothing is saved under either name
    rate_all(ui)
    ui.save.click()
    assert "rater name changed" in ui.message.value and not HR.ratings_path(run).exists()


def test_going_back_to_re_rate_keeps_the_history_the_last_save_wins_and_skips_count_apart(tmp_path):
    run = make_run(tmp_path)
    ui = HE.rating_ui(run, HE.Config(rater="ann"))
    for score in (2, 4):  # items 1 and 2
        rate_all(ui, score)
        ui.save.click()
    for _ in range(2):
        ui.previous.click()
    assert ui.pos == 0 and "saved" in ui.header.value and set(b.value for b in ui.scores.values()) == {2}
    rate_all(ui, 5)
    ui.note.value = "on second reading"
    ui.save.click()
    assert ui.pos == 2  # on to the first item not yet saved
    assert len(HR.ratings_path(run).read_text().splitlines()) == 3
    current = {r["item_id"]: r for r in HR.load_ratings(run, "ann")}
    assert set(current["q1"]["ratings"].values()) == {5} and current["q1"]["note"] == "on second reading"
    assert "2 of 7 rated by ann" in ui.progress.value
    ui.skip_item.click()  # a skipped item is counted apart and not offered again
    assert ui.pos == 3 and "2 of 7 rated by ann · 1 skipped" in ui.progress.value
    assert HR.load_ratings(run)[-1]["skipped"] is True and HR.load_ratings(run)[-1]["ratings"] == {}
    assert HE.rating_ui(run, HE.Config(rater="ann")).pos == 3


def test_a_multi_turn_item_shows_the_conversation_and_each_answers_own_earlier_reply(tmp_path):
    run = make_run(tmp_path)
    ui = HE.rating_ui(run, HE.Config(rater="ann"))
    ui.go(2)
    assert "Plan a picnic." in ui.question.value and "Now for twelve people." in ui.question.value
    for k, cand in enumerate(ui.order):
        n = CANDS.index(cand)
        card = ui.answers.children[k].children[0].value
        assert f"first plan {n}" in card and f"final plan {n}" in card
        assert all(f"first plan {m}" not in card for m in range(3) if m != n)  # its own reply, no other's
    rate_all(ui, 3)
    ui.save.click()
    assert HR.load_ratings(run)[0]["turn"] == 2  # the last turn is the one rated


def test_no_samples_says_so_and_a_malformed_ratings_line_is_named(tmp_path):
    ui = HE.rating_ui(tmp_path / "empty_run", HE.Config(rater="ann"))
    assert "Nothing to rate" in ui.message.value and "run 07_evaluate first" in ui.message.value
    run = make_run(tmp_path)
    ui = HE.rating_ui(run, HE.Config(rater="ann"))
    rate_all(ui)
    ui.save.click()
    with open(HR.ratings_path(run), "a") as f:
        f.write('{"rater": "ann", "item_id": "q2", "turn": 1, "ratings": {"seeds": 7}, "skipped": false}\n')
    with pytest.raises(BadLineError, match=r"human_ratings.jsonl:2"):
        HR.load_ratings(run)


def test_the_notebook_runs_headless_and_shows_the_widget(tmp_path):
    run = make_run(tmp_path)
    nb = tmp_path / "human_eval.ipynb"
    nbformat.write(jupytext.read(NOTEBOOKS_DIR / "09_human_eval.py"), nb)
    pm.execute_notebook(str(nb), str(nb), parameters={"run_dir": str(run), "rater": "ann"}, kernel_name="python3",
                        progress_bar=False)
    outputs = [o for c in json.loads(nb.read_text())["cells"] for o in c.get("outputs", [])]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    assert not [o for o in outputs if o.get("output_type") == "error"]
