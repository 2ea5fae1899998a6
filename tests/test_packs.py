"""Template packs: the bundled three, a user's own folder, and every way a pack can be wrong,
caught before any model call."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import FakeBackend

from workbench.core.io import read_jsonl
from workbench.core.packs import BUNDLED, PackError, load_pack
from workbench.core.records import OPS, new_seed
from workbench.llm import Generator
from workbench.pipeline import params as P
from workbench.stages.evolve import loop as EV
from workbench.stages.evolve.stage import Config

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = ("Make the task below a little harder. Never write the words \"original task\" or \"new task\".\n\n"
            "<<Original Task>>\n{instruction}\n\n<<New Task>>\n")


def write_pack(folder: Path, manifest: str, templates: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.yaml").write_text(manifest, encoding="utf-8")
    for name, text in templates.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_the_bundled_packs():
    general, code, math, quality = (load_pack(n) for n in BUNDLED)
    assert tuple(general.ops) == OPS and general.ops["complicate_input"].adds_input
    assert general.ops["breadth"].kind == "in-breadth" and general.answer is None
    assert list(code.ops) == ["add_constraints", "replace_requirement", "increase_reasoning", "erroneous_code",
                              "raise_complexity"]
    assert list(math.ops) == ["upward", "downward"] and "step by step" in math.answer_prompt("2+2?")
    assert list(quality.ops) == ["helpfulness", "relevance", "depth", "creativity", "details"]
    assert {op.target for op in quality.ops.values()} == {"response"}
    for pack in (general, code, math, quality):
        for op in pack.ops:
            prompt = pack.prompt(op, "Sum a list.", "JSON" if pack.ops[op].adds_input else None, "Use sum().")
            assert "Sum a list." in prompt and ("Use sum()." in prompt) == (pack is quality)
            assert not {"{instruction}", "{format}", "{demonstration}"} & set(prompt.split())  # all filled


def test_a_pack_of_ones_own_evolves_and_records_carry_it(tmp_path):
    folder = write_pack(tmp_path / "mine", "ops:\n  harder: {kind: in-depth}\nleak_labels: [Harder Version]\n",
                        {"harder.txt": TEMPLATE})
    cfg = Config(rounds=1, templates=str(folder))
    assert cfg.op_names() == ("harder",) and cfg.weights() == (1,)

    def reply(prompt):
        if "<<Second Task>>" in prompt:
            return "Not Equal"
        if "<<New Task>>" in prompt:
            return "Sum a list of integers, skipping negative numbers."
        return "An answer " * 12

    res = EV.run_evolution([new_seed("Sum a list of integers.")], cfg, *[Generator(FakeBackend(reply=reply))] * 3)
    [child] = [r for r in res.records if r["round"] == 1]
    assert child["op"] == "harder" and child["templates"] == str(folder) and child["status"] == "kept"
    assert child["template_sha"] == load_pack(str(folder)).ops["harder"].template.sha
    from workbench.stages.evolve import rules as E

    vocab = load_pack(str(folder)).leak_vocabulary(("harder",), E.STOP_WORDS)
    assert "harder version" in vocab and E.leaked_phrases("Harder version: sum it", "Sum it.", vocab)


def test_math_answers_use_the_packs_answer_prompt():
    seen = []

    def reply(prompt):
        seen.append(prompt)
        return "Not Equal" if "<<Second Task>>" in prompt else "Step one. Answer: 4"

    gen = Generator(FakeBackend(reply=reply))
    EV.run_evolution([new_seed("What is 2 + 2?")], Config(rounds=1, templates="math"), gen, gen, gen)
    answers = [p for p in seen if p.startswith("Solve the problem below")]
    assert len(answers) == 2  # the seed and its evolution, both asked step by step


@pytest.mark.parametrize("manifest,templates,expected", [
    ("ops:\n  harder: {kind: in-depth}\n", {"harder.txt": "No placeholder here.\n"}, "placeholder {instruction} missing"),
    ("ops:\n  harder: {kind: in-depth}\n", {"harder.txt": "{instruction} in {language}\n"}, "unknown placeholder {language}"),
    ("ops:\n  harder: {kind: sideways}\n", {"harder.txt": TEMPLATE}, "kind must be one of in-depth, in-breadth"),
    ("ops:\n  harder: {kind: in-depth}\n", {}, "harder.txt: template file missing"),
    ("ops:\n  harder: {kind: in-depth, adds_input: true}\n", {"harder.txt": TEMPLATE}, "placeholder {demonstration} missing"),
    ("ops:\n  Harder: {kind: in-depth}\n", {}, "must be lower_snake_case"),
    ("ops: []\n", {}, "expected `ops:` mapping"),
    ("ops:\n  better: {kind: in-depth, target: answer}\n", {}, "target must be one of instruction, response"),
    ("ops:\n  better: {kind: in-depth, target: response}\n", {"better.txt": TEMPLATE}, "placeholder {response} missing"),
    ("ops:\n  harder: {kind: in-depth}\nanswers: a.txt\n", {"harder.txt": TEMPLATE}, "unknown key(s) ['answers']"),
    ("ops:\n  harder: {kind: in-depth}\nanswer: a.txt\n", {"harder.txt": TEMPLATE}, "a.txt: template file missing"),
])
def test_a_broken_pack_fails_params_validation_naming_the_file(tmp_path, manifest, templates, expected):
    folder = write_pack(tmp_path / "broken", manifest, templates)
    with pytest.raises(PackError, match=None) as e:
        load_pack.__wrapped__(str(folder))
    assert expected in str(e.value)
    with pytest.raises(P.ParamsError) as e:  # before any work: the run never starts
        P.load(REPO / "params" / "smoke.yaml", [f"evolve.templates={folder}"])
    assert expected in str(e.value) and "smoke.yaml" in str(e.value)


def test_ops_and_names_are_checked_against_the_pack(tmp_path):
    with pytest.raises(P.ParamsError, match=r"evolve.ops: unknown op\(s\) \['deepening'\] \(ops of pack code"):
        P.load(REPO / "params" / "smoke.yaml", ["evolve.templates=code", "evolve.ops=[deepening]"])
    with pytest.raises(P.ParamsError, match="neither a bundled pack"):
        P.load(REPO / "params" / "smoke.yaml", [f"evolve.templates={tmp_path / 'nowhere'}"])
    assert P.load(REPO / "params" / "smoke.yaml", ["evolve.templates=math"])["evolve"]["templates"] == "math"


@pytest.mark.slow
def test_the_code_pack_runs_end_to_end_on_the_embedded_model(tmp_path):
    r = subprocess.run([sys.executable, "-m", "workbench.cli", "run", "params/smoke.yaml", "--stages", "01_seed,02_evolve",
                        "--set", f"seed.source={REPO / 'tests' / 'fixtures' / 'code_seeds.jsonl'}",
                        "--set", "evolve.templates=code", "--set", "evolve.rounds=1", "--outputs", str(tmp_path)],
                       cwd=REPO, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    attempts = [x for x in read_jsonl(run_dir / "02_evolve" / "records.jsonl") if x["round"] == 1]
    code = load_pack("code")
    assert len(attempts) == 4 and {a["templates"] for a in attempts} == {"code"}
    ops = [a["op"] for a in attempts]
    assert len(set(ops)) == 4 and set(ops) <= set(code.ops)  # four seeds, four different code ops
    assert all(a["template_sha"] == code.ops[a["op"]].template.sha for a in attempts)
    stats = json.loads((run_dir / "02_evolve" / "stats.json").read_text())
    assert stats["attempts"] == 4 and sum(stats["status"].values()) == 4


def test_response_evolution_rewrites_the_answer_keeps_the_task_and_is_eliminated_like_any_evolution():
    judged = []

    def reply(prompt):
        if "<<Second Task>>" in prompt:
            judged.append(prompt)
            return "Not Equal"
        if "<<New Answer>>" in prompt:
            task = prompt.split("<<Task>>")[1].split("<<Original Answer>>")[0].strip()
            if task.startswith("SAME"):
                return prompt.split("<<Original Answer>>")[1].split("<<New Answer>>")[0].strip()
            if task.startswith("LEAK"):
                return "New Answer: the Nile, about 6,650 km long."
            if task.startswith("SORRY"):
                return "Sorry, I cannot."
            return "The Nile, about 6,650 km long, flows north through eleven countries to the Mediterranean."
        return "The Nile."

    seeds = [new_seed(t) for t in ("Name a long river.", "SAME: name a river.", "LEAK: name a river.",
                                   "SORRY: name a river.")]
    gen = Generator(FakeBackend(reply=reply))
    # too_long measures tasks: a rewritten answer longer than max_instruction_chars is kept
    res = EV.run_evolution(seeds, Config(rounds=1, templates="quality", max_instruction_chars=60), gen, gen, gen)
    by_task = {r["instruction"].split(":")[0]: r for r in res.records if r["round"] == 1}
    good = by_task["Name a long river."]
    assert good["status"] == "kept" and good["response"].startswith("The Nile, about 6,650 km")
    assert good["instruction"] == "Name a long river." and good["depth"] == 1 and good["templates"] == "quality"
    assert by_task["SAME"]["reasons"] == ["unchanged"]
    assert by_task["LEAK"]["reasons"] == ["prompt_leak"]
    assert by_task["SORRY"]["reasons"] == ["sorry_short_response"]
    assert judged == []  # the Equal judge compares tasks; a rewritten answer keeps its task
    with pytest.raises(P.ParamsError, match="rewrite answers, so seeds need answers"):
        P.load(REPO / "params" / "smoke.yaml", ["evolve.templates=quality", "evolve.answer_seeds=false"])
