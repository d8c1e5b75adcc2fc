"""Server mode: a real `chroma run` process on loopback; ingest and search go through HttpClient."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tutor.config import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "run", "--path", str(tmp_path / "server-db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("chroma server did not start within 60 s")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def run_cli(args, env):
    return subprocess.run(
        [sys.executable, "-m", "tutor.cli", *args], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300, env={**os.environ, **env}
    )


def test_ingest_and_search_against_a_chroma_server(chroma_server, tmp_path, corpus_copy):
    env = {"TUTOR_CHROMA_HOST": "127.0.0.1", "TUTOR_CHROMA_PORT": str(chroma_server), "TUTOR_DATA_DIR": str(tmp_path / "local")}
    p = run_cli(["ingest", str(corpus_copy), "--json"], env)
    assert p.returncode == 0, p.stderr
    added = json.loads(p.stdout)["added"]
    assert added > 5
    # nothing was written to the embedded store: the data went to the server
    assert not (tmp_path / "local" / "chroma").exists()
    p = run_cli(["ingest", str(corpus_copy), "--json"], env)
    assert json.loads(p.stdout)["unchanged"] == added
    p = run_cli(["search", "SFT 和 instruction tuning 的区别", "-k", "2", "--json"], env)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res[0]["source"] == "004_8f0b023b55e47a69.txt"


def test_unreachable_server_gives_one_clear_error(tmp_path):
    env = {"TUTOR_CHROMA_HOST": "127.0.0.1", "TUTOR_CHROMA_PORT": str(free_port()), "TUTOR_DATA_DIR": str(tmp_path)}
    p = run_cli(["search", "BERT"], env)
    assert p.returncode == 2
    assert "Chroma" in p.stderr and "Traceback" not in p.stderr
