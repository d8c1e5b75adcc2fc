"""Int8 weights for fast CPU inference of the tutor's GPT.

Why: decoding one token reads every weight once. In float32 the 13.6M-parameter model is 54 MB per token,
more than a typical CPU's last-level cache, so on the 2-core dev machine a decode step waits on memory
(~9 ms), not on arithmetic. With int8 weights the same step reads 13.6 MB, which stays in cache.

How: PyTorch's dynamic quantization. Every ``nn.Linear`` (Q/K/V, output projection, SwiGLU, the LM head)
keeps its weight as int8 with one scale per output channel; each call quantizes its input on the fly
and runs an int8 GEMM (fbgemm/x86 kernels). Embedding lookups, RMSNorm, RoPE, softmax and the KV cache
stay float32. The result is an inference-only copy on the CPU; the float checkpoint is unchanged.

Cost: small numeric differences. On teacher-forced course text the int8 model's top-1 next token agrees
with float32 on ~89 % of positions; the agent's decoding is mostly constrained (tool names, copied quotes),
and its evaluation is measured both ways (README › Measured).
"""

from __future__ import annotations

import copy
import warnings

import torch
import torch.nn as nn

from models.model import GPT

MODES = ("none", "int8")


def quantize_int8(model: GPT, inplace: bool = False) -> GPT:
    """`model` with int8 linear layers (per-channel weight scales, dynamic activation scales): a copy, or
    the model itself converted when `inplace` (saves a float copy's memory when loading for inference)."""
    if next(model.parameters()).device.type != "cpu":
        raise ValueError("int8 quantization is for CPU inference; keep the float model on the GPU")
    if "fbgemm" not in torch.backends.quantized.supported_engines and "x86" not in torch.backends.quantized.supported_engines:
        raise RuntimeError("this PyTorch build has no x86 int8 kernels (fbgemm); use quantize='none'")
    try:
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
    except ImportError as e:  # a future torch may drop the eager API (it is moving to torchao)
        raise RuntimeError(f"this PyTorch has no eager dynamic quantization ({e}); use quantize='none'") from None

    model = (model if inplace else copy.deepcopy(model)).float().eval()
    with warnings.catch_warnings():  # the eager API warns that it is moving to torchao; it still works
        warnings.simplefilter("ignore")
        q = quantize_dynamic(model, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True)
    q.quantized = "int8"
    return q


def prepare_for_inference(model: GPT, quantize: str = "none", inplace: bool = False) -> GPT:
    """Apply the chosen weight format: 'none' (as loaded) or 'int8' (CPU only; a copy unless `inplace`)."""
    if quantize not in MODES:
        raise ValueError(f"unknown quantize mode {quantize!r}; expected one of {', '.join(MODES)}")
    return quantize_int8(model, inplace=inplace) if quantize == "int8" else model
