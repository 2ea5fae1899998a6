"""The record: one JSON object per line, the same shape in every stage.

    id            stable hash of (root_id, round, op, instruction [+ input])
    root_id       id of the seed this lineage started from (a seed's own id)
    parent_id     id of the record it was evolved from; None for seeds
    round         0 for seeds, 1..M for evolutions
    depth         successful evolutions behind the record (0 for seeds): a parent whose
                  evolution failed is evolved again next round, so round can exceed depth
    op            None | an op of the template pack (OPS: the general pack's, the paper's six)
    instruction   text; input: optional text
    response      text or None
    status        kept | eliminated | failed
    reasons       list of reason codes
    model, gen    model id and decoding params; templates: the pack; template_sha: hash of the template used
    scores        {difficulty, ifd, ...}; a score that could not be obtained is None
"""

from __future__ import annotations

import hashlib
import json

OPS = (
    "add_constraints",
    "deepening",
    "concretizing",
    "increase_reasoning",
    "complicate_input",
    "breadth",
)
STATUSES = ("kept", "eliminated", "failed")
# The dataset variants the paper compares: 06_finetune trains them, 07_evaluate names them as candidates
VARIANTS = ("seeds", "evolved", "selected")
REQUIRED_KEYS = (
    "id", "root_id", "parent_id", "round", "op", "instruction", "input", "response",
    "status", "reasons", "model", "gen", "template_sha", "scores",
)


def full_text(rec: dict) -> str:
    """The instruction with its input after a blank line: what the evolver, answerer, judges,
    embedder and trainer all see. {"instruction": "Sort.", "input": "3 1"} -> "Sort.\n\n3 1" """
    text = rec.get("instruction") or ""
    return text + (f"\n\n{rec['input']}" if rec.get("input") else "")


def sha(text: str, n: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def record_id(root_id: str | None, round_: int, op: str | None, instruction: str, input_: str = "") -> str:
    # input is part of the identity: the same question over two inputs is two records
    key = json.dumps([root_id or "", round_, op or "", instruction, input_ or ""], ensure_ascii=False)
    return sha(key)


def new_seed(instruction: str, input_: str = "", response: str | None = None, **extra) -> dict:
    rid = record_id(None, 0, None, instruction, input_)
    rec = {
        "id": rid, "root_id": rid, "parent_id": None, "round": 0, "depth": 0, "op": None,
        "instruction": instruction, "input": input_, "response": response,
        "status": "kept", "reasons": [], "model": None, "gen": None, "template_sha": None,
        "scores": {},
    }
    rec.update(extra)
    return rec


def new_evolution(parent: dict, round_: int, op: str, instruction: str, input_: str = "", **fields) -> dict:
    rec = {
        "id": record_id(parent["root_id"], round_, op, instruction, input_),
        "root_id": parent["root_id"], "parent_id": parent["id"], "round": round_,
        "depth": parent.get("depth", parent["round"]) + 1, "op": op,
        "instruction": instruction, "input": input_, "response": None,
        "status": "kept", "reasons": [], "model": None, "gen": None, "template_sha": None,
        "scores": {},
    }
    rec.update(fields)
    return rec


def schema_errors(rec: dict) -> list[str]:
    """What is wrong with a record, as readable strings (empty when it conforms)."""
    errs = [f"missing key {k!r}" for k in REQUIRED_KEYS if k not in rec]
    if errs:
        return errs
    if not isinstance(rec["round"], int) or rec["round"] < 0:
        errs.append(f"round must be an int >= 0, got {rec['round']!r}")
    if "depth" in rec and (not isinstance(rec["depth"], int) or not 0 <= rec["depth"] <= rec["round"]):
        errs.append(f"depth must be an int in 0..round, got {rec['depth']!r}")
    if rec["op"] is not None and not (isinstance(rec["op"], str) and rec["op"]):
        errs.append(f"op must be None or an op name, got {rec['op']!r}")
    if rec["round"] == 0 and (rec["op"] is not None or rec["parent_id"] is not None):
        errs.append("a round-0 record (seed) has op and parent_id None")
    if rec["round"] > 0 and (rec["op"] is None or rec["parent_id"] is None):
        errs.append("an evolved record needs op and parent_id")
    if rec["status"] not in STATUSES:
        errs.append(f"unknown status {rec['status']!r}")
    if not isinstance(rec["reasons"], list):
        errs.append("reasons must be a list")
    if rec["status"] != "kept" and not rec["reasons"]:
        errs.append("a record that is not kept must carry reasons")
    if not isinstance(rec["scores"], dict):
        errs.append("scores must be a dict")
    if not isinstance(rec["instruction"], str):
        errs.append("instruction must be text")
    return errs
