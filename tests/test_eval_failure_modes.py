"""bench/eval_failure_modes.py: a failed item is named by the first place its expected facts stop
appearing (answer, observation, top-3/5/10 chunks, the notes)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from tutor.config import PROJECT_ROOT

spec = importlib.util.spec_from_file_location("eval_failure_modes", PROJECT_ROOT / "bench" / "eval_failure_modes.py")
efm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(efm)


@dataclass
class Chunk:
    text: str


class Ranked:
    """A retriever stand-in returning fixed chunks in a fixed order."""

    def __init__(self, texts):
        self.texts = texts

    def search(self, query, k=5):
        return [Chunk(t) for t in self.texts[:k]]


def result(answer="", observation=""):
    return {"question": "BERT 遮住多少词？", "answer": answer, "steps": [{"observation": observation}],
            "expected": {"expect_any": ["15%"]}}


def test_each_failure_is_named_by_where_the_fact_stops_appearing():
    notes = "BERT 遮住 15% 的词。"
    fact_at = lambda rank: Ranked(["无关"] * (rank - 1) + ["BERT 遮住 15% 的词。"] + ["无关"] * 10)  # noqa: E731
    assert efm.failure_mode(result(answer="遮住 15%"), fact_at(1), notes) == "facts in answer"
    assert efm.failure_mode(result(observation="15%"), fact_at(1), notes) == "in observation, not answer"
    assert efm.failure_mode(result(), fact_at(3), notes) == "in top-3, not observation"
    assert efm.failure_mode(result(), fact_at(5), notes) == "in top-4/5 only"
    assert efm.failure_mode(result(), fact_at(9), notes) == "in top-10 only"
    assert efm.failure_mode(result(), fact_at(12), notes) == "not in top-10"
    assert efm.failure_mode(result(), fact_at(12), "别的内容") == "not in the notes verbatim"


def test_a_missing_run_is_one_usage_error_and_its_results_file_is_accepted(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_info:
        efm.main([str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2
    assert "no results at" in capsys.readouterr().err
    (tmp_path / "results.jsonl").write_text("", encoding="utf-8")
    assert efm.main([str(tmp_path / "results.jsonl"), "--data-dir", str(tmp_path / "data")]) == 0
    assert "0 items, 0 failed" in capsys.readouterr().out
