"""`tutor demo …`: the live demos from a terminal — a readable table for a person, `--json` for scripts.

    tutor demo attention --q '[[1,0],[0,1]]' --k '[[1,0],[0,1]]' --v '[[1,2],[3,4]]' [--causal] [--heads H] [--json] [--png out.png]
    tutor demo attention --text "我爱自然语言处理" --heads 2
    tutor demo ngram --n 2 --smoothing kn --sentence "注意力机制" --compare "机制注意力"
    tutor demo mask --kind causal --size 5
    tutor demo mask --kind mlm --text "注意力机制是 Transformer 的核心" --seed 1
    tutor demo mask --kind mlm --stats
    tutor demo code softmax

Bad input prints one line `错误 / error: …` to stderr and exits with code 2. In JSON, ±inf are the
strings "-inf"/"inf".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from tutor.tools.errors import DemoInputError

demo_app = typer.Typer(
    name="demo",
    help="课堂演示：注意力、n-gram 打分、掩码 / live demos: attention, n-gram scoring, masking.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"错误 / error: {message}", err=True)
    raise typer.Exit(code)


def _emit(result: Any, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        typer.echo(result.to_table())


def _json_arg(value: Optional[str], name: str) -> Any:
    """A JSON argument that may also be loose text (then parsed by tutor.tools.parsing)."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value  # e.g. "[1 0; 0 1]" or full-width brackets: the matrix parser handles it


@demo_app.command("attention")
def attention_cmd(
    q: Optional[str] = typer.Option(None, "--q", help="Q，如 '[[1,0],[0,1]]' / query matrix (JSON or loose text)"),
    k: Optional[str] = typer.Option(None, "--k", help="K（默认 = Q） / key matrix (default: Q)"),
    v: Optional[str] = typer.Option(None, "--v", help="V（默认 = K） / value matrix (default: K)"),
    text: Optional[str] = typer.Option(None, "--text", help="从句子构造 Q/K/V / build toy Q/K/V from a sentence"),
    query: Optional[str] = typer.Option(None, "--query", help="一句随意写的描述，如 'Q=[[1,0],[0,1]]，K=Q，V=[[1,2],[3,4]]，因果' / loose text"),
    causal: bool = typer.Option(False, "--causal", help="因果掩码 / causal (look-ahead) mask"),
    heads: int = typer.Option(1, "--heads", help="头数（>1 为多头，须整除 d_model） / number of heads"),
    padding_mask: Optional[str] = typer.Option(None, "--padding-mask", help="每个 key 一个 0/1，如 '[1,1,0]'（0=填充） / key padding mask"),
    proj: str = typer.Option("seeded", "--proj", help="多头投影：seeded 或 identity / multi-head projections"),
    proj_weights: Optional[str] = typer.Option(None, "--proj-weights", help='给定投影矩阵 JSON {"w_q":…,"w_k":…,"w_v":…,"w_o":…}'),
    seed: int = typer.Option(0, "--seed", help="随机种子 / seed for projections and embeddings"),
    d_model: int = typer.Option(8, "--d-model", help="句子模式的向量维度 / embedding size in sentence mode"),
    tokenization: str = typer.Option("auto", "--tokenization", help="句子模式分词 auto|whitespace|jieba|char"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON / print JSON"),
    png: Optional[Path] = typer.Option(None, "--png", help="把热力图存为 PNG / save the heatmap to this PNG file"),
) -> None:
    """注意力演示 / scaled dot-product and multi-head attention, step by step."""
    from tutor.tools import attention as att
    from tutor.tools.parsing import parse_attention_query

    try:
        args: dict[str, Any] = parse_attention_query(query) if query else {}
        qq = _json_arg(q, "Q") if q is not None else args.get("q")
        kk = _json_arg(k, "K") if k is not None else args.get("k")
        vv = _json_arg(v, "V") if v is not None else args.get("v")
        sentence = text if text is not None else args.get("text")
        is_causal = causal or bool(args.get("causal", False))
        h = heads if heads != 1 else args.get("heads", 1)
        pm = _json_arg(padding_mask, "padding") if padding_mask is not None else args.get("padding_mask")
        sd = seed if seed != 0 else args.get("seed", 0)
        if qq is None and kk is None and vv is None:
            if not sentence:
                raise DemoInputError(
                    "请给出 --q/--k/--v 矩阵，或用 --text 给一个句子",
                    "give matrices with --q/--k/--v, or a sentence with --text",
                )
            result = att.attention_from_text(
                sentence, heads=h, d_model=args.get("d_model", d_model), causal=is_causal, seed=sd, tokenization=tokenization
            )
        else:
            if qq is None:
                raise DemoInputError("缺少 Q 矩阵（--q）", "the Q matrix (--q) is missing")
            projections: Any = None
            if proj_weights is not None:
                projections = _json_arg(proj_weights, "weights")
                if not isinstance(projections, dict):
                    raise DemoInputError('--proj-weights 应是 JSON 对象，如 {"w_q": [[...]], ...}', '--proj-weights must be a JSON object such as {"w_q": [[...]], ...}')
            elif h != 1 or proj != "seeded" or args.get("projections"):
                projections = args.get("projections", proj)
            result = att.attention(qq, kk, vv, heads=h, causal=is_causal, padding_mask=pm, projections=projections, seed=sd)
        if png is not None:
            try:
                result.png(png)
            except OSError as exc:
                raise DemoInputError(f"无法写入 PNG 文件 {png}：{exc.strerror}", f"cannot write PNG file {png}: {exc.strerror}") from None
    except DemoInputError as exc:
        _fail(exc.message)
        return
    _emit(result, as_json)
    if png is not None and not as_json:
        typer.echo(f"\n热力图已保存 / heatmap saved: {png}")


@demo_app.command("ngram")
def ngram_cmd(
    n: int = typer.Option(2, "--n", help="阶数 n ≥ 1（1 unigram, 2 bigram, 3 trigram…） / order"),
    smoothing: str = typer.Option("mle", "--smoothing", help="mle | addk | kn（laplace = addk with k=1）"),
    k: Optional[float] = typer.Option(None, "--k", help="add-k 的 k（默认 1 = Laplace）"),
    discount: float = typer.Option(0.75, "--discount", help="Kneser-Ney 折扣 d / discount"),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="训练语料文件或文件夹（默认课程笔记） / training corpus file or folder"),
    text: Optional[str] = typer.Option(None, "--text", help="直接给训练文本 / training text"),
    sentence: Optional[str] = typer.Option(None, "--sentence", help="要打分的句子 / the sentence to score"),
    compare: Optional[str] = typer.Option(None, "--compare", help="与另一句比较 / a second sentence to compare with"),
    tokenization: str = typer.Option("auto", "--tokenization", help="auto | whitespace | jieba | char"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON / print JSON"),
) -> None:
    """n-gram 语言模型打分 / score a sentence with an n-gram language model."""
    from tutor.tools import ngram as ng

    try:
        if sentence is None or not sentence.strip():
            raise DemoInputError("请用 --sentence 给出要打分的句子", "give the sentence to score with --sentence")
        kw = dict(n=n, smoothing=smoothing, k=k, discount=discount, corpus_text=text, corpus_path=corpus, tokenization=tokenization)
        result: Any = ng.compare_sentences(sentence, compare, **kw) if compare is not None else ng.score_sentence(sentence, **kw)
    except DemoInputError as exc:
        _fail(exc.message)
        return
    _emit(result, as_json)


@demo_app.command("mask")
def mask_cmd(
    kind: str = typer.Option("causal", "--kind", help="causal | padding | combined | mlm"),
    size: Optional[int] = typer.Option(None, "--size", help="因果掩码长度 n / causal mask size (or padded length)"),
    lengths: Optional[str] = typer.Option(None, "--lengths", help="一批序列的长度，如 '[3,5,2]' / lengths for padding masks"),
    text: Optional[str] = typer.Option(None, "--text", help="MLM 的句子（或统计模式的长文本） / text for mlm"),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="统计模式的文本文件 / text file for --stats"),
    seed: int = typer.Option(0, "--seed", help="随机种子 / seed"),
    rate: float = typer.Option(0.15, "--rate", help="选中比例 / share of tokens to predict (BERT: 0.15)"),
    selection: str = typer.Option("exact", "--selection", help="exact（BERT 原版）| bernoulli（逐词独立）"),
    tokenization: str = typer.Option("auto", "--tokenization", help="auto | whitespace | char | jieba"),
    stats: bool = typer.Option(False, "--stats", help="统计模式：在长文本上统计实际比例 / realised rates over a long text"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON / print JSON"),
) -> None:
    """掩码演示 / causal and padding masks, BERT masked-LM corruption."""
    from tutor.tools import masking as mk
    from tutor.tools.ngram import read_corpus_path

    try:
        kd = kind.strip().lower()
        if kd in ("causal", "look-ahead", "lookahead"):
            if size is None:
                raise DemoInputError("因果掩码需要 --size N", "a causal mask needs --size N")
            result: Any = mk.causal_mask(size)
        elif kd in ("padding", "pad"):
            result = mk.padding_mask(_json_arg(lengths, "lengths"), size)
        elif kd in ("combined", "causal+padding", "both"):
            result = mk.combined_mask(_json_arg(lengths, "lengths"), size)
        elif kd in ("mlm", "bert"):
            if stats:
                body = text
                source = None
                if corpus is not None:
                    body = read_corpus_path(corpus)
                    source = f"文件 file {corpus.name}"
                result = mk.mlm_statistics(body, rate=rate, seed=seed, selection=selection, tokenization=tokenization, source=source)
            else:
                if text is None:
                    raise DemoInputError("MLM 演示需要 --text 句子（或加 --stats 做统计）", "the mlm demo needs --text (or --stats for statistics)")
                result = mk.mlm_corrupt(text, rate=rate, seed=seed, selection=selection, tokenization=tokenization)
        else:
            raise DemoInputError(f"未知的掩码类型 “{kind}”；可选 causal、padding、combined、mlm", f"unknown mask kind {kind!r}; expected causal, padding, combined or mlm")
    except DemoInputError as exc:
        _fail(exc.message)
        return
    _emit(result, as_json)


@demo_app.command("code")
def code_cmd(
    topic: str = typer.Argument(..., help="主题，如 softmax、attention、causal、mlm、bigram / the topic, e.g. softmax, attention, causal, mlm, bigram"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON / print JSON"),
) -> None:
    """助教自己的实现代码 / the tutor's own code for a topic (the source its demos and GPT run)."""
    from tutor.tools.code import code_listing, find_snippet

    try:
        snippet = find_snippet(topic)
    except DemoInputError as exc:
        _fail(exc.message)
        return
    listing = code_listing(snippet)
    if as_json:
        sys.stdout.write(json.dumps({"topic": snippet.key, "functions": [f"{p} › {n}" for p, n in snippet.functions], "code": listing},
                                    ensure_ascii=False, indent=2) + "\n")
    else:
        typer.echo(listing)


if __name__ == "__main__":
    demo_app()
