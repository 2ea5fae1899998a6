"""The 04_difficulty stage on a run folder built here, with stand-in models: what it reads and
writes by role, and IFD routed through the stage's generator (cached, counted in stats)."""

from types import SimpleNamespace

import pytest
import yaml
from fakes import FakeBackend

from workbench.core.io import read_json, read_jsonl, write_jsonl
from workbench.core.records import new_evolution, new_seed
from workbench.llm import Generator
from workbench.llm.cache import ResponseCache
from workbench.stages.base import Stage
from workbench.stages.difficulty.stage import Config, run


class LossBackend(FakeBackend):
    """A local-model stand-in: characters as tokens, a loss that grows with the context length."""

    def __init__(self):
        super().__init__(model_id="fake:scorer")
        self.tokenizer = lambda text, add_special_tokens=False: SimpleNamespace(input_ids=[ord(c) for c in text])
        self.loss_calls = 0

    def render(self, messages):
        return f"<u>{messages[-1]['content']}</u><a>"

    def continuation_losses(self, contexts, continuations):
        self.loss_calls += len(contexts)
        return [1.0 + len(c) / 100 for c in contexts]


def make_stage(tmp_path, cache):
    run_dir = tmp_path / "runs" / "20250101-000000_t_00000000"
    (run_dir / "03_filter").mkdir(parents=True)
    (run_dir / "params.yaml").write_text(yaml.safe_dump({"run": {"name": "t", "seed": 0, "model": "embedded"}}))
    seed = new_seed("Name a colour.", response="Teal.")
    write_jsonl(run_dir / "03_filter" / "dataset.jsonl",
                [seed, new_evolution(seed, 1, "deepening", "Name a colour and say why.", response="Teal: calm."),
                 new_seed("No answer yet.")])
    st = Stage(run_dir, "04_difficulty")
    backends = {"": FakeBackend(reply=lambda text: "7", model_id="fake:judge"), "hf:scorer": LossBackend()}

    def generator(model=""):
        gen = Generator(backends[model], cache)
        st._generators.append(gen)
        return gen

    st.generator = generator
    return st, backends


def test_run_scores_writes_by_role_and_counts_the_ifd_scorer(tmp_path):
    cache = ResponseCache(tmp_path / "responses.sqlite")
    st, backends = make_stage(tmp_path, cache)
    res = run(st, Config(ifd_model="hf:scorer", validate=False))
    rows = {r["instruction"]: r for r in read_jsonl(st.folder.file("scored"))}
    assert [r["scores"]["difficulty"] for r in rows.values()] == [7.0, 7.0, 7.0]
    first = rows["Name a colour."]["scores"]
    assert first["ifd"] == pytest.approx((1 + len("<u>Name a colour.</u><a>") / 100) / (1 + len("</u><a>") / 100))  # the bare side: the assistant header
    assert rows["No answer yet."]["scores"]["ifd"] is None
    assert rows["No answer yet."]["scores"]["ifd_reason"] == "no_response"
    stats = read_json(st.path("stats.json"))
    assert stats["source"] == "03_filter/dataset.jsonl" and stats["rows"] == 3 and res.stats == stats
    scorer = next(g for g in stats["llm"] if g["model"] == "fake:scorer")
    assert scorer["calls"] == 4 and scorer["seconds"] >= 0  # two rows with answers, both sides each
    # a second run reads the losses from the cache: no new backend call
    st2, backends2 = make_stage(tmp_path / "again", cache)
    run(st2, Config(ifd_model="hf:scorer", validate=False))
    assert backends2["hf:scorer"].loss_calls == 0
    again = {r["instruction"]: r for r in read_jsonl(st2.folder.file("scored"))}
    assert again["Name a colour."]["scores"]["ifd"] == first["ifd"]
    assert next(g for g in read_json(st2.path("stats.json"))["llm"] if g["model"] == "fake:scorer")["cache_hits"] == 4


def test_ifd_off_is_null_with_a_reason_and_no_scorer_is_opened(tmp_path):
    st, _ = make_stage(tmp_path, None)
    res = run(st, Config(ifd=False, validate=False))
    assert {r["scores"]["ifd_reason"] for r in res.rows} == {"disabled"}
    assert [g["model"] for g in res.stats["llm"]] == ["fake:judge"]


def test_a_server_model_for_ifd_is_refused_before_any_call(tmp_path):
    st, backends = make_stage(tmp_path, None)
    with pytest.raises(ValueError, match="ifd_model must be a local model"):
        run(st, Config(ifd_model="openai:m@http://127.0.0.1:9/v1", validate=False))
    assert backends[""].calls == 0


def test_a_backend_without_losses_is_a_clear_error():
    from workbench.llm.base import BackendError

    with pytest.raises(BackendError, match="IFD needs a local model"):
        Generator(FakeBackend()).continuation_losses([[1]], [[2]])
