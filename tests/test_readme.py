"""The README's commands: cheap ones are run here as written; every one must use only
subcommands and options the CLI declares (the heavy ones run in the smoke, runner, sweep,
export and lab tests, and `make test` itself in CI)."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


def readme_commands() -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    lines = [ln.split("  #")[0].strip() for b in blocks for ln in b.splitlines()]
    return [shlex.split(ln)[1:] for ln in lines if ln.startswith(".venv/bin/workbench ")]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, cwd=REPO)


def test_readme_has_the_tutorial_commands():
    cmds = {c[0] for c in readme_commands()}
    assert {"run", "validate", "lab", "sweep", "export"} <= cmds
    assert "make run" in README and "make test" in README


def test_every_readme_command_uses_declared_options():
    for cmd in readme_commands():
        help_text = cli(cmd[0], "--help").stdout
        for opt in (a.split("=")[0] for a in cmd[1:] if a.startswith("--")):
            assert declares(help_text, opt), f"{' '.join(cmd)}: {opt} is not an option of `workbench {cmd[0]}`"


def declares(help_text: str, option: str) -> bool:
    """The option as a whole word: --out is not declared by --outputs."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text) is not None


def test_an_option_is_matched_whole():
    help_text = cli("run", "--help").stdout
    assert declares(help_text, "--outputs") and not declares(help_text, "--out")


def test_cheap_readme_commands_run_as_written():
    ran = 0
    for cmd in readme_commands():
        if cmd[0] == "validate" or (cmd[0] == "sweep" and "--dry-run" in cmd):
            r = cli(*cmd)
            assert r.returncode == 0, f"{' '.join(cmd)}: {r.stderr}"
            ran += 1
    assert ran >= 2
    # the server example validates as written (no server is contacted by validation)
    server = next(c for c in readme_commands() if any("openai:" in a for a in c))
    r = cli("validate", server[1], *server[2:])
    assert r.returncode == 0, r.stderr
