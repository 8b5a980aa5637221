"""The OpenAPI 3.1 document of the running application, generated from the routes.

Nothing is written twice: for every route of the aiohttp router the generator takes
the path and its parameters from the router, who may call it from the role
declaration (:mod:`controller.api.roles`, as ``x-roles`` and ``security``), the
summary from the handler's docstring, the request body from the pydantic model the
handler reads with ``read_body(request, Model)`` (:mod:`controller.api.bodies`) and
the query parameters from the fields of the model it reads with
``read_query(request, Model)`` (:mod:`controller.api.queries`), both found in the
handler's source and resolved in its module and closure. Handlers whose body model
is not the one documented are listed in :data:`BODY_OVERRIDES`.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from .api.roles import PUBLIC, SIGNED_IN, declared

#: (method, path) -> (body model, fields the server sets) for handlers that read a
#: body model other than the one to document (a schedule: ``ScheduleBody`` refuses
#: ``id``/``owner`` and hands the rest to :func:`scheduler.parse_schedule`); the
#: server-set fields are left out of the documented body.
BODY_OVERRIDES: dict[tuple[str, str], tuple[str, frozenset[str]]] = {
    ("POST", "/api/schedules"): ("scheduler.model:Schedule", frozenset({"id", "owner"})),
    ("PUT", "/api/schedules/{schedule}"): ("scheduler.model:Schedule", frozenset({"id", "owner"})),
}
_PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every failure: a stable code, a message for people, and details.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}


def build_document(app: web.Application, *, version: str = "0.1.0") -> dict[str, Any]:
    """The OpenAPI document of ``app``'s routes under ``/api`` and ``/metrics``."""
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler in _routes(app):
        operation = _operation(method, path, handler, components)
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tryggbo controller API",
            "version": version,
            "description": (
                "Doors, curtains and screens of an elderly home. Sign in with "
                "POST /api/auth/login (cookie + X-CSRF-Token) or send "
                "'Authorization: Bearer <token>' (tryggbo token create). "
                "x-roles says who may call an operation."
            ),
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "tryggbo_session"},
            },
        },
    }


def _routes(app: web.Application) -> Iterator[tuple[str, str, Callable[..., Any]]]:
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS") or route.resource is None:
            continue
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter")
        if not path or not (path.startswith("/api/") or path == "/metrics"):
            continue
        if path == "/api/ws":
            continue  # a WebSocket: described in docs/api.md, not expressible here
        yield route.method, path, route.handler


def _operation(
    method: str, path: str, handler: Callable[..., Any], components: dict[str, Any]
) -> dict[str, Any]:
    doc = inspect.getdoc(handler) or ""
    summary, _, description = doc.partition("\n")
    name = getattr(handler, "__name__", "handler")
    operation: dict[str, Any] = {
        "operationId": f"{method.lower()}_{_slug(path)}",
        "summary": summary.strip().strip("`") or name.replace("_", " "),
        "tags": [path.split("/")[2] if path.startswith("/api/") else "operations"],
    }
    if description.strip():
        operation["description"] = description.strip()
    rule = declared(handler)
    if rule == PUBLIC:
        operation["security"] = []
        operation["x-roles"] = ["public"]
    else:
        operation["security"] = [{"bearer": []}, {"session": []}]
        operation["x-roles"] = (
            ["signed_in"] if rule == SIGNED_IN else sorted(rule) if rule else ["nobody"]
        )
    source = _source_tree(handler)
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for p in _PATH_PARAM.findall(path)
    ]
    parameters += _query_params(handler, source, components)
    if parameters:
        operation["parameters"] = parameters
    model = _body_model(method, path, handler, source)
    if model is not None:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for key, sub in schema.pop("$defs", {}).items():
            components.setdefault(key, sub)
        name = model.__name__
        server_set = BODY_OVERRIDES.get((method, path), ("", frozenset()))[1]
        if server_set:
            name += "Body"
            for key in server_set:
                schema.get("properties", {}).pop(key, None)
            schema["required"] = [r for r in schema.get("required", []) if r not in server_set]
        components[name] = schema
        operation["requestBody"] = {
            # no body is read as {}: optional when the model requires no field
            "required": bool(schema.get("required")),
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        }
    success = "201" if method == "POST" and _creates(source) else "200"
    operation["responses"] = {
        success: {"description": "done", "content": {_content(path): {}}},
        "default": {
            "description": "an error (4xx: the request; 503/504: the site)",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    }
    return operation


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", path.lower().removeprefix("/api/")).strip("_")


def _content(path: str) -> str:
    if path.endswith(".csv"):
        return "text/csv"
    if path == "/metrics":
        return "text/plain"
    if path == "/api/docs":
        return "text/html"
    return "application/json"


def _source_tree(handler: Callable[..., Any]) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(handler)))
    except (OSError, TypeError, SyntaxError):
        return None


def _creates(tree: ast.AST | None) -> bool:
    if tree is None:
        return False
    return any(
        isinstance(node, ast.keyword)
        and node.arg == "status"
        and isinstance(node.value, ast.Constant)
        and node.value.value == 201
        for node in ast.walk(tree)
    )


def _query_params(
    handler: Callable[..., Any], tree: ast.AST | None, components: dict[str, Any]
) -> list[dict[str, Any]]:
    """The fields of the model the handler reads with ``read_query``, as parameters."""
    model = _model_read(handler, tree, "read_query")
    if model is None:
        return []
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for key, sub in schema.pop("$defs", {}).items():
        components.setdefault(key, sub)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        prop.pop("title", None)
        if prop.get("default", 0) is None:
            del prop["default"]
        options = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
        if len(options) == 1:  # "X or absent": a query parameter is absent, never null
            prop.update(options[0])
        elif options:
            prop["anyOf"] = options
        params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    return sorted(params, key=lambda p: p["name"])


def _const(node: ast.AST) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _namespace(handler: Callable[..., Any]) -> dict[str, Any]:
    space = dict(getattr(handler, "__globals__", {}))
    closure = inspect.getclosurevars(handler) if inspect.isfunction(handler) else None
    if closure is not None:
        space.update(closure.nonlocals)
    return space


def _evaluate(node: ast.AST, space: dict[str, Any]) -> object:
    """A Name, ``Name.attr`` or ``Name[key]`` resolved in ``space`` (else None)."""
    if isinstance(node, ast.Name):
        return space.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _evaluate(node.value, space)
        return getattr(base, node.attr, None) if base is not None else None
    if isinstance(node, ast.Subscript):
        base, key = _evaluate(node.value, space), node.slice
        index = key.value if isinstance(key, ast.Constant) else _evaluate(key, space)
        if isinstance(base, dict) and isinstance(index, str | int):
            return base.get(index)
    return None


def _is_model(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _model_read(
    handler: Callable[..., Any], tree: ast.AST | None, reader: str
) -> type[BaseModel] | None:
    """The model of the handler's ``reader(request, Model)`` call, if any."""
    if tree is None:
        return None
    space = _namespace(handler)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == reader
            and len(node.args) > 1
        ):
            candidate = _evaluate(node.args[1], space)
            if _is_model(candidate):
                return candidate  # type: ignore[return-value]
    return None


def _body_model(
    method: str, path: str, handler: Callable[..., Any], tree: ast.AST | None
) -> type[BaseModel] | None:
    override = BODY_OVERRIDES.get((method, path))
    if override is not None:
        module, _, attr = override[0].partition(":")
        model = getattr(__import__(module, fromlist=[attr]), attr)
        return model if _is_model(model) else None
    return _model_read(handler, tree, "read_body")
