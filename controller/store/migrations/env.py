"""Alembic environment for the Tryggbo store.

At runtime ``SqlStore.open()`` hands in its own connection (``config.attributes
["connection"]``) and this file only runs the migrations in it. For developers, the
``alembic`` command works too: ``alembic -c controller/store/alembic.ini -x url=URL ...``
(or ``TRYGGBO_DB=URL``), e.g. ``revision --autogenerate -m "..."``.

Caution for future SQLite migrations: a batch ("move and copy") migration of ``audit``
recreates the table and loses its append-only triggers; recreate them in that migration.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context

from controller.store.engine import WRITE_OPTION, create_engine, parse_url
from controller.store.schema import metadata

config = context.config


def _url() -> str:
    url = (
        context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("TRYGGBO_DB")
        or config.get_main_option("sqlalchemy.url")
    )
    if not url:
        raise SystemExit("no store URL: pass -x url=... or set TRYGGBO_DB")
    return url


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        # SQLAlchemy emits BEGIN on SQLite too (see engine.py): DDL is transactional.
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_offline() -> None:
    context.configure(
        url=parse_url(_url()),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_engine(parse_url(_url())).execution_options(**{WRITE_OPTION: True})
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


given = config.attributes.get("connection")
if given is None and config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
if given is not None:
    _run(given)
elif context.is_offline_mode():
    _run_offline()
else:
    asyncio.run(_run_online())
