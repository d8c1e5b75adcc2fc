"""The `tutor` command line: ingest and search the notes, run demos, train the model, ask, serve.

Heavy imports (torch, chromadb, sentence-transformers) happen inside the commands, so `tutor --help`
stays fast. Every command that fails on bad input prints one clear line and exits non-zero.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(
    name="tutor",
    help="课程助教 — LLM course tutor. 大模型课程助教：检索课程笔记、演示注意力/n-gram/掩码、回答问题。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def fail(message: str, code: int = 2) -> None:
    """Print one clear error line to stderr and exit with `code`."""
    typer.secho(f"错误 / error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def _register_subcommands() -> None:
    from tutor.tools.cli import demo_app

    app.add_typer(demo_app, name="demo", help="Live demos: attention, n-gram scoring, masking. 现场演示。")


_register_subcommands()


@app.command()
def version() -> None:
    """Print the tutor's version."""
    from tutor import __version__

    typer.echo(__version__)


@app.command()
def ingest(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Files or folders (.md/.txt). Default: the shipped course notes.")] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Drop the whole index first. 先清空索引。")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
) -> None:
    """Ingest course notes into the knowledge base (idempotent). 导入课程笔记到知识库。"""
    from kb.embedder import EmbedderError
    from kb.ingest import ingest as run_ingest
    from kb.store import StoreError
    from tutor.config import get_settings

    settings = get_settings()
    show_bar = sys.stderr.isatty() and not as_json
    bar = None
    if show_bar:
        from tqdm import tqdm

        bar = tqdm(total=0, desc="embedding chunks", unit="chunk", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        report = run_ingest(paths or None, settings, reset=reset, progress=progress)
    except (EmbedderError, StoreError) as e:
        fail(str(e))
    finally:
        if bar is not None:
            bar.close()
    for line in report.skipped:
        typer.secho(f"跳过 / skipped: {line}", err=True, fg=typer.colors.YELLOW)
    if as_json:
        print_json(report.to_dict())
    else:
        typer.echo(
            f"已导入 / ingested {len(report.files)} file(s): +{report.added} new, -{report.removed} removed, "
            f"{report.unchanged} unchanged; index now holds {report.total} chunks."
        )
    if report.skipped:
        raise typer.Exit(1)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for. 检索内容。")],
    k: Annotated[int, typer.Option("-k", "--top-k", min=1, max=50, help="How many results.")] = 5,
    mode: Annotated[str, typer.Option("--mode", help="hybrid | bm25 | dense")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON results.")] = False,
) -> None:
    """Search the course notes (hybrid BM25 + vectors). 检索课程笔记。"""
    from kb.embedder import EmbedderError
    from kb.retriever import MODES
    from kb.store import StoreError
    from tutor.service import get_retriever

    if not query.strip():
        fail("empty query; expected some words to search for, e.g. tutor search \"BERT 掩码\"")
    if mode not in MODES:
        fail(f"unknown mode '{mode}'; expected one of {', '.join(MODES)}")
    try:
        retriever = get_retriever()
        if len(retriever) == 0:
            fail("the knowledge base is empty; run `tutor ingest` first")
        results = retriever.search(query, k=k, mode=mode)
    except (EmbedderError, StoreError) as e:
        fail(str(e))
    if as_json:
        print_json([r.to_dict() for r in results])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"检索结果 / results for: {query}", show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("来源 / source › heading")
    table.add_column("内容 / text")
    table.add_column("score", justify="right")
    for i, r in enumerate(results, 1):
        snippet = r.text if len(r.text) <= 240 else r.text[:240] + "…"
        table.add_row(str(i), f"{r.source}\n{r.heading}", snippet, f"{r.score:.4f}")
    Console().print(table)
    if not results:
        typer.echo("没有找到相关内容 / no matching notes.")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
