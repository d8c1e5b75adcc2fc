"""Benchmark of the tutor's GPT: CPU generation against `transformers`, peak memory, and (on a GPU) training MFU.

    python bench/bench_model.py                     # CPU generation + memory (the shipped checkpoint)
    python bench/bench_model.py --train             # also the training-throughput/MFU table (needs CUDA)
    python bench/bench_model.py --json out.json

Generation: a 400-token prompt taken from the course notes, greedy decoding of --new-tokens tokens (no early
stop at <|eos|>), on --threads CPU threads. The same weights run through our `Generator` (KV cache, lean loop)
and through `transformers`' LlamaForCausalLM.generate() after `models.export` — an identically sized model —
each in float32 and with the same int8 weights (`models/quantize.py`, what the tutor runs on a CPU;
--quantize picks the formats). In each format both engines produce the same tokens, which the script checks.
Speed-ups are against `transformers` in float32. Engines alternate over --repeats rounds; medians
are reported. Time to first token = prompt prefill + the first sampled token. Decode tokens/s counts the
tokens after the first. Peak memory = peak RSS of a fresh process that loads the model and generates.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build_prompt(tok, n_tokens: int) -> list[int]:
    from models.data import load_documents

    text = "\n\n".join(t for _, t in load_documents())
    ids = tok.encode(text)
    return ids[1000 : 1000 + n_tokens]


def _params(new_tokens):
    from models.generate import SamplingParams

    return SamplingParams(max_new_tokens=new_tokens, temperature=0.0, stop_at_eos=False)


def run_ours(gen, prompt, new_tokens):
    p = _params(new_tokens)
    rows = gen._rows(1, p)
    t0 = time.perf_counter()
    first = None
    for _ in gen._steps([list(prompt)], p, rows):
        if first is None:
            first = time.perf_counter() - t0
    total = time.perf_counter() - t0
    return first, total, rows[0].ids


def run_hf(hf, prompt, new_tokens, suppress):
    import torch
    from transformers.generation.streamers import BaseStreamer

    class Clock(BaseStreamer):
        def __init__(self):
            self.calls, self.first = 0, None

        def put(self, value):
            self.calls += 1
            if self.calls == 2:  # the first call carries the prompt, the second the first new token
                self.first = time.perf_counter()

        def end(self):
            pass

    clock = Clock()
    x = torch.tensor([prompt])
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=new_tokens,
                          min_new_tokens=new_tokens, do_sample=False, eos_token_id=None, pad_token_id=0,
                          suppress_tokens=suppress, streamer=clock)
    total = time.perf_counter() - t0
    return clock.first - t0, total, out[0, len(prompt):].tolist()


def peak_rss(engine: str, ckpt: str, hf_dir: str, threads: int, quantize: str) -> dict:
    """Peak RSS (MiB) of a fresh process: after `import torch`, and after load + a short generation."""
    code = f"""
import sys, json
sys.path.insert(0, {str(ROOT)!r})

def mem():  # /proc: ru_maxrss would carry over the parent's peak across fork+exec
    d = {{}}
    for line in open("/proc/self/status"):
        if line.startswith(("VmRSS", "VmHWM")):
            k, v = line.split(":")
            d[k] = int(v.split()[0]) / 1024
    return d

import torch
torch.set_num_threads({threads})
base = mem()["VmRSS"]
if {engine!r} == "ours":
    from models.generate import Generator
    g = Generator.from_checkpoint({ckpt!r}, quantize={quantize!r})
    loaded = mem()["VmRSS"]
    g.generate(list(range(100, 500)), max_new_tokens=64, stop_at_eos=False)
else:
    import transformers
    from models.quantize import prepare_for_inference
    m = transformers.AutoModelForCausalLM.from_pretrained({hf_dir!r}, dtype=torch.float32).eval()
    m = prepare_for_inference(m, {quantize!r})
    loaded = mem()["VmRSS"]
    x = torch.arange(100, 500)[None]
    m.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=64, min_new_tokens=64, do_sample=False, pad_token_id=0)
m2 = mem()
print(json.dumps({{"rss_after_import_mib": round(base), "rss_loaded_mib": round(loaded - base),
                  "peak_rss_mib": round(m2["VmHWM"]), "model_mib": round(m2["VmHWM"] - base)}}))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": r.stderr[-300:]}


# engine name -> (label, which implementation, weight format)
ENGINES = {
    "ours": ("tutor-gpt Generator, float32", "ours", "none"),
    "transformers": ("transformers generate(), float32", "hf", "none"),
    "ours_int8": ("tutor-gpt Generator, int8 weights", "ours", "int8"),
    "transformers_int8": ("transformers generate(), same int8 weights", "hf", "int8"),
}


def bench_generation(a, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    import transformers

    from models.checkpoint import load_checkpoint
    from models.export import export_hf
    from models.generate import Generator
    from models.quantize import prepare_for_inference

    model, tok = load_checkpoint(a.checkpoint)
    prompt = build_prompt(tok, a.prompt_tokens)
    hf_dir = tempfile.mkdtemp(prefix="tutor-gpt-hf-")
    export_hf(model, tok, hf_dir)
    hf = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
    suppress = [0] + list(range(tok.vocab_size, model.config.vocab_size))
    names = [n for n in ENGINES if a.quantize == "both" or ENGINES[n][2] == a.quantize]
    impl = {}
    for n in names:
        _, kind, q = ENGINES[n]
        impl[n] = Generator(prepare_for_inference(model, q), tok) if kind == "ours" else prepare_for_inference(hf, q)

    res = {n: [] for n in names}
    ids = {}
    for r in range(a.repeats + 1):  # round 0 is a warm-up; engines alternate within every round
        for n in names:
            if ENGINES[n][1] == "ours":
                f, t, out = run_ours(impl[n], prompt, a.new_tokens)
            else:
                f, t, out = run_hf(impl[n], prompt, a.new_tokens, suppress)
            ids.setdefault(n, out)
            if r > 0:
                res[n].append((f, t))
    same = {q: ids[f"ours{s}"] == ids[f"transformers{s}"]
            for q, s in (("none", ""), ("int8", "_int8")) if f"ours{s}" in ids}
    out = {"checkpoint": str(a.checkpoint), "params": model.num_params(), "prompt_tokens": len(prompt),
           "new_tokens": a.new_tokens, "threads": threads, "repeats": a.repeats, "same_tokens": same,
           "torch": torch.__version__, "transformers": transformers.__version__, "engines": {}}
    for name, runs in res.items():
        ttft = statistics.median(f for f, _ in runs)
        total = statistics.median(t for _, t in runs)
        decode = statistics.median((a.new_tokens - 1) / (t - f) for f, t in runs)
        out["engines"][name] = {"ttft_ms": round(1000 * ttft, 1), "decode_tok_s": round(decode, 1),
                                "end_to_end_tok_s": round(a.new_tokens / total, 1), "total_s": round(total, 3)}
    e = out["engines"]
    ref = e["transformers"] if "transformers" in e else e["transformers_int8"]
    out["speedup_decode"] = {n: round(v["decode_tok_s"] / ref["decode_tok_s"], 2) for n, v in e.items()}
    out["speedup_ttft"] = {n: round(ref["ttft_ms"] / v["ttft_ms"], 2) for n, v in e.items()}
    if not a.no_memory:
        for n in names:
            _, kind, q = ENGINES[n]
            e[n].update(peak_rss("ours" if kind == "ours" else "hf", str(a.checkpoint), hf_dir, threads, q))
    return out


def gen_table(r: dict) -> str:
    same = ", ".join(f"{q}: {v}" for q, v in r["same_tokens"].items())
    ref = "transformers generate(), float32" if "transformers" in r["engines"] else "transformers int8"
    lines = [f"CPU generation: {r['params'] / 1e6:.1f}M-param model, {r['prompt_tokens']}-token prompt, "
             f"{r['new_tokens']} greedy tokens, {r['threads']} threads, median of {r['repeats']} "
             f"(same tokens from ours and transformers — {same})", "",
             f"| engine | time to first token | decode tokens/s | decode vs {ref} | end-to-end tokens/s | "
             "RSS of the loaded model | peak RSS (generating) | peak over `import torch` |",
             "|---|---|---|---|---|---|---|---|"]
    for name, e in r["engines"].items():
        lines.append(f"| {ENGINES[name][0]} | {e['ttft_ms']} ms | {e['decode_tok_s']} | x{r['speedup_decode'][name]} | "
                     f"{e['end_to_end_tok_s']} | {e.get('rss_loaded_mib', '-')} MiB | {e.get('peak_rss_mib', '-')} MiB | "
                     f"{e.get('model_mib', '-')} MiB |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=str(ROOT / "models" / "checkpoints" / "base"))
    ap.add_argument("--prompt-tokens", type=int, default=400)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--threads", default="1,2", help="comma-separated CPU thread counts to test")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--quantize", choices=["none", "int8", "both"], default="both",
                    help="weight formats to compare (int8: models/quantize.py, applied to both engines)")
    ap.add_argument("--train", action="store_true", help="also run bench/bench_train_gpu.py (CUDA only)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    results = []
    for n in [int(t) for t in a.threads.split(",")]:
        r = bench_generation(a, n)
        results.append(r)
        print(gen_table(r) + "\n", flush=True)
    for name in results[0]["engines"]:
        best = max(r["engines"][name]["decode_tok_s"] for r in results)
        print(f"best decode tokens/s over thread counts, {ENGINES[name][0]}: {best}")
    if a.train:
        import torch

        if torch.cuda.is_available():
            sys.path.insert(0, str(Path(__file__).parent))
            import bench_train_gpu

            bench_train_gpu.main([])
        else:
            print("\n(training benchmark skipped: no CUDA GPU)")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
