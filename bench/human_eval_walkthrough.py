"""Rate answers in 09_human_eval in a real browser, as a rater would, and print what it finds:
the rater name is asked for, the answers carry no names, five items are rated (one answer
skipped, one missing answer shown as "no answer", a note, a two-turn item), the tab is closed
and the kernel shut down, the notebook is opened again under the same name and continues at
item 6 saying "5 of 8 rated", and human_ratings.jsonl holds the five rows as rated.

It works in a folder of its own (nothing in the repository or outputs/ is touched): a run folder
with a samples.jsonl written here, and a copy of notebooks/09_human_eval.py whose run_dir names
it. JupyterLab runs from the project venv with the project's contents manager, as `workbench lab`.
Needs Debian's chromium (/usr/bin/chromium) and Playwright's Python package in any venv:

    python3 -m venv /tmp/pwenv && /tmp/pwenv/bin/pip install playwright
    /tmp/pwenv/bin/python bench/human_eval_walkthrough.py      # screenshots in /tmp/shots
"""

import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
PORT, TOKEN = 8897, "walk"
SHOTS = Path("/tmp/shots")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CANDS = ("evolved", "seeds", "base")
RATER = "ann"
RATED = 5


def samples() -> list[dict]:
    """Eight items in 07_evaluate's samples shape: q2 has no answer from one candidate, q3 two turns."""
    topics = ["boil an egg", "fold a paper plane", "plan a picnic", "name three prime numbers",
              "water a cactus", "sort a list of words", "greet a new colleague", "pack for a hike"]
    rows = []
    for n, topic in enumerate(topics, 1):
        rows.append({"id": f"q{n}", "instruction": f"Explain how to {topic}.", "input": "", "skill": "writing",
                     "difficulty": n + 2, "turns": [f"Explain how to {topic}."],
                     "answers": {c: f"Reply {k + 1} on how to {topic}: step one, step two." for k, c in enumerate(CANDS)},
                     "pairwise": {"evolved_vs_seeds": {"outcome": "win"}}})
    rows[1]["answers"]["seeds"] = None
    rows[2]["turns"] = ["Explain how to plan a picnic.", "Now make it work for twelve people."]
    rows[2]["turn_answers"] = {c: [f"First plan {k + 1}.", f"Final plan {k + 1} for twelve."] for k, c in enumerate(CANDS)}
    rows[2]["answers"] = {c: v[-1] for c, v in rows[2]["turn_answers"].items()}
    return rows


def make_project(root: Path) -> Path:
    run = root / "run"
    (run / "07_evaluate").mkdir(parents=True)
    (run / "07_evaluate" / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in samples()))
    (root / "notebooks").mkdir()
    source = (REPO / "notebooks" / "09_human_eval.py").read_text()
    (root / "notebooks" / "09_human_eval.py").write_text(
        re.sub(r'^run_dir = ""', f'run_dir = "{run}"', source, count=1, flags=re.M))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")  # jupytext reads its [tool.jupytext]
    return run


def start_lab(root: Path) -> subprocess.Popen:
    args = [str(REPO / ".venv" / "bin" / "python"), "-m", "jupyter", "lab", f"--port={PORT}", "--no-browser",
            "--allow-root", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={TOKEN}",
            "--ServerApp.contents_manager_class=workbench.pipeline.lab.ProjectContentsManager",
            "--ContentsManager.checkpoints_class=workbench.pipeline.lab.ProjectCheckpoints"]
    return subprocess.Popen(args, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def api(method: str, path: str):
    req = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", method=method,
                                 headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(req, timeout=20) as r:
        body = r.read()
    return json.loads(body) if body else None


def open_and_run(page, workspace: str) -> None:
    page.goto(f"http://127.0.0.1:{PORT}/lab/workspaces/{workspace}/tree/notebooks/09_human_eval.py?token={TOKEN}&reset")
    page.wait_for_selector(".jp-Notebook:visible", timeout=90000)
    page.wait_for_timeout(8000)  # the kernel starts
    print("  modified on open:", page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").count() > 0)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    page.wait_for_selector("input[placeholder='your name']", timeout=90000)
    page.wait_for_timeout(2000)


def wait_text(page, pattern: str, timeout_s: int = 30) -> str:
    for _ in range(timeout_s * 2):
        texts = page.locator(".jp-OutputArea-output").all_inner_texts()
        hit = next((m.group(0) for t in texts if (m := re.search(pattern, t))), None)
        if hit:
            return hit
        page.wait_for_timeout(500)
    raise TimeoutError(f"no text matching {pattern!r} on the page")


def start_as(page, name: str) -> None:
    page.locator("input[placeholder='your name']").fill(name)
    page.wait_for_timeout(500)
    page.get_by_role("button", name="start / continue").click()


def rate_items(page) -> None:
    for n in range(RATED):
        header = wait_text(page, r"Item \d+ of \d+")
        output = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
        groups = page.locator(".widget-toggle-buttons:visible")
        names_seen = [c for c in CANDS if re.search(rf"\b{c}\b", output)]
        print(f"  {header}: {groups.count()} answers to rate, 'no answer' shown: {'no answer' in output}, "
              f"earlier turn folded: {page.locator('details:visible').count()}, candidate names on screen: {names_seen}")
        for g in range(groups.count()):
            score = (n + g) % 5  # button index: 0..4 are scores 1..5, 5 is skip
            groups.nth(g).locator("button").nth(5 if (n, g) == (0, 1) else score).click()
        if n == 3:
            page.locator("textarea[placeholder='note (optional)']").fill("all three answers are thin")
        page.wait_for_timeout(700)
        page.get_by_role("button", name="save ratings").click()
        print("   ", wait_text(page, rf"item {n + 1} saved"), "·", wait_text(page, rf"{n + 1} of \d+ rated by {RATER}"))
        page.screenshot(path=str(SHOTS / f"human_eval_item{n + 1}.png"))


def check_file(run: Path) -> None:
    rows = [json.loads(line) for line in (run / "07_evaluate" / "human_ratings.jsonl").read_text().splitlines()]
    print("human_ratings.jsonl:", len(rows), "rows")
    for r in rows:
        print(f"  {r['rater']} {r['item_id']} turn {r['turn']} shown {r['shown']} ratings {r['ratings']}"
              f" skipped {r['skipped']} note {r['note']!r}")
    ok = ([r["item_id"] for r in rows] == [f"q{n}" for n in range(1, RATED + 1)]
          and all(sorted(r["shown"]) == sorted(CANDS) for r in rows)
          and "seeds" not in rows[1]["ratings"] and rows[2]["turn"] == 2
          and None in rows[0]["ratings"].values() and rows[3]["note"] == "all three answers are thin")
    print("rows as rated (order, shown, skip as null, no-answer left out, turn 2, note):", ok)


def main() -> None:
    SHOTS.mkdir(exist_ok=True)
    before = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout
    root = Path(tempfile.mkdtemp(prefix="human_eval_walk_"))
    run = make_project(root)
    lab = start_lab(root)
    time.sleep(12)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            print("first session:")
            open_and_run(page, "rate1")
            print("  before a name:", wait_text(page, r"A rater name is required"),
                  "· save button shown:", page.get_by_role("button", name="save ratings").is_visible())
            start_as(page, RATER)
            print("  after the name:", wait_text(page, rf"\d+ of \d+ rated by {RATER}"))
            rate_items(page)
            page.close()
            for k in api("GET", "/api/kernels"):  # closed, and the kernel gone: a later day
                api("DELETE", f"/api/kernels/{k['id']}")
            print("tab closed, kernels shut down:", api("GET", "/api/kernels") == [])
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            print("second session:")
            open_and_run(page, "rate2")
            start_as(page, RATER)
            print("  progress:", wait_text(page, rf"\d+ of \d+ rated by {RATER}"), "· shows:", wait_text(page, r"Item \d+ of \d+"),
                  wait_text(page, r"not rated yet|saved|skipped"))
            page.screenshot(path=str(SHOTS / "human_eval_reopened.png"))
            browser.close()
    finally:
        lab.kill()
        lab.wait()
    check_file(run)
    after = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout
    print("repository git status unchanged:", after == before)
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
