"""Throwaway PostgreSQL databases for the tests that need production's storage.

One place for what six fixtures each wrote out: connect to the local server's `postgres` database,
`CREATE DATABASE` under a fresh name, drop it afterwards with any connection left open. Without a
local PostgreSQL a test is skipped, unless CI is set: there PostgreSQL is part of the contract
(DEVELOPERS.md: "CI gets the same"), so its absence fails instead of passing as skipped.
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from typing import Iterator, NoReturn

import pytest

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"


def _unavailable(exc: Exception) -> NoReturn:
    reason = f"no PostgreSQL at {PG_HOST}:{PG_PORT} for user {PG_USER}: {str(exc).strip()}"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: this test must run against PostgreSQL)")
    pytest.skip(reason)


def admin_connection(dbname: str = "postgres"):
    """An autocommit connection to `dbname` on the local server (skip, or fail under CI, without one)."""
    import psycopg2

    try:
        conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        _unavailable(exc)
    conn.autocommit = True
    return conn


@contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """A new, empty database named `<prefix>_<pid>_<random>`; yields its name and drops it afterwards,
    even when the test left connections open or made the database refuse new ones."""
    from psycopg2 import sql

    admin = admin_connection()
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone():
                cur.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(name)))
                cur.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


def sqlalchemy_url(name: str) -> str:
    """The state store's URL for database `name` (what the instance's PostgreSQL storage gives it)."""
    return f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def dagster_pg_env(name: str) -> dict[str, str]:
    """The DAGSTER_PG_* variables deploy/dagster.yaml reads to find database `name`."""
    return {"DAGSTER_PG_HOST": PG_HOST, "DAGSTER_PG_PORT": str(PG_PORT), "DAGSTER_PG_USER": PG_USER,
            "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": name}


def instance_storage_yaml(name: str) -> str:
    """A dagster.yaml `storage:` block on database `name` (for instances built by hand in a test)."""
    return (f"storage:\n  postgres:\n    postgres_db:\n      hostname: {PG_HOST}\n      port: {PG_PORT}\n"
            f"      username: {PG_USER}\n      password: ''\n      db_name: {name}\n"
            "      scheme: postgresql+psycopg2\n")
