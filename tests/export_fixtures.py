"""A small run folder as the stages write it, and reading an export back as its card says."""

from pathlib import Path

from workbench.core.io import write_json, write_jsonl
from workbench.core.records import new_evolution, new_seed
from workbench.export.run_export import FILES

REPO = Path(__file__).resolve().parent.parent
TEACHER, ANSWERER = "hf:teacher/Big-7B-Instruct", "openai:answer-4o@http://localhost:8000/v1"


def make_run(root: Path, with_filter: bool = False) -> Path:
    """A small run folder as the stages write it: manifest, 01_seed, 02_evolve (and 03_filter)."""
    run_dir = root / "runs" / "20260101-000000_unit_abcd1234"
    gen = {"max_new_tokens": 64, "temperature": 0.0, "top_p": 1.0, "seed": 0}
    s1 = new_seed("Name three primary colours.", response="Red, yellow, blue.", model=TEACHER, gen=gen)
    s2 = new_seed("Summarise the text.", "Cats sleep a lot.", response="Cats nap often.", model=TEACHER, gen=gen)
    e1 = new_evolution(s1, 1, "add_constraints", "Name three primary colours in French.", model=TEACHER,
                       response="Rouge, jaune, bleu.", answer_model=ANSWERER, scores={"difficulty": 7})
    e2 = new_evolution(e1, 2, "breadth", "List three French words for animals.", model=TEACHER,
                       response="chat, chien, oiseau", answer_model=ANSWERER)
    bad = new_evolution(s2, 1, "deepening", "Summarise the text.", model=TEACHER,
                        status="eliminated", reasons=["unchanged"])
    broken = new_evolution(s2, 1, "concretizing", "", model=TEACHER, status="failed", reasons=["backend_error"])
    dataset = [s1, s2, e1, e2]
    write_json(run_dir / "manifest.json", {
        "run_id": run_dir.name, "created": "2026-01-01T00:00:00Z", "params_file": "params/smoke.yaml",
        "sets": [], "params_hash": "abcd1234", "git": {"sha": "0123456789abcdef", "dirty": True},
        "packages": {"workbench": "0.1.0"},
        "params": {"run": {"name": "unit", "model": TEACHER},
                   "seed": {"source": "bundled", "source_name": "unit seeds", "license": "CC-BY-4.0"},
                   "evolve": {"rounds": 2, "model": "", "answer_model": ANSWERER, "judge_model": ""}},
        "stages": {"01_seed": {"status": "done"}, "02_evolve": {"status": "done"}},
    })
    write_jsonl(run_dir / "01_seed" / "records.jsonl", [s1, s2])
    write_json(run_dir / "01_seed" / "stats.json", {"kept": 2})
    write_jsonl(run_dir / "02_evolve" / "records.jsonl", [s1, s2, e1, e2, bad, broken])
    write_jsonl(run_dir / "02_evolve" / "dataset.jsonl", dataset)
    write_json(run_dir / "02_evolve" / "stats.json", {"reasons": {"unchanged": 1, "backend_error": 1}})
    if with_filter:
        write_jsonl(run_dir / "03_filter" / "dataset.jsonl", [s1, e1, e2])
        write_json(run_dir / "03_filter" / "stats.json", {"dropped_by_reason": {"near_duplicate": 1}})
    return run_dir


def first_user_line(fmt: str, row: dict) -> str:
    """The instruction of one loaded row, whatever the format's shape."""
    if fmt == "sharegpt":
        return row["conversations"][0]["value"].split("\n\n")[0]
    if fmt == "messages":
        return row["messages"][0]["content"].split("\n\n")[0]
    if fmt == "prompt_completion":
        return row["prompt"][0]["content"].split("\n\n")[0]
    return row["instruction"]


def load_as_card_says(fmt: str, out: Path, cache: Path):
    """The train split two ways: the card's own loading line, and the card's `configs` (as the hub reads it)."""
    import datasets

    if fmt == "hf":
        dd = datasets.load_from_disk(str(out))
        assert list(dd) == ["train"]
        direct = dd["train"]
    else:
        loader = "parquet" if fmt == "parquet" else "json"
        direct = datasets.load_dataset(loader, data_files=str(out / FILES[fmt]), split="train", cache_dir=str(cache))
    via_card = datasets.load_dataset(str(out), split="train", cache_dir=str(cache))
    assert via_card.to_list() == direct.to_list()
    return direct
