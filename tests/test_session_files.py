"""`tutor ask --session ID` continues a conversation across runs of the CLI: the turns are kept in a file
per session; a bad id or an unreadable file is one clear error and the file is left as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tutor.config import PROJECT_ROOT
from tutor.session_files import SessionFileError, check_session_id, load_session, save_session, session_path
from tutor.sessions import SessionStore, Turn


@pytest.mark.parametrize("bad", ["", "../etc", "a/b", ".hidden", "a b", "x" * 65, "问题"])
def test_a_session_id_that_cannot_name_a_file_is_refused(bad):
    with pytest.raises(SessionFileError, match="expected 1–64 letters"):
        check_session_id(bad)


def test_turns_survive_a_new_process_store(tmp_path):
    first = SessionStore()
    s = first.get("bert-review")
    first.add_turn(s, Turn(question="什么是 BERT？", answer="BERT 是…", resolved_question="什么是 BERT？", topic="BERT"))
    path = save_session(s, tmp_path)
    assert path == tmp_path / "sessions" / "bert-review.json"
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]

    again = load_session(SessionStore(), tmp_path, "bert-review")  # a later run: a fresh store
    assert again.id == "bert-review" and again.turns == s.turns
    assert load_session(SessionStore(), tmp_path, "never-saved").turns == []


def test_only_the_last_turns_are_loaded(tmp_path):
    store = SessionStore(max_turns=3)
    s = SessionStore().get("long")
    s.turns = [Turn(question=f"q{i}", answer="a") for i in range(5)]
    save_session(s, tmp_path)
    assert [t.question for t in load_session(store, tmp_path, "long").turns] == ["q2", "q3", "q4"]


@pytest.mark.parametrize("content", ["{not json", json.dumps({"id": "s1", "turns": [{"answer": "no question"}]}),
                                     json.dumps({"id": "other", "turns": []})])
def test_an_unreadable_session_file_is_reported_and_kept(tmp_path, content):
    path = session_path(tmp_path, "s1")
    path.parent.mkdir(parents=True)
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SessionFileError) as e:
        load_session(SessionStore(), tmp_path, "s1")
    assert str(path) in str(e.value) and "delete it" in str(e.value)
    assert path.read_text(encoding="utf-8") == content


def _ask(env, *args):
    return subprocess.run([sys.executable, "-m", "tutor.cli", "ask", *args, "--engine", "extractive"],
                          capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)


def test_cli_follow_up_in_a_later_run_is_understood(ingested_settings):
    env = {**os.environ, "TUTOR_DATA_DIR": str(ingested_settings.data_dir)}
    p = _ask(env, "什么是 BERT？", "--session", "cli-followup")
    assert p.returncode == 0, p.stderr
    assert "session cli-followup" in p.stdout
    assert "Loading weights" not in p.stderr  # the embedder loads without a progress bar
    p = _ask(env, "它的预训练任务有哪些？", "--session", "cli-followup", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["session_id"] == "cli-followup"
    search = [s for s in out["steps"] if s["tool"] == "search_notes"]
    assert search and "BERT" in search[0]["tool_input"]
    saved = json.loads(session_path(ingested_settings.data_dir, "cli-followup").read_text(encoding="utf-8"))
    assert [t["question"] for t in saved["turns"]] == ["什么是 BERT？", "它的预训练任务有哪些？"]

    # a new conversation gets an id of its own, printed so that it can be continued
    p = _ask(env, "什么是 LoRA？", "--json")
    sid = json.loads(p.stdout)["session_id"]
    assert sid != "cli-followup" and session_path(ingested_settings.data_dir, sid).exists()


def test_cli_bad_session_id_and_unreadable_file_fail_clearly(ingested_settings):
    env = {**os.environ, "TUTOR_DATA_DIR": str(ingested_settings.data_dir)}
    p = _ask(env, "什么是 BERT？", "--session", "../escape")
    assert p.returncode == 2 and "invalid session id '../escape'" in p.stderr and "Traceback" not in p.stderr
    path = session_path(ingested_settings.data_dir, "cli-broken")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{half a file", encoding="utf-8")
    p = _ask(env, "什么是 BERT？", "--session", "cli-broken")
    assert p.returncode == 2 and "cannot be read" in p.stderr and "Traceback" not in p.stderr
    assert path.read_text(encoding="utf-8") == "{half a file"


def test_cli_chat_continues_and_keeps_a_saved_conversation(ingested_settings):
    env = {**os.environ, "TUTOR_DATA_DIR": str(ingested_settings.data_dir)}
    assert _ask(env, "什么是 LoRA？", "--session", "cli-chat").returncode == 0
    p = subprocess.run([sys.executable, "-m", "tutor.cli", "chat", "--session", "cli-chat", "--engine", "extractive"],
                       input="它有什么优点？\n", capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    saved = json.loads(session_path(ingested_settings.data_dir, "cli-chat").read_text(encoding="utf-8"))
    assert [t["question"] for t in saved["turns"]] == ["什么是 LoRA？", "它有什么优点？"]
    assert saved["turns"][-1]["resolved_question"].startswith("LoRA")
