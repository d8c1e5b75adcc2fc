"""Conversations of `tutor ask --session ID` kept on disk between runs of the CLI, so a follow-up asked
in a later run is understood ("它的预训练任务有哪些？" after "什么是 BERT？"). One JSON file per session
under `<data dir>/sessions/`, replaced atomically: an interrupted run never leaves half a file, and a
file that cannot be read is reported and left as it is, never overwritten. (The web service keeps its
sessions in memory: see `tutor.sessions`.)"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ValidationError

from tutor.sessions import Session, SessionStore, Turn

# A session id names a file: letters, digits and - _ . only, no path, at most 64 characters.
SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
SESSION_ID_HINT = "1–64 letters, digits, '-', '_' or '.', starting with a letter or digit, e.g. --session bert-review"


class SessionFileError(ValueError):
    """A session id that cannot name a file, or a session file that cannot be read."""


class SessionRecord(BaseModel):
    id: str
    saved_at: str = ""
    turns: list[Turn] = []


def check_session_id(session_id: str) -> str:
    if not SESSION_ID.fullmatch(session_id or ""):
        raise SessionFileError(f"invalid session id {session_id!r}; expected {SESSION_ID_HINT}")
    return session_id


def session_path(data_dir: Path, session_id: str) -> Path:
    return Path(data_dir) / "sessions" / f"{check_session_id(session_id)}.json"


def load_session(store: SessionStore, data_dir: Path, session_id: str) -> Session:
    """The store's session `session_id` holding the turns saved on disk (none when there is no file yet)."""
    path = session_path(data_dir, session_id)
    session = store.get(session_id)
    if not path.exists():
        return session
    try:
        record = SessionRecord.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as e:
        problem = e.errors()[0]["msg"] if isinstance(e, ValidationError) else str(e)
        raise SessionFileError(f"session file {path} cannot be read ({problem}); move or delete it to start this conversation over") from None
    if record.id != session_id:
        raise SessionFileError(f"session file {path} holds session {record.id!r}, not {session_id!r}; move or delete it to start over")
    session.turns = list(record.turns)[-store.max_turns :]
    return session


def save_session(session: Session, data_dir: Path) -> Path:
    """Write the session's turns to its file (atomically: a temporary file, then a rename)."""
    path = session_path(data_dir, session.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = SessionRecord(id=session.id, saved_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), turns=session.turns)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{session.id}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(record.model_dump_json(indent=1))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
