"""Text generation with the tutor's GPT: KV-cache decoding, sampling, stop sequences, streaming, constraints.

    from models.generate import Generator
    gen = Generator.from_checkpoint("models/checkpoints/base")          # CPU, float32
    gen.generate("注意力机制", max_new_tokens=60).text                    # greedy
    gen.generate("注意力机制", temperature=0.8, top_p=0.9, seed=1)       # sampled, reproducible
    for piece in gen.stream("什么是Transformer？", stop=["\\n\\n"]): print(piece, end="")
    gen.generate("Action: ", allowed_continuations=["search_notes", "calculator"])   # constrained
    gen.generate_batch(["RNN", "GPT"], max_new_tokens=20)

Truncation policy (prompt + max_new_tokens longer than the context window ``block_size``): the prompt keeps
its most recent ``max(block_size - max_new_tokens, block_size // 2)`` tokens — the oldest are dropped and
``GenerationResult.truncated`` says how many — and generation stops with finish_reason ``"length"`` when the
window is full. No error, no silent overrun: the model never sees positions past what it was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import torch

from models.model import GPT, KVCache
from models.tokenizer import IncrementalDecoder, Tokenizer

AllowedFn = Callable[[int, list[int]], "Iterable[int] | None"]


@dataclass
class GenerationResult:
    text: str  # generated text (stop sequence excluded)
    token_ids: list[int]  # generated token ids
    finish_reason: str  # "eos" | "stop" | "length" | "constraint"
    prompt_tokens: int  # prompt tokens the model saw
    truncated: int = 0  # prompt tokens dropped to fit the context window


@dataclass
class SamplingParams:
    max_new_tokens: int = 128
    temperature: float = 0.0  # 0 = greedy
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float = 1.0
    stop: Sequence[str] = ()
    stop_at_eos: bool = True
    seed: int | None = None
    allowed_continuations: Sequence[str] | None = None
    allowed_tokens_fn: AllowedFn | None = None
    # Jump-forward decoding (single prompt only): when the constraint leaves exactly one possible next
    # token, append it without asking the model, and feed the whole forced run in one forward pass
    # (none at all when the run ends the text). Copying long quotes gets much faster, and the output is
    # the same as token-by-token decoding within max_new_tokens; a forced run under way when the budget
    # runs out is completed (the model computes none of it), so a quote is never cut mid-way.
    jump_forward: bool = False


class _Row:
    """Per-prompt state: generated ids, text decoding, stop-sequence detection, constraint trie."""

    def __init__(self, tok: Tokenizer, p: SamplingParams, continuations: list[list[int]] | None):
        self.tok, self.p = tok, p
        self.ids: list[int] = []
        self.text = ""
        self.pending = ""  # decoded text held back: it may be the start of a stop sequence
        self.decoder = IncrementalDecoder(tok)
        self.done = False
        self.reason = "length"
        self.continuations = continuations
        self.hold = max((len(s) for s in p.stop), default=1) - 1

    def allowed(self, row: int) -> set[int] | None:
        allowed = None
        if self.continuations is not None:
            n = len(self.ids)
            allowed = {c[n] for c in self.continuations if len(c) > n and c[:n] == self.ids}
            if any(c == self.ids for c in self.continuations):
                allowed.add(self.tok.eos_id)
        if self.p.allowed_tokens_fn is not None:
            extra = self.p.allowed_tokens_fn(row, list(self.ids))
            if extra is not None:
                extra = set(int(i) for i in extra)
                allowed = extra if allowed is None else allowed & extra
        return allowed

    def push(self, token: int) -> str:
        """Feed one generated token; return the text that is now certain to be output."""
        if token == self.tok.eos_id and (self.p.stop_at_eos or self.continuations is not None):
            self.done = True
            self.reason = "constraint" if self.continuations is not None else "eos"
            return self.finish()
        self.ids.append(token)
        self.pending += self.decoder.push(token)
        hits = [(self.pending.find(s), s) for s in self.p.stop if s and s in self.pending]
        if hits:
            cut = min(hits)[0]
            out = self.pending[:cut]
            self.pending = ""
            self.text += out
            self.done, self.reason = True, "stop"
            return out
        cut = max(0, len(self.pending) - self.hold)
        out, self.pending = self.pending[:cut], self.pending[cut:]
        self.text += out
        return out

    def finish(self) -> str:
        out = self.pending + self.decoder.flush()
        self.pending = ""
        for s in self.p.stop:  # a stop sequence completed by the flushed bytes
            if s and s in out:
                out = out[: out.find(s)]
                self.reason = "stop"
        self.text += out
        return out


def sample_next(logits: torch.Tensor, p: SamplingParams, gen: torch.Generator | None,
                allowed: list[set[int] | None], history: list[list[int]] | None, vocab_limit: int) -> torch.Tensor:
    """Choose the next token of every row from logits (B, V): penalties, constraints, then greedy or sampling."""
    logits = logits.float().clone()
    logits[:, vocab_limit:] = float("-inf")  # padding rows of the embedding table are never produced
    logits[:, 0] = float("-inf")  # nor is <|pad|>
    if p.repetition_penalty != 1.0 and history is not None:
        for r, hist in enumerate(history):
            if hist:
                ids = torch.tensor(sorted(set(hist)), device=logits.device)
                v = logits[r, ids]
                logits[r, ids] = torch.where(v > 0, v / p.repetition_penalty, v * p.repetition_penalty)
    for r, a in enumerate(allowed):
        if a is not None:
            keep = torch.zeros(logits.shape[1], dtype=torch.bool, device=logits.device)
            keep[torch.tensor(sorted(a), dtype=torch.long, device=logits.device)] = True
            logits[r, ~keep] = float("-inf")
    if p.temperature <= 0:
        return logits.argmax(dim=-1)
    logits = logits / p.temperature
    if p.top_k:
        kth = torch.topk(logits, min(p.top_k, logits.shape[1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if p.top_p is not None and p.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = torch.softmax(sorted_logits, dim=-1)
        drop = probs.cumsum(-1) - probs > p.top_p  # tokens entirely beyond the nucleus (the first always stays)
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    probs = torch.softmax(logits, dim=-1).cpu()
    return torch.multinomial(probs, 1, generator=gen).squeeze(1).to(logits.device)


class Generator:
    """Wraps a GPT and its tokenizer for generation (inference mode, KV cache)."""

    def __init__(self, model: GPT, tokenizer: Tokenizer):
        self.model = model.eval()
        self.tok = tokenizer
        self.last_result: GenerationResult | None = None

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, device: str = "cpu", dtype=torch.float32,
                        quantize: str = "none") -> "Generator":
        """Load a checkpoint for generation. quantize='int8' gives int8 linear layers on the CPU
        (about twice the decode speed there; see models/quantize.py)."""
        from models.checkpoint import load_checkpoint
        from models.quantize import prepare_for_inference

        model, tok = load_checkpoint(path, device=device, dtype=dtype)
        return cls(prepare_for_inference(model, quantize, inplace=True), tok)

    @property
    def block_size(self) -> int:
        return self.model.config.block_size

    def _prompt_ids(self, prompt: str | Sequence[int]) -> list[int]:
        ids = self.tok.encode(prompt) if isinstance(prompt, str) else [int(i) for i in prompt]
        return ids or [self.tok.bos_id]

    # --- the decoding loop ------------------------------------------------------------------------------
    @torch.inference_mode()
    def _steps(self, prompts: list[list[int]], p: SamplingParams, rows: list[_Row]) -> Iterator[list[str]]:
        """Prefill every prompt, then decode one token per row per step; yields each row's new text."""
        model, cfg = self.model, self.model.config
        device = next(model.parameters()).device
        dtype = next(model.parameters()).dtype
        keep = max(cfg.block_size - p.max_new_tokens, cfg.block_size // 2)  # the truncation policy (module doc)
        self._truncated = [max(0, len(x) - keep) for x in prompts]
        prompts = [x[-keep:] for x in prompts]
        self._prompt_lens = [len(x) for x in prompts]
        B, L = len(prompts), max(len(x) for x in prompts)
        max_new = max(0, min(p.max_new_tokens, cfg.block_size - L))
        gen = torch.Generator().manual_seed(p.seed) if p.seed is not None else None
        cache = KVCache(cfg, B, L + max_new, device=device, dtype=dtype)

        x = torch.full((B, L), self.tok.pad_id, dtype=torch.long)
        am = torch.zeros((B, L), dtype=torch.long)
        for r, ids in enumerate(prompts):  # left padding: every prompt ends at the same column
            x[r, L - len(ids):] = torch.tensor(ids)
            am[r, L - len(ids):] = 1
        padded = not bool(am.all())
        positions = (am.cumsum(1) - 1).clamp(min=0).to(device) if padded else None
        logits, _ = model(x.to(device), cache=cache, positions=positions,
                          attention_mask=am.to(device) if padded else None, last_only=True)
        next_pos = torch.tensor(self._prompt_lens, device=device)[:, None]
        history = [list(ids) for ids in prompts] if p.repetition_penalty != 1.0 else None

        for step in range(max_new):
            allowed = [None if row.done else row.allowed(r) for r, row in enumerate(rows)]
            for r, a in enumerate(allowed):
                if a is not None and not rows[r].done and (not a or a == {self.tok.eos_id} and rows[r].ids):
                    rows[r].done, rows[r].reason = True, "constraint"  # continuation complete, nothing extends it
            if all(row.done for row in rows):
                return
            nxt = sample_next(logits[:, -1, :], p, gen, allowed, history, self.tok.vocab_size)
            pieces = []
            for r, row in enumerate(rows):
                if row.done:
                    pieces.append("")
                    continue
                t = int(nxt[r])
                pieces.append(row.push(t))
                if history is not None:
                    history[r].append(t)
            yield pieces
            if all(row.done for row in rows) or (step == max_new - 1 and not (p.jump_forward and B == 1)):
                return
            feed = nxt[:, None]
            if p.jump_forward and B == 1:
                row = rows[0]
                forced: list[int] = []
                while True:  # a forced run is appended whole; it is fed to the model only if a choice follows
                    a = row.allowed(0)
                    if a is None or len(a) != 1:
                        break
                    u = next(iter(a))
                    if u == self.tok.eos_id:  # the constraint ends the text here: nothing more to compute
                        row.done, row.reason = True, "constraint"
                        return
                    forced.append(u)
                    piece = row.push(u)
                    if history is not None:
                        history[0].append(u)
                    yield [piece]
                    if row.done:
                        return
                if len(row.ids) >= max_new:  # the window is full: the model cannot choose another token
                    return
                if forced:
                    feed = torch.tensor([[int(nxt[0])] + forced], dtype=torch.long, device=device)
            logits, _ = model(feed, cache=cache, positions=next_pos if padded else None, last_only=True)
            next_pos = next_pos + feed.shape[1]

    def _params(self, kw) -> SamplingParams:
        p = SamplingParams(**kw)
        if isinstance(p.stop, str):
            p.stop = (p.stop,)
        return p

    def _rows(self, n: int, p: SamplingParams) -> list[_Row]:
        conts = None
        if p.allowed_continuations is not None:
            conts = [self.tok.encode(c) for c in p.allowed_continuations if c]
            if not conts:
                raise ValueError("allowed_continuations is empty")
        return [_Row(self.tok, p, conts) for _ in range(n)]

    # --- public API -------------------------------------------------------------------------------------
    def generate(self, prompt: str | Sequence[int], **kw) -> GenerationResult:
        """Complete one prompt. Keyword arguments: see SamplingParams."""
        return self.generate_batch([prompt], **kw)[0]

    def generate_batch(self, prompts: Sequence[str | Sequence[int]], **kw) -> list[GenerationResult]:
        """Complete several prompts at once (left-padded into one batch)."""
        if not prompts:
            return []
        p = self._params(kw)
        ids = [self._prompt_ids(x) for x in prompts]
        rows = self._rows(len(ids), p)
        for _ in self._steps(ids, p, rows):
            pass
        out = []
        for r, row in enumerate(rows):
            if not row.done:
                row.finish()
            out.append(GenerationResult(row.text, row.ids, row.reason, self._prompt_lens[r], self._truncated[r]))
        self.last_result = out[0]
        return out

    def stream(self, prompt: str | Sequence[int], **kw) -> Iterator[str]:
        """Yield the completion as text pieces while it is generated (never a piece of a stop sequence, never a
        broken UTF-8 character). The full result is in `self.last_result` afterwards."""
        p = self._params(kw)
        rows = self._rows(1, p)
        row = rows[0]
        for pieces in self._steps([self._prompt_ids(prompt)], p, rows):
            if pieces[0]:
                yield pieces[0]
        if not row.done:
            tail = row.finish()
            if tail:
                yield tail
        self.last_result = GenerationResult(row.text, row.ids, row.reason, self._prompt_lens[0], self._truncated[0])

    def generate_chat(self, messages: Sequence[dict], **kw) -> GenerationResult:
        """Answer a conversation rendered with the chat template (models.data.render_prompt)."""
        from models.data import render_prompt

        return self.generate(render_prompt(messages), **kw)
