"""The routes reach each service through its own typed ``AppKey`` (controller/api/keys.py),
never the daemon's ``Controller`` as a whole."""

from __future__ import annotations

import ast
from pathlib import Path

from aiohttp import web

from config.site import Site
from controller.api import build_app, keys
from controller.daemon import Controller, ControllerConfig
from devices.mqtt import BrokerAddress

API = Path(keys.__file__).parent
#: The one place that knows the daemon: it sets every key from it.
BUILDER = API / "app.py"


def _trees() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(API.glob("*.py"))}


def _daemon_imports(tree: ast.Module) -> list[str]:
    return [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("daemon")
        for alias in node.names
    ]


def test_no_route_module_imports_the_controller() -> None:
    found = {
        str(path.relative_to(API)): names
        for path, tree in _trees().items()
        if path != BUILDER and (names := [n for n in _daemon_imports(tree) if n == "Controller"])
    }
    assert found == {}, "reach a service through controller/api/keys.py instead"


def test_only_build_app_sees_the_controller() -> None:
    tree = _trees()[BUILDER]
    users = {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(n, ast.Name) and n.id == "controller" for n in ast.walk(node))
    }
    assert users == {"build_app"}


def test_no_route_asks_for_a_key_by_string_or_a_whole_controller() -> None:
    """``request.app["..."]`` or a ``controller``/``ctl`` name in a route module would
    bring the one-object-reached-everywhere back."""
    offences = []
    for path, tree in _trees().items():
        if path == BUILDER:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "app"
                and isinstance(node.slice, ast.Constant)
            ):
                offences.append(f"{path.name}:{node.lineno} app[{node.slice.value!r}]")
            if isinstance(node, ast.Name) and node.id in ("ctl", "controller", "controller_of"):
                offences.append(f"{path.name}:{node.lineno} {node.id}")
    assert offences == []


def test_build_app_sets_every_service_key(example_site: Site) -> None:
    config = ControllerConfig(
        broker=BrokerAddress.parse("mqtt://127.0.0.1:1"),
        site=example_site,
        credentials=None,
        db_url="sqlite:///:memory:",
    )
    controller = Controller(config)
    app = build_app(controller)
    declared = {v for v in vars(keys).values() if isinstance(v, web.AppKey)}
    assert len(declared) >= 17
    missing = sorted(repr(k) for k in declared if k not in app)
    assert missing == []
    assert app[keys.STORE] is controller.store
    assert app[keys.TWINS] is controller.twins
    assert app[keys.CLOCK] is controller.clock
