"""The model: shapes, tying, KV cache equals full recompute, padding, explicit attention maps."""

from __future__ import annotations

import math

import pytest
import torch

from models.config import ModelConfig, get_preset
from models.model import GPT, KVCache, apply_rope, rope_tables
from models.testing import notes_tokenizer, tiny_model


@pytest.fixture(scope="module")
def tok():
    return notes_tokenizer(1024)


@pytest.fixture(scope="module")
def model(tok):
    return tiny_model(tok, seed=1)


def ids(tok, text):
    return torch.tensor([tok.encode(text)])


def test_forward_shapes_loss_and_tying(tok):
    m = GPT(ModelConfig(vocab_size=1024, block_size=32, n_layer=2, n_head=2, n_embd=32, ffn_hidden=64))
    x = torch.randint(0, 1024, (3, 16))
    logits, loss = m(x, torch.randint(0, 1024, (3, 16)))
    assert logits.shape == (3, 16, 1024)
    assert abs(loss.item() - math.log(1024)) < 0.5  # near-uniform at init
    assert m.lm_head.weight is m.tok_emb.weight
    assert m.num_params() == sum(p.numel() for p in m.parameters())
    logits, loss = m(x, last_only=True)
    assert logits.shape == (3, 1, 1024) and loss is None


def test_presets_are_consistent():
    for name in ("tiny", "base"):
        p = get_preset(name)
        GPT(p.model)  # builds
    with pytest.raises(ValueError):
        get_preset("huge")
    with pytest.raises(ValueError):
        ModelConfig(n_embd=30, n_head=4)


def test_kv_cache_matches_full_forward(tok, model):
    x = ids(tok, "注意力机制是Transformer的核心。GPT是一个解码器模型，它逐个预测下一个词。")
    T = x.shape[1]
    with torch.no_grad():
        full, _ = model(x)
        cache = KVCache(model.config, 1, T)
        parts = [model(x[:, :7], cache=cache)[0]]  # prefill
        parts.append(model(x[:, 7:12], cache=cache)[0])  # a chunk on top of a cache (explicit offset mask)
        for i in range(12, T):  # then one token at a time
            parts.append(model(x[:, i : i + 1], cache=cache)[0])
    inc = torch.cat(parts, dim=1)
    torch.testing.assert_close(inc, full, atol=1e-5, rtol=1e-5)


def test_left_padded_batch_matches_single_rows(tok, model):
    prompts = [tok.encode("注意力"), tok.encode("Transformer 是一种模型"), tok.encode("a")]
    L = max(map(len, prompts))
    x = torch.zeros(3, L, dtype=torch.long)
    am = torch.zeros(3, L, dtype=torch.long)
    for r, p in enumerate(prompts):
        x[r, L - len(p):] = torch.tensor(p)
        am[r, L - len(p):] = 1
    pos = (am.cumsum(1) - 1).clamp(min=0)
    with torch.no_grad():
        batch, _ = model(x, positions=pos, attention_mask=am)
        assert torch.isfinite(batch).all()
        for r, p in enumerate(prompts):
            single, _ = model(torch.tensor([p]))
            torch.testing.assert_close(batch[r, L - len(p):], single[0], atol=1e-5, rtol=1e-5)


def test_attention_weights_explicit(tok, model):
    x = ids(tok, "自注意力让每个词看到前面的词")
    T = x.shape[1]
    maps = model.attention_maps(x)
    assert len(maps) == model.config.n_layer
    for a in maps:
        assert a.shape == (1, model.config.n_head, T, T)
        torch.testing.assert_close(a.sum(-1), torch.ones(1, model.config.n_head, T))
        assert torch.all(a.triu(diagonal=1) == 0)  # causal: nothing from the future
    one = model.attention_weights(x, layer=1, head=2)
    assert one.shape == (1, T, T)
    torch.testing.assert_close(one, maps[1][:, 2])
    # the explicit softmax(QK^T/sqrt(d)) path gives the same logits as the fused SDPA path
    with torch.no_grad():
        fast, _ = model(x)
        slow, _, _ = model._run(x, None, None, None, None, False, return_attn=True)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    with pytest.raises(IndexError):
        model.attention_weights(x, layer=7)


def test_rope_scores_depend_on_relative_position():
    cos, sin = rope_tables(16, 64)
    q, k = torch.randn(16), torch.randn(16)

    def score(m, n):
        return (apply_rope(q, cos[m], sin[m]) * apply_rope(k, cos[n], sin[n])).sum()

    torch.testing.assert_close(score(10, 3), score(40, 33), atol=1e-4, rtol=1e-4)


def test_training_step_reduces_loss(tok):
    m = tiny_model(tok, seed=3).train()
    opt = m.configure_optimizer(3e-3, 0.0, (0.9, 0.95), "cpu")
    x = torch.tensor([tok.encode("注意力机制是Transformer的核心。" * 4)])[:, :64]
    losses = []
    for _ in range(15):
        _, loss = m(x[:, :-1], x[:, 1:])
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.7


def test_residual_stream_is_bf16_under_autocast_and_agrees_with_float32():
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=97, block_size=32, n_layer=2, n_head=2, n_embd=32, ffn_hidden=64, dropout=0.0)
    model = GPT(cfg).eval()
    idx = torch.randint(0, 97, (2, 16))
    seen = []
    hook = model.blocks[0].register_forward_hook(lambda m, i, o: seen.append(o[0].dtype))
    with torch.no_grad():
        ref, ref_loss = model(idx, idx)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low, low_loss = model(idx, idx)
        model.residual_in_autocast_dtype = False  # the float32 stream of earlier versions
        with torch.autocast("cpu", dtype=torch.bfloat16):
            model(idx, idx)
    hook.remove()
    assert seen == [torch.float32, torch.bfloat16, torch.float32]
    assert abs(float(low_loss) - float(ref_loss)) < 0.05
    assert torch.nn.functional.cosine_similarity(low.float().flatten(), ref.flatten(), dim=0) > 0.99
