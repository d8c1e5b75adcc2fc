"""Generation: greedy, seeded sampling, stop sequences, streaming, constraints, batches, long prompts."""

from __future__ import annotations

import pytest
import torch

from models.generate import Generator
from models.testing import notes_tokenizer, tiny_model


@pytest.fixture(scope="module")
def gen():
    tok = notes_tokenizer(1024)
    return Generator(tiny_model(tok, seed=2, block_size=64), tok)


def test_greedy_is_deterministic_and_matches_uncached_argmax(gen):
    a = gen.generate("注意力机制", max_new_tokens=12)
    b = gen.generate("注意力机制", max_new_tokens=12)
    assert a == b and len(a.token_ids) == 12 and a.finish_reason == "length"
    # recompute the greedy path without any cache
    ids = gen.tok.encode("注意力机制")
    with torch.no_grad():
        for t in a.token_ids:
            logits, _ = gen.model(torch.tensor([ids]))
            logits[0, -1, gen.tok.vocab_size:] = float("-inf")
            logits[0, -1, 0] = float("-inf")
            assert int(logits[0, -1].argmax()) == t
            ids.append(t)


def test_seeded_sampling_is_reproducible(gen):
    kw = dict(max_new_tokens=16, temperature=1.0, top_k=50, top_p=0.95)
    a = gen.generate("GPT", seed=7, **kw)
    b = gen.generate("GPT", seed=7, **kw)
    c = gen.generate("GPT", seed=8, **kw)
    assert a.token_ids == b.token_ids
    assert a.token_ids != c.token_ids
    # top_k=1 and a tiny nucleus both collapse to greedy
    greedy = gen.generate("GPT", max_new_tokens=10)
    assert gen.generate("GPT", max_new_tokens=10, temperature=0.7, top_k=1, seed=1).token_ids == greedy.token_ids
    assert gen.generate("GPT", max_new_tokens=10, temperature=0.7, top_p=1e-6, seed=1).token_ids == greedy.token_ids


def test_stop_sequences_are_honoured_and_never_streamed(gen):
    full = gen.generate("注意力", max_new_tokens=30).text
    assert len(full) > 6
    stop = full[4:6]
    first = full.find(stop)
    r = gen.generate("注意力", max_new_tokens=30, stop=[stop, "never-appears"])
    assert r.finish_reason == "stop" and r.text == full[:first] and stop not in r.text
    pieces = list(gen.stream("注意力", max_new_tokens=30, stop=[stop]))
    assert "".join(pieces) == full[:first]
    assert gen.last_result.finish_reason == "stop"


def test_streaming_equals_generate(gen):
    r = gen.generate("Transformer 是", max_new_tokens=25, temperature=0.9, seed=3)
    pieces = list(gen.stream("Transformer 是", max_new_tokens=25, temperature=0.9, seed=3))
    assert "".join(pieces) == r.text and len(pieces) > 1
    assert gen.last_result == r


def test_eos_ends_generation(gen):
    r = gen.generate("注意力", max_new_tokens=5, allowed_tokens_fn=lambda row, ids: [gen.tok.eos_id])
    assert r.finish_reason == "eos" and r.text == "" and r.token_ids == []


def test_constrained_decoding_to_tool_names(gen):
    names = ["search_notes", "calculator", "search"]
    for seed in range(5):
        r = gen.generate("Action: ", allowed_continuations=names, temperature=1.5, seed=seed, max_new_tokens=20)
        assert r.text in names, r
    # a hook that allows only digits
    digits = [gen.tok.encode(str(d))[0] for d in range(10)]
    r = gen.generate("1 + 1 = ", allowed_tokens_fn=lambda row, ids: digits, max_new_tokens=4)
    assert r.text.isdigit()


def test_batch_equals_single_prompts(gen):
    prompts = ["注意力", "Transformer 是一种模型", "RNN"]
    batch = gen.generate_batch(prompts, max_new_tokens=8)
    for p, b in zip(prompts, batch):
        assert b.token_ids == gen.generate(p, max_new_tokens=8).token_ids


def test_prompt_longer_than_context_window_is_truncated(gen):
    long_prompt = "注意力机制是Transformer的核心。" * 40  # far more than 64 tokens
    n = len(gen.tok.encode(long_prompt))
    r = gen.generate(long_prompt, max_new_tokens=10)
    assert r.prompt_tokens + len(r.token_ids) <= gen.block_size
    assert r.truncated == n - r.prompt_tokens > 0
    assert len(r.token_ids) == 10
    # asking for more than the window: the prompt keeps at least half the window and generation stops at its end
    r = gen.generate(long_prompt, max_new_tokens=500)
    assert r.prompt_tokens == gen.block_size // 2 and r.finish_reason == "length"
    assert r.prompt_tokens + len(r.token_ids) == gen.block_size
    assert gen.generate("", max_new_tokens=3).token_ids  # empty prompt starts from <|bos|>
