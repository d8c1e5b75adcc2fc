"""The tutor's GPT: a decoder-only Transformer, written to be read next to the course notes.

The picture from the notes, top to bottom::

    token ids ──► token embedding (no position table: positions enter through RoPE inside attention)
              ──► [ Block ] × L, each one "pre-norm":
                      x = x + Attention(RMSNorm(x))     causal multi-head self-attention, RoPE on q and k
                      x = x + MLP(RMSNorm(x))           SwiGLU feed-forward
              ──► RMSNorm ──► linear head (the embedding matrix again: weight tying) ──► logits over the vocabulary

This is the same shape as Llama (RMSNorm, rotary positions, SwiGLU, no biases), which is why
``models/export.py`` can hand the weights to Hugging Face ``LlamaForCausalLM`` unchanged.

Attention is computed by ``F.scaled_dot_product_attention`` (FlashAttention on the GPU). For teaching and
for the UI, ``GPT.attention_weights(idx, layer, head)`` recomputes it the explicit way —
softmax(Q·Kᵀ/√d_head + causal mask) — and returns the attention map itself.

For generation, a ``KVCache`` keeps every layer's keys and values, so each new token costs one position
of work instead of re-reading the whole prompt (see ``models/generate.py``).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.config import ModelConfig


# ---------------------------------------------------------------------------------------------------------
# Normalisation and rotary position embedding
# ---------------------------------------------------------------------------------------------------------
class RMSNorm(nn.Module):
    """x / sqrt(mean(x²) + eps) · g — LayerNorm without the mean subtraction and without a bias."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32 and not torch.is_autocast_enabled(x.device.type):
            # the same formula as below in one fused kernel (a CPU decoding step calls this 13 times)
            return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)
        dtype = x.dtype
        x = x.float()  # normalise in float32 even when the residual stream is bf16
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return (self.weight * x).to(dtype)


def rope_tables(head_dim: int, max_positions: int, theta: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotation angles, shape (max_positions, head_dim).

    Pair i of a head's channels is rotated by angle pos · θ^(-2i/head_dim): low channels spin fast, high
    channels slowly. A query at position m and a key at position n then score q·k as a function of m − n only.
    """
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    pos = torch.arange(max_positions, dtype=torch.int64).float()
    angles = torch.outer(pos, inv_freq)  # (T, head_dim/2)
    angles = torch.cat((angles, angles), dim=-1)  # (T, head_dim): the two halves share angles
    return angles.cos(), angles.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) over the two halves of the last dimension (the Llama / GPT-NeoX convention)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate queries or keys by their positions' angles (cos/sin broadcast against x's last dimension)."""
    if cos.dtype != x.dtype:
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return x * cos + rotate_half(x) * sin


# ---------------------------------------------------------------------------------------------------------
# KV cache for incremental decoding
# ---------------------------------------------------------------------------------------------------------
class KVCache:
    """Keys and values of every layer for the positions seen so far, pre-allocated to `max_len`.

    ``pos`` counts the filled positions. ``valid`` marks which cached positions are real tokens (left padding
    in a batch of prompts of different lengths is not).
    """

    def __init__(self, cfg: ModelConfig, batch_size: int, max_len: int, device=None, dtype=torch.float32):
        shape = (cfg.n_layer, batch_size, cfg.n_head, max_len, cfg.head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.valid = torch.ones(batch_size, max_len, dtype=torch.bool, device=device)
        self.has_padding = False
        self.max_len = max_len
        self.pos = 0

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store this step's keys/values for `layer`; return all keys/values up to and including them."""
        t = k.shape[2]
        self.k[layer, :, :, self.pos : self.pos + t] = k
        self.v[layer, :, :, self.pos : self.pos + t] = v
        return self.k[layer, :, :, : self.pos + t], self.v[layer, :, :, : self.pos + t]


# ---------------------------------------------------------------------------------------------------------
# The three parts of a block
# ---------------------------------------------------------------------------------------------------------
class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where each position sees only itself and earlier positions."""

    def __init__(self, cfg: ModelConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.n_head = cfg.n_head
        self.head_dim = cfg.head_dim
        self.dropout = cfg.dropout
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=False)  # W_Q, W_K, W_V stacked: one matmul
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)  # W_O: mixes the heads back together
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x, cos, sin, mask=None, is_causal=True, cache=None, return_attn=False):
        B, T, C = x.shape
        # (B, T, 3C) -> (B, T, 3, h, head_dim): every head attends on its own slice of the channels
        qkv = self.qkv(x).view(B, T, 3, self.n_head, self.head_dim)
        qk = apply_rope(qkv[:, :, :2], cos, sin)  # rotate queries and keys together (values are not rotated)
        q, k = qk.unbind(2)
        v = qkv[:, :, 2]
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # -> (B, h, T, head_dim)
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)  # now (B, h, T_past + T, head_dim)

        att = None
        if return_attn:
            # The explicit version from the notes: softmax(Q Kᵀ / √d_head) with future positions masked out.
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)  # (B, h, T, T_keys)
            if mask is None:
                mask = causal_mask(T, k.shape[2], x.device)
            scores = scores.masked_fill(~mask, float("-inf"))
            att = F.softmax(scores.float(), dim=-1).to(q.dtype)
            y = F.dropout(att, self.dropout, self.training) @ v
        elif T == 1 and mask is None and not self.training:
            # Decoding one token against the cache: two thin matmuls are much cheaper here than the fused
            # kernel (which is tuned for long query blocks), and there is nothing to mask.
            scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
            y = F.softmax(scores.float(), dim=-1).to(q.dtype) @ v
        else:
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0,
                is_causal=is_causal and mask is None,
            )
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble the heads side by side
        y = self.proj(y)
        return (self.resid_drop(y) if self.training else y), att


class MLP(nn.Module):
    """SwiGLU feed-forward: W_down · (silu(W_gate · x) ⊙ (W_up · x)), applied to each position alone."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.hidden = cfg.ffn_hidden
        self.gate_up = nn.Linear(cfg.n_embd, 2 * cfg.ffn_hidden, bias=False)  # W_gate and W_up stacked
        self.down = nn.Linear(cfg.ffn_hidden, cfg.n_embd, bias=False)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).split(self.hidden, dim=-1)
        y = self.down(F.silu(gate) * up)
        return self.drop(y) if self.training else y


class Block(nn.Module):
    """One Transformer block, pre-norm: normalise, transform, add back onto the residual stream."""

    def __init__(self, cfg: ModelConfig, layer_idx: int):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.attn = CausalSelfAttention(cfg, layer_idx)
        self.mlp_norm = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, mask=None, is_causal=True, cache=None, return_attn=False):
        a, att = self.attn(self.attn_norm(x), cos, sin, mask, is_causal, cache, return_attn)
        x = x + a
        x = x + self.mlp(self.mlp_norm(x))
        return x, att


def causal_mask(t_query: int, t_keys: int, device=None) -> torch.Tensor:
    """Boolean (t_query, t_keys) mask, True where attention is allowed. The queries are the last t_query
    positions of the t_keys: query i may look at keys 0 .. (t_keys - t_query + i)."""
    offset = t_keys - t_query
    q = torch.arange(t_query, device=device)[:, None]
    k = torch.arange(t_keys, device=device)[None, :]
    return k <= q + offset


# ---------------------------------------------------------------------------------------------------------
# The whole model
# ---------------------------------------------------------------------------------------------------------
class GPT(nn.Module):
    # Under autocast (GPU training) the residual stream x is kept in the autocast dtype (bf16) instead of the
    # embedding's float32: every norm, residual add and activation then moves half the bytes, which is most of
    # a small model's non-matmul time (bench/bench_train_gpu.py). Norms still compute in float32 inside.
    residual_in_autocast_dtype = True

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.emb_drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList([Block(cfg, i) for i in range(cfg.n_layer)])
        self.final_norm = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight  # weight tying: reading a token and writing it share one matrix

        cos, sin = rope_tables(cfg.head_dim, cfg.block_size, cfg.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # residual projections start small (GPT-2): keeps the stream's
            if name.endswith(("attn.proj.weight", "mlp.down.weight")):  # variance flat across depth
                nn.init.normal_(p, mean=0.0, std=cfg.init_std / math.sqrt(2 * cfg.n_layer))

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=self.config.init_std)

    def num_params(self) -> int:
        """Parameter count (the tied embedding/head matrix counted once)."""
        return sum(p.numel() for p in self.parameters())

    def flops_per_token(self, seq_len: int | None = None) -> int:
        """Training FLOPs per token, forward + backward: 6N for the matmuls plus 12·L·d·T for attention."""
        c = self.config
        return 6 * self.num_params() + 12 * c.n_layer * c.n_embd * (seq_len or c.block_size)

    # --- the forward pass -------------------------------------------------------------------------------
    def forward(self, idx, targets=None, *, cache=None, positions=None, attention_mask=None, last_only=False):
        """idx: (B, T) token ids. Returns (logits, loss).

        targets: (B, T) next-token ids, -100 where no loss is wanted; loss is None without them.
        cache: a KVCache to read past keys/values from and append this chunk's to.
        positions: (B, T) position of every token (defaults to cache.pos, cache.pos + 1, ...).
        attention_mask: (B, T) 1 for real tokens, 0 for padding (left padding of batched prompts).
        last_only: compute logits for the last position only (generation).
        """
        logits, loss, _ = self._run(idx, targets, cache, positions, attention_mask, last_only, return_attn=False)
        return logits, loss

    def _run(self, idx, targets, cache, positions, attention_mask, last_only, return_attn):
        B, T = idx.shape
        start = cache.pos if cache is not None else 0
        if start + T > self.config.block_size and positions is None:
            raise ValueError(f"sequence of {start + T} tokens is longer than the context window {self.config.block_size}")
        # RoPE angles shaped to broadcast against the (B, T, 2, h, head_dim) queries+keys in attention
        if positions is None:  # one set of angles shared by the whole batch: (T, 1, 1, head_dim)
            cos, sin = self.rope_cos[start : start + T, None, None], self.rope_sin[start : start + T, None, None]
        else:  # per-row positions (left-padded batch): (B, T, 1, 1, head_dim)
            cos, sin = self.rope_cos[positions][:, :, None, None], self.rope_sin[positions][:, :, None, None]
        mask, is_causal = self._mask(B, T, start, cache, attention_mask, idx.device, return_attn)

        x = self.tok_emb(idx)
        if self.residual_in_autocast_dtype and torch.is_autocast_enabled(x.device.type):
            x = x.to(torch.get_autocast_dtype(x.device.type))
        if self.training:
            x = self.emb_drop(x)
        attns = []
        for block in self.blocks:
            x, att = block(x, cos, sin, mask, is_causal, cache, return_attn)
            attns.append(att)
        if cache is not None:
            cache.pos += T
        x = self.final_norm(x)

        if last_only:
            x = x[:, -1:, :]
        logits = self.lm_head(x)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-100)
        return logits, loss, attns

    @staticmethod
    def _mask(B, T, start, cache, attention_mask, device, explicit):
        """The attention mask for this chunk, or None where `is_causal` alone says it (the fast path)."""
        if cache is not None and attention_mask is not None:
            cache.valid[:, start : start + T] = attention_mask.bool()
            cache.has_padding = cache.has_padding or not bool(attention_mask.bool().all())
        padded = (cache.has_padding if cache is not None else
                  attention_mask is not None and not bool(attention_mask.bool().all()))
        t_keys = start + T
        if not padded and not explicit:
            if start == 0:
                return None, True  # plain causal attention over the chunk
            if T == 1:
                return None, False  # one new token may look at everything cached
        mask = causal_mask(T, t_keys, device)[None, None]  # (1, 1, T, T_keys)
        if padded:
            keys_ok = cache.valid[:, :t_keys] if cache is not None else attention_mask.bool()
            diagonal = torch.arange(t_keys, device=device)[None, :] == (torch.arange(T, device=device)[:, None] + start)
            # padding keys are hidden; a padding query still sees itself, so no row is all -inf (no NaN)
            mask = mask & (keys_ok[:, None, None, :] | diagonal[None, None])
        return mask, False

    # --- attention maps for the demo and the UI -------------------------------------------------------------
    @torch.no_grad()
    def attention_maps(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """Attention probabilities of every layer: a list of L tensors (B, h, T, T), rows summing to 1."""
        _, _, attns = self._run(idx, None, None, None, None, False, return_attn=True)
        return [a.float() for a in attns]

    @torch.no_grad()
    def attention_weights(self, idx: torch.Tensor, layer: int, head: int | None = None) -> torch.Tensor:
        """softmax(Q·Kᵀ/√d_head + causal mask) of one layer: (B, h, T, T), or (B, T, T) for one head."""
        if not -self.config.n_layer <= layer < self.config.n_layer:
            raise IndexError(f"layer {layer} out of range (model has {self.config.n_layer})")
        att = self.attention_maps(idx)[layer]
        if head is None:
            return att
        if not -self.config.n_head <= head < self.config.n_head:
            raise IndexError(f"head {head} out of range (model has {self.config.n_head})")
        return att[:, head]

    # --- optimizer --------------------------------------------------------------------------------------
    def configure_optimizer(self, lr, weight_decay, betas, device_type: str):
        """AdamW; weight decay on matrices only (not on norm gains). Fused kernel on CUDA."""
        params = [p for p in self.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        extra = {"fused": True} if device_type == "cuda" else {}
        return torch.optim.AdamW(groups, lr=lr, betas=betas, **extra)
