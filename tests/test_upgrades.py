"""Upgrades, tested: a store written at every earlier schema version, filled with rows of the
shape that version had, opened by this evbot, keeps every row with the meaning it had (each old
column's value, under its new name if renamed; each column added since at its default); and a
store of a newer schema than this evbot knows is refused, on both backends."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import bot.store.postgres.base as pg_base
import bot.store.sqlite.base as sqlite_base
from bot.ports.store import StoreError
from bot.store.postgres.migrations import PG_MIGRATIONS
from bot.store.postgres.sales import PgStore
from bot.store.sqlite.migrations import MIGRATIONS
from bot.store.sqlite.sales import SqliteStore

ROWS = 3  # of each table
# (table, old column) -> its name now
RENAMED = {("milestones", "threshold"): "lowest", ("corrections", "threshold"): "lowest"}
# columns added since, whose meaning for an old row is another column's value, not a default
DERIVED = {("milestones", "highest"): "lowest", ("corrections", "highest"): "lowest"}
FLAGS = ("cumulative", "charts", "corrections", "flagged", "below", "history", "running")
TEXTS = {
    "metric": "sales",
    "region": "Norway",
    "platform": "console",
    "workspace": "local",
    "kind": "milestone",
    "kinds": "milestone",
    "instant_kinds": "milestone",
    "mode": "instant",
    "digest_at": "09:00",
    "timezone": "UTC",
    "locale": "en",
    "then_do": "digest",
    "payload": "{}",
    "event_ids": "[1]",
    "subscription_ids": "[1]",
    "steps": "[]",
    "powertrain": "BEV",
    "ladder": "default",
    "subject_kind": "model",
    "yearly": "",
}
STATUS = {"subscriptions": "active", "deliveries": "posted", "holds": "held"}
CHECKED = {  # a column of that name elsewhere is free text, or another check
    ("holds", "state"): "held",
    ("market_shares", "metric"): "sales_share",
}

Row = dict[str, Any]


def value(table: str, column: str, kind: str, i: int) -> Any:
    """A value of the shape the column holds (its checks met), distinct per row where a key
    could need it; ids 1..ROWS, so that every reference finds its row."""
    kind = kind.upper()
    if column == "status":
        return STATUS.get(table, "active")
    if (table, column) in CHECKED:
        return CHECKED[table, column]
    if column == "percent":
        return 90.5 + i  # a share, 0 to 100
    if column in ("month", "period", "latest_month", "first_month_text"):
        return f"2015-{i:02d}"
    if column in FLAGS:
        return i % 2
    if (column == "id" or column.endswith("_id")) and "INT" in kind:
        return i
    if column in TEXTS:
        return TEXTS[column]
    if "INT" in kind:
        return 1000 * i + 7
    if "REAL" in kind or "DOUBLE" in kind or "FLOAT" in kind:
        return 1_700_000_000.5 + i
    return f"{table}.{column}.{i}"


def sqlite_tables(con: sqlite3.Connection) -> dict[str, list[tuple[str, str, Any]]]:
    """Each table's columns: (name, declared type, default SQL)."""
    names = [
        r[0]
        for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {
        name: [(c[1], c[2], c[4]) for c in con.execute(f"PRAGMA table_info({name})")]
        for name in names
    }


def fill_sqlite(path: Path) -> dict[str, list[Row]]:
    filled: dict[str, list[Row]] = {}
    with closing(sqlite3.connect(path, isolation_level=None)) as con:
        for table, columns in sqlite_tables(con).items():
            rows = [
                {c: value(table, c, kind, i) for c, kind, _ in columns} for i in range(1, ROWS + 1)
            ]
            names = [c for c, _, _ in columns]
            con.executemany(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                [tuple(r[c] for c in names) for r in rows],
            )
            filled[table] = rows
    return filled


def survivors(
    filled: dict[str, list[Row]],
    now: dict[str, list[Row]],
    defaults: dict[str, dict[str, Any]],
) -> list[str]:
    """Every row written at the old version that is not found now with its meaning."""
    lost = []
    for table, rows in filled.items():
        present = now.get(table)
        if present is None:
            lost.append(f"{table}: the table is gone")
            continue
        for row in rows:
            want = {RENAMED.get((table, c), c): v for c, v in row.items()}
            for column, default in defaults.get(table, {}).items():
                if column not in want:
                    source = DERIVED.get((table, column))
                    want[column] = want[source] if source else default
            if not any(all(r.get(c) == v for c, v in want.items()) for r in present):
                lost.append(f"{table}: {row} (wanted {want})")
    return lost


def sqlite_now(path: Path) -> tuple[dict[str, list[Row]], dict[str, dict[str, Any]]]:
    with closing(sqlite3.connect(path)) as con:
        tables = sqlite_tables(con)
        now = {
            table: [
                dict(zip([c for c, _, _ in cols], r, strict=True))
                for r in con.execute(f"SELECT * FROM {table}")
            ]
            for table, cols in tables.items()
        }
        defaults = {
            table: {
                c: con.execute(f"SELECT {default}").fetchone()[0]
                for c, _, default in cols
                if default is not None and "strftime" not in default
            }
            for table, cols in tables.items()
        }
    return now, defaults


@pytest.mark.parametrize("version", range(1, len(MIGRATIONS)))
async def test_a_sqlite_store_of_every_earlier_version_keeps_every_row(
    version: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / f"v{version}.sqlite3"
    with monkeypatch.context() as patch:
        patch.setattr(sqlite_base, "MIGRATIONS", MIGRATIONS[:version])
        async with SqliteStore(path) as old:
            assert await old.schema_version() == version
    filled = fill_sqlite(path)
    assert filled["sources"] and all(len(rows) == ROWS for rows in filled.values())

    async with SqliteStore(path) as upgraded:
        assert await upgraded.schema_version() == len(MIGRATIONS)
    now, defaults = sqlite_now(path)
    assert survivors(filled, now, defaults) == []


async def test_a_newer_sqlite_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "newer.sqlite3"
    async with SqliteStore(path):
        pass
    with closing(sqlite3.connect(path)) as con:
        con.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer than this evbot knows"):
        await SqliteStore(path).open()
    with closing(sqlite3.connect(path)) as con:
        assert con.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS) + 1,)


# -- PostgreSQL -------------------------------------------------------------------------------


async def pg_tables(con: Any) -> dict[str, list[tuple[str, str, Any]]]:
    rows = await con.fetch(
        "SELECT table_name, column_name, data_type, column_default "
        "FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name <> 'evbot_schema' ORDER BY table_name, ordinal_position"
    )
    tables: dict[str, list[tuple[str, str, Any]]] = {}
    for r in rows:
        tables.setdefault(r["table_name"], []).append(
            (r["column_name"], r["data_type"], r["column_default"])
        )
    return tables


def pg_value(table: str, column: str, kind: str, i: int) -> Any:
    found = value(table, column, kind.replace("bigint", "INT").replace("integer", "INT"), i)
    if kind == "boolean":
        return bool(i % 2)
    if kind == "double precision" and isinstance(found, int):
        return float(found)
    return found


async def pg_fill(con: Any) -> dict[str, list[Row]]:
    filled: dict[str, list[Row]] = {}
    await con.execute("SET session_replication_role = replica")  # no reference checks
    for table, columns in (await pg_tables(con)).items():
        names = [c for c, _, _ in columns]
        rows = [
            {c: pg_value(table, c, kind, i) for c, kind, _ in columns} for i in range(1, ROWS + 1)
        ]
        marks = ", ".join(f"${n}" for n in range(1, len(names) + 1))
        await con.executemany(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})",
            [tuple(r[c] for c in names) for r in rows],
        )
        filled[table] = rows
    await con.execute("SET session_replication_role = DEFAULT")
    return filled


async def pg_now(con: Any) -> tuple[dict[str, list[Row]], dict[str, dict[str, Any]]]:
    tables = await pg_tables(con)
    now = {t: [dict(r) for r in await con.fetch(f"SELECT * FROM {t}")] for t in tables}
    defaults: dict[str, dict[str, Any]] = {}
    for table, cols in tables.items():
        for c, _, default in cols:
            if default is not None and "nextval" not in default and "now()" not in default:
                defaults.setdefault(table, {})[c] = await con.fetchval(f"SELECT {default}")
    return now, defaults


def same_meaning(rows: Sequence[Row]) -> list[Row]:
    return [
        {
            k: (float(v) if isinstance(v, int) and not isinstance(v, bool) else v)
            for k, v in r.items()
        }
        for r in rows
    ]


@pytest.mark.parametrize("version", range(1, len(PG_MIGRATIONS)))
async def test_a_postgres_store_of_every_earlier_version_keeps_every_row(
    version: int, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncpg

    with monkeypatch.context() as patch:
        patch.setattr(pg_base, "PG_MIGRATIONS", PG_MIGRATIONS[:version])
        async with PgStore(pg_dsn) as old:
            assert await old.schema_version() == version
    con = await asyncpg.connect(pg_dsn)
    try:
        filled = await pg_fill(con)
    finally:
        await con.close()
    assert filled["sources"] and all(len(rows) == ROWS for rows in filled.values())

    async with PgStore(pg_dsn) as upgraded:
        assert await upgraded.schema_version() == len(PG_MIGRATIONS)
    con = await asyncpg.connect(pg_dsn)
    try:
        now, defaults = await pg_now(con)
    finally:
        await con.close()
    numeric = {t: same_meaning(rows) for t, rows in now.items()}
    wanted = {t: same_meaning(rows) for t, rows in filled.items()}
    plain = {
        t: {
            c: (float(v) if isinstance(v, int) and not isinstance(v, bool) else v)
            for c, v in d.items()
        }
        for t, d in defaults.items()
    }
    assert survivors(wanted, numeric, plain) == []


async def test_a_newer_postgres_schema_is_refused_and_left_alone(pg_dsn: str) -> None:
    import asyncpg

    async with PgStore(pg_dsn):
        pass
    con = await asyncpg.connect(pg_dsn)
    try:
        await con.execute("INSERT INTO evbot_schema (version) VALUES ($1)", len(PG_MIGRATIONS) + 1)
        with pytest.raises(StoreError, match="newer than this evbot knows"):
            await PgStore(pg_dsn).open()
        assert await con.fetchval("SELECT max(version) FROM evbot_schema") == len(PG_MIGRATIONS) + 1
    finally:
        await con.close()
