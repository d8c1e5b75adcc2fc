"""The items file: malformed lines are reported with their line numbers and the rest still load;
metrics and the report from hand-made records; the project's evaluation set itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tutor.config import KB_PACKAGE_DIR, PROJECT_ROOT
from tutor.evaluation.items import EXPECTATION_FIELDS, load_items, parse_items
from tutor.evaluation.metrics import compute_metrics, percentile
from tutor.evaluation.report import PLOT_FILES, write_report

EVAL_DIR = PROJECT_ROOT / "eval"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_malformed_lines_are_reported_with_line_numbers_and_the_rest_loads(tmp_path: Path):
    lines = [
        '{"id": "ok1", "question": "什么是自注意力？"}',  # 1
        "",  # 2 blank: skipped silently
        '{"id": "bad-json", "question": "x"',  # 3
        "[1, 2, 3]",  # 4 not an object
        '{"question": "no id"}',  # 5
        '{"id": "both", "question": "a", "turns": ["b"]}',  # 6
        '{"id": "neither", "category": "x"}',  # 7
        '{"id": "empty-turns", "turns": []}',  # 8
        '{"id": "bad-regex", "question": "a", "expect_regex": "([unclosed"}',  # 9
        '{"id": "ok1", "question": "duplicate id"}',  # 10
        '{"id": 7, "turns": ["第一轮", "第二轮"], "unknown_field": 1, "expect_any": "x"}',  # 11 ok
        '{"id": "lat", "question": "a", "max_latency_ms": -5}',  # 12
    ]
    path = tmp_path / "items.jsonl"
    raw = ("\n".join(lines) + "\n").encode("utf-8") + b'{"id": "latin1", "question": "caf\xe9"}\n'  # 13 not UTF-8
    path.write_bytes(raw)
    loaded = load_items(path)
    assert [it.id for it in loaded.items] == ["ok1", "7"]
    assert [it.line for it in loaded.items] == [1, 11]
    assert loaded.items[1].turns == ["第一轮", "第二轮"] and loaded.items[1].expect_any == ["x"]
    errors = {e.line: e.message for e in loaded.errors}
    assert sorted(errors) == [3, 4, 5, 6, 7, 8, 9, 10, 12, 13]
    assert "not valid JSON" in errors[3]
    assert "expected a JSON object" in errors[4]
    assert "id" in errors[5]
    assert "exactly one of 'question'" in errors[6] and "exactly one of 'question'" in errors[7]
    assert "turns" in errors[8]
    assert "not a valid regular expression" in errors[9]
    assert "duplicate id 'ok1'" in errors[10] and "line 1" in errors[10]
    assert "max_latency_ms" in errors[12]
    assert "UTF-8" in errors[13]
    assert str(loaded.errors[0]).startswith("line 3: ")


def test_bom_and_crlf_are_tolerated():
    loaded = parse_items('\ufeff{"id": "a", "question": "q"}\r\n{"id": "b", "question": "r"}\r\n'.encode("utf-8"))
    assert [it.id for it in loaded.items] == ["a", "b"] and not loaded.errors


def test_item_without_expectations_is_valid():
    loaded = parse_items('{"id": "plain", "question": "什么是 Transformer？"}')
    assert loaded.items[0].has_expectations is False
    assert loaded.items[0].category == "uncategorised"


# ---- metrics and report from hand-made records --------------------------------------------------
def _record(id, category, passed, *, expected=None, checks=None, latency=10.0, kind="concept", error=None, **kw):
    r = {
        "id": id, "category": category, "question": "q", "answer": "a", "steps": [], "sources": [],
        "latency_ms": latency, "model_driven": False, "kind": kind, "passed": passed, "expected": expected or {},
        "checks": checks or [], "failures": ["error"] if error else [c["name"] for c in checks or [] if not c["passed"]], "error": error,
    }
    r.update(kw)
    return r


def _hand_made_records():
    ok = lambda n: {"name": n, "passed": True, "detail": ""}  # noqa: E731
    bad = lambda n: {"name": n, "passed": False, "detail": ""}  # noqa: E731
    return [
        _record("a", "bert", True, expected={"expect_any": ["15%"], "expect_source": ["x.txt"]}, checks=[ok("expect_any"), ok("expect_source")], source_rank=1, latency=10),
        _record("b", "bert", False, expected={"expect_any": ["x"], "expect_source": ["x.txt"]}, checks=[bad("expect_any"), ok("expect_source")], source_rank=2, latency=20),
        _record("c", "demo", True, expected={"expect_tool": ["attention"]}, checks=[ok("expect_tool")], expected_tool="attention", tool="attention", latency=30, kind="demo"),
        _record("d", "demo", False, expected={"expect_tool": ["attention"]}, checks=[bad("expect_tool")], expected_tool="attention", tool="search_notes", latency=40),
        _record("e", "offtopic", True, expected={"expect_refusal": True}, checks=[ok("expect_refusal")], refused=True, latency=1, kind="refusal"),
        _record("f", "bert", False, expected={"expect_any": ["x"]}, error="RuntimeError: boom", latency=None, kind=None),
        _record("g", "misc", None, refused=True, latency=50, kind="refusal"),  # no expectations; a false refusal
        _record("h", "bert", True, expected={"reference": "r"}, checks=[{"name": "reference", "passed": True, "detail": "", "score": 0.8}], reference_similarity=0.8, latency=60),
    ]


def test_metrics_from_hand_made_records():
    m = compute_metrics(_hand_made_records(), {"file": "x.jsonl", "planned": 9, "started_at": 1000.0, "finished_at": 1002.5})
    assert m["item_count"] == 8 and m["items_planned"] == 9 and m["duration_s"] == 2.5
    assert m["scored"] == 7 and m["passed"] == 4 and m["pass_rate"] == pytest.approx(4 / 7, abs=1e-4)
    assert m["by_category"]["bert"] == {"items": 4, "scored": 4, "passed": 2, "pass_rate": 0.5}
    assert m["by_category"]["misc"]["pass_rate"] is None
    assert m["checks"]["expect_any"] == {"items": 3, "passed": 1, "rate": pytest.approx(1 / 3, abs=1e-4)}  # the crash fails its check
    assert m["tool_accuracy"] == 0.5 and m["source_accuracy"] == 1.0 and m["refusal_accuracy"] == 1.0
    assert m["source_mrr"] == pytest.approx(0.75)
    assert m["refusal"]["false_refusals"] == 1 and m["refusal"]["false_refusal_ids"] == ["g"]
    assert m["reference_similarity"]["mean"] == pytest.approx(0.8)
    assert m["errors"] == 1 and m["error_items"] == [{"id": "f", "error": "RuntimeError: boom"}]
    assert m["latency_ms"]["max"] == 60 and m["latency_ms"]["p50"] == pytest.approx(30.0)
    assert m["tool_confusion"]["matrix"] == {"attention": {"attention": 1, "search_notes": 1}}
    assert m["failure_counts"]["error"] == 1
    assert m["model_driven_rate"] == 0.0


def test_first_tool_is_the_models_own_choice_before_any_fallback():
    """`expect_tool` passes when the right tool was called at any step; `first_tool` only when the
    turn's first tool was right (a fallback after a wrong choice does not count)."""
    ok = {"name": "expect_tool", "passed": True, "detail": ""}
    step = lambda t: {"thought": "", "tool": t, "tool_input": "", "observation": ""}  # noqa: E731
    records = [
        _record("right", "demo", True, expected={"expect_tool": ["mask"]}, checks=[ok], expected_tool="mask", tool="mask", steps=[step("mask")]),
        _record("fell-back", "demo", True, expected={"expect_tool": ["mask"]}, checks=[ok], expected_tool="mask", tool="mask",
                steps=[step("ngram"), step(None), step("mask")]),
        _record("concept", "bert", True, expected={"expect_tool": ["search_notes"]}, checks=[ok], expected_tool="search_notes",
                tool="search_notes", steps=[step("attention"), step("search_notes")]),
        _record("no-tool", "offtopic", True, expected={"expect_tool": ["none"]}, checks=[ok], expected_tool="none", steps=[]),
    ]
    m = compute_metrics(records)
    assert m["tool_accuracy"] == 1.0
    assert m["first_tool"]["passed"] == 2 and m["first_tool"]["items"] == 4 and m["first_tool_accuracy"] == 0.5
    assert m["first_tool"]["demo"] == {"items": 2, "passed": 1, "rate": 0.5}


def test_percentile_interpolates():
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05, abs=0.06)  # rounded to 0.1 ms


def test_report_writes_markdown_and_three_pngs(tmp_path: Path):
    records = _hand_made_records()
    metrics = compute_metrics(records, {"file": "x.jsonl"})
    files = write_report(tmp_path, records, metrics)
    for name in PLOT_FILES.values():
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC)
    md = files["report"].read_text(encoding="utf-8")
    for needle in ("# 评测报告", "pass rate", "## 按类别", "## 工具混淆矩阵", "`b` (bert) — expect_any", "RuntimeError: boom"):
        assert needle in md
    for name in PLOT_FILES.values():
        assert f"]({name})" in md


def test_report_with_nothing_scored(tmp_path: Path):
    records = [_record("g", "misc", None, latency=None, error=None)]
    files = write_report(tmp_path, records, compute_metrics(records))
    assert (tmp_path / PLOT_FILES["confusion"]).read_bytes().startswith(PNG_MAGIC)
    assert "全部通过 / none" in files["report"].read_text(encoding="utf-8")


# ---- the project's evaluation set ----------------------------------------------------------------
def _set(name: str):
    loaded = load_items(EVAL_DIR / name)
    assert not loaded.errors, f"{name}: {[str(e) for e in loaded.errors]}"
    return loaded.items


def test_evaluation_set_size_split_and_disjointness():
    dev, held = _set("dev.jsonl"), _set("heldout.jsonl")
    assert len(dev) + len(held) >= 100
    assert 0.5 <= len(dev) / (len(dev) + len(held)) <= 0.7
    assert not {i.id for i in dev} & {i.id for i in held}
    dev_q = {q.strip() for i in dev for q in i.messages}
    assert not dev_q & {q.strip() for i in held for q in i.messages}, "held-out questions must differ from dev ones"


def test_evaluation_set_covers_what_the_issue_asks_for():
    items = _set("dev.jsonl") + _set("heldout.jsonl")
    corpus = {p.name for p in (KB_PACKAGE_DIR / "corpus").glob("*.txt")}
    cited = {s for i in items for s in i.expect_source or []}
    assert cited <= corpus, f"unknown note files: {cited - corpus}"
    assert cited == corpus, "every note should be cited by some item"
    for it in items:
        assert it.has_expectations, f"{it.id} has no expectation"
    cats = {i.category for i in items}
    for needed in ("demo_attention", "demo_ngram", "demo_mask", "multiturn", "offtopic", "injection", "misheard", "english"):
        assert needed in cats
    for split in ("dev.jsonl", "heldout.jsonl"):
        s = _set(split)
        assert sum(1 for i in s if i.expect_refusal) >= 5
        assert sum(1 for i in s if i.turns) >= 3
        assert sum(1 for i in s if i.reference) >= 8
        assert any(i.expect_source == ["003_fcbbed103810d7cb.txt"] and i.category == "misheard" for i in s)


def test_smoke_set_is_a_small_subset_of_dev():
    dev = {i.id: i for i in _set("dev.jsonl")}
    smoke = _set("smoke.jsonl")
    assert 8 <= len(smoke) <= 15
    for it in smoke:
        assert it.id in dev and it.model_dump() == dev[it.id].model_dump(), f"{it.id} differs from dev"
    used = {name for it in smoke for name in EXPECTATION_FIELDS if getattr(it, name) is not None}
    assert used >= {"expect_any", "expect_regex", "expect_tool", "expect_source", "expect_refusal", "reference", "max_latency_ms"}
    assert any(it.turns for it in smoke)


def test_evaluation_set_lines_are_plain_json_objects():
    for name in ("dev.jsonl", "heldout.jsonl", "smoke.jsonl", "basics.jsonl"):
        for n, line in enumerate((EVAL_DIR / name).read_text(encoding="utf-8").splitlines(), 1):
            assert isinstance(json.loads(line), dict), f"{name}:{n}"


def test_every_held_out_set_is_valid_and_disjoint_from_dev():
    """heldout, heldout2a/2b, heldout3, heldout4 and heldout5 load without a bad line, cite only real note files, use ids
    of their own and ask no dev question. (Blind sets may share a question with each other: both
    authors may quote a student question printed in the notes.) Failures report counts only, so a
    failing run does not show a blind set's questions."""
    corpus = {p.name for p in (KB_PACKAGE_DIR / "corpus").glob("*.txt")}
    seen_ids = {i.id for i in _set("dev.jsonl")}
    dev_q = {q.strip() for i in _set("dev.jsonl") for q in i.messages}
    for name in ("heldout.jsonl", "heldout2a.jsonl", "heldout2b.jsonl", "heldout3.jsonl", "heldout4.jsonl", "heldout5.jsonl"):
        items = _set(name)
        ids = {i.id for i in items}
        unknown_notes = len({s for i in items for s in i.expect_source or []} - corpus)
        shared_ids, dev_questions = len(ids & seen_ids), sum(1 for i in items if i.question and i.question.strip() in dev_q)
        assert (len(items) >= 30, len(ids) == len(items), unknown_notes, shared_ids, dev_questions) == (True, True, 0, 0, 0), name
        seen_ids |= ids


def test_the_basics_set_asks_what_each_course_term_is():
    """eval/basics.jsonl: 'what is X' questions (the first thing a student asks), each one the tutor reads
    as a definition question, none of them a dev question, every one with a fact to find."""
    from tutor.extractive import definition_subject

    items = _set("basics.jsonl")
    dev_q = {q.strip() for i in _set("dev.jsonl") for q in i.messages}
    assert len(items) >= 15 and len({i.id for i in items}) == len(items)
    assert [i.id for i in items if not definition_subject(i.question or "")] == []
    assert [i.id for i in items if (i.question or "").strip() in dev_q] == []
    assert all(i.expect_any or i.expect_all for i in items)
