"""Who may call each route, declared on its handler next to the route.

``@requires("admin", "staff")``, ``@signed_in`` (any signed-in user) or ``@public``
(no sign-in). The auth middleware enforces the declaration before the handler runs;
a route that declares nothing is refused to everyone (403 ``undeclared_route``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from ..auth.principal import ROLES

H = TypeVar("H", bound=Callable[..., Any])

PUBLIC = "public"
SIGNED_IN = "signed_in"
_ATTR = "_tryggbo_access"

Rule = frozenset[str] | str


def _declare(handler: H, rule: Rule) -> H:
    setattr(handler, _ATTR, rule)
    return handler


def requires(*roles: str) -> Callable[[H], H]:
    """Only callers holding one of ``roles``."""
    unknown = set(roles) - ROLES
    if not roles or unknown:
        raise ValueError(f"requires() needs roles from {sorted(ROLES)}, got {roles}")
    return lambda handler: _declare(handler, frozenset(roles))


def signed_in(handler: H) -> H:
    """Any signed-in user (or API token), whatever their roles."""
    return _declare(handler, SIGNED_IN)


def public(handler: H) -> H:
    """No sign-in needed."""
    return _declare(handler, PUBLIC)


def declared(handler: object) -> Rule | None:
    """The declaration of a handler, or None."""
    rule = getattr(handler, _ATTR, None)
    return rule if isinstance(rule, (frozenset, str)) else None


def route_rules(app: web.Application) -> list[tuple[str, str, Rule | None]]:
    """``(method, path, rule)`` for every route with a handler function (static file
    routes have none and are listed with rule None)."""
    rows = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix") or "?"
        rows.append((route.method, str(path), declared(route.handler)))
    return rows
