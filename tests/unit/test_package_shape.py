"""The shape docs/architecture.md draws: the daemon's core never imports the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

CONTROLLER = Path(__file__).resolve().parents[2] / "controller"


def _imports(path: Path) -> set[str]:
    """Absolute module names ``path`` imports (relative imports resolved)."""
    package = path.relative_to(CONTROLLER.parent).with_suffix("").parts[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_the_core_does_not_import_the_cli() -> None:
    offenders = {
        str(path.relative_to(CONTROLLER.parent)): sorted(
            name for name in _imports(path) if name.startswith("controller.cli")
        )
        for path in CONTROLLER.rglob("*.py")
        if "cli" not in path.relative_to(CONTROLLER).parts[:1] and path.name != "__main__.py"
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_no_module_is_left_at_its_old_place() -> None:
    """The CLI and the operations live in their packages, not as ``cli_*.py`` beside the core."""
    assert sorted(p.name for p in CONTROLLER.glob("cli_*.py")) == []
    assert (CONTROLLER / "cli" / "app.py").is_file()
    assert (CONTROLLER / "ops" / "health.py").is_file()
