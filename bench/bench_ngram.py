"""Benchmark: our n-gram scoring vs NLTK's `nltk.lm` on the same corpus and the same sentences.

    .venv/bin/python bench/bench_ngram.py [--detail-sentences 300] [--kn-sentences 20] [--repeat 3]

Both sides get the *same* tokenized, padded sentences (course notes, jieba; n-1 × <s>, one </s>)
so the counts are identical; tokenization time is excluded from both and reported once.

  * MLE: NLTK `MLE(n)` fitted on the order-n n-grams; every probability must be identical (==).
  * Laplace: NLTK `Laplace(n)` with a vocabulary equal to ours (types + </s> + <unk>; NLTK then maps
    <s> to <unk>, which only ever occurs as <s> here), checked on held-in sentences (all words known).
  * Kneser-Ney: NLTK `KneserNeyInterpolated(n, discount=0.75)` on everygrams. Timings only: the two
    are different variants (NLTK's lowest order is the plain continuation distribution, its lower-order
    weights use raw follower counts, and it pads with n-1 × </s>; ours interpolates the lowest order with
    uniform 1/V), so the numbers are not expected to match; the table shows how far apart they are.

Two ways of scoring are timed, each against NLTK's one `lm.score(w, ctx)` call per token:
  * "score whole corpus": every sentence of the notes at once with `NgramModel.batch_probabilities`
    (vectorised lookups), the path that makes corpus-wide scoring interactive;
  * "one sentence at a time": the demo path `NgramModel.score_tokens`, which also builds the
    per-token table (context, counts, note), log-probability and perplexity for the student.
NLTK is a dev/bench dependency only.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tutor.tools.ngram import BOS, EOS, UNK, NgramModel, course_sentences  # noqa: E402


def _padded(tokens, n):
    return [BOS] * (n - 1) + list(tokens) + [EOS]


def _ngrams(tokens, n):
    p = _padded(tokens, n)
    return [tuple(p[i - n + 1 : i + 1]) for i in range(n - 1, len(p))]


def best_of(fn, repeat):
    best, out = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detail-sentences", type=int, default=300, help="held-in sentences for the one-at-a-time demo path")
    ap.add_argument("--kn-sentences", type=int, default=20, help="sentences for the (slow) NLTK Kneser-Ney timing")
    ap.add_argument("--repeat", type=int, default=3, help="best of R runs")
    ap.add_argument("--orders", default="2,3")
    args = ap.parse_args()

    from nltk.lm import MLE, KneserNeyInterpolated, Laplace
    from nltk.lm.vocabulary import Vocabulary
    from nltk.util import everygrams

    t = time.perf_counter()
    corpus = [list(s) for s in course_sentences("jieba")]
    tok_time = time.perf_counter() - t
    rng = random.Random(0)
    held_in = [s for s in corpus if 2 <= len(s) <= 40]
    detail = rng.sample(held_in, min(args.detail_sentences, len(held_in)))
    extra = [["注意力", "机制"], ["机制", "注意力"], ["自", "注意力", "机制", "是", "Transformer", "的", "核心"], ["量子", "咖啡", "注意力"]]
    everything = corpus + extra  # "the whole corpus": every sentence of the notes, plus hand-picked ones
    tokens_all = sum(len(s) + 1 for s in everything)
    print(f"corpus: course notes, {len(corpus)} sentences, {sum(map(len, corpus))} tokens (jieba tokenization {tok_time:.2f} s, excluded)")
    print(f"whole-corpus scoring: {len(everything)} sentences (all {len(corpus)} + {len(extra)} hand-picked), {tokens_all} predicted tokens")
    print(f"demo path (one sentence at a time, full per-token table): {len(detail)} held-in sentences; best of {args.repeat}\n")

    header = (
        f"| {'n':>1} | {'smoothing':<10} | {'what is timed':<27} | {'ours':>10} | {'NLTK':>11} | {'speed-up':>8} | {'numbers':<42} |"
    )
    print(header)
    print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
    ok = True
    for n in [int(x) for x in args.orders.split(",")]:
        ours_train, model = best_of(lambda: NgramModel(corpus, n, tokenization="jieba", source="bench"), args.repeat)

        def fit_mle():
            lm = MLE(n)
            lm.fit([_ngrams(s, n) for s in corpus], [w for s in corpus for w in s] + [BOS, EOS])
            return lm

        nltk_train, lm = best_of(fit_mle, 1)
        print(_row(n, "MLE", "training (counting)", ours_train, nltk_train, ""))
        model.batch_probabilities(everything[:1], "mle")  # compile the lookup arrays once (cached)
        nltk_time, nltk_probs = best_of(lambda: [[lm.score(g[-1], g[:-1]) for g in _ngrams(s, n)] for s in everything], args.repeat)
        ours_time, (probs, offsets) = best_of(lambda: model.batch_probabilities(everything, "mle"), args.repeat)
        ours_lists = [probs[offsets[i] : offsets[i + 1]].tolist() for i in range(len(everything))]
        identical = ours_lists == nltk_probs
        ok &= identical
        print(_row(n, "MLE", "score whole corpus", ours_time, nltk_time, "identical (==) on all tokens" if identical else "DIFFERENT"))
        d_nltk, _ = best_of(lambda: [[lm.score(g[-1], g[:-1]) for g in _ngrams(s, n)] for s in detail], args.repeat)
        d_ours, d_probs = best_of(lambda: [model.score_tokens(s, smoothing="mle").probabilities for s in detail], args.repeat)
        same = d_probs == [[lm.score(g[-1], g[:-1]) for g in _ngrams(s, n)] for s in detail]
        ok &= same
        print(_row(n, "MLE", "one sentence at a time", d_ours, d_nltk, "identical (==)" if same else "DIFFERENT"))

        # ---- Laplace with a matched vocabulary (every word of `corpus` is known)
        def fit_laplace():
            vocab = Vocabulary([w for s in corpus for w in s] + [EOS], unk_cutoff=1, unk_label=UNK)
            lm = Laplace(n, vocabulary=vocab)
            lm.fit([_ngrams(s, n) for s in corpus])
            return lm

        _, lmL = best_of(fit_laplace, 1)
        assert len(lmL.vocab) == model.vocab_size, (len(lmL.vocab), model.vocab_size)
        nltk_time, nltk_L = best_of(lambda: [[lmL.score(g[-1], g[:-1]) for g in _ngrams(s, n)] for s in corpus], args.repeat)
        ours_time, (pl, offl) = best_of(lambda: model.batch_probabilities(corpus, "addk", k=1.0), args.repeat)
        ours_L = [pl[offl[i] : offl[i + 1]].tolist() for i in range(len(corpus))]
        same = ours_L == nltk_L
        ok &= same
        print(_row(n, "Laplace*", "score whole corpus", ours_time, nltk_time, ("identical (==)" if same else "DIFFERENT") + f", V={model.vocab_size}"))

        # ---- Kneser-Ney (timing; different variants)
        kn_sents = detail[: args.kn_sentences]

        def fit_kn():
            lm = KneserNeyInterpolated(n, discount=0.75)
            lm.fit([list(everygrams(_padded(s, n), max_len=n)) for s in corpus], [w for s in corpus for w in s] + [BOS, EOS])
            return lm

        _, lmK = best_of(fit_kn, 1)
        ours_time, ours_K = best_of(lambda: [model.score_tokens(s, smoothing="kn", discount=0.75).probabilities for s in kn_sents], args.repeat)
        nltk_time, nltk_K = best_of(lambda: [[lmK.score(g[-1], g[:-1]) for g in _ngrams(s, n)] for s in kn_sents], 1)
        rel = sorted(abs(a - b) / b for ra, rb in zip(ours_K, nltk_K) for a, b in zip(ra, rb) if b > 0)
        med, worst = (rel[len(rel) // 2], rel[-1]) if rel else (float("nan"), float("nan"))
        print(_row(n, "KN (d=.75)", f"{len(kn_sents)} sentences, one at a time", ours_time, nltk_time, f"differ: median {med:.1e}, max {worst:.1e} rel."))
        ours_time, _ = best_of(lambda: model.batch_probabilities(everything, "kn", discount=0.75), args.repeat)
        print(_row(n, "KN (d=.75)", "score whole corpus (ours)", ours_time, None, "NLTK: too slow to run (see above)"))
    print("\nspeed-up = NLTK time / our time. 'score whole corpus' uses NgramModel.batch_probabilities (vectorised);")
    print("'one sentence at a time' is the demo path NgramModel.score_tokens, which also builds the per-token table.")
    print("* Laplace: NLTK's vocabulary set equal to ours (types + </s> + <unk>); all words known.")
    print("MLE numbers identical and Laplace identical: " + ("YES" if ok else "NO"))
    if not ok:
        sys.exit(1)


def _row(n, name, what, ours, nltk, note):
    nl = f"{nltk * 1000:>8.1f} ms" if nltk is not None else f"{'—':>11}"
    ratio = f"{nltk / ours:>7.1f}×" if nltk is not None else f"{'—':>8}"
    return f"| {n:>1} | {name:<10} | {what:<27} | {ours * 1000:>7.1f} ms | {nl} | {ratio} | {note:<42} |"


if __name__ == "__main__":
    main()
