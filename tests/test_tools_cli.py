"""`tutor demo …` through Typer's CliRunner (mounted as in tutor/cli.py), plus one real subprocess."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from tutor.tools.cli import demo_app

ROOT = Path(__file__).resolve().parent.parent

app = typer.Typer()
app.add_typer(demo_app, name="demo")
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["demo", *args])


def run_json(*args: str):
    r = run(*args, "--json")
    assert r.exit_code == 0, r.stderr + r.stdout
    return json.loads(r.stdout)


def assert_error(result, needle: str):
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("错误 / error: "), result.stderr
    assert needle in lines[0]
    assert "Traceback" not in result.stderr + result.stdout and result.stdout == ""


# ----------------------------------------------------------------------------------------------
# attention


def test_attention_json_example_from_the_issue():
    d = run_json("attention", "--q", "[[1,0],[0,1]]", "--k", "[[1,0],[0,1]]", "--v", "[[1,2],[3,4]]")
    np.testing.assert_allclose(d["weights"], [[0.6698, 0.3302], [0.3302, 0.6698]], atol=5e-5)
    a = math.exp(1 / math.sqrt(2))
    assert d["weights"][0][0] == pytest.approx(a / (a + 1), abs=1e-15)
    assert np.asarray(d["output"]).shape == (2, 2) and d["mode"] == "single-head"


def test_attention_causal_heads_and_png(tmp_path):
    d = run_json("attention", "--q", "[[1,0],[0,1]]", "--k", "[[1,0],[0,1]]", "--v", "[[1,2],[3,4]]", "--causal", "--heads", "2")
    w = np.asarray(d["weights"])
    assert w.shape == (2, 2, 2) and (w[:, 0, 1] == 0).all()
    assert d["masked_scores"][0][0][1] == "-inf"
    png = tmp_path / "heat.png"
    r = run("attention", "--q", "[[1,0],[0,1]]", "--v", "[[1,2],[3,4]]", "--png", str(png))
    assert r.exit_code == 0 and png.read_bytes()[:4] == b"\x89PNG"
    assert "注意力权重 / attention weights" in r.stdout and "0.6698" in r.stdout and "heatmap saved" in r.stdout


def test_attention_loose_text_and_sentence():
    r = run("attention", "--q", "［［1，0］，［0，1］］", "--v", "[1 2; 3 4]")
    assert r.exit_code == 0 and "0.6698" in r.stdout
    d = run_json("attention", "--query", "Q=K=I2，V=[[1,2],[3,4]]，因果")
    assert d["causal"] is True and d["weights"][0] == [1.0, 0.0]
    s = run_json("attention", "--text", "我爱自然语言处理", "--heads", "2")
    assert s["tokens_q"][0] == "我" and np.asarray(s["weights"]).shape[0] == 2
    p = run_json("attention", "--q", "[[1,0],[0,1]]", "--padding-mask", "[1,0]")
    assert [row[1] for row in p["weights"]] == [0.0, 0.0]
    i = run_json("attention", "--q", "[[1,0,0,1],[0,1,1,0]]", "--heads", "2", "--proj", "identity")
    assert i["projection_kind"] == "identity"


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--q", "[[1,2],[3]]"], "ragged"),
        (["--q", "[[1,a]]"], "non-numeric"),
        (["--q", "[[1,0]]", "--k", "[[1,0,0]]"], "same width"),
        (["--q", "[[1,0]]", "--k", "[[1,0],[0,1]]", "--v", "[[1]]"], "same number of rows"),
        (["--q", "[[NaN, 1]]"], "NaN"),
        (["--q", "[]"], "empty"),
        (["--q", json.dumps(np.zeros((65, 2)).tolist())], "too large"),
        (["--q", "[[1,0,1]]", "--heads", "2"], "must divide"),
        (["--q", "[[1,0]]", "--heads", "0"], "between 1 and"),
        (["--q", "[[1,0]]", "--proj-weights", "[1]"], "JSON object"),
        ([], "give matrices"),
    ],
)
def test_attention_bad_input(args, needle):
    assert_error(run("attention", *args), needle)


# ----------------------------------------------------------------------------------------------
# n-gram


def test_ngram_json_on_given_text():
    d = run_json("ngram", "--n", "2", "--smoothing", "mle", "--text", "a b a c\na b\nb a", "--sentence", "a b a")
    assert d["tokens"] == ["a", "b", "a"]
    assert d["probabilities"] == [2 / 3, 2 / 4, 2 / 3, 1 / 4] and d["vocab_size"] == 5
    assert d["logprob"] == pytest.approx(math.log(1 / 18)) and d["perplexity"] == pytest.approx(18 ** 0.25)
    z = run_json("ngram", "--n", "2", "--text", "a b a c\na b\nb a", "--sentence", "a c b")
    assert z["logprob"] == "-inf" and z["perplexity"] == "inf"
    k = run_json("ngram", "--n", "2", "--smoothing", "addk", "--k", "0.5", "--text", "a b a c\na b\nb a", "--sentence", "a b a")
    assert k["probabilities"][0] == (2 + 0.5) / (3 + 0.5 * 5)


def test_ngram_default_corpus_compare_and_table(tmp_path):
    d = run_json("ngram", "--n", "2", "--smoothing", "kn", "--sentence", "注意力机制", "--compare", "机制注意力")
    assert d["tokens"] == ["注意力", "机制"] and len(d["probabilities"]) == 3
    assert d["more_probable"] == "a" and d["compare"]["tokens"] == ["机制", "注意力"]
    r = run("ngram", "--n", "2", "--smoothing", "addk", "--sentence", "注意力机制")
    assert r.exit_code == 0
    for label in ("困惑度 / perplexity", "词表大小 / vocabulary size V", "c(u w)", "</s>"):
        assert label in r.stdout
    f = tmp_path / "c.txt"
    f.write_text("the cat sat. the dog sat.", encoding="utf-8")
    c = run_json("ngram", "--n", "1", "--corpus", str(f), "--sentence", "the cat")
    assert c["probabilities"][0] == 2 / 8 and c["tokenization"] == "whitespace"


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--n", "0", "--sentence", "a"], "at least 1"),
        (["--n", "9", "--sentence", "a"], "at most"),
        (["--smoothing", "witten", "--sentence", "a"], "unknown smoothing"),
        (["--smoothing", "addk", "--k", "0", "--sentence", "a"], "0 < k"),
        (["--smoothing", "kn", "--discount", "2", "--sentence", "a"], "discount"),
        ([], "--sentence"),
        (["--sentence", "a", "--corpus", "/nonexistent/x.txt"], "does not exist"),
        (["--sentence", "a", "--text", " "], "empty"),
        (["--sentence", "a", "--tokenization", "bpe"], "unknown tokenization"),
    ],
)
def test_ngram_bad_input(args, needle):
    assert_error(run("ngram", *args), needle)


# ----------------------------------------------------------------------------------------------
# mask


def test_mask_causal_padding_combined():
    d = run_json("mask", "--kind", "causal", "--size", "3")
    assert d["matrix"] == [[1, 0, 0], [1, 1, 0], [1, 1, 1]] and d["additive"][0] == [0.0, "-inf", "-inf"]
    r = run("mask", "--kind", "causal", "--size", "3")
    assert r.exit_code == 0 and "因果" in r.stdout and "-inf" in r.stdout
    p = run_json("mask", "--kind", "padding", "--lengths", "[3,5,2]")
    assert p["matrix"][2] == [1, 1, 0, 0, 0]
    c = run_json("mask", "--kind", "combined", "--lengths", "[2,3]")
    assert c["matrix"][0] == [[1, 0, 0], [1, 1, 0], [1, 1, 0]]


def test_mask_mlm_and_stats():
    args = ("mask", "--kind", "mlm", "--text", "注意力机制是 Transformer 的核心", "--seed", "4")
    d = run_json(*args)
    assert run_json(*args) == d
    assert set(d) >= {"tokens", "selected", "output_tokens", "labels"}
    assert all(d["labels"][i] == d["tokens"][i] for i in d["selected"])
    r2 = run_json("mask", "--kind", "mlm", "--text", "the cat sat on the mat", "--rate", "0.5", "--seed", "1")
    assert len(r2["selected"]) == 3
    t = run("mask", "--kind", "mlm", "--text", "the cat sat on the mat")
    assert t.exit_code == 0 and "标签 label" in t.stdout
    s = run_json("mask", "--kind", "mlm", "--stats", "--selection", "bernoulli")
    assert s["tokens"] > 50_000 and abs(s["realised"]["selected"] - 0.15) < 0.01


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--kind", "causal"], "--size"),
        (["--kind", "causal", "--size", "0"], "between 1 and"),
        (["--kind", "causal", "--size", "500"], "between 1 and"),
        (["--kind", "padding"], "lengths are missing"),
        (["--kind", "padding", "--lengths", "[3,-1]"], "negative"),
        (["--kind", "mlm"], "--text"),
        (["--kind", "mlm", "--text", "a b", "--rate", "2"], "0 < rate"),
        (["--kind", "mlm", "--text", ""], "empty"),
        (["--kind", "zigzag"], "unknown mask kind"),
    ],
)
def test_mask_bad_input(args, needle):
    assert_error(run("mask", *args), needle)


# ----------------------------------------------------------------------------------------------
# a real process


def test_python_dash_m_subprocess():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run(
        [sys.executable, "-m", "tutor.tools.cli", "attention", "--q", "[[1,0],[0,1]]", "--k", "[[1,0],[0,1]]", "--v", "[[1,2],[3,4]]", "--json"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert [round(x, 4) for x in json.loads(ok.stdout)["weights"][0]] == [0.6698, 0.3302]
    bad = subprocess.run(
        [sys.executable, "-m", "tutor.tools.cli", "attention", "--q", "[[1,2],[3]]"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("错误 / error: ") and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_code_prints_the_tutors_own_implementation():
    r = run("code", "softmax")
    assert r.exit_code == 0 and "def softmax_rows(" in r.stdout and "tutor/tools/attention.py › softmax_rows" in r.stdout
    out = run_json("code", "causal mask")
    assert out["topic"] == "causal_mask" and "np.tril" in out["code"]
    assert_error(run("code", "langchain"), "softmax")
