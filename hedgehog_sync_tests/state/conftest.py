"""The state store's database, both kinds: a SQLite file in tmp_path, and a throwaway PostgreSQL
database on 127.0.0.1:5432 (created per test module through the `postgres` database, dropped after;
each test starts it without our tables). Without a local PostgreSQL the postgresql tests are
skipped, unless CI is set: there PostgreSQL is part of the contract, so its absence fails."""

from collections.abc import Iterator

import pytest
from psycopg2 import sql

from hedgehog_sync.state import schema, store
from hedgehog_sync_tests.pg import admin_connection, sqlalchemy_url, throwaway_database

DATABASES = ("sqlite", "postgresql")


def _dispose(url: str) -> None:
    """Close this process's pooled connections to `url` (the database is about to go)."""
    for key, engine in list(store._ENGINES.items()):
        if key[1] == url:
            engine.dispose()
            del store._ENGINES[key]
    for key in [k for k in store._STORES if k[1] == url]:
        del store._STORES[key]


@pytest.fixture(scope="module")
def pg_database_url() -> Iterator[str]:
    with throwaway_database("hs_state") as name:
        url = sqlalchemy_url(name)
        try:
            yield url
        finally:
            _dispose(url)


def drop_state_tables(url: str) -> None:
    """The throwaway database as a new one: without any hedgehog_sync_* table."""
    conn = admin_connection(url.rsplit("/", 1)[1])
    try:
        with conn.cursor() as cur:
            for table in schema.metadata.sorted_tables:
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(table.name)))
    finally:
        conn.close()


@pytest.fixture(params=DATABASES)
def state_url(request, tmp_path) -> str:
    """A database without our tables: a SQLite file, or the module's PostgreSQL database emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url = request.getfixturevalue("pg_database_url")
    _dispose(url)
    drop_state_tables(url)
    return url
