"""Alarms in SQL."""

from __future__ import annotations

from .access import SqlAccess


class AlarmsMixin(SqlAccess):
    pass
