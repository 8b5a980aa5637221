"""docs/api.md's table of error codes names every code the server answers with: the
pages translate by code (E's tests/unit/test_translations.py), so a code nobody
listed is a code nobody translates."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
API_DOC = ROOT / "docs" / "api.md"
#: Where a code is the n-th argument of a call: the API's errors, and the typed
#: exceptions the routes answer with their code.
CODE_ARGUMENT = {
    "ApiError": 1,
    "error_response": 1,
    "invalid_input": 0,
    "CommandError": 0,
    "AuthFailed": 0,
    "LoginRefused": 0,
    "InvitationRefused": 0,
}
#: Codes aiohttp's own refusals become (the errors middleware: reason in snake case)
#: and the contract's refusals of a command's action and args.
NOT_LITERAL = {"not_found", "method_not_allowed", "request_entity_too_large"}
NOT_LITERAL |= {"unknown_action", "bad_args"}


def raised_codes() -> dict[str, str]:
    """code -> where it is raised first (``path:line``), over controller/."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "controller").rglob("*.py")):
        if "cli" in path.relative_to(ROOT / "controller").parts[:1]:
            continue  # the CLI's errors are exit codes (docs/cli.md)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            index = CODE_ARGUMENT.get(name or "")
            if index is None or len(node.args) <= index:
                continue
            arg = node.args[index]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.setdefault(arg.value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def documented_codes() -> set[str]:
    text = API_DOC.read_text(encoding="utf-8")
    section = text.split("## Bad input and error codes", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if re.match(r"^\| \d", line)]
    return {code for row in rows for code in re.findall(r"`([a-z_]+)`", row.split("|")[2])}


def test_every_code_the_server_raises_is_in_the_table() -> None:
    documented = documented_codes()
    missing = {code: where for code, where in raised_codes().items() if code not in documented}
    assert missing == {}, "add them to docs/api.md, 'Bad input and error codes'"


def test_the_table_names_no_code_that_is_never_raised() -> None:
    stale = documented_codes() - set(raised_codes()) - NOT_LITERAL
    assert stale == set()


def test_the_checks_see_what_they_check() -> None:
    codes = raised_codes()
    assert {"bad_json", "bad_body", "bad_query", "forbidden", "bad_credentials"} <= set(codes)
    assert len(documented_codes()) >= 40
