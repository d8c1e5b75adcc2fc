"""One exception type for every bad input to the live demos.

A `DemoInputError` carries a Chinese message (shown first) and an English one, each saying what
is wrong and what is expected. The CLI prints it as one line and exits with code 2; the LangChain
tools return it as the observation, so a student never sees a stack trace.
"""

from __future__ import annotations


class DemoInputError(ValueError):
    """Bad input to a demo, with a bilingual message: ``"<中文> / <English>"``."""

    def __init__(self, zh: str, en: str | None = None) -> None:
        self.zh = zh.strip()
        self.en = (en or "").strip()
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.zh} / {self.en}" if self.en else self.zh

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


def require(condition: bool, zh: str, en: str) -> None:
    """Raise `DemoInputError(zh, en)` unless `condition` holds."""
    if not condition:
        raise DemoInputError(zh, en)
