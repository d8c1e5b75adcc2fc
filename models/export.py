"""Export a tutor-gpt checkpoint to a Hugging Face `transformers` folder (LlamaForCausalLM).

Our model is Llama-shaped (RMSNorm, RoPE with the rotate-half convention, SwiGLU, no biases, tied
embeddings), so the export only renames tensors and splits the stacked projections:

    qkv  (3d × d)        -> q_proj, k_proj, v_proj        gate_up (2f × d) -> gate_proj, up_proj
    attn_norm / mlp_norm -> input_layernorm / post_attention_layernorm

    python -m models.export models/checkpoints/base /tmp/tutor-gpt-hf
    >>> from transformers import AutoModelForCausalLM, AutoTokenizer
    >>> AutoModelForCausalLM.from_pretrained("/tmp/tutor-gpt-hf")

This module needs only torch and safetensors; `transformers` is needed only to load the result.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from models.checkpoint import CheckpointError, load_checkpoint
from models.model import GPT
from models.tokenizer import BOS, EOS, PAD, SPECIAL_TOKENS, Tokenizer


def hf_state_dict(model: GPT, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    c = model.config
    d, f = c.n_embd, c.ffn_hidden
    sd = {"model.embed_tokens.weight": model.tok_emb.weight, "model.norm.weight": model.final_norm.weight}
    for i, b in enumerate(model.blocks):
        p = f"model.layers.{i}."
        q, k, v = b.attn.qkv.weight.split(d, dim=0)
        gate, up = b.mlp.gate_up.weight.split(f, dim=0)
        sd.update({
            p + "input_layernorm.weight": b.attn_norm.weight,
            p + "self_attn.q_proj.weight": q,
            p + "self_attn.k_proj.weight": k,
            p + "self_attn.v_proj.weight": v,
            p + "self_attn.o_proj.weight": b.attn.proj.weight,
            p + "post_attention_layernorm.weight": b.mlp_norm.weight,
            p + "mlp.gate_proj.weight": gate,
            p + "mlp.up_proj.weight": up,
            p + "mlp.down_proj.weight": b.mlp.down.weight,
        })
    return {k: v.detach().to(dtype).contiguous().cpu() for k, v in sd.items()}


def hf_config(model: GPT, tok: Tokenizer, dtype_name: str = "float32") -> dict:
    c = model.config
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": c.vocab_size,
        "hidden_size": c.n_embd,
        "intermediate_size": c.ffn_hidden,
        "num_hidden_layers": c.n_layer,
        "num_attention_heads": c.n_head,
        "num_key_value_heads": c.n_head,
        "head_dim": c.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": c.block_size,
        "rms_norm_eps": c.norm_eps,
        "rope_theta": c.rope_theta,  # transformers 4.x
        "rope_parameters": {"rope_type": "default", "rope_theta": c.rope_theta},  # transformers 5.x
        "rope_scaling": None,
        "tie_word_embeddings": True,
        "attention_bias": False,
        "mlp_bias": False,
        "attention_dropout": 0.0,
        "initializer_range": c.init_std,
        "bos_token_id": tok.bos_id,
        "eos_token_id": tok.eos_id,
        "pad_token_id": tok.pad_id,
        "use_cache": True,
        "torch_dtype": dtype_name,
        "dtype": dtype_name,
    }


def export_hf(model: GPT, tok: Tokenizer, out_dir: str | Path, dtype: torch.dtype = torch.float32) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dtype_name = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}[dtype]
    save_file(hf_state_dict(model, dtype), str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(hf_config(model, tok, dtype_name), indent=2) + "\n")
    (out / "generation_config.json").write_text(json.dumps(
        {"bos_token_id": tok.bos_id, "eos_token_id": tok.eos_id, "pad_token_id": tok.pad_id}, indent=2) + "\n")
    tok.save(out / "tokenizer.json")
    extra = [t for t in SPECIAL_TOKENS if t not in (BOS, EOS, PAD)]
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": BOS, "eos_token": EOS, "pad_token": PAD,
        "additional_special_tokens": extra, "model_max_length": model.config.block_size,
        "clean_up_tokenization_spaces": False, "add_bos_token": False, "add_eos_token": False,
    }, indent=2, ensure_ascii=False) + "\n")
    (out / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": BOS, "eos_token": EOS, "pad_token": PAD, "additional_special_tokens": extra}, indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.export", description="Export to a transformers Llama folder")
    ap.add_argument("checkpoint", nargs="?", default=None, help="checkpoint folder (default models/checkpoints/base)")
    ap.add_argument("out", help="output folder")
    ap.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), default="fp32")
    a = ap.parse_args(argv)
    try:
        model, tok = load_checkpoint(a.checkpoint)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[a.dtype]
    print(export_hf(model, tok, a.out, dtype))
    return 0


if __name__ == "__main__":
    sys.exit(main())
