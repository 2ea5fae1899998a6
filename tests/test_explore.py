from conftest import FakeBackend

from workbench import evolve as EV
from workbench.evolve_stage import Config
from workbench.explore import browser, lineage, tree_html, word_diff_html
from workbench.io import write_jsonl
from workbench.llm import Generator
from workbench.records import new_seed


def evolved_records():
    def reply(p):
        if "<<Second Task>>" in p:
            return "Not Equal"
        if "<<New Task>>" in p:
            original = p.split("<<Original Task>>")[1].split("<<New Task>>")[0].strip()
            return "new task: x" if "bad" in original else original + " Use exactly three steps."
        return "A full answer " * 5
    gen = Generator(FakeBackend(reply=reply))
    seeds = [new_seed("Describe a volcano."), new_seed("A bad seed here.")]
    return EV.run_evolution(seeds, Config(rounds=3), gen, gen, gen).records


def test_lineage_is_parent_first_with_depths_and_filters():
    recs = evolved_records()
    root = recs[0]["id"]
    tree = lineage(recs, root)
    assert [d for d, _ in tree] == [0, 1, 2, 3] and tree[0][1]["round"] == 0
    assert all(tree[i + 1][1]["parent_id"] == tree[i][1]["id"] for i in range(3))
    assert [r["round"] for _, r in lineage(recs, root, rounds=(2, 3))] == [2, 3]
    bad_root = recs[1]["id"]
    # eliminated attempts hang off the seed (their parent stayed in the pool)
    assert {d for d, r in lineage(recs, bad_root) if r["status"] == "eliminated"} == {1}
    assert [r["status"] for _, r in lineage(recs, bad_root, statuses={"kept"})] == ["kept"]


def test_diff_and_html():
    d = word_diff_html("Describe a volcano.", "Describe a volcano. Use <three> steps.")
    assert "<ins" in d and "&lt;three&gt;" in d and "<del" not in d
    recs = evolved_records()
    page = tree_html(recs, recs[1]["id"])
    assert "prompt_leak" in page and "eliminated" in page
    assert "nothing matches" in tree_html(recs, recs[1]["id"], statuses={"failed"})


def test_browser_builds_and_reacts(tmp_path):
    recs = evolved_records()
    (tmp_path / "02_evolve").mkdir()
    write_jsonl(tmp_path / "02_evolve" / "records.jsonl", recs)
    box = browser(tmp_path)
    seed_pick, out = box.children[0], box.children[2]
    assert "Describe a volcano" in out.value
    seed_pick.value = recs[1]["id"]
    assert "A bad seed here" in out.value and "prompt_leak" in out.value
