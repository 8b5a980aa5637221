"""The exit codes of every ``tryggbo`` command: defined here and nowhere else.

The app's help text and the table in docs/cli.md are made from :class:`ExitCode`
(a test checks the doc); an HTTP answer of the daemon maps to one through
:func:`for_http_status`.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a ``tryggbo`` command's exit status means."""

    OK = 0
    RUNTIME = 1
    USAGE = 2
    DEVICE = 3
    DENIED = 4
    INTERRUPTED = 130

    @property
    def summary(self) -> str:
        """A few words for ``--help``."""
        return _SUMMARY[self]

    @property
    def meaning(self) -> str:
        """The whole meaning, as docs/cli.md states it."""
        return _MEANING[self]


_SUMMARY = {
    ExitCode.OK: "ok",
    ExitCode.RUNTIME: "runtime failure (unreachable, timeout, server error)",
    ExitCode.USAGE: "bad arguments or request",
    ExitCode.DEVICE: "the device said no",
    ExitCode.DENIED: "not allowed",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}
_MEANING = {
    ExitCode.OK: "ok",
    ExitCode.RUNTIME: (
        "runtime failure: daemon, broker, store or serial port unreachable, a timeout, "
        "a server error (HTTP 5xx), the daemon busy (408, 429), a failed broker check"
    ),
    ExitCode.USAGE: (
        "bad arguments or configuration, here or refused by the daemon (any other HTTP "
        "4xx: bad body, unknown device or schedule, bad action args, a conflict); the "
        "message says which"
    ),
    ExitCode.DEVICE: (
        "the device said no: a command acked `rejected`/`failed` or answered "
        "`timeout`/`offline`; a firmware update failed; `diagnose` found a problem"
    ),
    ExitCode.DENIED: (
        "not allowed: no valid token, or the token's user may not do this (HTTP 401, 403)"
    ),
    ExitCode.INTERRUPTED: "interrupted by Ctrl-C",
}


def for_http_status(status: int) -> ExitCode:
    """The exit code of a command whose API call was answered ``status`` (not a success)."""
    if status in (401, 403):
        return ExitCode.DENIED
    if status in (408, 429) or not 400 <= status < 500:
        return ExitCode.RUNTIME
    return ExitCode.USAGE


def help_text() -> str:
    """One sentence for the CLI's ``--help``: every code and its summary."""
    codes = ", ".join(f"{code.value} {code.summary}" for code in ExitCode)
    return f"Exit codes: {codes} (docs/cli.md)."


def docs_table() -> str:
    """The exit-code table of docs/cli.md (Markdown)."""
    rows = "".join(f"| {code.value} | {code.meaning} |\n" for code in ExitCode)
    return "| code | meaning |\n| --- | --- |\n" + rows
