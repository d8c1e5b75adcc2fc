"""Shared fixtures: an isolated data dir per test, settings pointing at it, a small corpus copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tutor.config import KB_PACKAGE_DIR, Settings

CORPUS = KB_PACKAGE_DIR / "corpus"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def embedder():
    from kb.embedder import Embedder

    return Embedder(KB_PACKAGE_DIR / "embedder")


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of two small notes files (plus the manifest)."""
    d = tmp_path / "notes"
    d.mkdir()
    for name in ("000_172dd7619ae4346b.txt", "004_8f0b023b55e47a69.txt", "manifest.json"):
        shutil.copy(CORPUS / name, d / name)
    return d


@pytest.fixture(scope="session")
def ingested_settings(tmp_path_factory, embedder) -> Settings:
    """Settings over a data dir holding the whole shipped corpus, ingested once per test session."""
    from kb.ingest import ingest

    s = Settings(data_dir=tmp_path_factory.mktemp("ingested"))
    ingest(None, s, embedder=embedder)
    return s
