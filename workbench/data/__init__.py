"""Data written for this project and shipped with the package: seeds.jsonl, eval.jsonl."""

from pathlib import Path

BUNDLED = "bundled"


def data_path(value: str, bundled_name: str) -> str:
    """A params value naming a data file: "bundled" -> the shipped file, anything else as given.

    data_path("bundled", "eval.jsonl") -> ".../workbench/data/eval.jsonl"
    """
    return str(Path(__file__).parent / bundled_name) if value == BUNDLED else value
