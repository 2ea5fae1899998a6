"""The explorer's widgets: a run picker, a seed picker with counts per seed, checkbox filters
for status and operation, a round slider, the tree, and curation (mark + note + save).

Only wiring lives here; what is shown comes from explore.py's tested functions. Marks are read
back from the run folder whenever a run is opened, so they survive a kernel restart.
"""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as w

from workbench.core.run_folder import OUTPUTS, MissingInputError, RunFolder, runs
from workbench.explore import curation as C
from workbench.explore import explore as EX


def run_choices(run_dir: Path | str = "", outputs: Path = OUTPUTS) -> tuple[list[tuple[str, str]], str | None]:
    """(label, path) for every run under outputs (newest first) plus run_dir if it lies elsewhere,
    and the one to open: run_dir, else the latest run; None when there is no run at all."""
    found = [r.path for r in reversed(runs(outputs))]
    chosen = RunFolder(run_dir).path if run_dir else (found[0] if found else None)
    if chosen is not None and chosen not in found:
        found.insert(0, chosen)
    return [(p.name, str(p)) for p in found], (str(chosen) if chosen else None)


# (label, value) of the mark buttons; "unmarked" saved over a mark withdraws it (curation.py)
VERDICT_OPTIONS = [("no mark", "unmarked"), ("accepted", "accepted"), ("rejected", "rejected")]


class Explorer:
    def __init__(self, run_dir: Path | str = "", cfg: EX.Config | None = None, outputs: Path = OUTPUTS):
        self.cfg = cfg or EX.Config()
        self.records: list[dict] = []
        self._filling_seeds = False
        self.marks: dict = {}
        choices, chosen = run_choices(run_dir, outputs)
        self.run_pick = w.Dropdown(options=choices, value=chosen, description="run", layout=w.Layout(width="90%"))
        self.seed_pick = w.Dropdown(description="seed", layout=w.Layout(width="90%"))
        self.status_boxes = {s: w.Checkbox(value=s in self.cfg.statuses, description=s, indent=False,
                                           layout=w.Layout(width="auto")) for s in EX.STATUSES}
        self.op_boxes: dict[str, w.Checkbox] = {}
        self.op_row = w.HBox()
        self.round_pick = w.IntRangeSlider(value=(0, 1), min=0, max=1, description="rounds")
        self.tree = w.HTML()
        self.counts = w.HTML()
        self.record_pick = w.Dropdown(description="record", layout=w.Layout(width="90%"))
        # the buttons always show the picked record's own mark ("no mark" when it has none), never
        # the last choice made on another record: one careless click must not mark the wrong thing
        self.verdict_pick = w.ToggleButtons(options=VERDICT_OPTIONS, value="unmarked", description="mark",
                                            tooltips=["clears an earlier mark", "", "left out of the export"])
        self.note = w.Text(placeholder="why (optional)", description="note", layout=w.Layout(width="60%"))
        self.save = w.Button(description="save mark")
        self.current = w.HTML()  # the picked record's mark and note as saved in curation.jsonl
        self.saved = w.HTML()  # what the last click on "save mark" did: a click must never pass unnoticed
        self.curate = w.VBox([self.counts, self.record_pick, self.current,
                              w.HBox([self.verdict_pick, self.note, self.save]), self.saved])
        filters = w.VBox([w.HBox([w.Label("status:"), *self.status_boxes.values()]), self.op_row, self.round_pick])
        self.ui = w.VBox([self.run_pick, self.seed_pick, filters, self.tree, self.curate])

        self.run_pick.observe(lambda _: self.open_run(), names="value")
        self.seed_pick.observe(self.refresh, names="value")
        self.round_pick.observe(self.refresh, names="value")
        for box in self.status_boxes.values():
            box.observe(self.refresh, names="value")
        self.record_pick.observe(lambda _: self.show_mark(), names="value")
        self.save.on_click(self.save_mark)
        self.open_run()

    @property
    def run(self) -> str:
        """The run folder on screen (the later cells of 00_explore read it)."""
        if self.run_pick.value is None:
            raise MissingInputError(f"no runs under {OUTPUTS / 'runs'}; start one with "
                                    "`workbench run params/default.yaml`")
        return self.run_pick.value

    def open_run(self) -> None:
        """Load the picked run's records and marks; rebuild the seed picker and op checkboxes."""
        try:
            self.records = EX.load_records(self.run) if self.run_pick.value else []
            self.marks = C.load_marks(self.run) if self.run_pick.value else {}
            problem = None if self.records else "no runs yet: start one with `workbench run params/default.yaml`"
        except MissingInputError as e:
            self.records, self.marks, problem = [], {}, str(e)
        ops = sorted({r["op"] for r in self.records if r["op"]})
        self.op_boxes = {op: w.Checkbox(value=not self.cfg.ops or op in self.cfg.ops, description=op, indent=False,
                                        layout=w.Layout(width="auto")) for op in ops}
        for box in self.op_boxes.values():
            box.observe(self.refresh, names="value")
        self.op_row.children = [w.Label("op:"), *self.op_boxes.values()] if ops else []
        top = max((r["round"] for r in self.records), default=0)
        self.round_pick.max = max(top, 1)
        self.round_pick.value = (0, top)
        self._fill_seeds()
        if problem:
            self.tree.value = f"<i>{problem}</i>"

    def _fill_seeds(self) -> None:
        counts = EX.seed_counts(self.records, self.marks)
        keep = self.seed_pick.value
        options = [(EX.seed_label(s, counts[s["root_id"]]), s["id"]) for s in self.records if s["round"] == 0]
        # new options first select another seed for a moment; refreshing for that seed would lose the
        # record picked under the tree, so the transient is not shown and one refresh follows
        self._filling_seeds = True
        try:
            self.seed_pick.options = options
            ids = [v for _, v in options]
            self.seed_pick.value = keep if keep in ids else (ids[0] if ids else None)
        finally:
            self._filling_seeds = False
        self.refresh()

    def filters(self) -> dict:
        return dict(ops={op for op, box in self.op_boxes.items() if box.value},
                    statuses={s for s, box in self.status_boxes.items() if box.value}, rounds=self.round_pick.value)

    def refresh(self, *_) -> None:
        if self._filling_seeds:
            return
        if self.seed_pick.value is None:
            self.tree.value, self.record_pick.options, self.counts.value = "<i>no seeds in this run</i>", [], ""
            return
        self.tree.value = EX.tree_html(self.records, self.seed_pick.value, self.marks, **self.filters())
        keep = self.record_pick.value
        options = [(f"round {r['round']} · {r['op'] or 'seed'} · {r['instruction'][:60]}", r["id"])
                   for _, r in EX.lineage(self.records, self.seed_pick.value, **self.filters())]
        self.record_pick.options = options
        # ipywidgets 8 leaves a Dropdown blank when its first options arrive, and jumps to the first
        # entry when they change: keep the record on screen, so "save mark" marks what the picker shows
        ids = [v for _, v in options]
        self.record_pick.value = keep if keep in ids else (ids[0] if ids else None)
        self.counts.value = EX.curation_summary_html(self.marks, self.records, self.seed_pick.value)
        self.show_mark()  # also when the picked record stayed the same (no change event)

    def show_mark(self) -> None:
        """Set the buttons and the note to the picked record's saved mark, and say what it is."""
        saved = self.marks.get(self.record_pick.value) if self.record_pick.value else None
        self.verdict_pick.value = saved["mark"] if saved else "unmarked"
        self.note.value = saved.get("note", "") if saved else ""
        self.current.value = EX.current_mark_html(saved) if self.record_pick.value else ""

    def save_mark(self, *_) -> None:
        if self.record_pick.value is None:
            self.saved.value = "<i>nothing saved: no record matches the filters above</i>"
            return
        label = dict((v, k) for k, v in self.record_pick.options)[self.record_pick.value]
        verdict = self.verdict_pick.value
        C.mark(self.run, self.record_pick.value, verdict, self.note.value if verdict != "unmarked" else "")
        self.saved.value = (f"saved: <b>{verdict}</b>" if verdict != "unmarked" else "mark cleared") + f" · {html.escape(label)}"
        self.marks = C.load_marks(self.run)
        self._fill_seeds()  # the seed's counts in the picker change with the mark

    def show(self):
        from IPython.display import display

        display(self.ui)

    def _ipython_display_(self):
        self.show()
