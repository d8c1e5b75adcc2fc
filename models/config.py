"""Configuration of the tutor's GPT: the model's shape (`ModelConfig`) and how it is trained (`TrainConfig`).

Two presets:

* ``tiny`` — a toy model that trains on a laptop CPU in well under two minutes (used by the tests).
* ``base`` — the shipped model, trained on the GPU (see ``models/checkpoints/base/MODEL_CARD.md``).

Only the standard library is imported here, so the config can be read anywhere.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def round_up(n: int, multiple: int) -> int:
    """Smallest multiple of `multiple` that is >= n (vocab and hidden sizes are padded for fast matmuls)."""
    return ((n + multiple - 1) // multiple) * multiple


def swiglu_hidden(n_embd: int, multiple_of: int = 128) -> int:
    """Hidden width of a SwiGLU MLP with about the parameter count of a 4x GELU MLP: 8/3 * d, rounded up."""
    return round_up(int(8 * n_embd / 3), multiple_of)


@dataclass
class ModelConfig:
    """Shape of the decoder-only Transformer (Llama-shaped: RMSNorm, RoPE, SwiGLU, no biases, tied embeddings)."""

    vocab_size: int = 8192  # rows of the embedding table (the tokenizer's size, padded to a multiple of 128)
    block_size: int = 1024  # context window T: the longest sequence the model sees
    n_layer: int = 6  # number of Transformer blocks L
    n_head: int = 6  # attention heads per block h
    n_embd: int = 384  # model width d (head size = d / h)
    ffn_hidden: int = 1024  # SwiGLU hidden width
    dropout: float = 0.1  # on embeddings, attention probabilities and residual branches (training only)
    rope_theta: float = 10000.0  # RoPE base frequency
    norm_eps: float = 1e-5  # RMSNorm epsilon
    init_std: float = 0.02  # std of the normal init (residual projections get init_std / sqrt(2L))
    tokenizer_sha256: str = ""  # hash of the tokenizer.json the embedding rows belong to (checked at load)

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} must be divisible by n_head={self.n_head}")
        if (self.n_embd // self.n_head) % 2:
            raise ValueError("head size must be even for RoPE")
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "ffn_hidden"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known - {"model_type", "architecture", "format_version"}
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**{k: v for k, v in d.items() if k in known})

    def save(self, path: str | Path) -> None:
        d = {"model_type": "tutor-gpt", "format_version": 1, **self.to_dict()}
        Path(path).write_text(json.dumps(d, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "ModelConfig":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


@dataclass
class TrainConfig:
    """How a preset is trained. Every field can be overridden from the command line."""

    tokenizer_vocab: int = 8192  # target vocabulary of the BPE tokenizer (may end smaller on a tiny corpus)
    batch_size: int = 16  # sequences per micro-batch (per process)
    grad_accum: int = 1  # micro-batches per optimizer step
    lr: float = 1e-3  # peak learning rate
    min_lr: float = 1e-4  # floor of the cosine schedule
    warmup_steps: int = 50
    max_steps: int = 2000
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_interval: int = 25  # steps between validation-loss evaluations
    eval_max_windows: int = 64  # at most this many held-out windows per evaluation
    log_interval: int = 10
    ckpt_interval: int = 100  # steps between resumable checkpoints
    patience: int = 6  # early stopping: evaluations without a new best validation loss
    min_delta: float = 1e-3  # an improvement smaller than this does not count
    val_fraction: float = 0.1  # share of each document held out (its tail) for validation
    aug_variants: int = 4  # copies of the training text, each with sentences shuffled within paragraphs
    aug_shuffle_prob: float = 0.35  # probability that a paragraph's sentences are shuffled in a copy
    qa_from_notes: bool = True  # add heading->section question/answer chats generated from the notes
    seed: int = 1337
    compile: bool = True  # torch.compile on CUDA
    save_dtype: str = "bf16"  # dtype of the shipped weights (the resume state is always fp32)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Preset:
    model: ModelConfig
    train: TrainConfig = field(default_factory=TrainConfig)


def get_preset(name: str) -> Preset:
    """A fresh copy of a named preset (``tiny`` or ``base``)."""
    if name == "tiny":
        return Preset(
            ModelConfig(vocab_size=1024, block_size=128, n_layer=2, n_head=4, n_embd=64, ffn_hidden=192, dropout=0.1),
            TrainConfig(
                tokenizer_vocab=1024,
                batch_size=8,
                lr=3e-3,
                min_lr=3e-4,
                warmup_steps=10,
                max_steps=300,
                eval_interval=50,
                eval_max_windows=16,
                log_interval=10,
                ckpt_interval=100,
                patience=4,
                aug_variants=2,
                compile=False,
                save_dtype="fp32",
            ),
        )
    if name == "base":
        return Preset(
            ModelConfig(vocab_size=8192, block_size=1024, n_layer=6, n_head=6, n_embd=384, ffn_hidden=1024, dropout=0.1),
            TrainConfig(
                tokenizer_vocab=8192,
                batch_size=16,
                lr=1e-3,
                min_lr=1e-4,
                warmup_steps=40,
                max_steps=1500,
                eval_interval=20,
                patience=8,
                ckpt_interval=100,
            ),
        )
    raise ValueError(f"unknown preset {name!r}; choose 'tiny' or 'base'")


PRESETS = ("tiny", "base")
