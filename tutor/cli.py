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


@app.command()
def version() -> None:
    """Print the tutor's version."""
    from tutor import __version__

    typer.echo(__version__)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
