"""Loading documents from disk: a registry of loaders by file suffix, with clear errors for bad files.

A loader turns one file into a `RawDocument` (text + source name). New formats register a loader with
`@register_loader(".ext")`. Binary, non-UTF-8, empty and missing files raise `LoadError` naming the file,
so ingestion can skip them with one clear line and carry on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

LoaderFn = Callable[[Path], str]
_LOADERS: dict[str, LoaderFn] = {}


class LoadError(ValueError):
    """A file could not be loaded; the message names the file and what is wrong."""


@dataclass(frozen=True)
class RawDocument:
    source: str  # file name, as cited in answers
    path: Path  # absolute path on disk
    text: str


def register_loader(*suffixes: str) -> Callable[[LoaderFn], LoaderFn]:
    def deco(fn: LoaderFn) -> LoaderFn:
        for s in suffixes:
            _LOADERS[s.lower()] = fn
        return fn

    return deco


def supported_suffixes() -> list[str]:
    return sorted(_LOADERS)


@register_loader(".md", ".markdown", ".txt")
def load_utf8_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise LoadError(f"{path}: binary file (contains NUL bytes); expected UTF-8 text (.md/.txt)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise LoadError(f"{path}: not valid UTF-8 (byte {e.start}); expected UTF-8 text — re-save the file as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def load_document(path: Path) -> RawDocument:
    """Load one file with the loader registered for its suffix."""
    path = Path(path)
    if not path.exists():
        raise LoadError(f"{path}: no such file or folder")
    if not path.is_file():
        raise LoadError(f"{path}: not a regular file")
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoadError(f"{path}: unsupported file type '{path.suffix}'; supported: {', '.join(supported_suffixes())}")
    text = loader(path)
    if not text.strip():
        raise LoadError(f"{path}: empty file; expected some text to index")
    return RawDocument(source=path.name, path=path.resolve(), text=text)


def expand_paths(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Expand folders into their supported files (sorted). Returns (files, problems) — problems are
    one-line messages for paths that do not exist."""
    files: list[Path] = []
    problems: list[str] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in _LOADERS))
        elif p.exists():
            files.append(p)
        else:
            problems.append(f"{p}: no such file or folder")
    return files, problems
