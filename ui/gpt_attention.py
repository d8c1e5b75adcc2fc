"""The tutor GPT's own attention for the demos tab: load the shipped checkpoint once (lazily, on the
first request), run a sentence through it and return one layer/head's attention map as a heatmap.

When no checkpoint is there yet, `status()` says so plainly (and how to create one) instead of failing.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)

MAX_TOKENS = 48  # a readable heatmap


class ModelUnavailable(Exception):
    """No usable checkpoint: the message says where it was looked for and how to create it."""


@dataclass
class AttentionMap:
    tokens: list[str]
    weights: np.ndarray  # (T, T), rows sum to 1
    layer: int
    head: int
    n_layer: int
    n_head: int
    png_path: str | None
    truncated: bool


class GptAttention:
    """Thread-safe lazy loader around `models.checkpoint.load_checkpoint` and `GPT.attention_weights`."""

    def __init__(self, candidates: Sequence[Path], generator=None):
        """`generator`: a `models.generate.Generator` already loaded in this process (the Tutor's agent);
        when given, its model is used and no second copy of the checkpoint is loaded."""
        self.candidates = [Path(p) for p in candidates]
        self._lock = threading.Lock()
        self._loaded = None  # (model, tokenizer, path)
        if generator is not None and self.candidates:
            self._loaded = (generator.model, generator.tok, self.candidates[0])
        self._error: str | None = None

    @classmethod
    def from_tutor(cls, tutor, settings) -> "GptAttention":
        """Share the tutor's GPT when its agent is loaded; otherwise load lazily from the settings."""
        agent = getattr(tutor, "agent", None)
        if agent is None:
            return cls.from_settings(settings)
        return cls([Path(settings.model_checkpoint)], generator=agent.generator)

    @classmethod
    def from_settings(cls, settings) -> "GptAttention":
        paths = [Path(settings.model_checkpoint)]
        try:
            from models.checkpoint import DEFAULT_CHECKPOINT

            paths.append(Path(DEFAULT_CHECKPOINT))
        except Exception:  # the models package is optional at run time
            pass
        return cls(paths)

    def checkpoint(self) -> Path | None:
        return next((p for p in self.candidates if (p / "config.json").is_file()), None)

    def shape(self) -> tuple[int, int] | None:
        """(layers, heads) from config.json without loading the weights, or None."""
        p = self.checkpoint()
        if p is None:
            return None
        try:
            import json

            cfg = json.loads((p / "config.json").read_text(encoding="utf-8"))
            return int(cfg["n_layer"]), int(cfg["n_head"])
        except Exception:
            return None

    def status(self) -> str:
        p = self.checkpoint()
        if p is None:
            where = "、".join(str(c) for c in self.candidates)
            return (
                f"助教 GPT 的模型检查点尚未提供（在 {where} 没有找到），这个演示暂时不可用；其他演示不受影响。"
                f" / The tutor GPT checkpoint is not available yet (looked in {where}); this demo will work once it is "
                "trained and shipped (`tutor train` / `python -m models.train`)."
            )
        shape = self.shape()
        extra = f"，{shape[0]} 层 × {shape[1]} 个头 / {shape[0]} layers × {shape[1]} heads" if shape else ""
        return f"模型检查点 / checkpoint: `{p.name}`{extra}"

    def _load(self):
        with self._lock:
            if self._loaded is not None:
                return self._loaded
            p = self.checkpoint()
            if p is None:
                raise ModelUnavailable(self.status())
            try:
                from models.checkpoint import load_checkpoint

                model, tok = load_checkpoint(p, device="cpu")
            except Exception as e:
                log.exception("could not load the tutor GPT from %s", p)
                raise ModelUnavailable(f"模型检查点无法加载 / the checkpoint at {p} could not be loaded: {e}") from None
            self._loaded = (model, tok, p)
            return self._loaded

    def compute(self, sentence: str, layer: int, head: int, png_dir: Path | None = None) -> AttentionMap:
        import torch

        sentence = (sentence or "").strip()
        if not sentence:
            raise ValueError("请输入一个句子 / please type a sentence")
        model, tok, _ = self._load()
        n_layer, n_head = model.config.n_layer, model.config.n_head
        if not 0 <= int(layer) < n_layer:
            raise ValueError(f"层号应在 0–{n_layer - 1} 之间 / layer must be 0–{n_layer - 1}")
        if not 0 <= int(head) < n_head:
            raise ValueError(f"头号应在 0–{n_head - 1} 之间 / head must be 0–{n_head - 1}")
        ids = tok.encode(sentence, allow_special=False)
        limit = min(MAX_TOKENS, model.config.block_size)
        truncated = len(ids) > limit
        ids = ids[:limit]
        if not ids:
            raise ValueError("这个句子没有可用的 token / the sentence has no tokens")
        with self._lock, torch.no_grad():  # one forward pass at a time on the shared model
            att = model.attention_weights(torch.tensor([ids], dtype=torch.long), int(layer), int(head))
        weights = att[0].float().cpu().numpy()
        tokens = tok.token_labels(ids)
        png = None
        try:
            import hashlib
            import tempfile

            from tutor.tools.plotting import heatmap_png

            d = png_dir or Path(tempfile.gettempdir()) / "course-tutor-demos"
            d.mkdir(parents=True, exist_ok=True)
            key = hashlib.sha1(f"{sentence}|{layer}|{head}|{weights.tobytes().hex()[:64]}".encode()).hexdigest()[:16]
            path = d / f"gpt-attention-{key}.png"
            causal = np.triu(np.ones_like(weights, dtype=bool), k=1)
            heatmap_png([weights], titles=[f"layer {layer} · head {head}"], row_labels=tokens, col_labels=tokens,
                        masked=[causal], path=path)
            png = str(path)
        except Exception:
            log.exception("gpt attention heatmap failed")
        return AttentionMap(tokens, weights, int(layer), int(head), n_layer, n_head, png, truncated)
