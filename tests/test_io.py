import json
import os

import pytest

from workbench.core.io import BadLineError, atomic_write_text, read_jsonl, write_jsonl


def test_jsonl_round_trip_keeps_unicode(tmp_path):
    rows = [{"a": 1, "t": "é – 漢字"}, {"a": 2, "t": "line\nbreak"}]
    write_jsonl(tmp_path / "x.jsonl", rows)
    assert read_jsonl(tmp_path / "x.jsonl") == rows


def test_bad_json_names_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"a": 1}\n\n{"a": 2,}\n')
    with pytest.raises(BadLineError) as e:
        read_jsonl(p)
    assert e.value.line == 3 and str(p) in str(e.value) and ":3:" in str(e.value)


def test_invalid_utf8_and_non_object_lines(tmp_path):
    p = tmp_path / "bin.jsonl"
    p.write_bytes(b'{"a": 1}\n{"a": "\xff"}\n[1, 2]\n')
    with pytest.raises(BadLineError, match=":2: not valid UTF-8"):
        read_jsonl(p)
    skipped = []
    assert read_jsonl(p, on_bad_line="skip", skipped=skipped) == [{"a": 1}]
    assert [s["line"] for s in skipped] == [2, 3]
    assert "expected a JSON object" in skipped[1]["why"]


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path, monkeypatch):
    p = tmp_path / "f.json"
    atomic_write_text(p, json.dumps({"v": 1}))

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(p, json.dumps({"v": 2}))
    assert json.loads(p.read_text()) == {"v": 1}
    assert [x.name for x in tmp_path.iterdir()] == ["f.json"]  # temp file cleaned up


def test_jsonl_writer_replaces_the_file_only_when_the_block_succeeds(tmp_path):
    from workbench.core.io import JsonlWriter, read_jsonl, write_jsonl

    path = tmp_path / "records.jsonl"
    write_jsonl(path, [{"id": "old"}])
    with pytest.raises(RuntimeError):
        with JsonlWriter(path) as out:
            out.write({"id": "new", "text": "ответ 答案"})
            raise RuntimeError("killed mid-write")
    assert read_jsonl(path) == [{"id": "old"}]
    assert [p.name for p in tmp_path.iterdir()] == ["records.jsonl"]  # no temporary left behind
    with JsonlWriter(path) as out:
        out.write_all({"id": i} for i in range(3))
    assert out.count == 3 and read_jsonl(path) == [{"id": 0}, {"id": 1}, {"id": 2}]
