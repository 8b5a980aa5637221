"""How every ``tryggbo`` command writes: results on stdout, messages on stderr, and
``error: MESSAGE`` on one line before it exits with an :class:`ExitCode`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from controller.cli.exit_codes import ExitCode

err = Console(stderr=True)
out = Console()

JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable JSON on stdout")]


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> typer.Exit:
    """Print ``error: message`` on stderr (one line, taken as plain text, never as
    markup); the caller raises the returned Exit."""
    err.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    return typer.Exit(code)


def warn(message: str) -> None:
    """Print ``warning: message`` on stderr (one line, plain text)."""
    err.print(Text.assemble(("warning:", "yellow"), " ", message), soft_wrap=True)


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (only JSON: messages go to stderr)."""
    print(json.dumps(data, indent=2, ensure_ascii=False))
