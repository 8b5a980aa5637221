"""How every ``tryggbo`` command writes: results on stdout, messages on stderr, and
``error: MESSAGE`` on one line before it exits with an :class:`ExitCode`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from controller.cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from rich.console import Console


class _FirstUse:
    """A rich ``Console`` made at its first use: rich (~2 MB) is not loaded by a
    command that prints nothing through it (``tryggbo serve``; issue 18)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


err = cast("Console", _FirstUse(stderr=True))
out = cast("Console", _FirstUse())

JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable JSON on stdout")]


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> typer.Exit:
    """Print ``error: message`` on stderr (one line, taken as plain text, never as
    markup); the caller raises the returned Exit."""
    from rich.text import Text

    err.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    return typer.Exit(code)


def warn(message: str) -> None:
    """Print ``warning: message`` on stderr (one line, plain text)."""
    from rich.text import Text

    err.print(Text.assemble(("warning:", "yellow"), " ", message), soft_wrap=True)


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (only JSON: messages go to stderr)."""
    print(json.dumps(data, indent=2, ensure_ascii=False))
