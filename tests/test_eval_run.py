"""`tutor eval` end to end with the real Tutor: the smoke set, a crashing item, Ctrl-C, --url against a
real server process, an unreachable --url, --min-pass, bad usage, malformed lines, auto-ingest."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tutor.config import PROJECT_ROOT, Settings, get_settings
from tutor.evaluation.cli import eval_command
from tutor.evaluation.items import parse_items
from tutor.evaluation.report import PLOT_FILES
from tutor.evaluation.runner import InProcessBackend, evaluate, load_similarity, load_tutor

ROOT = PROJECT_ROOT
SMOKE = ROOT / "eval" / "smoke.jsonl"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

app = typer.Typer()


@app.callback()
def _root() -> None:
    """Mounted the way `tutor.cli` mounts it: `tutor eval ...`."""


app.command("eval")(eval_command)
runner = CliRunner()


# ---- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def eval_settings(tmp_path_factory) -> Settings:
    """One ingested index for the whole session (the first ingest embeds ~300 chunks)."""
    from kb.ingest import ingest

    settings = Settings(data_dir=tmp_path_factory.mktemp("eval-data"))
    report = ingest(None, settings)
    assert report.total > 100, report.to_dict()
    return settings


@pytest.fixture(scope="session")
def tutor(eval_settings):
    return load_tutor(eval_settings)


@pytest.fixture
def cli_env(eval_settings, tutor, monkeypatch):
    """`tutor eval` reads get_settings(): point it at the session's index (the Tutor is reused)."""
    monkeypatch.setenv("TUTOR_DATA_DIR", str(eval_settings.data_dir))
    get_settings.cache_clear()
    yield eval_settings
    get_settings.cache_clear()


def run_eval(*args: str):
    return runner.invoke(app, ["eval", *map(str, args)])


def error_lines(result) -> list[str]:
    return [ln for ln in result.stderr.splitlines() if ln.startswith("错误 / error: ")]


def write_items(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    return path


def read_results(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the smoke set end to end -------------------------------------------------------------------
def test_smoke_set_end_to_end_writes_every_output(cli_env, tmp_path: Path):
    out = tmp_path / "smoke"
    r = run_eval(SMOKE, "--out", out, "--json")
    assert r.exit_code == 0, r.stdout + r.stderr
    printed = json.loads(r.stdout)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert printed == metrics
    n = len(parse_items(SMOKE.read_bytes()).items)
    records = read_results(out)
    assert [rec["id"] for rec in records] == [it.id for it in parse_items(SMOKE.read_bytes()).items]
    for rec in records:
        for key in ("id", "answer", "steps", "sources", "latency_ms", "model_driven", "passed", "failures"):
            assert key in rec, (rec["id"], key)
        assert rec["error"] is None and rec["answer"]
        for step in rec["steps"]:
            assert set(step) == {"thought", "tool", "tool_input", "observation"}
        for src in rec["sources"]:
            assert set(src) == {"source", "heading"}
    assert metrics["item_count"] == n and metrics["errors"] == 0 and metrics["interrupted"] is False
    for key in ("pass_rate", "by_category", "tool_accuracy", "source_accuracy", "refusal_accuracy", "reference_similarity", "model_driven_rate", "latency_ms"):
        assert key in metrics
    assert {"p50", "p95", "max"} <= set(metrics["latency_ms"])
    assert metrics["passed"] == sum(1 for rec in records if rec["passed"] is True)
    # a floor, not a target: the current retrieval-only engine passes most of the smoke set
    assert metrics["pass_rate"] >= 0.5, metrics["failure_counts"]
    assert metrics["refusal_accuracy"] == 1.0 and metrics["tool_accuracy"] >= 0.8
    assert metrics["engine"].get("index_chunks", 0) > 100
    for name in PLOT_FILES.values():
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "# 评测报告" in report and f"{100 * metrics['pass_rate']:.1f}%" in report


def test_summary_table_without_json(cli_env, tmp_path: Path):
    items = write_items(tmp_path / "one.jsonl", [{"id": "p", "question": "帮我写一首关于秋天的诗", "expect_refusal": True, "category": "offtopic"}])
    r = run_eval(items, "--out", tmp_path / "o")
    assert r.exit_code == 0, r.stderr
    assert "评测结果" in r.stdout and "100.0%" in r.stdout and "offtopic" in r.stdout
    assert "results.jsonl" in r.stdout


# ---- failures during the run --------------------------------------------------------------------
class FlakyTutor:
    """Failure injection (this test only): the real tutor, except that some questions crash it."""

    def __init__(self, real):
        self.real = real

    def ask(self, question: str, session_id: str | None = None):
        if "BOOM" in question:
            raise RuntimeError("simulated crash in the agent")
        if "GARBAGE" in question:
            return 42
        return self.real.ask(question, session_id=session_id)


def test_a_crashing_item_is_recorded_and_the_run_continues(tutor, tmp_path: Path):
    items = parse_items(
        "\n".join(
            json.dumps(d, ensure_ascii=False)
            for d in [
                {"id": "before", "question": "帮我写一首关于秋天的诗", "expect_refusal": True},
                {"id": "crash", "question": "BOOM 什么是注意力？", "expect_any": ["注意力"]},
                {"id": "garbage", "question": "GARBAGE"},
                {"id": "crash-2nd-turn", "turns": ["什么是 BERT？", "BOOM 它的预训练任务呢？"]},
                {"id": "after", "question": "帮我算一下注意力：Q=[[1,0],[0,1]]，K=[[1,0],[0,1]]，V=[[1,2],[3,4]]", "expect_any": ["0.6698"]},
            ]
        )
    ).items
    result = evaluate(items, InProcessBackend(FlakyTutor(tutor)), tmp_path, workers=2)
    by_id = {r["id"]: r for r in result.records}
    assert list(by_id) == ["before", "crash", "garbage", "crash-2nd-turn", "after"]
    assert by_id["crash"]["error"] == "RuntimeError: simulated crash in the agent"
    assert by_id["crash"]["passed"] is False and by_id["crash"]["failures"] == ["error"]
    assert by_id["garbage"]["error"].startswith("TypeError: the tutor returned int")
    assert by_id["crash-2nd-turn"]["error"].startswith("RuntimeError") and len(by_id["crash-2nd-turn"]["turns"]) == 1
    assert by_id["before"]["passed"] is True and by_id["after"]["passed"] is True
    assert result.metrics["errors"] == 3 and result.metrics["item_count"] == 5
    assert {e["id"] for e in result.metrics["error_items"]} == {"crash", "garbage", "crash-2nd-turn"}
    assert "simulated crash in the agent" in (tmp_path / "report.md").read_text(encoding="utf-8")
    assert len(read_results(tmp_path)) == 5


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_writes_what_was_scored_so_far(cli_env, tmp_path: Path, workers: int):
    questions = ["什么是自注意力？", "GPT-3 有多少参数？", "BERT 和 GPT 有什么区别？", "什么是 n-gram？"]
    total = 400
    items = write_items(tmp_path / "many.jsonl", [{"id": f"q{i}", "question": questions[i % 4], "expect_tool": "search_notes"} for i in range(total)])
    out = tmp_path / "out"
    results = out / "results.jsonl"
    stop = threading.Event()

    def press_ctrl_c_after_three_results() -> None:
        deadline = time.monotonic() + 120  # a safety net: the eval ends first, and `stop` ends the watch
        while not stop.is_set() and time.monotonic() < deadline:
            # bytes, not text: the file may end mid-character while a line is being written
            if results.is_file() and results.read_bytes().count(b"\n") >= 3:
                os.kill(os.getpid(), signal.SIGINT)  # what the terminal sends on Ctrl-C
                return
            time.sleep(0.005)

    # A process started in the background by a non-interactive shell (CI launched with `&`) inherits
    # SIGINT ignored; a terminal's foreground process has Python's default handler, as here.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    watcher = threading.Thread(target=press_ctrl_c_after_three_results, daemon=True)
    watcher.start()
    try:
        r = run_eval(items, "--out", out, "--workers", workers)
    finally:
        stop.set()
        watcher.join(5)
        signal.signal(signal.SIGINT, previous)
    assert r.exit_code == 130, (r.exit_code, r.stdout, r.stderr)
    assert "interrupted" in r.stderr
    records = read_results(out)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert 3 <= len(records) < total
    assert metrics["interrupted"] is True and metrics["item_count"] == len(records) and metrics["items_planned"] == total
    assert [rec["id"] for rec in records] == sorted((rec["id"] for rec in records), key=lambda s: int(s[1:]))
    assert all(rec["error"] is None for rec in records)
    assert "interrupted" in (out / "report.md").read_text(encoding="utf-8")


# ---- --url ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server_url(eval_settings):
    """A real uvicorn process serving tests/eval_api_app.py (the HTTP contract) on a free port;
    every 3rd question is answered HTTP 429 first (a rate-limited server), so retries are tested."""
    port = free_port()
    env = {**os.environ, "TUTOR_DATA_DIR": str(eval_settings.data_dir), "EVAL_APP_THROTTLE_EVERY": "3"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.eval_api_app:app", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 120
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the test server exited: {proc.stdout.read()}")
            try:
                if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the test server did not come up in 120 s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_url_mode_against_a_real_server_matches_in_process(cli_env, tutor, server_url, tmp_path: Path):
    """Four kinds of smoke items (concept + reference, demo, multi-turn, refusal) through the server,
    which rate-limits every 3rd question: the evaluator waits (Retry-After) and retries."""
    wanted = ["dev-att-01", "dev-demo-att-01", "dev-mt-03", "dev-off-01"]
    lines = {json.loads(ln)["id"]: ln for ln in SMOKE.read_text(encoding="utf-8").splitlines()}
    subset = tmp_path / "subset.jsonl"
    subset.write_text("\n".join(lines[i] for i in wanted) + "\n", encoding="utf-8")
    r = run_eval(subset, "--out", tmp_path / "url", "--url", server_url + "/", "--workers", 2)
    assert r.exit_code == 0, r.stdout + r.stderr
    m_url = json.loads((tmp_path / "url" / "metrics.json").read_text(encoding="utf-8"))
    assert m_url["mode"] == "url" and m_url["url"] == server_url + "/" and m_url["errors"] == 0
    assert m_url["engine"]["status"] == "ok" and m_url["item_count"] == 4
    remote = read_results(tmp_path / "url")
    sim = load_similarity(cli_env, tutor)
    local = evaluate(parse_items(subset.read_bytes()).items, InProcessBackend(tutor), tmp_path / "local", similarity=sim).records
    assert [x["id"] for x in remote] == wanted
    assert [x["answer"] for x in remote] == [x["answer"] for x in local]
    assert [x["kind"] for x in remote] == [x["kind"] for x in local]
    assert [x["sources"] for x in remote] == [x["sources"] for x in local]
    assert [x["steps"] for x in remote] == [x["steps"] for x in local]
    # the same verdicts, latency aside (timings differ between the two runs)
    same = lambda recs: [[f for f in x["failures"] if f != "max_latency_ms"] for x in recs]  # noqa: E731
    assert same(remote) == same(local)
    assert sum(x.get("rate_limited_wait_ms", 0) for x in remote) >= 200  # one 429 waited out (Retry-After 0.2 s)
    assert all(x["latency_ms"] < 60_000 for x in remote)
    multi = remote[2]
    assert len(multi["turns"]) == 2 and multi["turns"][1]["answer"] == multi["answer"]


def test_unreachable_url_fails_fast_with_a_clear_message(cli_env, tmp_path: Path):
    port = free_port()  # nothing listens there
    out = tmp_path / "o"
    t0 = time.monotonic()
    r = run_eval(SMOKE, "--out", out, "--url", f"http://127.0.0.1:{port}")
    assert time.monotonic() - t0 < 15
    assert r.exit_code == 2
    lines = error_lines(r)
    assert len(lines) == 1 and f"cannot reach the tutor server at http://127.0.0.1:{port}" in lines[0], r.stderr
    assert not (out / "results.jsonl").exists()


def test_url_must_be_http(cli_env, tmp_path: Path):
    r = run_eval(SMOKE, "--out", tmp_path / "o", "--url", "localhost:8000")
    assert r.exit_code == 2 and "--url must start with http://" in error_lines(r)[0]


# ---- exit codes -------------------------------------------------------------------------------------
def test_min_pass_is_a_ci_gate(cli_env, tmp_path: Path):
    items = write_items(
        tmp_path / "gate.jsonl",
        [
            {"id": "pass", "question": "帮我写一首关于秋天的诗", "expect_refusal": True},
            {"id": "fail", "question": "什么是自注意力？", "expect_any": ["zzz-this-string-is-in-no-answer"]},
        ],
    )
    r = run_eval(items, "--out", tmp_path / "a", "--min-pass", "0.6")
    assert r.exit_code == 1
    assert "pass rate 50.0% is under --min-pass 60.0%" in error_lines(r)[0]
    assert (tmp_path / "a" / "report.md").is_file()  # the outputs are written before the gate
    r = run_eval(items, "--out", tmp_path / "b", "--min-pass", "0.5")
    assert r.exit_code == 0, r.stderr
    r = run_eval(items, "--out", tmp_path / "c", "--min-pass", "80")
    assert r.exit_code == 2 and "between 0 and 1" in error_lines(r)[0]


def test_bad_usage_exits_2_with_one_line(cli_env, tmp_path: Path):
    r = run_eval(tmp_path / "missing.jsonl", "--out", tmp_path / "o")
    assert r.exit_code == 2 and len(error_lines(r)) == 1 and "file not found" in error_lines(r)[0]
    r = run_eval(SMOKE, "--out", tmp_path / "o", "--workers", "0")
    assert r.exit_code == 2 and "--workers" in error_lines(r)[0]
    empty = tmp_path / "bad.jsonl"
    empty.write_text("not json\n", encoding="utf-8")
    r = run_eval(empty, "--out", tmp_path / "o")
    assert r.exit_code == 2 and "no valid item" in error_lines(r)[0]
    assert "line 1" in r.stderr


def test_malformed_lines_are_reported_and_the_rest_runs(cli_env, tmp_path: Path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        '{"id": "a", "question": "帮我写一首关于秋天的诗", "expect_refusal": true}\n'
        '{"id": "b", "question": \n'
        '{"id": "c", "question": "GPT-3 有多少参数？", "expect_tool": "search_notes"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "o"
    r = run_eval(path, "--out", out)
    assert r.exit_code == 1
    assert f"{path} line 2: not valid JSON" in r.stderr
    assert [rec["id"] for rec in read_results(out)] == ["a", "c"]
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["invalid_lines"][0]["line"] == 2 and metrics["pass_rate"] == 1.0


def test_empty_index_is_ingested_automatically(corpus_copy: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TUTOR_DATA_DIR", str(tmp_path / "fresh-data"))
    monkeypatch.setenv("TUTOR_CORPUS_DIR", str(corpus_copy))
    get_settings.cache_clear()
    try:
        items = write_items(tmp_path / "i.jsonl", [{"id": "vec", "question": "比较向量相似度有哪些常用方法？", "expect_source": "000_172dd7619ae4346b.txt"}])
        r = run_eval(items, "--out", tmp_path / "o")
        assert r.exit_code == 0, r.stdout + r.stderr
        assert "ingesting the course notes" in r.stderr
        rec = read_results(tmp_path / "o")[0]
        assert rec["passed"] is True, rec["checks"]
    finally:
        get_settings.cache_clear()
