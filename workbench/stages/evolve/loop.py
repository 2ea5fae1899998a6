"""Evol-Instruct rounds: evolve -> answer -> eliminate, M times, with full lineage.

    pool = seeds
    for round in 1..M:
        the pool's members get ops in the proportions of evolve.op_weights (assign_ops),
        each member evolved with its op
        the evolved instruction is answered, then the elimination rules run
        survivors replace their parent in the pool; a failed evolution leaves the parent
        in the pool, so it is evolved again next round (as in the paper)

Every attempt is returned (kept, eliminated or failed, with reasons); the elimination rules
are those of rules.py that `evolve.rules` lists, applied by phase as their inputs arrive:
the instruction rules before answering, the answer rules, then the judge. Each attempt is one
chain of requests (evolve -> answer -> judge, workbench/llm/chains.py): over pools of servers
an attempt is answered as soon as its evolution returns, for in-process models each step
goes in one batch; the records are the same either way. All model calls go through cached
generators, so a resumed or repeated run makes no call that already succeeded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from dataclasses import dataclass

from workbench.core import rules as R
from workbench.core import templates
from workbench.core.packs import Pack
from workbench.core.records import full_text, new_evolution
from workbench.llm import Generator, GenParams
from workbench.llm.chains import Ask, run_chains
from workbench.stages.evolve import rules as E

JUDGE_MAX_NEW_TOKENS = 8  # "Equal" / "Not Equal" and a little slack


def gen_params(cfg, seed: int) -> dict[str, GenParams]:
    """Decoding params of the evolver, answerer and judge, from the 02_evolve Config."""
    return {"evolve": GenParams(cfg.max_new_tokens, cfg.temperature, cfg.top_p, seed),
            "answer": GenParams(cfg.answer_max_new_tokens, cfg.answer_temperature, cfg.answer_top_p, seed),
            "judge": GenParams(JUDGE_MAX_NEW_TOKENS, 0.0, 1.0, seed)}


@dataclass
class EvolveChecks:
    """What the elimination rules look at besides the row."""

    max_chars: int
    sorry_max_words: int
    leak: frozenset


def _rng(seed: int, record_id: str, round_: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{record_id}:{round_}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def assign_ops(cfg, record_ids: list[str], round_: int, seed: int = 0) -> list[tuple[str, str | None]]:
    """(op, data format for an op that adds input) per record — the same on every rerun.

    Op counts follow cfg.op_weights exactly (largest remainder), and which record gets which
    op is a shuffle seeded by (run seed, round) over records ranked by hash(seed, id, round).
    Independent draws would leave some ops out of a small run; this never does when the
    pool has at least as many members as there are ops with weight.
    """
    n, pack, weights = len(record_ids), cfg.pack(), cfg.weights()
    round_rng = random.Random(f"{seed}:round:{round_}")
    total = sum(weights)
    quotas = [w / total * n for w in weights]
    counts = [int(q) for q in quotas]
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - counts[i]), round_rng.random()))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    ops = [op for op, c in zip(cfg.op_names(), counts) for _ in range(c)]
    round_rng.shuffle(ops)
    ranked = sorted(range(n), key=lambda i: _rng(seed, record_ids[i], round_).random())
    out: list[tuple[str, str | None]] = [("", None)] * n
    for op, i in zip(ops, ranked):
        fmt = _rng(seed, record_ids[i], round_ + 10_000).choice(cfg.formats) if pack.ops[op].adds_input else None
        out[i] = (op, fmt)
    return out


def evolution_prompt(pack: Pack, op: str, parent: dict, fmt: str | None) -> str:
    return pack.prompt(op, full_text(parent), fmt, parent.get("response") or "")


def clean_output(text: str) -> str:
    """Trim whitespace and one pair of wrapping quotes; anything else is judged as written."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        text = text[1:-1].strip()
    return text


def _user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _fail(rec: dict, error: str | None) -> None:
    rec["status"], rec["reasons"], rec["error"] = "failed", [E.BACKEND_ERROR], error


def _eliminate(rec: dict, drops: list[R.Verdict]) -> None:
    if drops:
        rec["status"], rec["reasons"] = "eliminated", [d.reason for d in drops]


@dataclass
class RoundContext:
    """What every round of one run shares: the config, the run seed, the models, the rule context."""

    cfg: object  # the 02_evolve Config (workbench/stages/evolve/stage.py)
    seed: int
    evolver: Generator
    answerer: Generator
    judge: Generator | None
    gens: dict
    checks: EvolveChecks
    pack: Pack

    def rules(self, phase: str) -> tuple[str, ...]:
        """The rules evolve.rules turns on for one phase (instruction, answer, judge), in order."""
        return R.applied("evolve", self.cfg.rules, phase=phase)


@dataclass
class Evolution:
    seeds: list[dict]  # answered where they came without a response
    attempts: list[dict]  # every evolution attempt, round by round

    @property
    def records(self) -> list[dict]:
        return self.seeds + self.attempts


# Pools larger than this go through a round in slices: each slice is evolved, answered and
# judged, then handed to the sink, so memory holds one slice of attempts, not a whole round.
SLICE = 4096
# Over pools of servers an attempt is answered and judged as soon as its evolution returns
# (workbench/llm/chains.py); off, every round goes phase by phase, as it does for in-process
# models (bench/pipelined_rounds.py times the two). The records are the same either way.
PIPELINE = True


def run_evolution(seeds: list[dict], cfg, evolver: Generator, answerer: Generator, judge: Generator | None,
                  seed: int = 0, log=lambda msg: None, sink=None) -> Evolution:
    """Every round of the method. `cfg` is the 02_evolve Config (workbench/stages/evolve/stage.py), `seed`
    the run seed: op choice, sampling and shuffles follow from the two.

    With `sink`, the answered seeds and then each finished slice of attempts are passed to
    sink(rows) as soon as they are done, and not kept: the returned Evolution then holds the
    seeds only. Without it, every attempt is returned."""
    pack = cfg.pack()
    checks = EvolveChecks(cfg.max_instruction_chars, cfg.sorry_max_words,
                          pack.leak_vocabulary(cfg.op_names(), E.STOP_WORDS) | E.PAPER_LABELS)
    ctx = RoundContext(cfg, seed, evolver, answerer, judge, gen_params(cfg, seed), checks, pack)
    seeds = [dict(s) for s in seeds]
    if cfg.answer_seeds or cfg.reanswer_seeds:
        todo = [s for s in seeds if cfg.reanswer_seeds or not s.get("response")]
        outs = answerer.generate([_user(pack.answer_prompt(full_text(s))) for s in todo], ctx.gens["answer"])
        for s, c in zip(todo, outs):
            if s.get("response"):  # re-answered: the source file's answer stays beside the new one
                s["source_response"] = s["response"]
            s["response"] = c.text if c.ok else None
            s["model"], s["gen"] = answerer.model_id, ctx.gens["answer"].as_dict()
            if not c.ok:
                _fail(s, c.error)
    attempts: list[dict] = []
    if sink is not None:
        sink(seeds)
    pool = [s for s in seeds if s["status"] == "kept"]
    for round_ in range(1, cfg.rounds + 1):
        picks = assign_ops(cfg, [p["id"] for p in pool], round_, seed)  # balanced over the whole pool
        next_pool, kept, tried = [], 0, 0
        for start in range(0, len(pool), SLICE):
            part = pool[start:start + SLICE]
            done = _one_round(part, picks[start:start + SLICE], round_, ctx)
            by_parent = {a["parent_id"]: a for a in done if a["status"] == "kept"}
            next_pool += [by_parent.get(p["id"], p) for p in part]
            kept, tried = kept + len(by_parent), tried + len(done)
            if sink is not None:
                sink(done)
            else:
                attempts += done
        pool = next_pool
        log(f"round {round_}: {kept}/{tried} evolutions kept")
    return Evolution(seeds, attempts)


def _round_gen(gen: GenParams, seed: int, round_: int) -> GenParams:
    """Sampling seed per round: a parent evolved again after a failed attempt gets a fresh
    sample (the paper's retry), while a resumed run asks the same and hits the cache."""
    return dataclasses.replace(gen, seed=int.from_bytes(hashlib.sha256(f"{seed}:{round_}".encode()).digest()[:4], "big"))


def _one_round(pool: list[dict], picks: list[tuple[str, str | None]], round_: int, ctx: RoundContext) -> list[dict]:
    gen = _round_gen(ctx.gens["evolve"], ctx.seed, round_)
    chains = [_attempt_chain(p, op, fmt, round_, gen, ctx) for p, (op, fmt) in zip(pool, picks)]
    used = [ctx.evolver, ctx.answerer] + ([ctx.judge] if _judging(ctx) else [])
    return run_chains(chains, used, task=f"round {round_}", pipeline=PIPELINE)


def _judging(ctx: RoundContext) -> bool:
    return bool(ctx.rules("judge")) and ctx.judge is not None


def _attempt_chain(parent: dict, op: str, fmt: str | None, round_: int, gen: GenParams, ctx: RoundContext):
    """One pool member's attempt: evolve it, answer the evolution, judge the two. Each model
    request is yielded to run_chains, which sends it back its reply; the rules run on each
    record as its replies come, so nothing here depends on the other attempts of the round."""
    c = yield Ask(ctx.evolver, _user(evolution_prompt(ctx.pack, op, parent, fmt)), gen)
    rec = _attempt(parent, op, fmt, c, round_, gen, ctx)
    # answer only what survived the instruction checks: no calls spent on doomed rows; an op
    # that rewrote the answer brought its own
    if rec["status"] == "kept" and rec["response"] is None:
        answer = yield Ask(ctx.answerer, _user(ctx.pack.answer_prompt(full_text(rec))), ctx.gens["answer"])
        rec["answer_model"], rec["answer_gen"] = ctx.answerer.model_id, ctx.gens["answer"].as_dict()
        if answer.ok:
            rec["response"] = answer.text
        else:
            _fail(rec, answer.error)
    if rec["status"] == "kept":
        _eliminate(rec, R.all_drops(ctx.rules("answer"), rec, ctx.checks))
    # the Equal judge compares tasks: a rewritten answer keeps its task, so it is not asked
    if _judging(ctx) and rec["status"] == "kept" and _target(rec, ctx) == "instruction":
        yield from _judge_equal(parent, rec, ctx)
    return rec


def _target(rec: dict, ctx: RoundContext) -> str:
    return ctx.pack.ops[rec["op"]].target


def _attempt(parent: dict, op: str, fmt: str | None, c, round_: int, gen: GenParams, ctx: RoundContext) -> dict:
    """One evolution attempt from the evolver's reply, through the instruction-phase rules. An
    op that rewrites the answer keeps the parent's task, and its rules read the new answer
    against the parent's (length and input rules, which are about tasks, are left out)."""
    text = clean_output(c.text) if c.ok else ""
    spec = ctx.pack.ops[op]
    rules = ctx.rules("instruction")
    if spec.target == "response":
        instruction, input_, before = parent["instruction"], parent.get("input") or "", parent.get("response") or ""
        lost = None
        rules = tuple(r for r in rules if not R.RULES[r].task_only)
    else:
        instruction, input_, lost = E.split_input(spec, text, parent.get("input") or "")
        before = full_text(parent)
    rec = new_evolution(parent, round_, op, instruction, input_, model=ctx.evolver.model_id,
                        gen=gen.as_dict(), templates=ctx.pack.name, template_sha=spec.template.sha)
    rec["format"] = fmt
    rec["checks"] = {}
    if "skill" in parent:
        rec["skill"] = parent["skill"]
    if not c.ok:
        _fail(rec, c.error)
        return rec
    if spec.target == "response":
        rec["response"], rec["answer_model"], rec["answer_gen"] = text, ctx.evolver.model_id, gen.as_dict()
    drops = R.all_drops(rules, {"instruction": text, "parent_text": before, "input_lost": lost is not None}, ctx.checks)
    leaks = [d.detail for d in drops if d.reason == "prompt_leak"]
    if leaks:
        rec["checks"]["leaked_phrases"] = leaks[0]
    _eliminate(rec, drops)
    return rec


def _judge_equal(parent: dict, rec: dict, ctx: RoundContext):
    """The information-gain check (a chain's last steps). Where the judge exposes token
    probabilities, the verdict is the likelier of the whole replies "Equal" / "Not Equal" (when
    they hold at least judge_min_mass); otherwise, or below that mass, its text reply is parsed."""
    prompt = _user(templates.load("equal_judge").render(first=full_text(parent), second=full_text(rec)))
    probs = yield Ask(ctx.judge, prompt, choices=tuple(E.VERDICT_CHOICES))
    verdict, p_equal, mass = E.verdict_from_probs(probs, ctx.cfg.judge_min_mass)
    check = {"verdict": verdict, "source": "probs", "p_equal": p_equal, "mass": round(mass, 4),
             "model": ctx.judge.model_id}
    if verdict == E.UNPARSABLE:
        c = yield Ask(ctx.judge, prompt, ctx.gens["judge"])
        if not c.ok:
            _fail(rec, c.error)
            return
        check |= {"verdict": E.parse_equal_verdict(c.text), "source": "text", "raw": c.text}
    rec["checks"]["equal_judge"] = check
    _eliminate(rec, R.all_drops(ctx.rules("judge"), rec, ctx.checks))
    if check["verdict"] == E.UNPARSABLE and ctx.cfg.judge_unparsable == "eliminate":
        _eliminate(rec, [R.Verdict(False, E.JUDGE_UNPARSABLE)])
