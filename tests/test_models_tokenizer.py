"""Tokenizer: lossless byte-level round trip for any Unicode string, special tokens, streaming decode."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.data import load_documents
from models.tokenizer import SPECIAL_TOKENS, IncrementalDecoder, Tokenizer
from models.testing import notes_tokenizer


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return notes_tokenizer(8192)


texts = st.lists(st.one_of(st.text(), st.sampled_from(SPECIAL_TOKENS), st.sampled_from(["注意力机制", " the", "\n\n"])),
                 max_size=6).map("".join)


@settings(max_examples=300, deadline=None)
@given(s=texts)
def test_round_trip_any_unicode(tok, s):
    assert tok.decode(tok.encode(s)) == s
    assert tok.decode(tok.encode(s, allow_special=False)) == s
    assert tok.hf.decode(tok.encode(s), skip_special_tokens=False) == s  # our byte table agrees with the library


@settings(max_examples=200, deadline=None)
@given(s=texts)
def test_incremental_decoder_matches_decode(tok, s):
    dec = IncrementalDecoder(tok)
    pieces = [dec.push(i) for i in tok.encode(s)] + [dec.flush()]
    assert "".join(pieces) == s
    assert all("\ufffd" not in p for p in pieces) or "\ufffd" in s


@settings(max_examples=200, deadline=None)
@given(ids=st.lists(st.integers(0, 8000), max_size=30))
def test_incremental_decoder_on_arbitrary_ids(tok, ids):
    dec = IncrementalDecoder(tok)
    assert "".join([dec.push(i) for i in ids] + [dec.flush()]) == tok.decode(ids)


def test_special_tokens_fixed_ids(tok):
    for i, t in enumerate(SPECIAL_TOKENS):
        assert tok.encode(t) == [i]
    assert (tok.pad_id, tok.bos_id, tok.eos_id) == (0, 1, 2)
    assert tok.encode("<|eos|>", allow_special=False) != [2]  # untrusted text cannot forge structure


def test_mixed_chinese_english_is_compact(tok):
    text = "".join(t for _, t in load_documents())
    assert len(text) / len(tok.encode(text)) > 1.8  # multi-character Chinese tokens, not 3 bytes per character
    assert tok.pieces("注意力机制")[0] == "注意力机制"
    assert len(tok.encode("attention Transformer")) <= 4


def test_save_load_same_hash(tok, tmp_path):
    tok.save(tmp_path / "tokenizer.json")
    again = Tokenizer.load(tmp_path)
    assert again.sha256 == tok.sha256 and again.encode("你好 world") == tok.encode("你好 world")


def test_training_is_deterministic():
    docs = [t for _, t in load_documents()]
    assert Tokenizer.train(docs, 512).sha256 == Tokenizer.train(docs, 512).sha256
