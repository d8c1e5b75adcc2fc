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
    from tutor.evaluation.cli import eval_command
    from tutor.tools.cli import demo_app

    app.add_typer(demo_app, name="demo", help="Live demos: attention, n-gram scoring, masking. 现场演示。")
    app.command(name="eval", help="Score the tutor on a JSONL question set. 批量评测助教的回答。")(eval_command)


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
    for line in report.warnings:
        typer.secho(f"注意 / warning: {line}", err=True, fg=typer.colors.YELLOW)
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


def _tutor(engine: str = "agent"):
    from kb.embedder import EmbedderError
    from kb.store import StoreError
    from tutor.api import Tutor

    try:
        t = Tutor(engine=engine)
        if len(t.retriever) == 0:
            from kb.ingest import ingest as run_ingest

            typer.secho("知识库为空，正在导入课程笔记… / index empty: ingesting the course notes…", err=True)
            run_ingest(None, t.settings)
        return t
    except (EmbedderError, StoreError) as e:
        fail(str(e))


def _open_conversation(engine: str, session_id: str | None, tutor=None):
    """(tutor, session id): the conversation `session_id` with the turns saved on disk, or a new one."""
    from tutor.session_files import SessionFileError, check_session_id, load_session

    try:
        if session_id is not None:
            check_session_id(session_id)
        tutor = tutor or _tutor(engine)
        return tutor, load_session(tutor.sessions, tutor.settings.data_dir, session_id or tutor.sessions.get(None).id).id
    except SessionFileError as e:
        fail(str(e))


def _save_conversation(tutor, session_id: str) -> None:
    from tutor.session_files import save_session

    try:
        save_session(tutor.sessions.get(session_id), tutor.settings.data_dir)
    except OSError as e:
        typer.secho(f"警告 / warning: the conversation was not saved, so `--session {session_id}` will not know this turn ({e})", err=True)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question. 问题。")],
    session: Annotated[Optional[str], typer.Option("--session", help="Continue this conversation (kept on disk between runs; the id is printed after each answer). 会话 ID：接着这个对话问。")] = None,
    engine: Annotated[str, typer.Option("--engine", help="agent | extractive")] = "agent",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Ask the tutor one question. 向助教提一个问题。"""
    if engine not in ("agent", "extractive"):
        fail(f"unknown engine '{engine}'; expected agent or extractive")
    from tutor.api import MAX_QUESTION_CHARS

    if not question.strip():
        fail("empty question; expected some text, e.g. tutor ask \"什么是自注意力？\"")
    if len(question) > MAX_QUESTION_CHARS:
        fail(f"question too long ({len(question)} characters; the limit is {MAX_QUESTION_CHARS})")
    tutor, session = _open_conversation(engine, session)
    result = tutor.ask(question, session_id=session)
    _save_conversation(tutor, session)
    if as_json:
        print_json(result.to_dict())
        return
    for st in result.steps:
        if st.tool:
            typer.secho(f"· {st.thought} → {st.tool}({st.tool_input})", fg=typer.colors.BRIGHT_BLACK)
    typer.echo(result.answer)
    typer.secho(f"[{'model' if result.model_driven else 'fallback'} · {result.latency_ms:.0f} ms · session {result.session_id}]", fg=typer.colors.BRIGHT_BLACK)


@app.command()
def chat(
    engine: Annotated[str, typer.Option("--engine", help="agent | extractive")] = "agent",
    saved: Annotated[Optional[str], typer.Option("--session", help="Continue, and keep on disk, the conversation of `tutor ask --session ID`. 接着这个已保存的对话。")] = None,
) -> None:
    """A conversation in the terminal, answers streamed. 终端对话（流式输出）。Ctrl-D to quit."""
    tutor, session = _open_conversation(engine, saved)
    saved = session if saved else None
    typer.echo("课程助教已就绪，输入问题（Ctrl-D 退出，/new 开始新对话）。 / Ready — ask away (Ctrl-D quits, /new starts over).")
    while True:
        try:
            line = input("你 / you> ")
        except (EOFError, KeyboardInterrupt):
            typer.echo("")
            return
        if not line.strip():
            continue
        if line.strip() == "/new":
            session, saved = tutor.sessions.get(None).id, None  # a new conversation, not kept on disk
            typer.echo("（新对话 / new conversation）")
            continue
        if saved:  # from disk again: an idle hour expires it from memory, and `tutor ask` may have added turns
            _open_conversation(engine, saved, tutor)
        printed = False
        for ev in tutor.stream(line, session_id=session):
            if ev.type == "step" and ev.data.get("tool"):
                typer.secho(f"  · {ev.data.get('thought', '')} → {ev.data['tool']}", fg=typer.colors.BRIGHT_BLACK)
            elif ev.type == "token":
                if not printed:
                    typer.echo("助教 / tutor> ", nl=False)
                    printed = True
                typer.echo(ev.data["text"], nl=False)
            elif ev.type == "final":
                typer.echo("")
        if saved:
            _save_conversation(tutor, saved)


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 7860,
) -> None:
    """Serve the chat UI, the HTTP API and the widget. 启动网页聊天、HTTP API 和小部件。"""
    from ui.serve import serve as run_server

    run_server(host=host, port=port)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False)
def train(ctx: typer.Context) -> None:
    """Train the tutor's GPT (same options as python -m models.train; --help for them). 训练助教模型。"""
    from models.train import main as train_main

    raise typer.Exit(train_main(list(ctx.args)))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
