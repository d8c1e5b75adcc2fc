"""The dense half of retrieval: a local sentence-transformers model, loaded offline.

Default: the in-domain model trained by `python -m kb.train_embedder` and shipped in `kb/embedder/`.
Any local sentence-transformers folder (e.g. a user's bge-small-zh) can be configured instead with
TUTOR_EMBEDDING_MODEL. Nothing is ever downloaded from a hub.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class EmbedderError(RuntimeError):
    """The embedding model folder is missing or unreadable."""


class Embedder:
    """Encodes texts into L2-normalised vectors with a local sentence-transformers model."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if not (self.path / "modules.json").is_file() and not (self.path / "config.json").is_file():
            raise EmbedderError(
                f"no sentence-transformers model at {self.path}; train the shipped one with "
                f"`python -m kb.train_embedder` or set TUTOR_EMBEDDING_MODEL to a local model folder"
            )
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # "Loading weights: 100%" on every `tutor ask` says nothing to a student
        try:
            import torch

            # Shipped weights are fp16 (small repo); compute in fp32, which is much faster on CPUs.
            self.model = SentenceTransformer(
                str(self.path), device="cpu", local_files_only=True, model_kwargs={"dtype": torch.float32}
            )
        except Exception as e:
            raise EmbedderError(f"cannot load the embedding model at {self.path}: {e}") from None
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        self._lock = threading.Lock()
        info = self.path / "MODEL_ID"
        self.name = info.read_text().strip() if info.is_file() else self.path.name

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> list[list[float]]:
        with self._lock:
            vecs = self.model.encode(
                texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=progress, convert_to_numpy=True
            )
        return vecs.astype("float32").tolist()

    def encode_one(self, text: str) -> list[float]:
        return self.encode([text])[0]
