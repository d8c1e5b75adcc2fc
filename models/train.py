"""Train the tutor's GPT: pre-training on the course notes, or SFT on JSONL conversations.

    python -m models.train --stage pretrain --preset tiny --device cpu --out /tmp/tiny      # < 2 min on a CPU
    python -m models.train --stage pretrain --preset base --device cuda                      # the shipped model
    python -m models.train --stage sft --preset base --data chats.jsonl --init models/checkpoints/base
    torchrun --nproc_per_node 2 -m models.train --preset tiny --device cpu --out /tmp/ddp     # DDP (gloo/nccl)
    ... --resume                                                                               # continue exactly

On CUDA: bf16 autocast, torch.compile, fused AdamW, TF32. Always: warm-up + cosine LR, gradient clipping,
gradient accumulation, seeded RNGs, validation loss on held-out text with early stopping (the best weights
are what gets saved), a resumable checkpoint every --ckpt-interval steps, a progress bar, train_log.jsonl and
loss.png in the output folder, and a model card.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from models.checkpoint import (DEFAULT_CHECKPOINT, CheckpointError, load_checkpoint, load_tokenizer,
                               save_checkpoint, state_dict_for_saving, write_card)
from models.config import PRESETS, get_preset, round_up
from models.data import (CORPUS_DIR, REPO_ROOT, DataError, build_pretrain_data, build_sft_data, load_documents,
                         load_sft_jsonl)
from models.model import GPT, CausalSelfAttention
from models.plot import plot_losses
from models.tokenizer import Tokenizer

H100_BF16_PEAK = 989e12
CHECKPOINTS_DIR = Path(__file__).resolve().parent / "checkpoints"
SAMPLE_PROMPTS = ("注意力机制", "Transformer 是", "<|bos|><|user|>什么是GPT？<|assistant|>")
MEMORISATION = [
    "held-out validation text: the last 10% of every note file is never trained on; training stops early when "
    "its loss has not improved for `patience` evaluations, and the weights from the best evaluation are shipped",
    "dropout on embeddings, attention probabilities and both residual branches; AdamW weight decay on matrices",
    "augmentation: extra copies of the training text with the sentences of some paragraphs shuffled, and every "
    "training window is a crop at a random offset",
    "data generated from the notes: each markdown heading and its section becomes a question/answer chat "
    "(train split only), which also teaches the chat tokens",
]


class TrainError(RuntimeError):
    """Training cannot go on (bad device, out of memory, nothing to resume ...); the message says what to do."""


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m models.train", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", choices=("pretrain", "sft"), default="pretrain")
    ap.add_argument("--preset", choices=PRESETS, default="tiny")
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    ap.add_argument("--resume", action="store_true", help="continue from <out>/resume exactly")
    ap.add_argument("--data", default=None, help="pretrain: folder/file of .txt/.md (default kb/corpus); "
                                                 "sft: a JSONL of conversations")
    ap.add_argument("--out", default=None, help="output folder (default models/checkpoints/<preset>[-sft])")
    ap.add_argument("--init", default=None, help="sft: checkpoint to start from (default models/checkpoints/base)")
    ap.add_argument("--tokenizer", default=None, help="pretrain: use this tokenizer.json instead of training one")
    for name, typ in (("max-steps", int), ("batch-size", int), ("grad-accum", int), ("lr", float),
                      ("min-lr", float), ("warmup-steps", int), ("eval-interval", int), ("log-interval", int),
                      ("ckpt-interval", int), ("patience", int), ("seed", int), ("val-fraction", float),
                      ("aug-variants", int), ("weight-decay", float), ("tokenizer-vocab", int)):
        ap.add_argument(f"--{name}", type=typ, default=None)
    ap.add_argument("--block-size", type=int, default=None, help="context window (pretrain) / truncation (sft)")
    ap.add_argument("--dropout", type=float, default=None)
    ap.add_argument("--save-dtype", choices=("bf16", "fp16", "fp32"), default=None)
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile on CUDA")
    ap.add_argument("--no-early-stop", action="store_true")
    ap.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this much training time")
    ap.add_argument("--samples", type=int, default=len(SAMPLE_PROMPTS), help="greedy samples for the model card")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    ap.add_argument("--stop-after", type=int, default=None, help=argparse.SUPPRESS)  # simulate an interruption
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (DataError, CheckpointError, TrainError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


# ---------------------------------------------------------------------------------------------------------
def lr_at(step: int, tc) -> float:
    """Linear warm-up, then cosine decay from lr to min_lr at max_steps."""
    if step < tc.warmup_steps:
        return tc.lr * (step + 1) / tc.warmup_steps
    progress = min(1.0, (step - tc.warmup_steps) / max(1, tc.max_steps - tc.warmup_steps))
    return tc.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (tc.lr - tc.min_lr)


def _set_dropout(model: GPT, p: float) -> None:
    model.config.dropout = p
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = p
        if isinstance(m, CausalSelfAttention):
            m.dropout = p


def _is_oom(e: BaseException) -> bool:
    if isinstance(e, torch.cuda.OutOfMemoryError):
        return True
    msg = str(e).lower()
    return isinstance(e, RuntimeError) and ("out of memory" in msg or "can't allocate memory" in msg)


def _rng_state(data_gen: torch.Generator) -> dict:
    s = {"torch": torch.get_rng_state(), "data": data_gen.get_state(), "python": random.getstate(),
         "numpy": np.random.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        s["cuda"] = torch.cuda.get_rng_state()
    return s


def _set_rng_state(s: dict, data_gen: torch.Generator) -> None:
    torch.set_rng_state(s["torch"])
    data_gen.set_state(s["data"])
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state(s["cuda"])


@torch.no_grad()
def evaluate(model: GPT, data, batch_size: int, max_windows: int, device, amp) -> float:
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    for x, y in data.val_batches(batch_size, max_windows, device):
        with amp():
            _, loss = model(x, y)
        n = int((y != -100).sum())
        total += loss.double() * n
        count += n
    model.train()
    return float(total) / max(count, 1)


# ---------------------------------------------------------------------------------------------------------
def run(args) -> int:
    # --- processes and device ---------------------------------------------------------------------------
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    want = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if want.startswith("cuda") and not torch.cuda.is_available():
        raise TrainError("--device cuda but no CUDA GPU is visible; use --device cpu")
    if want not in ("cpu", "cuda") and not want.startswith("cuda:"):
        raise TrainError(f"unknown --device {want!r}; use cuda or cpu")
    device_type = "cuda" if want.startswith("cuda") else "cpu"
    if device_type == "cuda":
        device = torch.device(want if ":" in want and world == 1 else f"cuda:{local_rank}")
    else:
        device = torch.device("cpu")
    if device_type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if world > 1:
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    master = rank == 0

    def barrier():
        if world > 1:
            dist.barrier()

    def log(msg: str) -> None:
        if master:
            print(msg, file=sys.stderr, flush=True)

    # --- configuration ----------------------------------------------------------------------------------
    preset = get_preset(args.preset)
    mc, tc = preset.model, preset.train
    for field in ("max_steps", "batch_size", "grad_accum", "lr", "min_lr", "warmup_steps", "eval_interval",
                  "log_interval", "ckpt_interval", "patience", "seed", "val_fraction", "aug_variants",
                  "weight_decay", "tokenizer_vocab", "save_dtype"):
        v = getattr(args, field)
        if v is not None:
            setattr(tc, field, v)
    if args.no_compile:
        tc.compile = False
    if args.stage == "sft" and args.max_steps is None:
        tc.max_steps = min(tc.max_steps, 600)
    if tc.max_steps < 1 or tc.batch_size < 1 or tc.grad_accum < 1:
        raise TrainError("--max-steps, --batch-size and --grad-accum must be at least 1")
    tc.warmup_steps = min(tc.warmup_steps, max(1, tc.max_steps // 2))
    if tc.save_dtype != "fp32" and device_type == "cpu" and args.save_dtype is None and args.preset == "tiny":
        tc.save_dtype = "fp32"
    out = Path(args.out) if args.out else CHECKPOINTS_DIR / (args.preset if args.stage == "pretrain"
                                                              else f"{args.preset}-sft")
    resume_dir = out / "resume"
    if args.resume and not (resume_dir / "state.json").is_file():
        raise TrainError(f"nothing to resume in {out} (no resume/state.json); run once without --resume")

    random.seed(tc.seed + rank)
    np.random.seed(tc.seed + rank)
    torch.manual_seed(tc.seed + rank)
    data_gen = torch.Generator().manual_seed(tc.seed + 1000 * rank)

    # --- tokenizer, data, model -------------------------------------------------------------------------
    t_setup = time.time()
    if args.stage == "pretrain":
        data_path = Path(args.data) if args.data else CORPUS_DIR
        docs = load_documents(data_path)
        if args.block_size:
            mc.block_size = args.block_size
        if args.dropout is not None:
            mc.dropout = args.dropout
        if args.resume:
            tok = load_tokenizer(out)
        elif args.tokenizer:
            tok = Tokenizer.load(args.tokenizer)
        else:
            if master:
                out.mkdir(parents=True, exist_ok=True)
                Tokenizer.train([t for _, t in docs], tc.tokenizer_vocab).save(out / "tokenizer.json")
            barrier()
            tok = Tokenizer.load(out / "tokenizer.json")
        mc.vocab_size = round_up(tok.vocab_size, 128 if tok.vocab_size > 1024 else 64)
        mc.tokenizer_sha256 = tok.sha256
        data = build_pretrain_data(tok, docs, mc.block_size, tc.val_fraction, tc.aug_variants,
                                   tc.aug_shuffle_prob, tc.qa_from_notes, tc.seed, source=str(data_path))
        model = GPT(mc)
        shown = data_path.resolve()
        shown = shown.relative_to(REPO_ROOT) if shown.is_relative_to(REPO_ROOT) else shown
        data_desc = {"data": str(shown), "data_hash": data.hash, "documents": data.n_docs,
                     "train_chars": data.train_chars, "val_chars": data.val_chars,
                     "train_stream_tokens": len(data.train), "val_tokens": len(data.val),
                     "qa_pairs_from_notes": data.n_qa}
        val_tokens_per_char = len(data.val) / max(1, data.val_chars)
    else:
        if not args.data:
            raise DataError("SFT needs --data PATH.jsonl (one {\"messages\": [...]} conversation per line)")
        init = out if args.resume else Path(args.init) if args.init else DEFAULT_CHECKPOINT
        model, tok = load_checkpoint(init)
        mc = model.config
        if args.dropout is not None:
            _set_dropout(model, args.dropout)
        model.train()
        convs = load_sft_jsonl(args.data)
        block = min(args.block_size or mc.block_size, mc.block_size)
        data = build_sft_data(tok, convs, block, max(tc.val_fraction, 0.05), tc.seed, source=args.data)
        val_tokens_per_char = None
        data_desc = {"data": str(args.data), "data_hash": data.hash, "conversations": len(convs),
                     "train_examples": len(data.train), "val_examples": len(data.val),
                     "truncated_examples": data.n_truncated, "init": str(init)}
    model.to(device)
    raw_model = model
    optimizer = model.configure_optimizer(tc.lr, tc.weight_decay, (tc.beta1, tc.beta2), device_type)

    state = {"step": 0, "tokens_seen": 0, "best_val": float("inf"), "best_step": 0, "bad_evals": 0,
             "train_time": 0.0, "last_train_loss": None, "train_loss_at_best": None, "stopped_early": False,
             "last_val": None}
    if args.resume:
        from safetensors.torch import load_file

        saved = json.loads((resume_dir / "state.json").read_text())
        if saved.get("model_config", {}) | {"dropout": 0} != mc.to_dict() | {"dropout": 0}:
            raise TrainError(f"{resume_dir} was written for a different model config; use another --out")
        sd = load_file(str(resume_dir / "model.safetensors"))
        raw_model.load_state_dict(sd, strict=False)
        optimizer.load_state_dict(torch.load(resume_dir / "optimizer.pt", map_location=device, weights_only=False))
        state.update(saved["state"])
        rng_file = resume_dir / f"rng_rank{rank}.pt"
        if rng_file.is_file():
            _set_rng_state(torch.load(rng_file, weights_only=False), data_gen)
        log(f"resumed from {resume_dir} at step {state['step']}")

    amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if device_type == "cuda" else contextlib.nullcontext
    train_model = model
    if device_type == "cuda" and tc.compile:
        train_model = torch.compile(model)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        train_model = DDP(train_model, device_ids=[local_rank] if device_type == "cuda" else None)
    model.train()

    log_path = out / "train_log.jsonl"
    if master:
        out.mkdir(parents=True, exist_ok=True)
        if args.resume and log_path.is_file():  # drop log lines written after the checkpoint we resume from
            keep = [l for l in log_path.read_text().splitlines() if l and json.loads(l).get("step", 0) <= state["step"]]
            log_path.write_text("".join(k + "\n" for k in keep))
        elif not args.resume and log_path.exists():
            log_path.unlink()

    def write_log(rec: dict) -> None:
        if master:
            with log_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")

    n_params = raw_model.num_params()
    T = mc.block_size if args.stage == "pretrain" else data.block_size
    flops_per_token = raw_model.flops_per_token(T)
    device_name = torch.cuda.get_device_name(device) if device_type == "cuda" else platform.processor() or "cpu"
    log(f"{args.stage} {args.preset}: {n_params / 1e6:.2f}M params, vocab {tok.vocab_size} (rows {mc.vocab_size}), "
        f"context {mc.block_size}, device {device_name} x{world}, out {out}")

    def make_card(final: bool, samples=None) -> dict:
        card = {
            "name": f"tutor-gpt-{args.preset}" + ("-sft" if args.stage == "sft" else ""),
            "summary": "Decoder-only Transformer (Llama-shaped: RMSNorm, RoPE, SwiGLU, tied embeddings) trained "
                       "from scratch by the course tutor on its own course notes.",
            "stage": args.stage, "preset": args.preset, "parameters": n_params,
            "context_window": mc.block_size, "tokenizer_vocab": tok.vocab_size, "embedding_rows": mc.vocab_size,
            "weights_dtype": tc.save_dtype, **data_desc,
            "steps": state["step"], "best_step": state["best_step"], "tokens_seen": state["tokens_seen"],
            "tokens_seen_at_best": state.get("tokens_at_best", state["tokens_seen"]),
            "train_loss_at_best": state["train_loss_at_best"], "val_loss_best": state["best_val"],
            **({"val_nats_per_char": round(state["best_val"] * val_tokens_per_char, 4)}
               if val_tokens_per_char and math.isfinite(state["best_val"]) else {}),
            "final_train_loss": state["last_train_loss"], "final_val_loss": state["last_val"],
            "stopped_early": state["stopped_early"], "device": device_name, "world_size": world,
            "wall_time_s": round(state["train_time"], 1), "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "torch": torch.__version__, "seed": tc.seed,
            "complete": final,
            **({"ddp_ranks_agree": state["ddp_ranks_agree"]} if "ddp_ranks_agree" in state else {}),
        }
        if device_type == "cuda" and state.get("tok_per_s"):
            card["train_tokens_per_s"] = round(state["tok_per_s"])
            card["mfu_vs_h100_bf16_peak"] = round(state["tok_per_s"] * flops_per_token / H100_BF16_PEAK, 4)
        if args.stage == "pretrain":
            card["memorisation"] = MEMORISATION
        if samples:
            card["samples"] = samples
        card["model_config"] = mc.to_dict()
        card["train_config"] = tc.to_dict()
        return card

    def save_best() -> None:
        if master:
            save_checkpoint(out, raw_model, tok, make_card(False), dtype=tc.save_dtype)

    def save_resume() -> None:
        from safetensors.torch import save_file

        if master:
            resume_dir.mkdir(parents=True, exist_ok=True)
            save_file(state_dict_for_saving(raw_model, torch.float32), str(resume_dir / "model.safetensors"))
            torch.save(optimizer.state_dict(), resume_dir / "optimizer.pt")
            (resume_dir / "state.json").write_text(json.dumps({"state": state, "model_config": mc.to_dict(),
                                                               "train_config": tc.to_dict(), "stage": args.stage}))
        resume_dir.mkdir(parents=True, exist_ok=True)
        torch.save(_rng_state(data_gen), resume_dir / f"rng_rank{rank}.pt")
        barrier()

    # --- the loop -------------------------------------------------------------------------------------------
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional
        tqdm = None
    pbar = tqdm(total=tc.max_steps, initial=state["step"], disable=not master or args.quiet, dynamic_ncols=True,
                mininterval=1.0) if tqdm else None
    pad_to = T if (args.stage == "sft" and device_type == "cuda") else None
    loss_acc = torch.zeros((), device=device)
    n_acc = 0
    t_log = time.time()
    tokens_since_log = 0
    log(f"setup {time.time() - t_setup:.1f}s; training to step {tc.max_steps} "
        f"(batch {tc.batch_size} x accum {tc.grad_accum} x {world} procs x {T} tokens)")
    interrupted = False
    try:
        while state["step"] < tc.max_steps:
            t_step = time.time()
            lr = lr_at(state["step"], tc)
            for g in optimizer.param_groups:
                g["lr"] = lr
            for micro in range(tc.grad_accum):
                if args.stage == "sft":
                    x, y = data.get_batch(tc.batch_size, data_gen, device, pad_to)
                else:
                    x, y = data.get_batch(tc.batch_size, data_gen, device)
                last = micro == tc.grad_accum - 1
                sync = contextlib.nullcontext() if (world == 1 or last) else train_model.no_sync()
                with sync:
                    with amp():
                        _, loss = train_model(x, y)
                    (loss / tc.grad_accum).backward()
                loss_acc += loss.detach()
                n_acc += 1
                tokens_since_log += x.numel() * world
            if tc.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(raw_model.parameters(), tc.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            state["step"] += 1
            step = state["step"]
            state["tokens_seen"] += tc.batch_size * tc.grad_accum * world * T
            state["train_time"] += time.time() - t_step
            if pbar is not None:
                pbar.update(1)

            if step % tc.log_interval == 0 or step == tc.max_steps:
                if world > 1:
                    dist.all_reduce(loss_acc)
                    loss_acc /= world
                train_loss = float(loss_acc) / max(n_acc, 1)  # the only host sync of the hot loop
                now = time.time()
                tps = tokens_since_log / max(now - t_log, 1e-9)
                state["last_train_loss"] = train_loss
                state["tok_per_s"] = tps
                rec = {"step": step, "train_loss": round(train_loss, 5), "lr": lr, "tokens_seen": state["tokens_seen"],
                       "tok_per_s": round(tps), "train_time": round(state["train_time"], 2)}
                if device_type == "cuda":
                    rec["mfu"] = round(tps * flops_per_token / H100_BF16_PEAK, 4)
                write_log(rec)
                if pbar is not None:
                    pbar.set_postfix(loss=f"{train_loss:.3f}", best_val=f"{state['best_val']:.3f}", tok_s=f"{tps:,.0f}")
                elif master and not args.quiet:
                    log(f"step {step}: train {train_loss:.4f} lr {lr:.2e} {tps:,.0f} tok/s")
                loss_acc.zero_()
                n_acc = 0
                t_log, tokens_since_log = time.time(), 0

            if step % tc.eval_interval == 0 or step == tc.max_steps:
                t_eval = time.time()
                val = evaluate(raw_model, data, tc.batch_size, tc.eval_max_windows, device, amp)
                if world > 1:
                    v = torch.tensor([val], device=device)
                    dist.all_reduce(v)
                    val = float(v) / world
                state["last_val"] = val
                write_log({"step": step, "val_loss": round(val, 5), "tokens_seen": state["tokens_seen"]})
                if val < state["best_val"] - tc.min_delta:
                    state.update(best_val=val, best_step=step, bad_evals=0, tokens_at_best=state["tokens_seen"],
                                 train_loss_at_best=state["last_train_loss"])
                    save_best()
                else:
                    state["bad_evals"] += 1
                t_log += time.time() - t_eval  # evaluation time does not count against throughput
                if not args.no_early_stop and state["bad_evals"] >= tc.patience:
                    state["stopped_early"] = True
                    log(f"early stop at step {step}: validation loss has not improved for {tc.patience} "
                        f"evaluations (best {state['best_val']:.4f} at step {state['best_step']})")
                    break
            if step % tc.ckpt_interval == 0:
                save_resume()
            if args.stop_after is not None and step >= args.stop_after:
                save_resume()
                log(f"stopped after step {step} (--stop-after); continue with --resume")
                return 0
            if args.max_minutes is not None and state["train_time"] > 60 * args.max_minutes:
                log(f"time budget of {args.max_minutes} min reached at step {step}")
                break
    except KeyboardInterrupt:
        interrupted = True
    except Exception as e:
        if _is_oom(e):
            b = tc.batch_size
            raise TrainError(f"out of memory at --batch-size {b} x {T} tokens on {device}; try --batch-size "
                             f"{max(1, b // 2)} --grad-accum {tc.grad_accum * 2} (same tokens per step)") from None
        raise
    finally:
        if pbar is not None:
            pbar.close()

    save_resume()
    if interrupted:
        log(f"interrupted at step {state['step']}; continue with the same command plus --resume")
        return 130
    if world > 1:  # every rank must hold the same weights after DDP's gradient all-reduce
        sums = torch.stack([p.detach().double().sum() for p in raw_model.parameters()]).to(device)
        gathered = [torch.zeros_like(sums) for _ in range(world)]
        dist.all_gather(gathered, sums)
        agree = all(torch.equal(gathered[0], g) for g in gathered[1:])
        state["ddp_ranks_agree"] = agree
        log(f"DDP: weights on all {world} ranks {'agree' if agree else 'DIFFER'}")
        if not agree:
            raise TrainError("DDP ranks ended with different weights")
    if state["best_step"] == 0:  # never evaluated: the current weights are the result
        state.update(best_step=state["step"], train_loss_at_best=state["last_train_loss"],
                     tokens_at_best=state["tokens_seen"])
        save_best()
    barrier()

    # --- final card with greedy samples from the saved (best) weights ----------------------------------------
    if master:
        samples = []
        if args.samples:
            from models.generate import Generator

            best, best_tok = load_checkpoint(out, device=device)
            gen = Generator(best, best_tok)
            for prompt in SAMPLE_PROMPTS[: args.samples]:
                r = gen.generate(prompt, max_new_tokens=60, temperature=0.0)
                samples.append({"prompt": prompt, "completion": r.text, "decoding": "greedy"})
        write_card(out, make_card(True, samples))
        try:
            plot_losses(log_path, out / "loss.png", title=f"tutor-gpt {args.preset} {args.stage}")
        except Exception as e:  # a plot must never fail a finished training run
            log(f"(loss plot skipped: {e})")
        log(f"done: step {state['step']}, best val {state['best_val']:.4f} at step {state['best_step']}, "
            f"train {state['train_loss_at_best']}, {state['tokens_seen']:,} tokens, {state['train_time']:.1f}s -> {out}")
    # Every rank waits for the master's last writes, so all of them tear the process group down together
    # (a rank that exits while its peer still uses gloo can abort with "terminate called ...").
    barrier()
    return 0


if __name__ == "__main__":
    sys.exit(main())
