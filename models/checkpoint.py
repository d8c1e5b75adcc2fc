"""Checkpoints: a folder with the weights (safetensors), config.json, tokenizer.json and a model card.

Layout of a checkpoint folder::

    config.json                     ModelConfig (with the sha256 of the tokenizer it was trained with)
    tokenizer.json                  the byte-level BPE tokenizer
    model.safetensors               weights (bf16 when shipped) — or, when larger than one shard,
    model-00001-of-0000N.safetensors + model.safetensors.index.json
    model_card.json, MODEL_CARD.md  parameters, data hash, steps, tokens seen, losses, device, wall time, date
    train_log.jsonl, loss.png       the training curves (written by models.train)
    resume/                         fp32 weights + optimizer + RNG state for --resume (not shipped)

Everything that can go wrong at load time raises one ``CheckpointError`` that names the folder and the
command that (re)creates it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from models.config import ModelConfig
from models.model import GPT
from models.tokenizer import Tokenizer

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "base"
WEIGHTS = "model.safetensors"
INDEX = "model.safetensors.index.json"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16,
          "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class CheckpointError(RuntimeError):
    """A checkpoint folder is missing, incomplete, corrupt or inconsistent."""


def create_command(path: str | Path) -> str:
    return (f"python -m models.train --stage pretrain --preset base --out {path}"
            f"   (or: tutor train --stage pretrain --preset base)")


def _fail(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"{what} in checkpoint {path}; create it with: {create_command(path)}")


def state_dict_for_saving(model: GPT, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """Weights without the tied lm_head copy (safetensors stores each tensor once)."""
    sd = {}
    for k, v in model.state_dict().items():
        if k == "lm_head.weight":
            continue
        v = v.detach()
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        sd[k] = v.contiguous().cpu()
    return sd


def save_weights(folder: Path, sd: dict[str, torch.Tensor], max_shard_bytes: int = 15 * 2**20) -> list[str]:
    """Write `sd` as one safetensors file, or as shards of at most `max_shard_bytes` plus an index."""
    for old in list(folder.glob("model*.safetensors")) + [folder / INDEX]:
        if old.exists():
            old.unlink()
    total = sum(t.numel() * t.element_size() for t in sd.values())
    if total <= max_shard_bytes:
        save_file(sd, str(folder / WEIGHTS), metadata={"format": "pt"})
        return [WEIGHTS]
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for k, t in sd.items():
        nbytes = t.numel() * t.element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][k] = t
        size += nbytes
    names, weight_map = [], {}
    for i, shard in enumerate(shards, 1):
        name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(folder / name), metadata={"format": "pt"})
        names.append(name)
        weight_map.update({k: name for k in shard})
    (folder / INDEX).write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=1))
    return names + [INDEX]


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    try:
        if (folder / INDEX).is_file():
            index = json.loads((folder / INDEX).read_text())
            sd = {}
            for name in sorted(set(index["weight_map"].values())):
                if not (folder / name).is_file():
                    raise _fail(folder, f"weight shard {name} is missing")
                sd.update(load_file(str(folder / name)))
            return sd
        if (folder / WEIGHTS).is_file():
            return load_file(str(folder / WEIGHTS))
    except CheckpointError:
        raise
    except (SafetensorError, OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        raise _fail(folder, f"corrupt weights ({type(e).__name__}: {e})") from None
    raise _fail(folder, f"no weights ({WEIGHTS})")


def write_card(folder: Path, card: dict[str, Any]) -> None:
    (folder / "model_card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "MODEL_CARD.md").write_text(render_card_markdown(card), encoding="utf-8")


def save_checkpoint(folder: str | Path, model: GPT, tokenizer: Tokenizer, card: dict[str, Any] | None = None,
                    dtype: str | torch.dtype = "bf16", max_shard_bytes: int = 15 * 2**20) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dtype = DTYPES[dtype] if isinstance(dtype, str) else dtype
    cfg = model.config
    cfg.tokenizer_sha256 = tokenizer.sha256
    tokenizer.save(folder / "tokenizer.json")
    save_weights(folder, state_dict_for_saving(model, dtype), max_shard_bytes)
    cfg.save(folder / "config.json")  # written last: a folder with config.json is complete
    if card is not None:
        write_card(folder, card)
    return folder


def load_config(folder: Path) -> ModelConfig:
    f = folder / "config.json"
    if not f.is_file():
        raise _fail(folder, "no config.json")
    try:
        return ModelConfig.from_dict(json.loads(f.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as e:
        raise _fail(folder, f"corrupt config.json ({e})") from None


def load_tokenizer(folder: str | Path) -> Tokenizer:
    folder = Path(folder)
    f = folder / "tokenizer.json"
    if not f.is_file():
        raise _fail(folder, "no tokenizer.json")
    try:
        return Tokenizer.load(f)
    except Exception as e:  # tokenizers raises plain Exception subclasses for malformed JSON
        raise _fail(folder, f"corrupt tokenizer.json ({str(e)[:200]})") from None


def load_checkpoint(folder: str | Path | None = None, device: str | torch.device = "cpu",
                    dtype: str | torch.dtype = torch.float32) -> tuple[GPT, Tokenizer]:
    """Load (model in eval mode, tokenizer) from a checkpoint folder, checking that they belong together."""
    folder = Path(folder) if folder is not None else DEFAULT_CHECKPOINT
    if not folder.is_dir():
        raise CheckpointError(f"no checkpoint at {folder}; create it with: {create_command(folder)}")
    cfg = load_config(folder)
    tok = load_tokenizer(folder)
    if cfg.tokenizer_sha256 and cfg.tokenizer_sha256 != tok.sha256:
        raise _fail(folder, "tokenizer.json does not match the tokenizer the model was trained with "
                            f"(sha256 {tok.sha256[:12]} != {cfg.tokenizer_sha256[:12]} in config.json)")
    if tok.vocab_size > cfg.vocab_size:
        raise _fail(folder, f"tokenizer has {tok.vocab_size} tokens but the model only {cfg.vocab_size} embedding rows")
    sd = read_weights(folder)
    model = GPT(cfg)
    expected = {k: v.shape for k, v in model.state_dict().items() if k != "lm_head.weight"}
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    if missing or unexpected:
        raise _fail(folder, f"weights do not match config.json (missing {missing[:3]}, unexpected {unexpected[:3]})")
    for k, shape in expected.items():
        if tuple(sd[k].shape) != tuple(shape):
            raise _fail(folder, f"weight {k} has shape {tuple(sd[k].shape)}, config.json implies {tuple(shape)}")
        if sd[k].is_floating_point() and not torch.isfinite(sd[k]).all():
            raise _fail(folder, f"weight {k} holds NaN/inf values")
    dtype = DTYPES[dtype] if isinstance(dtype, str) else dtype
    model.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, strict=False)
    model.to(device=device, dtype=dtype)
    model.rope_cos, model.rope_sin = (t.float() for t in (model.rope_cos, model.rope_sin))  # keep RoPE in fp32
    model.eval()
    return model, tok


def load_card(folder: str | Path) -> dict[str, Any]:
    f = Path(folder) / "model_card.json"
    return json.loads(f.read_text(encoding="utf-8")) if f.is_file() else {}


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.4f}" if math.isfinite(x) else str(x)
    if isinstance(x, int) and abs(x) >= 10000:
        return f"{x:,}"
    return str(x)


def render_card_markdown(card: dict[str, Any]) -> str:
    lines = [f"# {card.get('name', 'tutor-gpt')} — model card", ""]
    if card.get("summary"):
        lines += [card["summary"], ""]
    lines += ["| field | value |", "| --- | --- |"]
    for k, v in card.items():
        if k in ("summary", "samples", "model_config", "train_config", "memorisation", "name", "notes"):
            continue
        lines.append(f"| {k} | {_fmt(v)} |")
    if card.get("memorisation"):
        lines += ["", "## Limiting memorisation of a small corpus", ""]
        lines += [f"- {m}" for m in card["memorisation"]]
    if card.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in card["notes"]]
    if card.get("samples"):
        lines += ["", "## Greedy samples", ""]
        for s in card["samples"]:
            lines += [f"**Prompt:** `{s['prompt']}`", "", "```text", s["prompt"] + s["completion"], "```", ""]
    for key in ("model_config", "train_config"):
        if card.get(key):
            lines += ["", f"## {key}", "", "```json", json.dumps(card[key], indent=2, ensure_ascii=False), "```"]
    return "\n".join(lines) + "\n"
