"""Training throughput and MFU of the tutor's GPT on a CUDA GPU (H100), variant by variant.

    python bench/bench_train_gpu.py                       # all variants, a table at the end
    python bench/bench_train_gpu.py --variants ref-compile,base-compile --json out.jsonl

MFU = tokens/s x (6N + 12·L·d·T) / 989e12 (H100 SXM dense bf16 peak). N counts every parameter once
(the tied embedding/head matrix included: the head's matmul does those FLOPs). Each variant runs in its own
process (a fresh compile cache state and memory pool) on random token batches: full training steps —
forward and backward under bf16 autocast, gradient clipping, fused AdamW, zero_grad — timed after warm-up
(compilation) with the GPU synchronised, no host syncs inside the timed loop.

Variants: our Llama-shaped model (RMSNorm, RoPE, SwiGLU, fused QKV and gate/up matmuls) at the issue's
reference shape (L=8, d=512, h=8, T=512, B=96) eager and compiled, with cuDNN attention, with max-autotune;
a plain nanoGPT model (LayerNorm, learned positions, GELU) at the same shape for calibration against the
issue's reference numbers; and the shipped `base` shape.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PEAK = 989e12
REF = dict(L=8, d=512, h=8, T=512, B=96, V=8192)
BASE = dict(L=6, d=384, h=6, T=1024, B=32, V=7808, ffn=1024)
VARIANTS = {
    "ref-eager": dict(REF, arch="ours", compile=None),
    "ref-compile": dict(REF, arch="ours", compile="default"),
    "nanogpt-compile": dict(REF, arch="nanogpt", compile="default"),
    "ref-compile-cudnn": dict(REF, arch="ours", compile="default", sdpa="cudnn"),
    "ref-compile-B192": dict(REF, arch="ours", compile="default", B=192),
    "ref-maxautotune": dict(REF, arch="ours", compile="max-autotune-no-cudagraphs"),
    "ref-cudagraphs": dict(REF, arch="ours", compile="reduce-overhead"),
    "base-cudagraphs": dict(BASE, arch="ours", compile="reduce-overhead"),
    "base-flash": dict(BASE, arch="ours", compile="default", sdpa="flash"),
    "ref-fp32-residual": dict(REF, arch="ours", compile="default", residual="fp32"),
    "ref-flash": dict(REF, arch="ours", compile="default", sdpa="flash"),
    "ref-cdtuning": dict(REF, arch="ours", compile="default", coordinate_descent=True),
    "base-fp32-residual": dict(BASE, arch="ours", compile="default", residual="fp32"),
    "base-cdtuning": dict(BASE, arch="ours", compile="default", coordinate_descent=True),
    "base-compile": dict(BASE, arch="ours", compile="default"),
    "base-eager": dict(BASE, arch="ours", compile=None),
    "smoke-cpu": dict(L=2, d=64, h=4, T=32, B=2, V=256, arch="ours", compile=None, device="cpu"),
    "smoke-cpu-nanogpt": dict(L=2, d=64, h=4, T=32, B=2, V=256, arch="nanogpt", compile=None, device="cpu"),
}
DEFAULT_ORDER = ["ref-eager", "ref-compile", "nanogpt-compile", "base-compile", "ref-compile-cudnn",
                 "ref-compile-B192", "ref-maxautotune"]


def nanogpt_model(L, d, h, T, V):
    """Karpathy's nanoGPT model.py, condensed: LayerNorm (with bias), learned positions, GELU MLP, tied head."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn, self.c_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)

        def forward(self, x):
            B, T_, C = x.shape
            q, k, v = self.c_attn(x).split(C, dim=2)
            q, k, v = (t.view(B, T_, h, C // h).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).contiguous().view(B, T_, C))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.attn, self.ln_2 = nn.LayerNorm(d), Attn(), nn.LayerNorm(d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class NanoGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(V, d), nn.Embedding(T, d)
            self.h = nn.ModuleList([Block() for _ in range(L)])
            self.ln_f = nn.LayerNorm(d)
            self.lm_head = nn.Linear(d, V, bias=False)
            self.wte.weight = self.lm_head.weight
            for m in self.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(m.weight, std=0.02)

        def forward(self, idx, targets):
            pos = torch.arange(idx.shape[1], device=idx.device)
            x = self.wte(idx) + self.wpe(pos)
            for b in self.h:
                x = b(x)
            logits = self.lm_head(self.ln_f(x))
            return logits, F.cross_entropy(logits.view(-1, V).float(), targets.view(-1))

        def num_params(self):  # nanoGPT's count: position embeddings excluded
            return sum(p.numel() for p in self.parameters()) - self.wpe.weight.numel()

    return NanoGPT()


def _setup(name: str):
    """Build a variant's model, optimizer and data; return (step function, facts about the variant)."""
    import contextlib

    import torch

    v = VARIANTS[name]
    dev = v.get("device", "cuda")
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    L, d, h, T, B, V = v["L"], v["d"], v["h"], v["T"], v["B"], v["V"]
    if v["arch"] == "nanogpt":
        model = nanogpt_model(L, d, h, T, V).to(dev)
        n_params = model.num_params()
        decay = [p for p in model.parameters() if p.dim() >= 2]
        other = [p for p in model.parameters() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                                lr=6e-4, betas=(0.9, 0.95), fused=dev == "cuda")
    else:
        from models.config import ModelConfig, swiglu_hidden
        from models.model import GPT

        cfg = ModelConfig(vocab_size=V, block_size=T, n_layer=L, n_head=h, n_embd=d,
                          ffn_hidden=v.get("ffn") or swiglu_hidden(d), dropout=0.0)
        model = GPT(cfg).to(dev)
        if v.get("residual") == "fp32":  # ablation: the float32 residual stream of earlier versions
            model.residual_in_autocast_dtype = False
        n_params = model.num_params()
        opt = model.configure_optimizer(6e-4, 0.1, (0.9, 0.95), dev)
    flops_per_token = 6 * n_params + 12 * L * d * T
    if v.get("coordinate_descent"):
        import torch._inductor.config

        torch._inductor.config.coordinate_descent_tuning = True
    step_model = torch.compile(model, mode=v["compile"]) if v["compile"] else model
    sdpa = contextlib.nullcontext  # a fresh context manager per step
    if v.get("sdpa") in ("cudnn", "flash"):
        from torch.nn.attention import SDPBackend, sdpa_kernel

        # the compile caches do not key on the SDPA backend: without this a cached flash graph is reused
        import torch._functorch.config
        import torch._inductor.config

        torch._inductor.config.fx_graph_cache = False
        torch._functorch.config.enable_autograd_cache = False

        backend = SDPBackend.CUDNN_ATTENTION if v["sdpa"] == "cudnn" else SDPBackend.FLASH_ATTENTION
        sdpa = lambda: sdpa_kernel([backend])  # noqa: E731
    n_batches = 4
    xs = torch.randint(0, V, (n_batches, B, T), device=dev)
    ys = torch.randint(0, V, (n_batches, B, T), device=dev)

    def step(i):
        with sdpa(), torch.autocast(dev, dtype=torch.bfloat16, enabled=dev == "cuda"):
            _, loss = step_model(xs[i % n_batches], ys[i % n_batches])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    return step, dict(v=v, dev=dev, n_params=n_params, flops_per_token=flops_per_token)


def run_one(name: str, steps: int, warmup: int) -> dict:
    import torch

    step, facts = _setup(name)
    v, dev, n_params, flops_per_token = facts["v"], facts["dev"], facts["n_params"], facts["flops_per_token"]
    L, d, h, T, B, V = v["L"], v["d"], v["h"], v["T"], v["B"], v["V"]

    def sync():
        if dev == "cuda":
            torch.cuda.synchronize()

    t0 = time.perf_counter()
    step(0)
    sync()
    first = time.perf_counter() - t0
    for i in range(1, warmup):
        step(i)
    sync()
    if dev == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for rep in range(3):  # three timed windows; report the median
        t0 = time.perf_counter()
        for i in range(steps):
            loss = step(i)
        sync()
        times.append(time.perf_counter() - t0)
    t = sorted(times)[1]
    tps = steps * B * T / t
    return {"variant": name, "arch": v["arch"], "compile": v["compile"] or "eager", "sdpa": v.get("sdpa", "auto"),
            "L": L, "d": d, "h": h, "T": T, "B": B, "V": V, "params": n_params, "flops_per_token": flops_per_token,
            "step_ms": round(1000 * t / steps, 2), "tokens_per_s": round(tps), "mfu": round(tps * flops_per_token / PEAK, 4),
            "spread": round((max(times) - min(times)) / t, 4), "first_step_s": round(first, 1),
            "peak_mem_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2) if dev == "cuda" else None,
            "loss": round(float(loss), 3), "gpu": torch.cuda.get_device_name() if dev == "cuda" else "cpu",
            "torch": torch.__version__}


KERNEL_KINDS = (  # substring of a CUDA kernel's name -> what it does (first match wins)
    ("flash", "attention (flash)"), ("fmha", "attention (cudnn)"), ("cudnn", "attention (cudnn)"),
    ("gemm", "matmul"), ("nvjet", "matmul"), ("xmma", "matmul"), ("cutlass", "matmul"),
    ("adam", "optimizer"), ("multi_tensor", "optimizer / grad norm"), ("embedding", "embedding"),
    ("triton", "fused pointwise/reduction (inductor)"), ("elementwise", "aten pointwise"),
    ("reduce", "aten reduction"), ("memcpy", "copy"), ("memset", "memset"),
)


def profile_one(name: str, steps: int = 5, warmup: int = 8, top: int = 25) -> str:
    """Where a variant's step time goes: CUDA kernel time per step, by kind and by kernel (torch.profiler)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    step, _ = _setup(name)
    for i in range(warmup):
        step(i)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for i in range(steps):
            step(i)
        torch.cuda.synchronize()
    kernels = [(e.key, e.device_time_total / steps / 1000, e.count // steps) for e in prof.key_averages()
               if e.device_time_total > 0 and e.device_type.name == "CUDA"]
    kinds: dict[str, float] = {}
    for k, ms, _ in kernels:
        kind = next((v for sub, v in KERNEL_KINDS if sub in k.lower()), "other")
        kinds[kind] = kinds.get(kind, 0.0) + ms
    total = sum(kinds.values())
    out = [f"## profile {name}: {total:.2f} ms of kernels per step", "| kind | ms/step | share |", "|---|---|---|"]
    out += [f"| {k} | {ms:.2f} | {100 * ms / total:.1f}% |" for k, ms in sorted(kinds.items(), key=lambda x: -x[1])]
    out += ["", "| kernel | calls/step | ms/step |", "|---|---|---|"]
    out += [f"| {k[:110]} | {n} | {ms:.3f} |" for k, ms, n in sorted(kernels, key=lambda x: -x[1])[:top]]
    return "\n".join(out)


def table(rows: list[dict]) -> str:
    head = "| variant | model | compile | L | d | h | T | B | params | step ms | tokens/s | MFU | 1st step s | peak GB |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['variant']} | failed: {r['error'][-80:]} |".replace("\n", " "))
            continue
        lines.append(f"| {r['variant']} | {r['arch']} | {r['compile']}{'' if r['sdpa'] == 'auto' else '+' + r['sdpa']} | "
                     f"{r['L']} | {r['d']} | {r['h']} | {r['T']} | {r['B']} | {r['params'] / 1e6:.1f}M | {r['step_ms']} | "
                     f"{r['tokens_per_s'] / 1e6:.2f}M | {100 * r['mfu']:.1f}% | {r['first_step_s']} | {r['peak_mem_gb']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", default=",".join(DEFAULT_ORDER))
    ap.add_argument("--steps", type=int, default=20, help="steps per timed window (3 windows)")
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=300, help="seconds per variant")
    ap.add_argument("--deadline", type=float, default=None, help="skip variants once this many seconds have passed")
    ap.add_argument("--json", default=None, help="append one JSON line per variant here")
    ap.add_argument("--profile", default=None, help="print where the step time of these variants goes (comma list)")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.profile:
        for name in a.profile.split(","):
            print(profile_one(name), flush=True)
        return 0
    if a.one:
        print("RESULT " + json.dumps(run_one(a.one, a.steps, a.warmup)), flush=True)
        return 0
    rows, t_start = [], time.time()
    for name in a.variants.split(","):
        left = a.timeout if a.deadline is None else min(a.timeout, a.deadline - (time.time() - t_start))
        if left < 30:
            rows.append({"variant": name, "error": "skipped: out of time"})
            continue
        cmd = [sys.executable, __file__, "--one", name, "--steps", str(a.steps), "--warmup", str(a.warmup)]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=left, cwd=ROOT)
            line = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
            row = json.loads(line[-1][7:]) if line else {"variant": name, "error": (p.stderr or p.stdout)[-300:]}
        except subprocess.TimeoutExpired:
            row = {"variant": name, "error": f"timeout after {left:.0f}s"}
        rows.append(row)
        print(json.dumps(row), flush=True)
        if a.json:
            with open(a.json, "a") as f:
                f.write(json.dumps(row) + "\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
