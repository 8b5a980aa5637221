"""The regional view: open alarms per home, for an admin who covers several homes.

Each home is one daemon with its own PostgreSQL schema in one shared database
(``?schema=`` in the store URL, controller/store/engine.py). The regional view runs
where the admin is (``tryggbo region alarms``), not in any home's daemon: it signs in
to PostgreSQL as a regional role that was granted, per home it covers, the use of
that home's schema and ``SELECT`` on the few alarm columns it shows
(:func:`region_grants`), nothing else: no users, audit, events or residents' names,
and no way to act on a door. The homes it lists are the schemas whose ``alarms`` the
role may read, so the database's grants are the region's one definition. It reads in
a read-only transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from controller.store import engine as db
from controller.store import schema as t
from controller.store.alarm_records import ACTIVE_STATES
from controller.store.repository import StoreError
from controller.store.schema import as_utc

#: the columns of ``alarms`` a regional role may read (and the view shows)
REGION_COLUMNS = ("id", "kind", "apartment", "device", "state", "raised_at", "escalations")


def region_grants(schema: str, role: str) -> list[str]:
    """The SQL an owner of ``schema`` runs to let ``role`` see that home's open alarms
    in the regional view (and nothing else of it)."""
    for name, what in ((schema, "schema"), (role, "role")):
        if not db.is_plain_name(name):
            raise ValueError(f"bad {what} name {name!r}")
    columns = ", ".join(REGION_COLUMNS)
    return [
        f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"',
        f'GRANT SELECT ({columns}) ON "{schema}".alarms TO "{role}"',
    ]


@dataclass(frozen=True, slots=True)
class OpenAlarm:
    """One active alarm of a home, as the regional view shows it."""

    id: int
    kind: str
    apartment: str | None
    device: str | None
    state: str
    raised_at: datetime
    escalations: int


@dataclass(frozen=True, slots=True)
class HomeAlarms:
    """A home (its schema) and its active alarms, oldest first."""

    home: str
    alarms: list[OpenAlarm]


async def open_alarms_per_home(db_url: str, homes: list[str] | None = None) -> list[HomeAlarms]:
    """The active alarms of each home the URL's role may read (or of ``homes``, each
    of which it must be able to read), in a read-only transaction. StoreError if the
    database cannot be read or a named home is not readable."""
    url = db.parse_url(db_url)
    if url.get_backend_name() != "postgresql":
        raise StoreError("the regional view reads the homes' schemas of a PostgreSQL database")
    if db.pg_schema(url) is not None:
        raise StoreError("give the regional database URL without ?schema= (use --home)")
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SET TRANSACTION READ ONLY"))
            readable = await _readable_homes(conn)
            if homes is None:
                homes = readable
            missing = sorted(set(homes) - set(readable))
            if missing:
                raise StoreError(
                    f"no alarms readable for home(s) {', '.join(missing)}: not granted "
                    "to this role, or no such home"
                )
            return [HomeAlarms(home, await _open_alarms(conn, home)) for home in homes]
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the region at {url.render_as_string()}: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"cannot reach the region's database: {exc}") from exc
    finally:
        await engine.dispose()


async def _readable_homes(conn: AsyncConnection) -> list[str]:
    # information_schema lists only tables this role holds some privilege on
    query = sa.text(
        "SELECT table_schema FROM information_schema.tables "
        "WHERE table_name = 'alarms' AND table_schema NOT IN ('public', 'information_schema') "
        "ORDER BY table_schema"
    )
    return [str(row[0]) for row in await conn.execute(query)]


async def _open_alarms(conn: AsyncConnection, home: str) -> list[OpenAlarm]:
    alarms = sa.table(
        "alarms", *(sa.column(c, t.alarms.c[c].type) for c in REGION_COLUMNS), schema=home
    )
    query = (
        sa.select(*(alarms.c[c] for c in REGION_COLUMNS))
        .where(alarms.c.state.in_(sorted(ACTIVE_STATES)))
        .order_by(alarms.c.raised_at, alarms.c.id)
    )
    return [
        OpenAlarm(
            id=int(row.id),
            kind=str(row.kind),
            apartment=row.apartment,
            device=row.device,
            state=str(row.state),
            raised_at=as_utc(row.raised_at),
            escalations=int(row.escalations),
        )
        for row in await conn.execute(query)
    ]
