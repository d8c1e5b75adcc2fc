"""Attention demo: hand-computed cases, exactness against torch, masks, heads, text mode, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tutor.tools.attention import (
    MAX_DIM,
    MAX_LEN,
    attention,
    attention_from_text,
    multi_head_attention,
    scaled_dot_product_attention,
    softmax_rows,
)
from tutor.tools.errors import DemoInputError

TOL = 1e-6


# ----------------------------------------------------------------------------------------------
# hand-computed


def test_identity_example_from_the_issue():
    r = scaled_dot_product_attention([[1, 0], [0, 1]], [[1, 0], [0, 1]], [[1, 2], [3, 4]])
    a = math.exp(1 / math.sqrt(2))
    hi, lo = a / (a + 1), 1 / (a + 1)
    assert round(hi, 4) == 0.6698 and round(lo, 4) == 0.3302
    np.testing.assert_allclose(r.weights, [[hi, lo], [lo, hi]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(r.scores, [[1, 0], [0, 1]])
    np.testing.assert_allclose(r.scaled_scores, np.array([[1, 0], [0, 1]]) / math.sqrt(2))
    np.testing.assert_allclose(r.masked_scores, r.scaled_scores)
    np.testing.assert_allclose(r.output, [[hi * 1 + lo * 3, hi * 2 + lo * 4], [lo * 1 + hi * 3, lo * 2 + hi * 4]], atol=1e-15)
    assert r.d_k == 2 and r.heads == 1 and not r.multi_head


def test_causal_hand_case_masks_the_future():
    r = scaled_dot_product_attention([[1, 0], [0, 1]], [[1, 0], [0, 1]], [[1, 2], [3, 4]], causal=True)
    assert r.masked_scores[0, 1] == -np.inf and np.isfinite(r.masked_scores[1]).all()
    np.testing.assert_allclose(r.weights[0], [1.0, 0.0])
    a = math.exp(1 / math.sqrt(2))
    np.testing.assert_allclose(r.weights[1], [1 / (a + 1), a / (a + 1)], atol=1e-15)
    np.testing.assert_allclose(r.output[0], [1, 2])


def test_uniform_when_scores_equal_and_k_defaults_to_q():
    r = scaled_dot_product_attention([[0, 0], [0, 0], [0, 0]], v=[[3], [6], [9]])
    np.testing.assert_allclose(r.weights, np.full((3, 3), 1 / 3))
    np.testing.assert_allclose(r.output, [[6], [6], [6]])


def test_softmax_rows_handles_minus_inf_and_large_values():
    x = np.array([[1000.0, 1000.0], [-np.inf, 0.0], [-np.inf, -np.inf]])
    np.testing.assert_allclose(softmax_rows(x), [[0.5, 0.5], [0.0, 1.0], [0.0, 0.0]])


def test_rows_sum_to_one_and_json_uses_minus_inf_strings():
    r = attention([[1, 2], [3, 4], [5, 6]], [[1, 0], [0, 1], [1, 1]], [[1], [2], [3]], causal=True)
    np.testing.assert_allclose(r.weights.sum(axis=1), 1.0)
    d = r.to_dict()
    text = json.dumps(d, allow_nan=False)  # no bare Infinity/NaN in the JSON
    assert d["masked_scores"][0][1] == "-inf" and '"-inf"' in text
    assert d["weights"][0] == [1.0, 0.0, 0.0]
    assert set(d) >= {"scores", "scaled_scores", "masked_scores", "weights", "output"}


# ----------------------------------------------------------------------------------------------
# exactness against torch (float64, random shapes)


@st.composite
def qkv(draw, max_n=7, max_d=6):
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    dv = draw(st.integers(1, max_d))
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([0.1, 1.0, 5.0]))
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * scale, rng.normal(size=(m, d)) * scale, rng.normal(size=(m, dv)), rng


def _t(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64)


@settings(max_examples=60, deadline=None)
@given(qkv(), st.booleans())
def test_matches_torch_sdpa(data, causal):
    q, k, v, _ = data
    r = scaled_dot_product_attention(q, k, v, causal=causal)
    ref = F.scaled_dot_product_attention(_t(q)[None], _t(k)[None], _t(v)[None], is_causal=causal)[0].numpy()
    np.testing.assert_allclose(r.output, ref, rtol=0, atol=TOL)
    # the weights too: recover torch's weights by attending over the identity as V
    w_ref = F.scaled_dot_product_attention(_t(q)[None], _t(k)[None], torch.eye(k.shape[0], dtype=torch.float64)[None], is_causal=causal)[0]
    np.testing.assert_allclose(r.weights, w_ref.numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(r.weights.sum(axis=1), 1.0, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(qkv(), st.booleans())
def test_padding_mask_matches_torch_bool_mask(data, causal):
    q, k, v, rng = data
    m = k.shape[0]
    pm = rng.integers(0, 2, size=m)
    pm[0] = 1  # keep one key so no query row is fully masked in the non-causal case
    r = scaled_dot_product_attention(q, k, v, causal=causal, padding_mask=pm.tolist())
    allowed = torch.tensor(pm.astype(bool))[None, :].expand(q.shape[0], m)
    if causal:
        allowed = allowed & torch.ones(q.shape[0], m, dtype=torch.bool).tril()
    ref = F.scaled_dot_product_attention(_t(q)[None], _t(k)[None], _t(v)[None], attn_mask=allowed[None])[0].numpy()
    np.testing.assert_allclose(r.output, ref, rtol=0, atol=TOL)


def test_fully_masked_row_gives_zeros_like_torch_and_a_note():
    q = [[1.0, 0.0], [0.0, 1.0]]
    r = scaled_dot_product_attention(q, q, [[1, 2], [3, 4]], causal=True, padding_mask=[0, 1])
    np.testing.assert_array_equal(r.weights[0], [0, 0])
    np.testing.assert_array_equal(r.output[0], [0, 0])
    allowed = torch.tensor([[False, False], [False, True]])
    ref = F.scaled_dot_product_attention(_t(q)[None], _t(q)[None], _t([[1, 2], [3, 4]])[None], attn_mask=allowed[None])[0]
    np.testing.assert_allclose(r.output, ref.numpy(), atol=TOL)
    assert any("query" in note and "[0]" in note for note in r.notes)


def _torch_mha(q, k, v, res, causal, pm=None):
    E = res.projections["w_q"].shape[1]
    h = res.heads
    same = q.shape[1] == k.shape[1] == v.shape[1] == E
    mha = torch.nn.MultiheadAttention(E, h, bias=False, batch_first=True, kdim=k.shape[1], vdim=v.shape[1], dtype=torch.float64)
    with torch.no_grad():
        W = {name: _t(w) for name, w in res.projections.items()}
        if same:
            mha.in_proj_weight.copy_(torch.cat([W["w_q"].T, W["w_k"].T, W["w_v"].T]))
        else:
            mha.q_proj_weight.copy_(W["w_q"].T)
            mha.k_proj_weight.copy_(W["w_k"].T)
            mha.v_proj_weight.copy_(W["w_v"].T)
        mha.out_proj.weight.copy_(W["w_o"].T)
    n, m = q.shape[0], k.shape[0]
    attn_mask = ~torch.ones(n, m, dtype=torch.bool).tril() if causal else None  # True = NOT allowed in nn.MHA
    kpm = None if pm is None else ~torch.tensor(np.asarray(pm, dtype=bool))[None]
    out, w = mha(_t(q)[None], _t(k)[None], _t(v)[None], attn_mask=attn_mask, key_padding_mask=kpm, need_weights=True, average_attn_weights=False)
    return out[0].detach().numpy(), w[0].detach().numpy()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.sampled_from([(1, 2), (2, 2), (2, 4), (3, 6), (4, 8), (1, 5)]), st.booleans(), st.integers(0, 10_000))
def test_multihead_matches_torch_multiheadattention(n, m, h_d, causal, seed):
    h, d = h_d
    rng = np.random.default_rng(seed)
    q, k, v = rng.normal(size=(n, d)), rng.normal(size=(m, d)), rng.normal(size=(m, d))
    res = multi_head_attention(q, k, v, heads=h, causal=causal, seed=seed)
    out, w = _torch_mha(q, k, v, res, causal)
    assert res.weights.shape == (h, n, m)
    np.testing.assert_allclose(res.output, out, rtol=0, atol=TOL)
    np.testing.assert_allclose(res.weights, w, rtol=0, atol=TOL)


def test_multihead_with_given_projections_value_width_and_padding_matches_torch():
    rng = np.random.default_rng(7)
    q, k, v = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    W = {"w_q": rng.normal(size=(4, 4)), "w_k": rng.normal(size=(4, 4)), "w_v": rng.normal(size=(3, 4)), "w_o": rng.normal(size=(4, 4))}
    res = multi_head_attention(q, k, v, heads=2, projections={k_: w.tolist() for k_, w in W.items()}, padding_mask=[1, 1, 0, 1, 0])
    assert res.projection_kind == "given"
    for name in W:
        np.testing.assert_array_equal(res.projections[name], W[name])
    out, w = _torch_mha(q, k, v, res, False, pm=[1, 1, 0, 1, 0])
    np.testing.assert_allclose(res.output, out, atol=TOL)
    np.testing.assert_allclose(res.weights, w, atol=TOL)
    assert (res.weights[:, :, [2, 4]] == 0).all()


def test_identity_projections_are_column_slices():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 6))
    res = multi_head_attention(x, x, x, heads=3, projections="identity", causal=True)
    for i in range(3):
        cols = slice(2 * i, 2 * i + 2)
        one = scaled_dot_product_attention(x[:, cols], x[:, cols], x[:, cols], causal=True)
        np.testing.assert_allclose(res.weights[i], one.weights, atol=1e-12)
        np.testing.assert_allclose(res.projected["head_outputs"][i], one.output, atol=1e-12)
    np.testing.assert_allclose(res.output, res.projected["concat"], atol=1e-12)


def test_seeded_projections_are_reproducible():
    x = [[1, 0, 0, 1], [0, 1, 1, 0]]
    a = attention(x, heads=2, seed=3)
    b = attention(x, heads=2, seed=3)
    c = attention(x, heads=2, seed=4)
    np.testing.assert_array_equal(a.output, b.output)
    assert not np.allclose(a.output, c.output)
    assert a.to_dict()["mode"] == "multi-head" and np.asarray(a.to_dict()["weights"]).shape == (2, 2, 2)


# ----------------------------------------------------------------------------------------------
# from text


def test_attention_from_text_labels_tokens_and_is_deterministic():
    a = attention_from_text("我爱自然语言处理", heads=2, causal=True, seed=0)
    b = attention_from_text("我爱自然语言处理", heads=2, causal=True, seed=0)
    assert a.tokens_q == a.tokens_k and "".join(a.tokens_q) == "我爱自然语言处理" and len(a.tokens_q) >= 3
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.weights.shape == (2, len(a.tokens_q), len(a.tokens_q))
    assert np.triu(a.weights[0], 1).max() == 0  # causal
    assert "k0:我" in a.summary()
    assert a.source == "text" and any("随机" in n for n in a.notes)
    c = attention_from_text("the cat sat on the mat", d_model=4)
    assert c.tokens_q == ["the", "cat", "sat", "on", "the", "mat"]
    np.testing.assert_allclose(c.weights.sum(axis=-1), 1.0)


def test_attention_from_text_uses_a_qkv_provider():
    calls = []

    def provider(sentence):
        calls.append(sentence)
        toks = sentence.split()
        x = np.eye(len(toks), 4)
        return toks, x, x, x * 2

    r = attention_from_text("a b c", qkv_provider=provider)
    assert calls == ["a b c"] and r.tokens_q == ["a", "b", "c"]
    ref = scaled_dot_product_attention(np.eye(3, 4), np.eye(3, 4), np.eye(3, 4) * 2)
    np.testing.assert_allclose(r.weights, ref.weights)
    r2 = attention_from_text("a b c", qkv_provider=provider, heads=2)
    assert r2.weights.shape == (2, 3, 3) and r2.projection_kind == "identity"
    with pytest.raises(DemoInputError, match="qkv_provider"):
        attention_from_text("a b c", qkv_provider=lambda s: (["a"], np.eye(3), np.eye(3), np.eye(3)))


def test_png_heatmap(tmp_path):
    r = attention_from_text("注意力 机制 很 重要", heads=2)
    path = tmp_path / "w.png"
    data = r.png(path)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and path.read_bytes() == data and len(data) > 2000
    single = scaled_dot_product_attention([[1, 0], [0, 1]], causal=True).png()
    assert single[:4] == b"\x89PNG"


def test_table_shows_every_step():
    t = attention([[1, 0], [0, 1]], [[1, 0], [0, 1]], [[1, 2], [3, 4]], causal=True).to_table()
    for label in ("原始分数 / raw scores", "缩放后 / scaled scores", "masked scores", "注意力权重 / attention weights", "输出 / output", "-inf", "0.6698"):
        assert label in t
    t2 = attention([[1, 0], [0, 1]], heads=2).to_table()
    assert "头 head 1" in t2 and "W_O" in t2 and "拼接 / concat" in t2


# ----------------------------------------------------------------------------------------------
# bad input: one clear bilingual message each


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(q=[[1, 2], [3]], k=None, v=None), "ragged"),
        (dict(q=[[1, "x"]], k=None, v=None), "non-numeric"),
        (dict(q="[[1, a]]", k=None, v=None), "non-numeric"),
        (dict(q=[[1, 0]], k=[[1, 0, 0]], v=[[1]]), "same width"),
        (dict(q=[[1, 0]], k=[[1, 0], [0, 1]], v=[[1, 2]]), "same number of rows"),
        (dict(q=[[1, float("nan")]], k=None, v=None), "NaN"),
        (dict(q=[[1, 0]], k=[[float("inf"), 0]], v=[[1]]), "infinity"),
        (dict(q=[], k=None, v=None), "empty"),
        (dict(q="", k=None, v=None), "empty"),
        (dict(q=[[]], k=None, v=None), "empty"),
        (dict(q=None, k=None, v=None), "missing"),
        (dict(q=np.zeros((MAX_LEN + 1, 2)).tolist(), k=None, v=None), "too large"),
        (dict(q=np.zeros((2, MAX_DIM + 1)).tolist(), k=None, v=None), "too large"),
        (dict(q=[[[1]]], k=None, v=None), "nested too deeply"),
        (dict(q=[[True, 0]], k=None, v=None), "not a number"),
        (dict(q="[[1,0],[0,1]", k=None, v=None), "unbalanced"),
        # finite entries whose product overflows: the weights were NaN, printed as 0.0000 (rows not summing to 1)
        (dict(q=[[1e308, 1e308]], k=[[1e308, 1e308]], v=[[1, 1]]), "too large"),
    ],
)
def test_bad_matrices(kwargs, needle):
    with pytest.raises(DemoInputError) as ei:
        attention(kwargs["q"], kwargs["k"], kwargs["v"])
    msg = str(ei.value)
    assert needle in msg and " / " in msg
    assert any("\u4e00" <= ch <= "\u9fff" for ch in msg.split(" / ")[0])  # Chinese first


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(heads=3), "must divide"),
        (dict(heads=0), "between 1 and"),
        (dict(heads=99), "between 1 and"),
        (dict(heads="two"), "positive integer"),
        (dict(padding_mask=[1, 0, 1]), "one entry per key"),
        (dict(padding_mask=[1, 2]), "only 0 and 1"),
        (dict(heads=2, projections="weird"), "unknown projections"),
        (dict(heads=2, projections={"w_x": [[1]]}), "unknown projection names"),
        (dict(heads=2, projections={"w_o": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}), "must be 4x4"),
        (dict(heads=2, seed=-1), "seed"),
    ],
)
def test_bad_options(kwargs, needle):
    x = [[1, 0, 0, 1], [0, 1, 1, 0]]
    with pytest.raises(DemoInputError, match=needle):
        attention(x, **kwargs)


def test_overflow_is_reported_without_a_numpy_warning():
    """Huge but finite inputs give the demo's message, for one head and for several (their projections
    overflow first), and numpy's overflow warning is not printed to the server log or the CLI."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would fail here
        for kwargs in (dict(), dict(heads=2)):
            with pytest.raises(DemoInputError, match="too large"):
                attention([[1e200, 1e200], [1, 1]], **kwargs)
        ok = attention([[1e100, 0]], [[1e-100, 0]], [[1, 2]])  # large inputs with a finite product still work
        assert ok.weights.tolist() == [[1.0]]


def test_bad_text_inputs():
    with pytest.raises(DemoInputError, match="empty"):
        attention_from_text("   ")
    with pytest.raises(DemoInputError, match="demo limit"):
        attention_from_text(" ".join(["w"] * (MAX_LEN + 1)))
    with pytest.raises(DemoInputError, match="d_model"):
        attention_from_text("a b", d_model=0)
    with pytest.raises(DemoInputError, match="must divide"):
        attention_from_text("a b", d_model=6, heads=4)


def test_the_steps_show_the_scores_each_weight_comes_from():
    """"为什么第一行第一个权重更大？" is answered by the scores before the softmax (run_attention with steps)."""
    from tutor.tools.langchain_tools import run_attention

    text, art = run_attention("Q=[[1,0],[0,1]] K=[[1,0],[0,1]] V=[[1,2],[3,4]] 算注意力，显示计算步骤")
    assert art["ok"] and art["args"]["steps"] is True
    lines = text.splitlines()
    raw, scaled, weights = (next(i for i, ln in enumerate(lines) if ln.startswith(p)) for p in ("原始分数", "缩放后", "注意力权重"))
    assert raw < scaled < weights
    assert lines[raw + 2].split() == ["q0", "1.0000", "0.0000"] and lines[scaled + 2].split() == ["q0", "0.7071", "0.0000"]
    assert lines[weights + 2].split() == ["q0", "0.6698", "0.3302"]
    # a causal mask shows the masked scores too; without the option, only the weights
    assert "加掩码后" in run_attention("Q=[[1,2],[0,1]] K=[[1,0],[0,1]] V=[[1,0],[0,1]] causal step by step")[0]
    assert "原始分数" not in run_attention("Q=[[1,0],[0,1]] K=[[1,0],[0,1]] V=[[1,2],[3,4]]")[0]
    # a word inside the quoted sentence is data, not the option
    assert "原始分数" not in run_attention("给“计算 步骤 很 重要”算一下自注意力")[0]
