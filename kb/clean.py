"""Cleaning raw notes before chunking: drop front matter, stray HTML tags and dead image links, the
sentences the corpus manifest lists as errata (wrong statements the tutor must never quote), and gloss
the words the lecture's speech recogniser mis-heard with the course term ("Laura（即 LoRA）").

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


GLOSS_FORMAT = "{heard}（即{sep}{term}）"
_LATIN = "A-Za-z"


def gloss_text(heard: str, term: str) -> str:
    """How a mis-heard word reads once glossed: "Laura（即 LoRA）", "大元模型（即大语言模型）"."""
    return GLOSS_FORMAT.format(heard=heard, term=term, sep=" " if term[:1].isascii() else "")


def add_glosses(text: str, glosses: list[tuple[list[str], str]]) -> tuple[str, list[str]]:
    """(text with every mis-heard form glossed with its course term, the forms not found). A gloss is
    (the forms the transcript wrote, the term meant): the transcript's recogniser wrote "Laura" for LoRA
    and 大元模型 for 大语言模型, and a student reading the quoted passage should see the right term next
    to the wrong one. Forms match case-insensitively and not inside a longer Latin word ("Ora" is not
    glossed in "coral"); an occurrence already glossed is left alone, so glossing twice changes nothing.
    A form that is not in the text is returned, so a stale gloss is reported instead of silently doing
    nothing."""
    missing: list[str] = []
    for forms, term in glosses:
        for heard in forms:
            if not heard or not term:
                missing.append(heard)
                continue
            left = f"(?<![{_LATIN}])" if heard[0].isascii() and heard[0].isalpha() else ""
            right = f"(?![{_LATIN}])" if heard[-1].isascii() and heard[-1].isalpha() else ""
            pattern = re.compile(f"{left}{re.escape(heard)}{right}(?!（即)", re.I)  # not one already glossed
            text, n = pattern.subn(lambda m: gloss_text(m.group(0), term), text)
            if n == 0 and not re.search(f"{left}{re.escape(heard)}{right}", text, re.I):
                missing.append(heard)
    return text, missing
