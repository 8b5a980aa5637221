"""``tryggbo users`` and ``tryggbo token create --user`` through typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config.site import EXAMPLE_SITE
from controller.cli.app import app

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.sqlite'}"


def run(db: str, *args: str, input: str | None = None):
    return runner.invoke(app, [*args], input=input, env={"TRYGGBO_DB": db})


def test_add_list_disable(db: str) -> None:
    added = run(
        db,
        "users", "add", "Anna", "--role", "staff", "--unit", "A", "--unit", "B",
        "--display-name", "Anna Svensson", "--password-stdin",
        input="ett bra lösenord\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    prompted = run(
        db, "users", "add", "rut", "--role", "relative", "--apartment", "101",
        "--language", "en", input="mormors nyckel 8\nmormors nyckel 8\n",
    )  # fmt: skip
    assert prompted.exit_code == 0, prompted.output
    listed = run(db, "users", "list", "--json")
    assert listed.exit_code == 0, listed.output
    users = {u["username"]: u for u in json.loads(listed.stdout)}
    assert users["anna"]["units"] == ["A", "B"]
    assert users["anna"]["display_name"] == "Anna Svensson"
    assert (users["rut"]["apartments"], users["rut"]["language"]) == (["101"], "en")
    assert "password_hash" not in users["anna"]
    assert run(db, "users", "disable", "anna").exit_code == 0
    users = {u["username"]: u for u in json.loads(run(db, "users", "list", "--json").stdout)}
    assert users["anna"]["disabled"] is True
    table = run(db, "users", "list")
    assert "anna" in table.stdout
    assert "disabled" in table.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "problem"),
    [
        (["users", "add", "anna", "--role", "staff", "--unit", "A", "--password-stdin"],
         "kort\n", "at least 10"),
        (["users", "add", "anna", "--role", "chef", "--password-stdin"], "x", "roles"),
        (["users", "add", "anna", "--role", "staff", "--password-stdin"], "x", "units"),
        (["users", "add", "9anna", "--role", "admin", "--password-stdin"], "x", "username"),
        (["users", "disable", "ingen"], None, "no user"),
        (["users", "passwd", "ingen", "--password-stdin"], "ett bra lösenord\n", "no user"),
        (["token", "create", "--user", "ingen"], None, "no user"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_a_clear_message(
    db: str, args: list[str], stdin: str | None, problem: str
) -> None:
    result = run(db, *args, input=stdin)
    assert result.exit_code == 2
    assert problem in result.output, result.output


@pytest.mark.parametrize("password", ["1234567890", "password12", "solgarden1", "Sommar2026!"])
def test_weak_passwords_are_refused_with_why_in_english_and_swedish(db: str, password: str) -> None:
    args = ["users", "add", "nils", "--role", "staff", "--unit", "C", "--password-stdin"]
    result = run(db, *args, "--site", str(EXAMPLE_SITE), input=f"{password}\n")
    assert result.exit_code == 2, result.output
    assert "The password" in result.output, result.output
    assert "Lösenordet" in result.output, result.output
    assert "nils" not in run(db, "users", "list").stdout


def test_typed_passwords_must_match(db: str) -> None:
    typed = "ett bra lösenord\nett annat lösen\n"
    result = run(db, "users", "add", "anna", "--role", "admin", input=typed)
    assert result.exit_code != 0
    assert "do not match" in result.output
    assert json.loads(run(db, "users", "list", "--json").stdout) == []


def test_duplicate_user_exits_2(db: str) -> None:
    args = ["users", "add", "tekla", "--role", "technician", "--password-stdin"]
    assert run(db, *args, input="teknik är kul 1\n").exit_code == 0
    again = run(db, *args, input="teknik är kul 1\n")
    assert again.exit_code == 2
    assert "already" in again.output


def test_passwd_and_token_for_a_user(db: str) -> None:
    args = ["users", "add", "nils", "--role", "staff", "--unit", "C", "--password-stdin"]
    assert run(db, *args, input="första lösenordet\n").exit_code == 0
    assert (
        run(db, "users", "passwd", "nils", "--password-stdin", input="ett nytt lösen 3\n").exit_code
        == 0
    )
    token = run(db, "token", "create", "--user", "nils")
    assert token.exit_code == 0, token.output
    assert token.stdout.strip().startswith("tg_")
    tokens = json.loads(run(db, "token", "list", "--json").stdout)
    assert [t["actor"] for t in tokens] == ["nils"]
    assert run(db, "users", "disable", "nils").exit_code == 0
    refused = run(db, "token", "create", "--user", "nils")
    assert refused.exit_code == 2
    assert "disabled" in refused.output
