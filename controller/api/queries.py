"""Reading a request's query string: the one query parser of the API.

Every route with query parameters reads them with ``read_query(request, Model)``, a
pydantic model of :class:`Query` (unknown parameters refused); the OpenAPI document
lists the model's fields as the route's parameters (:mod:`controller.openapi`).
A value that does not fit is 400 ``bad_query`` with ``details`` listing
``{"field", "problem"}``, the same shape as a bad body (:mod:`.bodies`), and nothing
is changed. An empty value (``?actor=``) is the same as none; a parameter given
twice is refused.

Times (:data:`SiteTime`) are ISO 8601 times or dates; one without an offset is in the
site's zone (``?since=2026-12-01`` is midnight at the home).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo
from pydantic.functional_validators import AfterValidator

from .errors import ApiError, invalid_input
from .keys import SITE

Q = TypeVar("Q", bound="Query")
MESSAGE = "the query is not valid: see details"

#: How many rows a listing answers (default 100).
Limit = Annotated[int, Field(ge=1, le=1000)]
#: A row id to page back from (rows older than it).
RowId = Annotated[int, Field(ge=1, le=2**62)]


def _plus_back(value: object) -> object:
    # an unencoded "+01:00" arrives as " 01:00" (a "+" in a query string is a space)
    return value.replace(" ", "+") if isinstance(value, str) else value


def _in_site_zone(value: datetime, info: ValidationInfo) -> datetime:
    if value.tzinfo is None:
        zone: tzinfo = (info.context or {}).get("zone") or UTC
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


#: An ISO 8601 time or date (``2026-12-01T08:00+01:00``, ``2026-12-01``); without an
#: offset it is site time; read as UTC.
SiteTime = Annotated[datetime, BeforeValidator(_plus_back), AfterValidator(_in_site_zone)]


class Query(BaseModel):
    """The base of every query model: unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _values(request: web.Request) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in dict.fromkeys(request.query):
        given = request.query.getall(name)
        if len(given) > 1:
            raise ApiError(
                400,
                "bad_query",
                MESSAGE,
                [{"field": name, "problem": "given more than once"}],
            )
        if given[0] != "":
            values[name] = given[0]
    return values


def read_query(request: web.Request, model: type[Q]) -> Q:
    """The query string as ``model``; 400 ``bad_query`` (details name the parameters)."""
    site = request.app.get(SITE)
    try:
        return model.model_validate(
            _values(request), context={"zone": site.zone if site is not None else None}
        )
    except ValidationError as exc:
        raise invalid_input("bad_query", MESSAGE, exc, "query") from None
