"""Cleaning raw notes before chunking: drop front matter, stray HTML tags and dead image links, and
the sentences the corpus manifest lists as errata (wrong statements the tutor must never quote).

Fenced code blocks and $$…$$ formulas are left exactly as written; only prose outside them is touched.
"""

from __future__ import annotations

import re

_FRONT_MATTER = re.compile(r"\A\s*---\s*\n.*?\n---\s*(\n|\Z)", re.S)
_HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_DASH_RUN = re.compile(r"^\s*(-\s*){2,}$")  # "- - - -" left over from stripped <ul><li> lists
_FENCE = re.compile(r"^\s*(```|~~~)")


def strip_front_matter(text: str) -> str:
    return _FRONT_MATTER.sub("", text, count=1)


def clean_text(text: str) -> str:
    """Return the text with front matter, HTML tags and image links removed outside code fences."""
    text = strip_front_matter(text.replace("\r\n", "\n"))
    out: list[str] = []
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        line = _IMAGE.sub("", line)
        line = _HTML_TAG.sub("", line)
        if _DASH_RUN.match(line):
            line = ""
        out.append(line.rstrip())
    cleaned = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", cleaned).strip() + "\n"


# A sentence ends at one of these (or at a line break); an erratum removes the whole sentence it is in.
_SENTENCE_END = "。！？!?"


def drop_errata(text: str, quotes: list[str]) -> tuple[str, list[str]]:
    """(text without the sentences holding any of `quotes`, the quotes not found). An erratum is a
    statement in the notes that is wrong (the manifest's `errata` of a file, each a verbatim quote with
    the reason): the tutor must not retrieve or quote it. A quote that is no longer in the text is
    returned, so a stale erratum is reported instead of silently doing nothing."""
    missing: list[str] = []
    for quote in quotes:
        at = text.find(quote)
        if not quote or at < 0:
            missing.append(quote)
            continue
        while at >= 0:
            start = max(text.rfind(c, 0, at) for c in _SENTENCE_END + "\n") + 1
            ends = [i for i in (text.find(c, at + len(quote)) for c in _SENTENCE_END + "\n") if i >= 0]
            end = min(ends) + 1 if ends else len(text)
            if text[end - 1] == "\n":
                end -= 1  # keep the line break: the next line is another paragraph
            text = text[:start] + text[end:]
            at = text.find(quote)
    return text, missing
