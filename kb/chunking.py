"""Structure-aware chunking of cleaned notes.

Three document shapes, one rule each:
- Markdown notes: one section per heading; the heading path ("BERT › Masked LM") is kept as metadata and
  prepended to the text used for retrieval. Long sections are packed from whole blocks (sentences,
  fenced code, $$ formulas, tables) so nothing is cut in half.
- Q&A notes: Markdown whose headings are questions; each question+answer pair is one chunk.
- Lecture transcripts (no headings, long lines): sentence-aware windows (split on 。！？!? and
  newlines) with overlap, sentences never cut.

Chunk ids are stable: a hash of the source name and the chunk text (plus an occurrence counter for
repeated text), so re-ingesting unchanged files yields the same ids.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from kb.clean import add_glosses, clean_text

HEADING_SEP = " › "
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_NUMBERING = re.compile(r"^\s*(\d+(\.\d+)*[.、]?|[一二三四五六七八九十]+[、.])\s*")
# A line just before a table, fenced block or $$ formula is that block's caption when it is short and
# not a sentence with clauses: "1. BERT vs GPT 差异", "从上到下解释这张图的关键组成部分：", but not
# "机器做翻译：就是`找对应关系`，是一个概率学上的问题", which goes on from the line before it.
CAPTION = re.compile(r"[^，。；,;]{1,40}")
_SENTENCE_END = re.compile(r"(?<=[。！？!?])(?![”’\"」』）)=！？!?])|(?<=[。！？!?][”’\"」』）)])")


@dataclass
class Chunk:
    id: str
    source: str
    heading: str
    text: str
    position: int
    kind: str
    index_text: str = field(default="")

    def __post_init__(self) -> None:
        if not self.index_text:
            self.index_text = index_text_for(self.heading, self.text)


def index_text_for(heading: str, text: str) -> str:
    """The text used for retrieval: the heading path is prepended (its last part twice: it names what
    the chunk is about)."""
    last = heading.rsplit(HEADING_SEP, 1)[-1]
    return f"{heading} {last}\n{text}" if heading else text


def clean_heading(raw: str) -> str:
    h = raw.replace("**", "").replace("`", "").strip()
    h = _NUMBERING.sub("", h).strip().rstrip("：:").strip()
    return h or raw.strip()


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences after 。！？!? (keeping closing quotes) and at newlines."""
    out: list[str] = []
    for line in text.split("\n"):
        for s in _SENTENCE_END.split(line):
            s = s.strip()
            if s:
                out.append(s)
    return out


def detect_shape(text: str) -> str:
    """'markdown' when the cleaned text has at least two headings outside code fences, else 'transcript'."""
    in_fence = False
    headings = 0
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and _HEADING.match(line):
            headings += 1
    return "markdown" if headings >= 2 else "transcript"


def _blocks(body: str) -> list[str]:
    """Split a section body into packing units: whole fenced blocks, whole $$ formulas, whole tables,
    and the sentences of ordinary paragraphs. A short line just before a block is its caption and stays
    with it ("1. BERT vs GPT 差异" over the comparison table): alone, it made a chunk with nothing in it."""
    units: list[str] = []
    lines = body.split("\n")
    i = 0
    para: list[str] = []

    def flush_para() -> None:
        if para:
            units.extend(split_sentences("\n".join(para)))
            para.clear()

    def add_block(block: str) -> None:
        caption = para.pop().strip() if para and CAPTION.fullmatch(para[-1].strip()) else ""
        flush_para()
        units.append(f"{caption}\n{block}" if caption else block)

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if _FENCE.match(line):
            j = i + 1
            while j < len(lines) and not _FENCE.match(lines[j]):
                j += 1
            add_block("\n".join(lines[i : j + 1]).strip())
            i = j + 1
            continue
        if stripped.startswith("$$"):
            j = i
            if not (stripped.endswith("$$") and len(stripped) > 2):
                j = i + 1
                while j < len(lines) and "$$" not in lines[j]:
                    j += 1
            add_block("\n".join(lines[i : j + 1]).strip())
            i = j + 1
            continue
        if stripped.startswith("|"):
            j = i
            while j < len(lines) and lines[j].strip().startswith("|"):
                j += 1
            add_block("\n".join(lines[i:j]).strip())
            i = j
            continue
        if not stripped:
            flush_para()
        elif "$" in stripped:  # inline formula: keep the whole line as one unit
            flush_para()
            units.append(stripped)
        else:
            para.append(line)
        i += 1
    flush_para()
    return [u for u in units if u.strip()]


def _pack(units: list[str], target: int, overlap: int = 0) -> list[str]:
    """Greedily pack whole units into pieces of about `target` characters; with `overlap`, each new
    piece starts with the trailing units of the previous one (at most `overlap` characters)."""
    pieces: list[str] = []
    cur: list[str] = []
    size = 0
    for u in units:
        if cur and size + len(u) > target:
            pieces.append(cur)
            tail: list[str] = []
            tail_size = 0
            for prev in reversed(cur):
                if tail_size + len(prev) > overlap:
                    break
                tail.insert(0, prev)
                tail_size += len(prev)
            cur, size = tail, tail_size
        cur.append(u)
        size += len(u)
    if cur and (not pieces or cur != pieces[-1][-len(cur):]):
        pieces.append(cur)
    return ["\n".join(p) for p in pieces]


def _markdown_sections(text: str) -> list[tuple[list[str], str]]:
    """Return (heading path, body) for each heading section with a non-empty body."""
    sections: list[tuple[list[str], str]] = []
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    in_fence = False

    def flush() -> None:
        b = "\n".join(body).strip()
        if b:
            sections.append(([h for _, h in stack], b))
        body.clear()

    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        m = None if in_fence else _HEADING.match(line)
        if m:
            flush()
            level = len(m.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, clean_heading(m.group(2))))
        else:
            body.append(line)
    flush()
    # A single H1 is the document's title: drop it from every path.
    h1s = {p[0] for p, _ in sections if p} if sum(1 for line in text.split("\n") if line.startswith("# ")) == 1 else set()
    if len(h1s) == 1 and text.lstrip().startswith("# "):
        sections = [(p[1:] if p and p[0] in h1s else p, b) for p, b in sections]
    return sections


def _stable_id(source: str, text: str, seen: dict[str, int]) -> str:
    digest = hashlib.sha1(f"{source}\n{text}".encode()).hexdigest()[:16]
    n = seen.get(digest, 0)
    seen[digest] = n + 1
    return f"{digest}-{n}" if n else digest


def chunk_document(
    source: str,
    raw_text: str,
    *,
    kind: str | None = None,
    chunk_chars: int = 400,
    overlap: int = 80,
    glosses: list[tuple[list[str], str]] | None = None,
) -> list[Chunk]:
    """Clean and chunk one document. `kind` is 'qa', 'notes' or 'transcript' (detected when None).
    `glosses` (kb.clean.add_glosses) are written into each chunk after chunking, so glossing a file
    never moves its chunk boundaries."""
    text = clean_text(raw_text)
    shape = detect_shape(text)
    if kind is None:
        kind = "notes" if shape == "markdown" else "transcript"
    pieces: list[tuple[str, str]] = []  # (heading, text)
    if shape == "markdown":
        target = chunk_chars * 4 if kind == "qa" else chunk_chars
        for path, body in _markdown_sections(text):
            heading = HEADING_SEP.join(path)
            for piece in _pack(_blocks(body), target):
                pieces.append((heading, piece))
    else:
        sentences = split_sentences(text)
        for piece in _pack(sentences, chunk_chars, overlap):
            pieces.append(("", piece.replace("\n", "")))
    if glosses:
        pieces = [(h, add_glosses(t, glosses)[0]) for h, t in pieces]
    seen: dict[str, int] = {}
    return [
        Chunk(id=_stable_id(source, f"{h}\n{t}", seen), source=source, heading=h, text=t, position=i, kind=kind)
        for i, (h, t) in enumerate(pieces)
    ]
