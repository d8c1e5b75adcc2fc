"""Cleaning raw notes before chunking: drop front matter, stray HTML tags and dead image links.

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
