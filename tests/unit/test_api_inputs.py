"""One body parser and one query parser for every route (controller/api/bodies.py,
controller/api/queries.py), and models that refuse what they do not know."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from pydantic import BaseModel

from controller.api import bodies, queries
from controller.api.errors import field_path

API = Path(bodies.__file__).parent
#: The only modules that may read a request's body as JSON or its query string.
PARSERS = {"bodies.py": "body", "queries.py": "query"}
#: Bodies that are not parsed: a firmware image (streamed and hashed); the edges time
#: the body's arrival (api/edges.py).
RAW_BODY_READERS = {"routes_firmware.py", "edges.py"}
BODY_READS = {"read", "json", "text", "post"}


def _route_modules() -> dict[str, ast.Module]:
    return {
        p.name: ast.parse(p.read_text(encoding="utf-8"))
        for p in sorted(API.glob("*.py"))
        if p.name not in PARSERS
    }


def _is_request(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "request"


def test_no_route_reads_the_query_string_itself() -> None:
    found = [
        f"{name}:{node.lineno}"
        for name, tree in _route_modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in ("query", "rel_url", "query_string")
        and _is_request(node.value)
    ]
    assert found == [], "read the query with read_query(request, Model) (api/queries.py)"


def test_no_route_parses_a_body_itself() -> None:
    found = []
    for name, tree in _route_modules().items():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "content"
                and _is_request(node.value)
                and name not in RAW_BODY_READERS
            ):
                found.append(f"{name}:{node.lineno} request.content")
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            func = node.func
            if func.attr in BODY_READS and _is_request(func.value):
                found.append(f"{name}:{node.lineno} request.{func.attr}()")
            if func.attr in ("model_validate", "model_validate_json"):
                found.append(f"{name}:{node.lineno} {func.attr}")
    assert found == [], "read the body with read_body(request, Model) (api/bodies.py)"


def _models_read() -> dict[str, type[BaseModel]]:
    """Every model handed to read_body / read_query in the route modules."""
    import importlib

    found: dict[str, type[BaseModel]] = {}
    for name, tree in _route_modules().items():
        module = importlib.import_module(f"controller.api.{name.removesuffix('.py')}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("read_body", "read_query")
                and len(node.args) == 2
            ):
                arg = node.args[1]
                if isinstance(arg, ast.Name):
                    found[f"{name}:{arg.id}"] = getattr(module, arg.id)
                elif isinstance(arg, ast.Subscript) and isinstance(arg.value, ast.Name):
                    for model in getattr(module, arg.value.id).values():  # BODIES[action]
                        found[f"{name}:{model.__name__}"] = model
    return found


MODELS = _models_read()


def test_the_routes_models_are_found() -> None:
    assert len(MODELS) >= 25, sorted(MODELS)


@pytest.mark.parametrize("where", sorted(MODELS))
def test_every_model_refuses_unknown_fields(where: str) -> None:
    """``extra="forbid"``: a misspelt field is an error, not silently ignored. The one
    exception hands its extras to a parser that forbids them (the scheduler's)."""
    model = MODELS[where]
    extra = model.model_config.get("extra")
    if where.endswith(":ScheduleBody"):
        assert extra == "allow"
        assert "parse_schedule" in inspect.getsource(inspect.getmodule(model))  # type: ignore[arg-type]
        return
    assert extra == "forbid", where


def test_query_models_are_queries() -> None:
    """Query models share the base (unknown parameters refused, frozen)."""
    for where, model in MODELS.items():
        if model.__name__.endswith("Query"):
            assert issubclass(model, queries.Query), where


def test_field_paths_read_like_the_schedulers() -> None:
    assert field_path(("windows", 0)) == "windows[0]"
    assert field_path(("then", "action")) == "then.action"
    assert field_path(("rule", "times", 2, "at")) == "rule.times[2].at"
    assert field_path(()) == ""
