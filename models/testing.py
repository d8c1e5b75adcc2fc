"""Small helpers for tests and demos: a tokenizer trained on the notes and a tiny randomly initialised GPT."""

from __future__ import annotations

from functools import lru_cache

import torch

from models.config import ModelConfig, round_up
from models.data import load_documents
from models.model import GPT
from models.tokenizer import Tokenizer


@lru_cache(maxsize=4)
def notes_tokenizer(vocab_size: int = 1024) -> Tokenizer:
    """A byte-level BPE tokenizer trained on the shipped course notes (about a second)."""
    return Tokenizer.train([t for _, t in load_documents()], vocab_size)


def tiny_model(tok: Tokenizer, seed: int = 0, block_size: int = 64, n_layer: int = 2, n_head: int = 4,
               n_embd: int = 64, dropout: float = 0.0) -> GPT:
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=round_up(tok.vocab_size, 64), block_size=block_size, n_layer=n_layer,
                      n_head=n_head, n_embd=n_embd, ffn_hidden=3 * n_embd, dropout=dropout,
                      tokenizer_sha256=tok.sha256)
    model = GPT(cfg)
    # At init the residual stream is almost the input embedding, and with tied weights such a model just
    # repeats its input. Louder blocks and a sharper head give varied, peaked next-token distributions instead.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("attn.proj.weight", "mlp.down.weight", "attn.qkv.weight")):
                p.mul_(20)
        model.final_norm.weight.mul_(4)
    return model.eval()
