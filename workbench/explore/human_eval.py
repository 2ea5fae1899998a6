"""Blind rating of the candidates' answers in JupyterLab (notebooks/09_human_eval.py).

One item at a time: the question (a multi-turn item's whole conversation, each answer with its
own earlier replies), then the answers as "Answer 1", "Answer 2", ... in an order shuffled per
rater and item (human_ratings.shown_order), never with the candidates' names. The rater scores
each answer 1-5 or skips it, adds a note if they like, and saves; an answer that does not exist
is shown as "no answer" with nothing to click. Opening it again under the same rater name goes
on at the first item that rater has not saved; previous / next go back to re-rate (the last
save wins). Nothing here says which candidate wrote what, nor what the judge thought.

    ui = rating_ui(run_dir, Config(rater="ann"))    # the widget; rating_ui("", ...) opens the latest run
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as w

from workbench.core.config import StageConfig
from workbench.core.run_folder import FILES, MissingInputError, latest_run
from workbench.core.stage_table import REPO_ROOT
from workbench.explore import human_ratings as HR

SKIP = "skip"
SCORE_OPTIONS = [(str(s), s) for s in HR.SCORES] + [(SKIP, SKIP)]
NEED_NAME = ("<b>A rater name is required.</b> Type your name under <i>rater</i> and press <i>start</i>: "
             "ratings are kept per rater, and the same name later continues where you stopped.")
BOX = "border:1px solid #ccc;border-radius:4px;padding:6px 10px;margin:4px 0;white-space:pre-wrap"


@dataclass(frozen=True)
class Config(StageConfig):
    """notebooks/09_human_eval.py's parameters."""

    rater: str = ""


def question_html(item: HR.RatingItem) -> str:
    """The user turns; with several, the earlier ones are context and the last is the one rated."""
    if len(item.turns) == 1:
        return f"<b>Question</b><div style='{BOX}'>{html.escape(item.turns[0])}</div>"
    parts = [f"<b>Conversation</b> ({len(item.turns)} turns; each answer below carries its own earlier replies; "
             f"rate the replies to turn {item.turn})"]
    for n, text in enumerate(item.turns, 1):
        parts.append(f"<div style='{BOX}'><small>user, turn {n}</small>\n{html.escape(text)}</div>")
    return "".join(parts)


def answer_html(k: int, item: HR.RatingItem, cand: str) -> str:
    """Answer k as the rater sees it: no name, the earlier replies folded above the rated one."""
    reply = item.answers.get(cand)
    if reply is None:
        return (f"<b>Answer {k}</b><div style='{BOX};color:#888'><i>no answer</i> (this candidate has no "
                "reply to this item, so there is nothing to rate)</div>")
    earlier = ""
    for n, (user, own) in enumerate(zip(item.turns[:-1], item.earlier.get(cand) or []), 1):
        earlier += (f"<details><summary>turn {n}: this answer's earlier reply</summary><div style='{BOX};color:#555'>"
                    f"<small>user</small>\n{html.escape(user)}\n\n<small>reply</small>\n{html.escape(own)}</div></details>")
    return f"<b>Answer {k}</b>{earlier}<div style='{BOX}'>{html.escape(reply)}</div>"


def progress_text(p: dict, rater: str) -> str:
    skipped = f" · {p['skipped']} skipped" if p["skipped"] else ""
    return f"{p['rated']} of {p['items']} rated by {html.escape(rater)}{skipped}"


def _from_project(path: Path | str) -> Path:
    """A run folder as typed in the notebook: absolute, or relative to the project folder (the
    kernel starts in notebooks/, so relative to the working directory would miss outputs/)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


class RatingUI:
    def __init__(self, run_dir: Path | str = "", cfg: Config | None = None):
        self.cfg = cfg or Config()
        self.items: list[HR.RatingItem] = []
        self.rows: dict[tuple, dict] = {}  # this rater's saved rows by (item id, turn)
        self.rater = ""
        self.pos = 0
        self.order: list[str] = []
        self.scores: dict[str, w.ToggleButtons] = {}  # candidate -> its buttons; the name stays in Python
        self.rater_box = w.Text(value=self.cfg.rater, description="rater", placeholder="your name")
        self.start = w.Button(description="start / continue")
        self.progress = w.HTML()
        self.header = w.HTML()
        self.question = w.HTML()
        self.answers = w.VBox()
        self.note = w.Textarea(placeholder="note (optional)", layout=w.Layout(width="80%", height="60px"))
        self.save = w.Button(description="save ratings", button_style="primary")
        self.skip_item = w.Button(description="skip this item")
        self.previous = w.Button(description="◀ previous")
        self.next = w.Button(description="next ▶")
        self.message = w.HTML()  # what the last click did: a click must never pass unnoticed
        self.page = w.VBox([self.header, self.question, self.answers, self.note,
                            w.HBox([self.save, self.skip_item, self.previous, self.next])])
        self.ui = w.VBox([w.HBox([self.rater_box, self.start]), self.progress, self.message, self.page])
        self.start.on_click(lambda _: self.begin())
        self.save.on_click(lambda _: self.save_item())
        self.skip_item.on_click(lambda _: self.save_item(skipped=True))
        self.previous.on_click(lambda _: self.go(self.pos - 1))
        self.next.on_click(lambda _: self.go(self.pos + 1))
        try:
            self.run = str(_from_project(run_dir) if run_dir else latest_run().path)
            self.items = HR.load_items(self.run)
            if not self.items:
                raise MissingInputError(f"{FILES['eval_samples']} in {self.run} has no items")
        except MissingInputError as e:
            self.run, self.message.value = "", f"<b>Nothing to rate:</b> {html.escape(str(e))}"
            self.page.layout.display = "none"
            return
        self.begin()

    def begin(self) -> None:
        """Open the rater's ratings and go to the first item they have not saved."""
        self.rater = self.rater_box.value.strip()
        if not self.run:
            return
        if not self.rater:
            self.page.layout.display = "none"
            self.progress.value, self.message.value = "", NEED_NAME
            return
        self.page.layout.display = None
        self._reload()
        p = HR.progress(self.items, list(self.rows.values()))
        self.message.value = (f"all {p['items']} items are saved by {html.escape(self.rater)}; "
                              "use previous / next to review" if p["next"] is None else "")
        self.open_item(p["next"] or 0)

    def _reload(self) -> None:
        self.rows = {(r["item_id"], r["turn"]): r for r in HR.load_ratings(self.run, self.rater)}
        self.progress.value = progress_text(HR.progress(self.items, list(self.rows.values())), self.rater)

    def open_item(self, pos: int) -> None:
        """Item pos, with the buttons and note as this rater last saved them (blank if never)."""
        self.pos = pos
        item = self.items[pos]
        saved = self.rows.get((item.id, item.turn))
        self.order = HR.shown_order(self.rater, item.id, item.answers)
        state = ("not rated yet" if saved is None else "skipped" if saved["skipped"]
                 else f"saved {html.escape(saved['time'])}")
        self.header.value = f"<h4>Item {pos + 1} of {len(self.items)} <small>· {state}</small></h4>"
        self.question.value = question_html(item)
        self.scores, cards = {}, []
        for k, cand in enumerate(self.order, 1):
            card = w.HTML(answer_html(k, item, cand))
            if item.answers.get(cand) is None:
                cards.append(card)
                continue
            value = None  # nothing chosen until the rater chooses; a saved null shows as "skip"
            if saved and not saved["skipped"] and cand in saved["ratings"]:
                value = SKIP if saved["ratings"][cand] is None else saved["ratings"][cand]
            self.scores[cand] = w.ToggleButtons(options=SCORE_OPTIONS, value=value, description="score",
                                                style={"button_width": "48px"},
                                                tooltips=["1 poor", "2", "3", "4", "5 excellent", "not rated"])
            cards.append(w.VBox([card, self.scores[cand]]))
        self.answers.children = cards
        self.note.value = saved["note"] if saved else ""
        self.previous.disabled, self.next.disabled = pos == 0, pos == len(self.items) - 1

    def go(self, pos: int) -> None:
        if 0 <= pos < len(self.items):
            self.message.value = ""
            self.open_item(pos)

    def save_item(self, skipped: bool = False) -> None:
        """Save this item's ratings (or its skip) and move to the next item not yet saved."""
        item = self.items[self.pos]
        if self.rater_box.value.strip() != self.rater:  # saving under a name the box no longer shows would mislead
            self.message.value = (f"<b>nothing saved:</b> the rater name changed; press <i>start / continue</i> to rate "
                                  f"as {html.escape(self.rater_box.value.strip()) or '(no name)'}")
            return
        missing = [k for k, c in enumerate(self.order, 1) if c in self.scores and self.scores[c].value is None]
        if missing and not skipped:
            self.message.value = ("<b>nothing saved:</b> give " + ", ".join(f"Answer {k}" for k in missing)
                                  + " a score, or <i>skip</i> it")
            return
        ratings = {c: (None if b.value == SKIP else b.value) for c, b in self.scores.items()}
        HR.save_rating(self.run, self.rater, item, self.order, ratings, skipped=skipped, note=self.note.value)
        self._reload()
        done = f"item {self.pos + 1} {'skipped' if skipped else 'saved'}"
        after = [i for i in range(self.pos + 1, len(self.items)) if (self.items[i].id, self.items[i].turn) not in self.rows]
        nxt = after[0] if after else HR.progress(self.items, list(self.rows.values()))["next"]
        if nxt is None:
            self.message.value = f"{done} · all {len(self.items)} items are saved: thank you"
            self.open_item(self.pos)
            return
        self.message.value = done
        self.open_item(nxt)

    def show(self):
        from IPython.display import display

        display(self.ui)

    def _ipython_display_(self):
        self.show()


def rating_ui(run_dir: Path | str = "", cfg: Config | None = None) -> RatingUI:
    """The rating widget for run_dir (empty: the latest run)."""
    return RatingUI(run_dir, cfg)
