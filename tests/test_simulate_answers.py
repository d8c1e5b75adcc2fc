"""bench/simulate_answers.py: the agent's default concept answer written from `search_evidence` and
scored with the evaluation's checks; only single-turn concept items count, blind sets print counts only."""

from __future__ import annotations

import importlib.util
import json

import pytest

from tutor.config import PROJECT_ROOT

spec = importlib.util.spec_from_file_location("simulate_answers", PROJECT_ROOT / "bench" / "simulate_answers.py")
sim = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sim)

ITEMS = [
    {"id": "c-pass", "question": "BERT 预训练时会遮住多少比例的词？", "expect_any": ["15%"], "expect_tool": "search_notes"},
    {"id": "c-fail", "question": "BERT 预训练时会遮住多少比例的词？", "expect_any": ["笔记里没有的说法"], "expect_tool": "search_notes"},
    {"id": "demo", "question": "给我看一个 4×4 的 causal mask", "expect_tool": "mask"},
    {"id": "turns", "turns": ["什么是 BERT？", "它的预训练任务有哪些？"], "expect_any": ["NSP"], "expect_tool": "search_notes"},
]


def write_items(path, items=ITEMS):
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    return path


def test_the_simulated_answer_is_the_lead_and_every_evidence_block(ingested_settings):
    from tutor.agent.search_tool import parse_evidence, search_evidence
    from tutor.service import get_retriever

    retriever = get_retriever(ingested_settings)
    result = sim.simulated_result(retriever, "BERT 预训练时会遮住多少比例的词？")
    blocks = parse_evidence(search_evidence(retriever, "BERT 预训练时会遮住多少比例的词？")[0])
    assert result["answer"].startswith("根据课程笔记：" + blocks[0][1])
    assert all(text in result["answer"] and citation in result["answer"] for citation, text in blocks)
    assert sim.simulated_result(retriever, "What does BERT mask?")["answer"].startswith("According to the course notes: ")


def test_counts_compare_save_and_against(ingested_settings, tmp_path, capsys):
    dev = write_items(tmp_path / "dev.jsonl")
    runs = tmp_path / "runs"
    (runs / "dev").mkdir(parents=True)
    # the real run passed both concept items: the simulation agrees on one of the two
    (runs / "dev" / "results.jsonl").write_text(
        "".join(json.dumps({"id": i, "passed": True}) + "\n" for i in ("c-pass", "c-fail", "demo")), encoding="utf-8")
    saved = tmp_path / "outcomes.json"
    args = [str(dev), "--data-dir", str(ingested_settings.data_dir), "--compare", str(runs), "--save", str(saved)]
    assert sim.main(args) == 0
    out = capsys.readouterr().out
    assert "| dev | 2 | 1 | 2 | 1/2 |" in out  # the demo and the two-turn item are left out
    outcomes = json.loads(saved.read_text(encoding="utf-8"))
    assert set(outcomes) == {"dev:c-pass", "dev:c-fail"} and outcomes["dev:c-pass"][0] and not outcomes["dev:c-fail"][0]

    # --against names what changed since the saved file
    outcomes["dev:c-fail"][0] = True
    saved.write_text(json.dumps(outcomes), encoding="utf-8")
    assert sim.main([str(dev), "--data-dir", str(ingested_settings.data_dir), "--against", str(saved)]) == 0
    assert "dev:c-fail: pass → fail" in capsys.readouterr().out


def test_a_blind_set_is_counted_but_never_saved_item_by_item(ingested_settings, tmp_path, capsys):
    blind = write_items(tmp_path / "heldout5.jsonl")
    saved = tmp_path / "outcomes.json"
    assert sim.main([str(blind), "--data-dir", str(ingested_settings.data_dir), "--save", str(saved)]) == 0
    assert "| heldout5 | 2 | 1 |" in capsys.readouterr().out
    assert json.loads(saved.read_text(encoding="utf-8")) == {}


def test_a_missing_run_or_a_bad_items_file_is_one_usage_error(ingested_settings, tmp_path, capsys):
    dev = write_items(tmp_path / "dev.jsonl")
    with pytest.raises(SystemExit) as exit_info:
        sim.main([str(dev), "--data-dir", str(ingested_settings.data_dir), "--compare", str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2 and "no results at" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        sim.main([str(bad), "--data-dir", str(ingested_settings.data_dir)])
    assert exit_info.value.code == 2 and "line 1:" in capsys.readouterr().err
