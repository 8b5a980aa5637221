"""The scheduler owns its ports: it does not import the store nor the event bus.

``controller.store`` implements :class:`scheduler.ports.ScheduleStore` and imports it
from there; the event bus is reached through :class:`scheduler.ports.FiringSink` and
:class:`scheduler.ports.CommandFeed`. Only the rights of a schedule's owner are asked
of ``controller.auth.acting_for`` (and its ``Principal``), which import no scheduler
module that imports them back.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from controller.store import StoreError
from scheduler.ports import ScheduleStoreError

SCHEDULER = Path(__file__).resolve().parents[2] / "scheduler"
#: the only controller modules the scheduler may import
ALLOWED = {"controller.auth.acting_for", "controller.auth.principal"}


def imported_modules(path: Path) -> set[str]:
    """Every absolute module ``path`` imports, TYPE_CHECKING blocks included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def controller_imports() -> dict[str, set[str]]:
    out = {}
    for path in sorted(SCHEDULER.glob("*.py")):
        mods = {
            m for m in imported_modules(path) if m == "controller" or m.startswith("controller.")
        }
        if mods:
            out[path.name] = mods
    return out


def test_the_walk_sees_imports_in_every_form(tmp_path: Path) -> None:
    """The check below would see a forbidden import written any way."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "import controller.store\n"
        "from controller import event_bus\n"
        "if TYPE_CHECKING:\n"
        "    from controller.store.repository import StoreError\n"
        "from . import ports\n"
    )
    path = tmp_path / "probe.py"
    path.write_text(source)
    found = imported_modules(path)
    assert {"controller.store", "controller.event_bus", "controller.store.repository"} <= found


def test_scheduler_imports_neither_the_store_nor_the_bus() -> None:
    imports = controller_imports()
    forbidden = {
        name: sorted(m for m in mods if m not in ALLOWED and not _allowed_name(m))
        for name, mods in imports.items()
    }
    assert {k: v for k, v in forbidden.items() if v} == {}


def _allowed_name(module: str) -> bool:
    """``from controller.auth.acting_for import refusal`` lists ``...acting_for.refusal``."""
    return any(module.startswith(f"{allowed}.") for allowed in ALLOWED)


def test_the_ports_load_no_controller_module() -> None:
    """``scheduler.ports`` is a leaf: the store imports it without importing itself back."""
    code = (
        "import sys, scheduler.ports\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'controller'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=SCHEDULER.parent,
    )
    assert out.stdout.strip() == "[]"


def test_the_stores_error_is_the_one_the_scheduler_catches() -> None:
    assert issubclass(StoreError, ScheduleStoreError)
