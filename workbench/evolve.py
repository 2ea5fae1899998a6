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

import dataclasses
import hashlib
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from . import eliminate as E
from . import templates
from .llm import Generator, GenParams
from .records import OPS, full_text, new_evolution

RULES = ("no_information_gain", "sorry_short_response", "degenerate_response", "prompt_leak",
         "empty", "unchanged", "too_long", "input_lost")


@dataclass
class EvolveConfig:
    rounds: int = 4
    ops: list[str] = field(default_factory=lambda: list(OPS))
    op_weights: list[float] = field(default_factory=lambda: [1.0] * len(OPS))
    formats: list[str] = field(default_factory=lambda: list(templates.FORMATS))
    seed: int = 0
    evolve_gen: GenParams = GenParams(max_new_tokens=160, temperature=0.7, top_p=0.95)
    answer_gen: GenParams = GenParams(max_new_tokens=192)
    judge_gen: GenParams = GenParams(max_new_tokens=8)
    answer_seeds: bool = True
    rules: dict = field(default_factory=lambda: dict.fromkeys(RULES, True))
    judge_unparsable: str = "keep"  # keep | eliminate
    judge_min_mass: float = 0.5  # probability on the whole replies Equal / Not Equal needed to decide from it
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
    leak = templates.leak_vocabulary(tuple(cfg.ops), E.STOP_WORDS)
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


def _round_gen(gen: GenParams, seed: int, round_: int) -> GenParams:
    """Sampling seed per round: a parent evolved again after a failed attempt gets a fresh
    sample (the paper's retry), while a resumed run asks the same and hits the cache."""
    return dataclasses.replace(gen, seed=int.from_bytes(hashlib.sha256(f"{seed}:{round_}".encode()).digest()[:4], "big"))


def _one_round(pool, round_, cfg, evolver, answerer, judge, leak) -> list[dict]:
    picks = assign_ops(cfg, [p["id"] for p in pool], round_)
    prompts = [_user(evolution_prompt(op, p, fmt)) for p, (op, fmt) in zip(pool, picks)]
    gen = _round_gen(cfg.evolve_gen, cfg.seed, round_)
    outs = evolver.generate(prompts, gen)
    rows = []
    for parent, (op, fmt), c in zip(pool, picks, outs):
        text = clean_output(c.text) if c.ok else ""
        instruction, input_, lost = E.split_input(op, text, parent.get("input") or "")
        rec = new_evolution(parent, round_, op, instruction, input_, model=evolver.model_id,
                            gen=gen.as_dict(), template_sha=templates.load(op).sha)
        rec["format"] = fmt
        rec["checks"] = {}
        if "skill" in parent:
            rec["skill"] = parent["skill"]
        if not c.ok:
            rec["status"], rec["reasons"], rec["error"] = "failed", ["backend_error"], c.error
        else:
            leaked, phrases = E.prompt_leak(text, full_text(parent), leak) if cfg.rules["prompt_leak"] and text else (None, [])
            if leaked:
                rec["checks"]["leaked_phrases"] = phrases
            reasons = [r for r in (
                E.empty_text(text) if cfg.rules["empty"] else None,
                E.unchanged(text, full_text(parent)) if cfg.rules["unchanged"] and text else None,
                E.too_long(text, cfg.max_instruction_chars) if cfg.rules["too_long"] else None,
                leaked,
                lost if cfg.rules["input_lost"] and text else None,
            ) if r]
            if reasons:
                rec["status"], rec["reasons"] = "eliminated", reasons
        rows.append((parent, rec))
    # answer only what survived the instruction checks: no calls spent on doomed rows
    live = [(p, r) for p, r in rows if r["status"] == "kept"]
    answers = answerer.generate([_user(full_text(r)) for _, r in live], cfg.answer_gen)
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
        _judge_equal([(p, r) for p, r in rows if r["status"] == "kept"], cfg, judge)
    return [r for _, r in rows]


def _judge_equal(live: list[tuple[dict, dict]], cfg: EvolveConfig, judge: Generator) -> None:
    """The information-gain check. Where the judge exposes token probabilities, the verdict is
    the likelier of the whole replies "Equal" / "Not Equal" (when they hold at least
    judge_min_mass); otherwise, or below that mass, its text reply is parsed."""
    equal = templates.load("equal_judge")
    prompts = [_user(equal.render(first=full_text(p), second=full_text(r))) for p, r in live]
    probs = judge.choice_probs(prompts, E.VERDICT_CHOICES)
    decided = [E.verdict_from_probs(p, cfg.judge_min_mass) for p in probs]
    need_text = [i for i, (v, _, _) in enumerate(decided) if v == E.UNPARSABLE]
    texts = dict(zip(need_text, judge.generate([prompts[i] for i in need_text], cfg.judge_gen)))
    for i, (_, rec) in enumerate(live):
        verdict, p_equal, mass = decided[i]
        check = {"verdict": verdict, "source": "probs", "p_equal": p_equal, "mass": round(mass, 4), "model": judge.model_id}
        if i in texts:
            c = texts[i]
            if not c.ok:
                rec["status"], rec["reasons"], rec["error"] = "failed", ["backend_error"], c.error
                continue
            check |= {"verdict": E.parse_equal_verdict(c.text), "source": "text", "raw": c.text}
        rec["checks"]["equal_judge"] = check
        if check["verdict"] == E.EQUAL:
            rec["status"], rec["reasons"] = "eliminated", ["no_information_gain"]
        elif check["verdict"] == E.UNPARSABLE and cfg.judge_unparsable == "eliminate":
            rec["status"], rec["reasons"] = "eliminated", ["judge_unparsable"]


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
    sources = Counter(a.get("checks", {}).get("equal_judge", {}).get("source") for a in attempts)
    sources.pop(None, None)
    kept_evolved = [a for a in attempts if a["status"] == "kept"]
    # kept without a readable Equal / Not Equal verdict: the information-gain rule never ran on them
    unchecked = sum(a.get("checks", {}).get("equal_judge", {}).get("verdict", E.UNPARSABLE) == E.UNPARSABLE
                    for a in kept_evolved)
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
        "judge_verdict_sources": dict(sources),
        "unchecked_kept": unchecked,
        "unchecked_kept_share": round(unchecked / len(kept_evolved), 4) if kept_evolved else None,
        "backend_failures": reasons.get("backend_error", 0),
    }


def dataset(records: list[dict], seed: int) -> list[dict]:
    """Seeds + every kept evolution, shuffled with the run seed (seeds need an answer)."""
    rows = [r for r in records if r["status"] == "kept" and r.get("response")]
    random.Random(seed).shuffle(rows)
    return rows


def unchecked_banner(stats: dict) -> str:
    """One line on how many kept evolutions no judge checked for information gain."""
    share = stats.get("unchecked_kept_share")
    if share is None:
        return "no evolution was kept"
    return (f"{'WARNING: ' if share > 0.2 else ''}{stats['unchecked_kept']} of "
            f"{stats['status'].get('kept', 0)} kept evolutions ({share:.0%}) were never checked for "
            f"information gain (no readable Equal / Not Equal verdict, or the rule is off)")


def check_failure_rate(records: list[dict], max_failure_rate: float) -> None:
    """Fail the stage when more than max_failure_rate of the model-called items failed."""
    failed = sum(r["status"] == "failed" for r in records)
    tried = len(records)
    if tried and failed / tried > max_failure_rate:
        raise RuntimeError(f"{failed} of {tried} items failed at the model backend (more than max_failure_rate="
                           f"{max_failure_rate}); records.jsonl keeps every attempt; check the backend and resume")
