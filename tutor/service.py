"""Process-wide shared components: the settings, the retriever (Chroma + BM25 + embedder) and, later,
the model and agent — each loaded once per process and reused by the CLI, the web service and eval."""

from __future__ import annotations

import threading

from tutor.config import Settings, get_settings

_lock = threading.Lock()
_retrievers: dict[int, object] = {}


def get_retriever(settings: Settings | None = None):
    """The shared `kb.retriever.Retriever` for these settings (built on first use)."""
    from kb.retriever import Retriever

    settings = settings or get_settings()
    key = id(settings)
    with _lock:
        r = _retrievers.get(key)
        if r is None:
            r = Retriever(settings)
            _retrievers[key] = r
        return r
