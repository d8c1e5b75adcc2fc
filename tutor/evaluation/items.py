"""Evaluation items: the JSONL format `tutor eval` reads, validated one line at a time.

One JSON object per line::

    {"id": "bert-mask-01", "category": "bert", "question": "BERT 预训练时遮住多少词？",
     "expect_any": ["15%", "百分之十五"], "expect_source": "002_98be9b8eab6b81d4.txt"}
    {"id": "mt-01", "turns": ["什么是自注意力？", "它和多头注意力有什么区别？"], "expect_any": ["多头"]}

Fields (unknown ones are ignored, so a set may carry notes such as `lang` or `why`):

* ``id`` (required, unique in the file) and exactly one of ``question`` (a string) or ``turns``
  (a list of user messages in one conversation; expectations apply to the last answer);
* ``category`` (optional; "uncategorised" when missing) for the per-category pass rates;
* expectations, all optional: ``expect_any`` / ``expect_all`` (strings that must appear,
  case-insensitive; a single string is accepted as a one-element list), ``expect_regex`` (one
  pattern or a list, all must match), ``expect_tool`` (the tool the tutor should call; a list means
  "any of these"; ``"none"`` means "no tool at all"), ``expect_source`` (a note file name the
  answer should cite; a list means "any of these"), ``expect_refusal`` (true: out of scope, must be
  refused; false: in scope, must *not* be refused), ``reference`` (a reference answer scored by
  embedding similarity, passing at ``min_similarity``), ``max_latency_ms``.

An item with no expectations is still run and recorded (it counts as "not scored").

`load_items` never stops at a bad line: each malformed line (bad JSON, not an object, a missing or
wrong field, a duplicate id) becomes a `LineError` with its 1-based line number, and the valid
items are still returned.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_CATEGORY = "uncategorised"
EXPECTATION_FIELDS = (
    "expect_any",
    "expect_all",
    "expect_regex",
    "expect_tool",
    "expect_source",
    "expect_refusal",
    "reference",
    "max_latency_ms",
)


def _as_list(value: Any) -> Any:
    """Accept a single string where a list of strings is expected."""
    if isinstance(value, str):
        return [value]
    return value


def _non_empty_strings(values: list[str] | None, what: str) -> list[str] | None:
    if values is None:
        return None
    cleaned = [v for v in values if v.strip()]
    if not cleaned or len(cleaned) != len(values):
        raise ValueError(f"{what} must be a non-empty list of non-empty strings")
    return values


class EvalItem(BaseModel):
    """One evaluation item (one line of the JSONL file)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    id: str
    question: Optional[str] = None
    turns: Optional[list[str]] = None
    category: str = DEFAULT_CATEGORY
    expect_any: Optional[list[str]] = None
    expect_all: Optional[list[str]] = None
    expect_regex: Optional[list[str]] = None
    expect_tool: Optional[list[str]] = None
    expect_source: Optional[list[str]] = None
    expect_refusal: Optional[bool] = None
    reference: Optional[str] = None
    min_similarity: Optional[float] = Field(default=None, ge=-1.0, le=1.0)
    max_latency_ms: Optional[float] = Field(default=None, gt=0)
    line: int = Field(default=0, exclude=True)  # where it came from (set by the loader)

    @field_validator("id", mode="before")
    @classmethod
    def _id_to_str(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("id must be a string or a number")
        if isinstance(v, (int, float)):
            return str(v)
        return v

    @field_validator("id")
    @classmethod
    def _id_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("id must not be empty")
        return v

    @field_validator("category", mode="before")
    @classmethod
    def _category(cls, v: Any) -> Any:
        if v is None or (isinstance(v, str) and not v.strip()):
            return DEFAULT_CATEGORY
        return v

    @field_validator("expect_any", "expect_all", "expect_regex", "expect_tool", "expect_source", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return _as_list(v)

    @field_validator("expect_any", "expect_all", "expect_tool", "expect_source")
    @classmethod
    def _strings(cls, v: list[str] | None, info) -> list[str] | None:
        return _non_empty_strings(v, info.field_name)

    @field_validator("expect_regex")
    @classmethod
    def _regexes_compile(cls, v: list[str] | None) -> list[str] | None:
        v = _non_empty_strings(v, "expect_regex")
        for pattern in v or []:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"expect_regex {pattern!r} is not a valid regular expression ({e})") from None
        return v

    @field_validator("reference")
    @classmethod
    def _reference(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("reference must not be empty")
        return v

    @model_validator(mode="after")
    def _question_or_turns(self) -> "EvalItem":
        if (self.question is None) == (self.turns is None):
            raise ValueError("give exactly one of 'question' (a string) or 'turns' (a list of messages)")
        if self.question is not None and not self.question.strip():
            raise ValueError("question must not be empty")
        if self.turns is not None:
            if not self.turns or any(not t.strip() for t in self.turns):
                raise ValueError("turns must be a non-empty list of non-empty messages")
        return self

    # ---- convenience --------------------------------------------------------------------------
    @property
    def messages(self) -> list[str]:
        """The user messages to send, in order (one for a single question)."""
        return list(self.turns) if self.turns is not None else [self.question or ""]

    @property
    def last_question(self) -> str:
        return self.messages[-1]

    @property
    def has_expectations(self) -> bool:
        return any(getattr(self, name) is not None for name in EXPECTATION_FIELDS)


@dataclass
class LineError:
    """A line of the items file that could not be used."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"

    def to_dict(self) -> dict:
        return {"line": self.line, "message": self.message}


@dataclass
class LoadedItems:
    items: list[EvalItem] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)


def _validation_summary(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        where = ".".join(str(x) for x in err.get("loc", ()))
        msg = err.get("msg", "invalid")
        msg = re.sub(r"^Value error, ", "", msg)
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def parse_line(text: str, line_no: int) -> EvalItem:
    """Parse one JSONL line into an `EvalItem`; raise ValueError with a readable message."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    obj = {k: v for k, v in obj.items() if k != "line"}
    try:
        item = EvalItem.model_validate(obj)
    except ValidationError as e:
        raise ValueError(_validation_summary(e)) from None
    item.line = line_no
    return item


def parse_items(text: str | bytes) -> LoadedItems:
    """Parse a JSONL items file's content. Blank lines are skipped; every bad line is reported
    (a line that is not UTF-8 included) and the rest are still parsed."""
    out = LoadedItems()
    seen: dict[str, int] = {}
    if isinstance(text, bytes):
        if text.startswith(b"\xef\xbb\xbf"):
            text = text[3:]
        lines: list[str | None] = []
        for raw_bytes in text.split(b"\n"):
            try:
                lines.append(raw_bytes.decode("utf-8").rstrip("\r"))
            except UnicodeDecodeError:
                lines.append(None)
    else:
        lines = list(text.lstrip("\ufeff").split("\n"))
    for line_no, raw in enumerate(lines, 1):
        if raw is None:
            out.errors.append(LineError(line_no, "not valid UTF-8 text"))
            continue
        if not raw.strip():
            continue
        try:
            item = parse_line(raw, line_no)
        except ValueError as e:
            out.errors.append(LineError(line_no, str(e)))
            continue
        if item.id in seen:
            out.errors.append(LineError(line_no, f"duplicate id {item.id!r} (first used on line {seen[item.id]})"))
            continue
        seen[item.id] = line_no
        out.items.append(item)
    return out


def load_items(path: str | Path) -> LoadedItems:
    """Read a JSONL items file (UTF-8, a BOM is tolerated). Raises OSError when it cannot be read."""
    return parse_items(Path(path).read_bytes())
