"""Chroma storage for chunks: embedded `PersistentClient` on disk by default, `HttpClient` when a
Chroma server host is configured. Chroma holds the chunk texts, their metadata (source, heading,
BM25 tokens) and their vectors; we always pass our own embeddings (no Chroma default model)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import chromadb
from chromadb.config import Settings as ChromaSettings

from tutor.config import Settings

BATCH = 128


class StoreError(RuntimeError):
    """The vector store could not be reached or opened; the message says where and what to do."""


def make_client(settings: Settings) -> Any:
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    try:
        if settings.chroma_host:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
    except Exception as e:  # chromadb raises plain Exceptions/ValueErrors for unreachable servers
        where = f"http://{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else str(settings.chroma_dir)
        raise StoreError(f"cannot open the Chroma store at {where}: {e}") from None


@dataclass
class StoredChunk:
    id: str
    text: str
    metadata: dict[str, Any]
    embedding: Any = None  # the stored vector (array-like); only filled by `all(with_embeddings=True)`


class ChunkStore:
    """A thin wrapper over one Chroma collection of course-note chunks."""

    def __init__(self, settings: Settings, client: Any | None = None):
        self.settings = settings
        self.client = client or make_client(settings)
        self.collection = self._open()

    def _open(self):
        return self.client.get_or_create_collection(
            self.settings.collection,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
        )

    def reset(self) -> None:
        try:
            self.client.delete_collection(self.settings.collection)
        except Exception:
            pass  # nothing to delete
        self.collection = self._open()

    def count(self) -> int:
        return self.collection.count()

    @property
    def embedding_model(self) -> str | None:
        return (self.collection.metadata or {}).get("embedding_model")

    def set_embedding_model(self, name: str) -> None:
        self._set_meta("embedding_model", name)

    @property
    def tokenizer_version(self) -> str | None:
        """The BM25 tokenizer fingerprint (kb.text.TOKENIZER_VERSION) the stored tokens were made with."""
        return (self.collection.metadata or {}).get("tokenizer_version")

    def set_tokenizer_version(self, version: str) -> None:
        self._set_meta("tokenizer_version", version)

    def _set_meta(self, key: str, value: str) -> None:
        meta = dict(self.collection.metadata or {})
        meta.pop("hnsw:space", None)
        meta[key] = value
        self.collection.modify(metadata=meta)

    def update_metadatas(self, ids: list[str], metadatas: list[dict]) -> None:
        """Replace the metadata of existing chunks (texts and vectors stay)."""
        for s in range(0, len(ids), BATCH):
            self.collection.update(ids=ids[s : s + BATCH], metadatas=metadatas[s : s + BATCH])

    def all(self, with_embeddings: bool = False) -> list[StoredChunk]:
        out: list[StoredChunk] = []
        total = self.count()
        include = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
        for offset in range(0, total, 1000):
            got = self.collection.get(include=include, limit=1000, offset=offset)
            vecs = got.get("embeddings") if with_embeddings else None
            if vecs is None:
                vecs = [None] * len(got["ids"])
            out.extend(
                StoredChunk(i, d, m or {}, v)
                for i, d, m, v in zip(got["ids"], got["documents"], got["metadatas"], vecs)
            )
        return out

    def upsert(self, ids: list[str], texts: list[str], metadatas: list[dict], embeddings: list[list[float]]) -> None:
        for s in range(0, len(ids), BATCH):
            self.collection.upsert(
                ids=ids[s : s + BATCH],
                documents=texts[s : s + BATCH],
                metadatas=metadatas[s : s + BATCH],
                embeddings=embeddings[s : s + BATCH],
            )

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for s in range(0, len(ids), BATCH):
            self.collection.delete(ids=ids[s : s + BATCH])

    def query(self, embedding: list[float], k: int) -> tuple[list[str], list[float]]:
        n = self.count()
        if n == 0:
            return [], []
        res = self.collection.query(query_embeddings=[embedding], n_results=min(k, n), include=["distances"])
        ids = res["ids"][0]
        sims = [1.0 - d for d in res["distances"][0]]  # cosine distance -> similarity
        return ids, sims
