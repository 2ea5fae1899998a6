"""The dataset card's metadata (the hub's `DatasetCardData`) and its reference sections.

    data = card_data(fmt, rows, run_name, license_id)   # pretty_name, task_categories, language, ...
    languages(rows)        # (["en", "fr"], "detected by langdetect over 4 rows: en 3, fr 1")

The language list is detected from the exported rows with langdetect, not assumed; where
nothing can be detected (no letters, too little text) the card says "en" is a fallback.
"""

from __future__ import annotations

import json
from collections import Counter

from huggingface_hub import DatasetCardData

from workbench.core.records import full_text
from workbench.export.formats import DATA_FILES, FIELDS, sample_row

FALLBACK_LANGUAGE = "en"
MIN_LANGUAGE_SHARE = 0.05  # a language on fewer rows than this is noise of the detector, not a language of the set
MAX_DETECTED_ROWS = 500  # rows spread evenly over the set; enough to name its languages
CITATION = """@article{xu2023wizardlm,
  title   = {WizardLM: Empowering Large Language Models to Follow Complex Instructions},
  author  = {Xu, Can and Sun, Qingfeng and Zheng, Kai and Geng, Xiubo and Zhao, Pu and Feng, Jiazhan
             and Tao, Chongyang and Jiang, Daxin},
  journal = {arXiv preprint arXiv:2304.12244},
  year    = {2023},
  url     = {https://arxiv.org/abs/2304.12244}
}"""
SIZE_BOUNDS = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
               (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"))


def size_category(n: int) -> str:
    return next((name for bound, name in SIZE_BOUNDS if n < bound), "n>100M")


def _row_text(rec: dict) -> str:
    return f"{full_text(rec)}\n{rec.get('response') or ''}"[:2000]


def languages(rows: list[dict]) -> tuple[list[str], str]:
    """ISO 639-1 codes of the languages on at least MIN_LANGUAGE_SHARE of the rows, most rows
    first, and how they were found (stated on the card)."""
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0  # langdetect samples at random: the same rows give the same card
    step = max(1, len(rows) // MAX_DETECTED_ROWS)
    sample = rows[::step][:MAX_DETECTED_ROWS]
    found: Counter = Counter()
    for rec in sample:
        try:
            found[detect(_row_text(rec)).split("-")[0]] += 1  # zh-cn -> zh: the hub wants ISO 639-1
        except LangDetectException:
            found["undetermined"] += 1
    undetermined = found.pop("undetermined", 0)
    langs = [lang for lang, n in found.most_common() if n >= MIN_LANGUAGE_SHARE * len(sample)]
    counts = ", ".join(f"{lang} {n}" for lang, n in found.most_common())
    if not langs:
        return [FALLBACK_LANGUAGE], (f"not detectable in the {len(sample)} rows read ({undetermined} without "
                                     f"detectable text); \"{FALLBACK_LANGUAGE}\" is a fallback, not a finding")
    how = f"detected by langdetect over {len(sample)} of {len(rows)} rows: {counts}"
    if undetermined:
        how += f"; {undetermined} rows had no detectable language"
    return langs, how


def card_data(fmt: str, rows: list[dict], run_name: str, license_id: str,
              langs: list[str] | None = None) -> DatasetCardData:
    """The card's YAML header: what the hub and `datasets.load_dataset(folder)` read."""
    return DatasetCardData(
        pretty_name=f"Evol-Instruct {run_name}",
        license=license_id,
        language=langs or languages(rows)[0],
        task_categories=["text-generation"],
        size_categories=[size_category(len(rows))],
        tags=["evol-instruct", "synthetic", "instruction-tuning", fmt.replace("_", "-")],
        configs=[{"config_name": "default", "data_files": [{"split": "train", "path": DATA_FILES[fmt]}]}],
    )


def _table(headers: tuple, rows) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _shorten(value, width: int = 300):
    if isinstance(value, str) and len(value) > width:
        return value[:width] + f"… [{len(value) - width} more characters]"
    if isinstance(value, list):
        return [_shorten(v, width) for v in value]
    if isinstance(value, dict):
        return {k: _shorten(v, width) for k, v in value.items()}
    return value


def reference_sections(fmt: str, rows: list[dict]) -> str:
    """Field descriptions, one sample record as written, and the citation."""
    parts = ["## Fields\n", _table(("field", "description"), FIELDS[fmt].items()) + "\n"]
    if rows:
        sample = json.dumps(_shorten(sample_row(fmt, rows[0])), indent=1, ensure_ascii=False, default=str)
        parts += ["## Sample record\n", f"The first row as written (long strings cut for this card):\n\n"
                  f"```json\n{sample}\n```\n"]
    parts += ["## Citation\n", "The method is Evol-Instruct, from WizardLM:\n", f"```bibtex\n{CITATION}\n```\n"]
    return "\n".join(parts)
