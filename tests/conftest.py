"""Shared fixtures: a throwaway PostgreSQL schema per test, where a server is configured.

`EVBOT_TEST_POSTGRES_DSN` names a database the tests may fill (`.ci/run` creates one when a
server answers on 127.0.0.1:5432). Each test gets a schema of its own in it, dropped afterwards,
and a DSN whose `search_path` points there; without the variable, PostgreSQL tests skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from tests.demo_once import DemoRun, run_once

POSTGRES_ENV = "EVBOT_TEST_POSTGRES_DSN"


def postgres_dsn() -> str | None:
    """The test database's DSN, or None when PostgreSQL tests should skip."""
    return os.environ.get(POSTGRES_ENV) or None


def with_search_path(dsn: str, schema: str) -> str:
    """The DSN with `search_path` set, which asyncpg passes on as a server setting."""
    return f"{dsn}{'&' if '?' in dsn else '?'}search_path={schema}"


@pytest.fixture
async def pg_dsn() -> AsyncIterator[str]:
    """A DSN on a fresh, empty schema of the test database (skips without one)."""
    base = postgres_dsn()
    if base is None:
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL to test against")
    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    con = await asyncpg.connect(base)
    try:
        await con.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await con.close()
    try:
        yield with_search_path(base, schema)
    finally:
        con = await asyncpg.connect(base)
        try:
            await con.execute(f'DROP SCHEMA "{schema}" CASCADE')
        finally:
            await con.close()


@pytest.fixture(scope="session")
def demo_once(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo run once at full speed for the whole session (read it, never change it)."""
    return run_once(tmp_path_factory.mktemp("demo-once"))
