import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from workbench.llm.base import Completion, GenParams  # noqa: E402


class FakeBackend:
    """Deterministic stand-in for a model: echoes a function of the prompt. Unit tests only."""

    def __init__(self, reply=None, model_id="fake:echo", chunk_size=4):
        self.model_id = model_id
        self.chunk_size = chunk_size
        self.calls = 0
        self.reply = reply or (lambda text: f"echo: {text}")

    def generate(self, prompts, gen: GenParams):
        self.calls += len(prompts)
        out = []
        for messages in prompts:
            text = self.reply(messages[-1]["content"])
            out.append(Completion(text, prompt_tokens=len(messages[-1]["content"].split()),
                                  completion_tokens=len(str(text).split())))
        return out


@pytest.fixture
def fake_backend():
    return FakeBackend()


@pytest.fixture
def write_lines(tmp_path):
    def _write(name, lines, binary=False):
        path = tmp_path / name
        if binary:
            path.write_bytes(b"".join(lines))
        else:
            path.write_text("".join((json.dumps(x) if not isinstance(x, str) else x) + "\n" for x in lines))
        return path
    return _write
