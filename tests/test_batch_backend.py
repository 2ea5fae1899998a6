"""openai-batch:<model>@<url>: one batch per phase through the files + batches endpoints of a
local stub (batch_stub.py), results matched by custom_id, failed lines retried next run, a killed
run resuming its batch, the line limit, probabilities, and the dry-run estimate."""

import json
import math

import pytest
from batch_stub import BatchStub
from fakes import note_taker
from openai_stub import obliging_reply
from stage_fixtures import make_stage

from workbench.llm import GenParams, get_generator
from workbench.llm.batch import BatchBackend, BatchDryRun
from workbench.llm.cache import ResponseCache, cache_key
from workbench.llm.generator import Generator
from workbench.llm.openai_backend import OpenAIBackend
from workbench.pipeline import params as P

GEN = GenParams(max_new_tokens=16)
RUN = {"batch_poll_interval": 0.001, "max_retries": 1, "request_timeout": 5.0}


def _prompts(n, start=0):
    return [[{"role": "user", "content": f"question {i}"}] for i in range(start, start + n)]


def _answers(n, start=0):
    return [obliging_reply(f"question {i}") for i in range(start, start + n)]


def _generator(stub, tmp_path, **backend_args):
    """A generator whose batch backend records in tmp_path/stage and never really sleeps."""
    backend_args.setdefault("sleep", lambda seconds: None)
    backend = BatchBackend("m", stub.url, tmp_path / "stage", max_retries=1, timeout=5.0, poll_interval=0,
                           **backend_args)
    return Generator(backend, ResponseCache(tmp_path / "responses.sqlite"))


def _records(tmp_path):
    return json.loads((tmp_path / "stage" / "batches.json").read_text())


def test_a_phase_is_one_batch_and_results_are_matched_by_custom_id(tmp_path):
    notes = []
    with BatchStub() as stub:
        gen = get_generator(f"openai-batch:m@{stub.url}", RUN, tmp_path / "responses.sqlite",
                            stage_dir=tmp_path / "stage", tracker=note_taker(notes))
        prompts = _prompts(12) + _prompts(1)  # a repeated prompt is one line, answered twice
        outs = gen.generate(prompts, GEN)
        assert [c.text for c in outs] == _answers(12) + _answers(1)
        assert len(stub.uploads) == 1 and len(stub.created) == 1
        upload = stub.uploads[0]
        assert upload["purpose"] == "batch" and len(upload["lines"]) == 12
        body = OpenAIBackend("m", stub.url).completion_request(prompts[0], GEN)
        assert upload["lines"][0] == {"custom_id": cache_key("openai:m", prompts[0], GEN, 0), "method": "POST",
                                      "url": "/v1/chat/completions", "body": body}
        # the progress line was told the batch's states as it was polled
        assert any("in_progress" in n for n in notes) and any("completed 12/12" in n for n in notes)
        assert gen.stats["calls"] == 13 and gen.stats["prompt_tokens"] == 130
        assert gen.stats["batches"][0]["batch_id"] == "batch_1"
        record = _records(tmp_path)["batches"]
        [(key, entry)] = record.items()
        assert entry["batch_id"] == "batch_1" and entry["collected"] and entry["requests"] == 12
        assert entry["prompt_tokens_estimate"] == 12 * math.ceil(len("question 1") / 4)
        assert not (tmp_path / "stage" / "batches" / f"{key}.jsonl").exists()  # uploaded: not kept
        again = gen.generate(prompts, GEN)
        assert all(c.cached for c in again) and len(stub.uploads) == 1


def test_failed_lines_fail_with_their_reason_and_only_they_are_sent_again(tmp_path):
    fates = {"question 3": 500, "question 5": "error", "question 7": "missing"}
    with BatchStub(fault=lambda body: fates.get(body["messages"][-1]["content"])) as stub:
        gen = _generator(stub, tmp_path)
        outs = gen.generate(_prompts(10), GEN)
        failed = {i: c.error for i, c in enumerate(outs) if not c.ok}
        assert set(failed) == {3, 5, 7} and all(c.text is None for i, c in enumerate(outs) if i in failed)
        assert "HTTP 500: injected 500" in failed[3]
        assert "server_error: injected line error" in failed[5]
        assert "batch_1 completed without a result" in failed[7]
        assert [c.text for i, c in enumerate(outs) if i not in failed] == [
            a for i, a in enumerate(_answers(10)) if i not in failed]
        assert len(ResponseCache(tmp_path / "responses.sqlite")) == 7
        stub.fault = None
        again = _generator(stub, tmp_path).generate(_prompts(10), GEN)
        assert [c.text for c in again] == _answers(10)
        assert len(stub.created) == 2 and sorted(line["body"]["messages"][-1]["content"]
                                                 for line in stub.uploads[1]["lines"]) == [
            "question 3", "question 5", "question 7"]


def test_a_killed_run_resumes_its_batch_without_submitting_again(tmp_path):
    def killed(seconds):
        raise KeyboardInterrupt  # the run is killed while it waits for the batch

    with BatchStub(hold=True) as stub:
        with pytest.raises(KeyboardInterrupt):
            _generator(stub, tmp_path, sleep=killed).generate(_prompts(6), GEN)
        assert len(stub.uploads) == 1 and stub.created == ["batch_1"]
        [entry] = _records(tmp_path)["batches"].values()
        assert entry["batch_id"] == "batch_1" and entry["status"] == "in_progress" and not entry["collected"]
        # a new process on the same stage folder: it polls the same batch until it ends
        polls = []
        resumed = _generator(stub, tmp_path, sleep=lambda s: polls.append(s) or setattr(stub, "hold", len(polls) < 3))
        outs = resumed.generate(_prompts(6), GEN)
        assert [c.text for c in outs] == _answers(6)
        assert len(stub.uploads) == 1 and stub.created == ["batch_1"]
        assert {c for c in stub.calls if c.startswith("GET /v1/batches/")} == {"GET /v1/batches/batch_1"}
        assert len(polls) >= 3 and [e["collected"] for e in _records(tmp_path)["batches"].values()] == [True]


def test_a_call_larger_than_the_line_limit_is_split_into_several_batches(tmp_path):
    with BatchStub(max_lines=4) as stub:
        outs = _generator(stub, tmp_path, max_lines=4).generate(_prompts(10), GEN)
        assert [c.text for c in outs] == _answers(10)
        assert [len(u["lines"]) for u in stub.uploads] == [4, 4, 2] and len(stub.created) == 3
        assert len(_records(tmp_path)["batches"]) == 3
    with BatchStub() as stub:  # the byte limit splits too
        size = len(json.dumps({"custom_id": "0" * 64, "method": "POST", "url": "/v1/chat/completions",
                               "body": OpenAIBackend("m", stub.url).completion_request(_prompts(1)[0], GEN)})) + 1
        outs = _generator(stub, tmp_path / "bytes", max_bytes=3 * size).generate(_prompts(7), GEN)
        assert [c.text for c in outs] == _answers(7)
        assert [len(u["lines"]) for u in stub.uploads] == [3, 3, 1]


def test_a_batch_that_fails_or_cannot_be_submitted_fails_its_items_with_the_reason(tmp_path):
    with BatchStub(max_lines=2) as stub:  # the provider refuses the input as a whole
        outs = _generator(stub, tmp_path).generate(_prompts(3), GEN)
        assert all(c.text is None and "batch_1 failed without a result" in c.error and "too_many_lines" in c.error
                   for c in outs)
        assert len(ResponseCache(tmp_path / "responses.sqlite")) == 0
        backend = BatchBackend("m", stub.url + "/nowhere", tmp_path / "other", max_retries=0)
        outs = Generator(backend).generate(_prompts(2), GEN)
        assert all("batch not submitted: POST /files: HTTP 404" in c.error for c in outs)
        assert stub.created == ["batch_1"]


def test_a_stage_records_its_batches_in_its_own_folder(tmp_path):
    st = make_stage(tmp_path, "02_evolve")
    gen = st.generator("openai-batch:m@http://127.0.0.1:9/v1")  # nothing is sent until a call
    assert gen.backend.records.file == st.dir / "batches.json"
    assert gen.cache_id == "openai:m" and gen.model_id == "openai-batch:m@http://127.0.0.1:9/v1"


def _rating_logprobs(body):
    return [("7", -0.1, [("7", -0.1), ("8", -2.5)])], "stop"


def test_choice_probabilities_come_through_a_batch(tmp_path):
    with BatchStub(logprobs=_rating_logprobs, fault=lambda b: 400 if "question 2" in str(b) else None) as stub:
        gen = _generator(stub, tmp_path)
        probs = gen.choice_probs(_prompts(3), ["7", "8"])
        assert probs[0] == pytest.approx({"7": math.exp(-0.1), "8": math.exp(-2.5)})
        assert probs[1] == probs[0] and probs[2] is None  # the failed line has no probabilities
        line = stub.uploads[0]["lines"][0]
        assert line["body"]["logprobs"] is True and line["body"]["top_logprobs"] == 20
        assert line["custom_id"] == cache_key("openai:m", _prompts(1)[0], GenParams(max_new_tokens=1), 0, "choices:7|8")
        assert gen.stats["prompt_tokens"] == 20  # the two answered lines' usage
        stub.fault = None
        assert _generator(stub, tmp_path).choice_probs(_prompts(3), ["7", "8"])[2] == probs[0]
        assert len(stub.uploads[1]["lines"]) == 1


def test_the_dry_run_estimates_requests_and_tokens_and_sends_nothing(tmp_path):
    with BatchStub() as stub:
        prompts = _prompts(9) + [[{"role": "system", "content": "x" * 10}, {"role": "user", "content": "long " * 20}]]
        with pytest.raises(BatchDryRun, match=r"10 requests in 1 input file.*~\d+ prompt tokens") as e:
            _generator(stub, tmp_path, dry_run=True).generate(prompts, GEN)
        assert stub.calls == []  # not a POST, not even a GET
        [(key, entry)] = _records(tmp_path)["batches"].items()
        tokens = 9 * math.ceil(len("question 1") / 4) + math.ceil(10 / 4) + math.ceil(100 / 4)
        assert entry["dry_run"] and entry["requests"] == 10 and entry["prompt_tokens_estimate"] == tokens
        assert entry["max_output_tokens"] == 10 * GEN.max_new_tokens and f"~{tokens:,} prompt tokens" in str(e.value)
        assert _records(tmp_path)["totals"]["requests"] == 10
        # the input file stays, in the provider's format (vLLM's run_batch reads it as it is)
        lines = (tmp_path / "stage" / entry["input_file"]).read_text().splitlines()
        assert len(lines) == 10 and {json.loads(x)["url"] for x in lines} == {"/v1/chat/completions"}
        # the same run without the dry run submits exactly that input
        outs = _generator(stub, tmp_path).generate(prompts, GEN)
        assert all(c.ok for c in outs) and len(stub.uploads) == 1 and len(stub.uploads[0]["lines"]) == 10
        assert not _records(tmp_path)["batches"][key]["dry_run"]


def test_the_run_section_takes_the_batch_params():
    resolved = P.validate({"run": {"model": "openai-batch:gpt-4o-mini@https://api.openai.com/v1",
                                   "batch_dry_run": True, "batch_poll_interval": 5.0}})
    assert resolved["run"]["batch_dry_run"] is True
    with pytest.raises(P.ParamsError, match="one provider"):
        P.validate({"run": {"model": "openai-batch:m@http://a/v1,http://b/v1"}})
