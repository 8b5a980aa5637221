"""What the per-topic SQL mixins of :class:`~controller.store.sql.SqlStore` build on."""

from __future__ import annotations

import contextlib

from sqlalchemy.ext.asyncio import AsyncConnection


class SqlAccess:
    """Read and write connections; :class:`SqlStore` provides them."""

    #: See :attr:`controller.store.repository.PeopleStore.auth_generation`.
    auth_generation: int = 0
    #: this store object's id in the alarm notes it sends (controller/store/live.py)
    instance_id: str = ""
    #: the site's NOTIFY channel; None: no other instance can share the store (SQLite)
    live_channel: str | None = None

    def _read(self, what: str) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError

    def _write(self, what: str) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError
