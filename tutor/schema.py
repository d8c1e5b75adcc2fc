"""The shapes every front end shares: one answer (`AskResult`) with its trace (`Step`) and citations
(`Source`), and the events of a streamed answer (`StreamEvent`). `tutor ask --json`, `POST /api/ask`
and `tutor eval` all emit `AskResult.to_dict()`."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

# A citation as Source.citation writes it: "[file.txt › heading › subheading]" or "[file.txt]".
CITATION = re.compile(r"\[([^\[\]\n›]+?\.(?:txt|md))(?: › ([^\[\]\n]+))?\]")


class Step(BaseModel):
    """One ReAct step: what the tutor thought, which tool it called with what, and what came back."""

    thought: str = ""
    tool: str | None = None
    tool_input: str | None = None
    observation: str | None = None
    artifact: dict[str, Any] | None = Field(default=None, exclude=True)  # full numbers/PNG for the UI


class Source(BaseModel):
    """A cited note: its file and heading path; `citation` is how answers write it (see CITATION)."""

    source: str
    heading: str = ""

    @property
    def citation(self) -> str:
        return f"[{self.source} › {self.heading}]" if self.heading else f"[{self.source}]"


class AskResult(BaseModel):
    answer: str
    steps: list[Step] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    latency_ms: float = 0.0
    model_driven: bool = False
    session_id: str | None = None
    kind: Literal["concept", "demo", "refusal", "error"] = "concept"

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class StreamEvent(BaseModel):
    """`step` (a finished Step), `token` (a piece of the answer), `final` (the AskResult), `error`."""

    type: Literal["step", "token", "final", "error"]
    data: dict[str, Any]
