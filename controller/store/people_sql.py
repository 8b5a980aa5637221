"""Users and sessions in SQL."""

from __future__ import annotations

from .access import SqlAccess


class PeopleMixin(SqlAccess):
    pass
