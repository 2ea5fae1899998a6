"""The dataset card (README.md) written next to every export.

A synthetic dataset is reusable only if its provenance travels with it: which teacher models
wrote it, with which params (hash) and code (git sha), how much the elimination step and the
filters threw away, and where the seeds came from under which license. All of it is read from
the run folder through RunFolder (manifest, stage stats, every evolution attempt), never
recomputed. The YAML header is the hub's `DatasetCardData` (card_data.py): the hub and
`datasets.load_dataset(folder)` read the rows through its `configs`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from huggingface_hub import DatasetCard

from workbench.core.run_folder import FILES, STATS, RunFolder
from workbench.export.card_data import card_data, languages, reference_sections
from workbench.export.formats import LOADING
from workbench.export.trainer_configs import trainer_notes, unanswered

NOT_RECORDED = "not recorded"
ATTEMPTS, EVOLVE_STATS, FILTER_STATS = FILES["attempts"], f"02_evolve/{STATS}", f"03_filter/{STATS}"


def status_counts(run: RunFolder) -> dict:
    """kept / eliminated / failed over every attempt of 02_evolve, not only the exported rows."""
    rows = run.rows_or_none("attempts") or []
    return dict(Counter(r.get("status") for r in rows).most_common())


def teacher_models(rows: list[dict], params: dict) -> dict:
    """{"rows": {model: {field: count}}, "params": {role: model}}: what wrote the data, two ways."""
    found: dict[str, Counter] = {}
    for r in rows:
        for key in ("model", "answer_model"):
            if r.get(key):
                found.setdefault(r[key], Counter())[key] += 1
    run, evolve = params.get("run", {}), params.get("evolve", {})
    evolver = evolve.get("model") or run.get("model")
    configured = {"evolver": evolver, "answerer": evolve.get("answer_model") or evolver,
                  "judge": evolve.get("judge_model") or evolver}
    return {"rows": {m: dict(c) for m, c in found.items()}, "params": configured}


def _table(headers: tuple, rows) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _counts(title: str, counts: dict, what: str, empty: str) -> str:
    if not counts:
        return f"### {title}\n\n{empty}\n"
    return f"### {title}\n\n{_table((what, 'count'), counts.items())}\n"


def _value(v) -> str:
    return ", ".join(map(str, v)) if isinstance(v, list) else str(v)


def _hub_license(license_: str) -> str:
    """The card header wants a hub license id (apache-2.0); free text becomes 'other'."""
    return license_.lower() if license_ and " " not in license_ and license_ != NOT_RECORDED else "other"


def seed_provenance(seed_params: dict, seed_stats: dict) -> tuple[str, str, str | None]:
    """(seed set, license, warning): the bundled set's name and license never travel with
    seeds from another source; those are "unknown" unless the params state them."""
    if not seed_params and not seed_stats:
        return NOT_RECORDED, NOT_RECORDED, None
    from workbench.stages.seed.loaders import provenance

    return provenance(seed_params.get("source") or seed_stats.get("source") or "bundled",
                      seed_params.get("source_name") or "", seed_params.get("license") or "")


def dataset_card(run_dir: Path, rows: list[dict], summary: dict, written: list[dict] | None = None) -> str:
    """The card for an export: rows are the dataset after curation, written the records in
    the file (training formats leave rows without a response out)."""
    run = RunFolder(run_dir)
    written = rows if written is None else written
    manifest = run.manifest()
    params = manifest.get("params", {})
    seed_params, seed_stats = params.get("seed", {}), run.stats("01_seed")
    evolve_stats, filter_stats = run.stats("02_evolve"), run.stats("03_filter")
    source_name, license_, seed_warning = seed_provenance(seed_params, seed_stats)
    git = manifest.get("git") or {}
    sha = git.get("sha") or NOT_RECORDED
    dirty = {True: " (dirty: uncommitted changes)", False: " (clean)"}.get(git.get("dirty"), "")
    teachers = teacher_models(rows, params)
    by_round = Counter(r.get("round") for r in rows)
    by_op = Counter(r.get("op") or "seed" for r in rows)
    evolve = params.get("evolve", {})
    fmt, run_id = summary["format"], manifest.get("run_id", run.name)
    langs, how_detected = languages(written)
    header = card_data(fmt, written, params.get("run", {}).get("name") or run_id, _hub_license(license_), langs)

    parts = [
        f"# Evol-Instruct dataset from run {run_id}\n",
        f"{summary['rows_written']} rows in the {fmt} format, exported from "
        f"`{summary['source']}` of the run by the Evol-Instruct Workbench (`workbench export`). "
        f"Load it from this folder with:\n\n```python\nimport datasets\n{LOADING[fmt]}\n```\n\n"
        f"or through this card's `configs` (as the hub does): `datasets.load_dataset(\"<this folder>\", split=\"train\")`.\n",
        f"Language: {', '.join(langs)} ({how_detected}).\n",
    ]
    if summary.get("incomplete"):  # exported with --allow-incomplete: the first thing a reader sees
        parts.insert(1, "> **Incomplete:** exported with `--allow-incomplete` although "
                     + "; ".join(summary["incomplete"]) + ".\n")
    curated = summary.get("curation") or {}  # marks made in 00_explore (curation.jsonl)
    if curated.get("rejected") or curated.get("accepted"):
        parts.append(f"Curated by hand in the workbench explorer: {curated.get('rejected', 0)} rows marked rejected "
                     f"were left out; {curated.get('accepted', 0)} of the exported rows were marked accepted "
                     f"(the marks, with notes, are in the run's `{FILES['curation']}`).\n")
    if summary["left_out_no_response"]:
        parts.append(f"{summary['left_out_no_response']} rows without a response were left out of this "
                     "training format.\n")
    parts += [
        reference_sections(fmt, written),
        trainer_notes(fmt, Path(summary.get("out") or "."), unanswered(written)),
        "## Provenance\n",
        _table(("field", "value"), [
            ("run id", f"`{run_id}`"), ("created", manifest.get("created", NOT_RECORDED)),
            ("params file", f"`{manifest.get('params_file')}`" + (f" with {manifest['sets']}" if manifest.get("sets") else "")),
            ("params hash", f"`{manifest.get('params_hash', NOT_RECORDED)}`"),
            ("git sha", f"`{sha}`{dirty}"),
            ("workbench", (manifest.get("packages") or {}).get("workbench") or NOT_RECORDED),
        ]) + "\n",
        "## Teacher models\n",
        "Models that wrote the rows (`model`: evolved the instruction or answered a seed; "
        "`answer_model`: answered an evolved instruction):\n",
        _table(("model", "rows as model", "rows as answer_model"),
               [(f"`{m}`", c.get("model", 0), c.get("answer_model", 0)) for m, c in teachers["rows"].items()])
        if teachers["rows"] else "none recorded in the rows",
        "\nModels set by the run params:\n",
        _table(("role", "model"), [(k, f"`{v}`") for k, v in teachers["params"].items()]) + "\n",
        "## Seeds\n",
        _table(("field", "value"), [("seed set", source_name), ("license", license_),
                          ("source", f"`{seed_params.get('source', NOT_RECORDED)}`"),
                          ("seeds kept", seed_stats.get("kept", NOT_RECORDED))]) + "\n",
        f"> **Warning:** {seed_warning}.\n" if seed_warning else "",
        "## Evolution settings\n",
        _table(("param", "value"), [(f"evolve.{k}", _value(evolve.get(k))) for k in
                                    ("rounds", "ops", "temperature", "answer_temperature") if k in evolve]) + "\n",
        "## Counts\n",
        _counts("Rows per round", {k: by_round[k] for k in sorted(by_round, key=lambda x: (x is None, x))},
                "round", "no rows"),
        _counts("Rows per op", dict(by_op.most_common()), "op", "no rows"),
        _counts(f"Attempts per status ({ATTEMPTS}, every attempt)", status_counts(run),
                "status", f"{ATTEMPTS} not found"),
        _counts(f"Eliminations by reason ({EVOLVE_STATS})", evolve_stats.get("reasons") or {},
                "reason", "no elimination recorded" if evolve_stats else f"{EVOLVE_STATS} not found"),
        _counts(f"Filter drops by reason ({FILTER_STATS})", filter_stats.get("dropped_by_reason") or {},
                "reason", "no row dropped" if filter_stats else "no 03_filter stage in this run"),
        validity_section(run, evolve_stats),
    ]
    return str(DatasetCard(f"---\n{header.to_yaml()}\n---\n\n" + "\n".join(parts)))


def validity_section(run: RunFolder | Path, evolve_stats: dict) -> str:
    """What a reader must know before trusting the run's numbers: unchecked evolutions, the
    difficulty judge's validation against human labels, and the paper's claims as stated."""
    run = run if isinstance(run, RunFolder) else RunFolder(run)
    difficulty = run.stats("04_difficulty")
    val = difficulty.get("validation") or {}
    judge, base = val.get("judge") or {}, val.get("baseline_word_count") or {}
    rows = [("kept evolutions no judge checked for information gain", _value(evolve_stats.get("unchecked_kept_share"))),
            ("difficulty judge", difficulty.get("judge_verdict", "no 04_difficulty stage in this run")),
            ("judge Spearman vs human labels (95% CI)", f"{judge.get('rho')} [{judge.get('lo')}, {judge.get('hi')}], n={judge.get('n')}"
             if judge else NOT_RECORDED),
            ("word-count baseline Spearman", _value(base.get("rho")) if base else NOT_RECORDED)]
    claims = [difficulty.get("claim"), run.stats("05_diversity").get("claim"),
              *run.stats("07_evaluate").get("claims", [])]
    rows += [(c.get("statement", c.get("id")), c.get("verdict")) for c in claims if c]
    note = ("" if difficulty.get("judge_verdict") == "validated" else
            "\n> Difficulty scores in these rows come from a judge that was not validated against human labels.\n")
    return "## Validity\n\n" + _table(("check", "result"), rows) + "\n" + note
