"""The state store's database, both kinds: a SQLite file in tmp_path, and a throwaway PostgreSQL
database on 127.0.0.1:5432 (created per test module through the `postgres` database, dropped after;
each test starts it without our tables). Without a local PostgreSQL the postgresql tests are
skipped, unless CI is set: there PostgreSQL is part of the contract, so its absence fails."""

import os
import secrets
from collections.abc import Iterator

import psycopg2
import pytest
from psycopg2 import sql

from hedgehog_sync.state import schema, store

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
DATABASES = ("sqlite", "postgresql")


def _admin(dbname: str):
    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, connect_timeout=5)
    conn.autocommit = True
    return conn


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
    try:
        admin = _admin("postgres")
    except psycopg2.OperationalError as exc:
        reason = f"no PostgreSQL at {PG_HOST}:{PG_PORT} for user {PG_USER}: {str(exc).strip()}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set: the state tests must run against PostgreSQL)")
        pytest.skip(reason)
    name = f"hs_{secrets.token_hex(6)}"
    url = f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield url
    finally:
        _dispose(url)
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


def drop_state_tables(url: str) -> None:
    """The throwaway database as a new one: without any hedgehog_sync_* table."""
    conn = _admin(url.rsplit("/", 1)[1])
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
