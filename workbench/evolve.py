"""Evol-Instruct rounds: evolve -> answer -> eliminate, M times, with full lineage.

    pool = seeds
    for round in 1..M:
        every pool member is evolved with an op chosen from (run seed, record id, round)
        the evolved instruction is answered, then the elimination rules run
        survivors replace their parent in the pool; a failed evolution leaves the parent
        in the pool, so it is evolved again next round (as in the paper)

Every attempt is returned (kept, eliminated or failed, with reasons); the dataset is the
seeds plus all kept evolutions. All model calls go through cached generators, so a resumed
or repeated run makes no call that already succeeded.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from . import eliminate as E
from . import templates
from .llm import Generator, GenParams
from .records import OPS, full_text, new_evolution

RULES = ("no_information_gain", "sorry_short_response", "degenerate_response", "prompt_leak",
         "empty", "unchanged", "too_long")


@dataclass
class EvolveConfig:
    rounds: int = 4
    ops: list[str] = field(default_factory=lambda: list(OPS))
    op_weights: list[float] = field(default_factory=lambda: [1.0] * len(OPS))
    formats: list[str] = field(default_factory=lambda: list(templates.FORMATS))
    seed: int = 0
    evolve_gen: GenParams = GenParams(max_new_tokens=256, temperature=0.7, top_p=0.95)
    answer_gen: GenParams = GenParams(max_new_tokens=256)
    judge_gen: GenParams = GenParams(max_new_tokens=8)
    answer_seeds: bool = True
    rules: dict = field(default_factory=lambda: dict.fromkeys(RULES, True))
    judge_unparsable: str = "keep"  # keep | eliminate
    sorry_max_words: int = 80
    max_instruction_chars: int = 2000


def check_config(values: dict) -> list[str]:
    """Semantic checks on the evolve section that types alone cannot catch (run before work)."""
    errs = []
    ops, weights = values.get("ops", list(OPS)), values.get("op_weights")
    unknown = [o for o in ops if o not in OPS]
    if unknown:
        errs.append(f"evolve.ops: unknown op(s) {unknown} (known: {', '.join(OPS)})")
    if not ops:
        errs.append("evolve.ops: enable at least one op")
    if weights is not None and len(weights) != len(ops):
        errs.append(f"evolve.op_weights: {len(weights)} weights for {len(ops)} ops")
    elif weights is not None and (any(not isinstance(w, int | float) or w < 0 for w in weights) or sum(weights) <= 0):
        errs.append("evolve.op_weights: weights must be >= 0 with a positive sum")
    bad_formats = [f for f in values.get("formats", []) if f not in templates.FORMATS]
    if bad_formats:
        errs.append(f"evolve.formats: unknown format(s) {bad_formats} (known: {', '.join(templates.FORMATS)})")
    return errs


def _rng(seed: int, record_id: str, round_: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{record_id}:{round_}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def assign_ops(cfg: EvolveConfig, record_ids: list[str], round_: int) -> list[tuple[str, str | None]]:
    """(op, data format for complicate_input) per record — the same on every rerun.

    Op counts follow the weights exactly (largest remainder), and which record gets which op
    is a shuffle seeded by (run seed, round) over records ranked by hash(seed, id, round).
    Independent draws would leave some ops out of a small run; this never does when the
    pool has at least as many members as there are ops with weight.
    """
    n = len(record_ids)
    round_rng = random.Random(f"{cfg.seed}:round:{round_}")
    total = sum(cfg.op_weights)
    quotas = [w / total * n for w in cfg.op_weights]
    counts = [int(q) for q in quotas]
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - counts[i]), round_rng.random()))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    ops = [op for op, c in zip(cfg.ops, counts) for _ in range(c)]
    round_rng.shuffle(ops)
    ranked = sorted(range(n), key=lambda i: _rng(cfg.seed, record_ids[i], round_).random())
    out: list[tuple[str, str | None]] = [("", None)] * n
    for op, i in zip(ops, ranked):
        fmt = _rng(cfg.seed, record_ids[i], round_ + 10_000).choice(cfg.formats) if op == "complicate_input" else None
        out[i] = (op, fmt)
    return out


def evolution_prompt(op: str, parent: dict, fmt: str | None) -> str:
    values = {"instruction": full_text(parent)}
    if op == "complicate_input":
        values |= {"format": fmt, "demonstration": templates.demonstration(fmt)}
    return templates.load(op).render(**values)


def clean_output(text: str) -> str:
    """Trim whitespace and one pair of wrapping quotes; anything else is judged as written."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        text = text[1:-1].strip()
    return text


def _user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


@dataclass
class EvolveResult:
    records: list[dict]  # seeds then every attempt, in order
    stats: dict


def run_evolution(seeds: list[dict], cfg: EvolveConfig, evolver: Generator, answerer: Generator,
                  judge: Generator | None, log=lambda msg: None) -> EvolveResult:
    leak = templates.leak_phrases(cfg.ops)
    seeds = [dict(s) for s in seeds]
    if cfg.answer_seeds:
        todo = [s for s in seeds if not s.get("response")]
        outs = answerer.generate([_user(full_text(s)) for s in todo], cfg.answer_gen)
        for s, c in zip(todo, outs):
            s["response"] = c.text if c.ok else None
            s["model"], s["gen"] = answerer.model_id, cfg.answer_gen.as_dict()
            if not c.ok:
                s["status"], s["reasons"] = "failed", ["backend_error"]
                s["error"] = c.error
    attempts: list[dict] = []
    pool = [s for s in seeds if s["status"] == "kept"]
    for round_ in range(1, cfg.rounds + 1):
        round_attempts = _one_round(pool, round_, cfg, evolver, answerer, judge, leak)
        attempts += round_attempts
        by_parent = {a["parent_id"]: a for a in round_attempts if a["status"] == "kept"}
        pool = [by_parent.get(p["id"], p) for p in pool]
        kept = sum(a["status"] == "kept" for a in round_attempts)
        log(f"round {round_}: {kept}/{len(round_attempts)} evolutions kept")
    return EvolveResult(seeds + attempts, summarise(seeds, attempts, cfg))


def _one_round(pool, round_, cfg, evolver, answerer, judge, leak) -> list[dict]:
    picks = assign_ops(cfg, [p["id"] for p in pool], round_)
    prompts = [_user(evolution_prompt(op, p, fmt)) for p, (op, fmt) in zip(pool, picks)]
    outs = evolver.generate(prompts, cfg.evolve_gen)
    rows = []
    for parent, (op, fmt), c in zip(pool, picks, outs):
        text = clean_output(c.text) if c.ok else ""
        rec = new_evolution(parent, round_, op, text, model=evolver.model_id,
                            gen=cfg.evolve_gen.as_dict(), template_sha=templates.load(op).sha)
        rec["format"] = fmt
        rec["checks"] = {}
        if "skill" in parent:
            rec["skill"] = parent["skill"]
        if not c.ok:
            rec["status"], rec["reasons"], rec["error"] = "failed", ["backend_error"], c.error
        else:
            reasons = [r for r in (
                E.empty_text(text) if cfg.rules["empty"] else None,
                E.unchanged(text, full_text(parent)) if cfg.rules["unchanged"] and text else None,
                E.too_long(text, cfg.max_instruction_chars) if cfg.rules["too_long"] else None,
                E.prompt_leak(text, leak) if cfg.rules["prompt_leak"] and text else None,
            ) if r]
            if reasons:
                rec["status"], rec["reasons"] = "eliminated", reasons
        rows.append((parent, rec))
    # answer only what survived the instruction checks: no calls spent on doomed rows
    live = [(p, r) for p, r in rows if r["status"] == "kept"]
    answers = answerer.generate([_user(r["instruction"]) for _, r in live], cfg.answer_gen)
    for (_, rec), c in zip(live, answers):
        rec["answer_model"], rec["answer_gen"] = answerer.model_id, cfg.answer_gen.as_dict()
        if not c.ok:
            rec["status"], rec["reasons"], rec["error"] = "failed", ["backend_error"], c.error
            continue
        rec["response"] = c.text
        reasons = [r for r in (
            E.empty_text(c.text, "empty_response") if cfg.rules["empty"] else None,
            E.sorry_short(c.text, cfg.sorry_max_words) if cfg.rules["sorry_short_response"] else None,
            E.degenerate(c.text) if cfg.rules["degenerate_response"] and c.text.strip() else None,
        ) if r]
        if reasons:
            rec["status"], rec["reasons"] = "eliminated", reasons
    if cfg.rules["no_information_gain"] and judge is not None:
        live = [(p, r) for p, r in rows if r["status"] == "kept"]
        equal = templates.load("equal_judge")
        verdicts = judge.generate(
            [_user(equal.render(first=full_text(p), second=r["instruction"])) for p, r in live], cfg.judge_gen)
        for (_, rec), c in zip(live, verdicts):
            if not c.ok:
                rec["status"], rec["reasons"], rec["error"] = "failed", ["backend_error"], c.error
                continue
            verdict = E.parse_equal_verdict(c.text)
            rec["checks"]["equal_judge"] = {"verdict": verdict, "raw": c.text, "model": judge.model_id}
            if verdict == E.EQUAL:
                rec["status"], rec["reasons"] = "eliminated", ["no_information_gain"]
            elif verdict == E.UNPARSABLE and cfg.judge_unparsable == "eliminate":
                rec["status"], rec["reasons"] = "eliminated", ["judge_unparsable"]
    return [r for _, r in rows]


def summarise(seeds: list[dict], attempts: list[dict], cfg: EvolveConfig) -> dict:
    """Counts per status, per reason x op x round, and keep rates per op and round."""
    by_rule: dict = defaultdict(lambda: defaultdict(Counter))
    tried = defaultdict(Counter)
    kept = defaultdict(Counter)
    for a in attempts:
        tried[a["op"]][a["round"]] += 1
        if a["status"] == "kept":
            kept[a["op"]][a["round"]] += 1
        for reason in a["reasons"]:
            by_rule[reason][a["op"]][a["round"]] += 1
    n = len(attempts)
    reasons = Counter(r for a in attempts for r in a["reasons"])
    verdicts = Counter(a.get("checks", {}).get("equal_judge", {}).get("verdict") for a in attempts)
    verdicts.pop(None, None)
    return {
        "seeds": len(seeds),
        "seeds_answered": sum(1 for s in seeds if s.get("response")),
        "rounds": cfg.rounds,
        "attempts": n,
        "status": dict(Counter(a["status"] for a in attempts)),
        "kept_rate": round(sum(a["status"] == "kept" for a in attempts) / n, 4) if n else None,
        "reasons": dict(reasons.most_common()),
        "reason_share": {r: round(c / n, 4) for r, c in reasons.most_common()} if n else {},
        "by_rule_op_round": {r: {op: dict(sorted(c.items())) for op, c in ops.items()} for r, ops in by_rule.items()},
        "attempts_by_op_round": {op: dict(sorted(c.items())) for op, c in tried.items()},
        "kept_by_op_round": {op: dict(sorted(c.items())) for op, c in kept.items()},
        "judge_verdicts": dict(verdicts),
        "backend_failures": reasons.get("backend_error", 0),
    }


def dataset(records: list[dict], seed: int) -> list[dict]:
    """Seeds + every kept evolution, shuffled with the run seed (seeds need an answer)."""
    rows = [r for r in records if r["status"] == "kept" and r.get("response")]
    random.Random(seed).shuffle(rows)
    return rows
