"""Conversation sessions: per-session history, isolated from each other, bounded in number and
expired when idle. Thread-safe; the web service and the CLI share one store per process."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class Turn:
    question: str
    answer: str
    resolved_question: str = ""
    topic: str = ""  # the subject the turn was about, used to resolve follow-ups ("它" → BERT)


@dataclass
class Session:
    id: str
    turns: list[Turn] = field(default_factory=list)
    last_used: float = field(default_factory=time.monotonic)

    def history(self, n: int = 4) -> list[Turn]:
        return self.turns[-n:]


class SessionStore:
    def __init__(self, max_sessions: int = 1000, idle_seconds: float = 3600.0, max_turns: int = 50):
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds
        self.max_turns = max_turns
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [s for s, v in self._sessions.items() if now - v.last_used > self.idle_seconds]:
            del self._sessions[sid]
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)  # least recently used goes first

    def get(self, session_id: str | None) -> Session:
        """The session with this id (created if unknown), or a new one when id is None."""
        with self._lock:
            self._expire()
            sid = session_id or uuid.uuid4().hex
            s = self._sessions.get(sid)
            if s is None:
                s = Session(id=sid)
                self._sessions[sid] = s
            s.last_used = time.monotonic()
            self._sessions.move_to_end(sid)
            return s

    def add_turn(self, session: Session, turn: Turn) -> None:
        with self._lock:
            session.turns.append(turn)
            del session.turns[: -self.max_turns]
            session.last_used = time.monotonic()

    def reset(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)
