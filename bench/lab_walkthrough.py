"""Walk through the workbench in JupyterLab in a real browser, as a researcher would, and print
what it finds: notebooks open unmodified, the explorer's curation shows each record's mark, an
executed stage notebook's figures and that its file survives the autosave interval, 08_compare
over the runs present, `git status` before and after, checkpoints in run folders.

Needs Debian's chromium (/usr/bin/chromium), Playwright's Python package in any venv (no
browser download), and at least one run under outputs/runs with 04_difficulty done:

    python -m venv /tmp/pw && /tmp/pw/bin/pip install playwright
    /tmp/pw/bin/python bench/lab_walkthrough.py [all|explore|executed|compare]   # WAIT=130 default

Screenshots go to /tmp/shots. The explorer part saves one curation mark in the latest run.
"""

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
PORT, TOKEN = 8899, "walk"
SHOTS = Path("/tmp/shots")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ACTIVE = ".widget-toggle-buttons button.mod-active"
NOTE = "input[placeholder='why (optional)']"


def git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout


def dirty(page) -> bool:
    return page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").count() > 0


def open_notebook(page, rel: str) -> None:
    # a fresh workspace per notebook, so earlier tabs are not restored over it
    page.goto(f"http://127.0.0.1:{PORT}/lab/workspaces/walk{abs(hash(rel))}/tree/{rel}?token={TOKEN}&reset")
    page.wait_for_selector(".jp-Notebook:visible", timeout=60000)
    page.wait_for_timeout(6000)  # the kernel starts
    print(rel, "modified on open:", dirty(page))


def run_all(page) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    page.wait_for_timeout(3000)
    for _ in range(180):
        if page.locator(".jp-InputArea-prompt:has-text('[*]')").count() == 0:
            return
        page.wait_for_timeout(1000)


def explore(page) -> None:
    open_notebook(page, "notebooks/00_explore.py")
    run_all(page)
    page.screenshot(path=str(SHOTS / "explore.png"))
    print("mark buttons:", [t.inner_text() for t in page.locator(".widget-toggle-buttons button").all()],
          "showing:", [t.inner_text() for t in page.locator(ACTIVE).all()])
    page.locator(".widget-toggle-buttons button", has_text="rejected").click()
    page.locator(NOTE).fill("answer is off-topic")
    page.get_by_role("button", name="save mark").click()
    page.wait_for_timeout(2000)
    print("after save:", [t.inner_text() for t in page.locator(ACTIVE).all()], "note:", page.locator(NOTE).input_value())
    page.screenshot(path=str(SHOTS / "explore_saved.png"))
    page.locator(".widget-dropdown select").nth(2).select_option(index=1)  # the next record
    page.wait_for_timeout(2000)
    print("next record:", [t.inner_text() for t in page.locator(ACTIVE).all()], "note:", repr(page.locator(NOTE).input_value()))
    print("verdicts said in words, with a hover:", page.locator("span[title*='no judge checked']").count())


def executed(page, runs: list[Path]):
    """Open 04's executed notebook, move over its figures, and return (path, digest) to check later."""
    run = [r for r in runs if (r / "04_difficulty" / "notebook.ipynb").is_file()][-1]
    path = run / "04_difficulty" / "notebook.ipynb"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    open_notebook(page, f"outputs/runs/{run.name}/04_difficulty/notebook.ipynb")
    page.locator(".jp-Cell:visible").first.click()
    page.keyboard.press("Escape")
    for _ in range(9):  # down to the figures (the notebook renders only the cells on screen)
        page.keyboard.press("j")
        page.wait_for_timeout(150)
    for x, y in ((700, 500), (760, 600), (800, 450)):
        page.mouse.move(x, y)
        page.wait_for_timeout(1500)
    print("after moving over the figures: interactive:", page.locator(".js-plotly-plot").count(), "modified:", dirty(page))
    page.screenshot(path=str(SHOTS / "executed_hover.png"))
    return path, digest


def compare(page, runs: list[Path]) -> None:
    open_notebook(page, "notebooks/08_compare.py")
    run_all(page)
    page.screenshot(path=str(SHOTS / f"compare_{len(runs)}runs.png"))
    print("figures saying 'nothing to draw':", page.locator("text=nothing to draw").count(),
          "legends:", page.locator(".legend").count())


def main(mode: str, wait: int) -> None:
    SHOTS.mkdir(exist_ok=True)
    before = git_status()
    lab = subprocess.Popen([str(REPO / ".venv" / "bin" / "workbench"),
                            "lab", "--port", str(PORT), "--token", TOKEN],
                           cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(9)
    runs = sorted((REPO / "outputs" / "runs").iterdir())
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            kept = None
            if mode in ("all", "explore"):
                explore(page)
            if mode in ("all", "executed"):
                kept = executed(page, runs)
            if mode in ("all", "compare"):
                compare(page, runs)
            print(f"waiting {wait}s, past JupyterLab's autosave interval ...")
            page.wait_for_timeout(wait * 1000)
            if kept:
                print("executed notebook unchanged on disk:", hashlib.sha256(kept[0].read_bytes()).hexdigest() == kept[1])
            browser.close()
    finally:
        lab.kill()
    print("git status unchanged:", git_status() == before)
    print("checkpoints in outputs/:", [str(p) for p in (REPO / "outputs").rglob(".ipynb_checkpoints")])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "all", int(os.environ.get("WAIT", "130")))
