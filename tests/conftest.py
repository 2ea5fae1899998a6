import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from fakes import FakeBackend  # noqa: E402


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
