"""`evbot migrate-store`: copy a SQLite store into an empty PostgreSQL one, then verify counts.

Everything is copied, table by table, with its ids (a delivery's idempotency key is its id, so
an outbox copied mid-flight still deduplicates on the platform): sales figures, kept sums,
imports and the journal, groups, detection state (watermarks, milestones, corrections, share
levels, events), subscriptions and their templates, the outbox and digest items. The copy is
one PostgreSQL transaction: it lands whole, with every table's count equal to the source's, or
not at all. A destination that already holds data is refused, and so is a SQLite table this
version cannot copy (rather than leaving it behind without a word).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg

from bot.ports.store import StoreError
from bot.store.postgres.base import connect, is_postgres, safe_dsn
from bot.store.postgres.sales import PgStore
from bot.store.sqlite.sales import SqliteStore

# in an order that satisfies the foreign keys
TABLES = (
    "sources",
    "makes",
    "models",
    "records",
    "cells",
    "make_cells",
    "all_cells",
    "powertrain_cells",
    "imports",
    "journal",
    "groups",
    "group_members",
    "group_aliases",
    "watermarks",
    "milestones",
    "corrections",
    "share_levels",
    "events",
    "series_state",
    "subscriptions",
    "deliveries",
    "digest_items",
    "slack_installations",
    "slack_bots",
    "slack_oauth_states",
    "store_flags",
    "holds",
    "held_events",
    "mutes",
    "source_fetches",
    "market_shares",
    "templates",
    "subscription_templates",
)
# each store's own, not copied: the names' version counts that database's changes (the copy's
# own writes to makes and models move the target's)
OWN = ("names_version",)
# PostgreSQL columns with no SQLite column of that name, and what fills them
FILLED = {
    ("group_members", "id"): "rowid",
    ("group_aliases", "id"): "rowid",
    ("deliveries", "claimed_by"): "NULL",  # no replica holds them: the first one settles them
}
CHUNK = 20_000


@dataclass
class MigrationReport:
    """What was copied: rows per table (equal on both sides, or the copy did not happen)."""

    source: str
    target: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Rows copied in all."""
        return sum(self.counts.values())


def parse_source(text: str) -> Path:
    """`sqlite:PATH` (or a bare path) -> the file, which must exist."""
    path = Path(text.removeprefix("sqlite:"))
    if text.startswith("sqlite://"):
        path = Path(text.removeprefix("sqlite://"))
    if not path.is_file():
        raise StoreError(f"--from {text}: no SQLite database at {path}")
    return path


async def migrate_store(
    source: str, target: str, progress: Callable[[str, int], None] | None = None
) -> MigrationReport:
    """Copy the SQLite store `source` (sqlite:PATH) into the empty PostgreSQL `target`."""
    path = parse_source(source)
    if not is_postgres(target):
        raise StoreError(f"--to {safe_dsn(target)}: not a postgresql:// URL")
    # bring both schemas up to date first (each store migrates on open)
    async with SqliteStore(path):
        pass
    async with PgStore(target):
        pass
    report = MigrationReport(str(path), safe_dsn(target))
    async with aiosqlite.connect(f"file:{path}?mode=ro", uri=True) as lite:
        con = await connect(target)
        try:
            async with con.transaction():
                await _refuse_unknown_tables(lite)
                await _refuse_filled_target(con, target)
                for table in TABLES:
                    report.counts[table] = await _copy(lite, con, table, progress)
                await _verify(lite, con, report)
                await _reset_sequences(con)
        except asyncpg.PostgresError as exc:
            raise StoreError(
                f"{safe_dsn(target)}: the copy failed, nothing was kept: {exc}"
            ) from exc
        finally:
            await con.close()
    return report


async def _refuse_unknown_tables(lite: aiosqlite.Connection) -> None:
    async with lite.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ) as cursor:
        names = [r[0] for r in await cursor.fetchall()]
    for name in sorted(set(names) - set(TABLES) - set(OWN)):
        async with lite.execute(f'SELECT COUNT(*) FROM "{name}"') as cursor:
            row = await cursor.fetchone()
        if row is not None and row[0]:
            raise StoreError(
                f"table {name} holds {row[0]} rows that the PostgreSQL store cannot hold yet: "
                "nothing was copied (upgrade evbot, or empty that table if it is not needed)"
            )


async def _refuse_filled_target(con: asyncpg.Connection, target: str) -> None:
    for table in TABLES:
        if await con.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
            raise StoreError(
                f"--to {safe_dsn(target)}: table {table} already holds data; migrate into an "
                "empty database (nothing was copied)"
            )


async def _pg_columns(con: asyncpg.Connection, table: str) -> list[tuple[str, str]]:
    rows = await con.fetch(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        table,
    )
    return [(r[0], r[1]) for r in rows]


def _converter(data_type: str) -> Callable[[Any], Any]:
    if data_type == "boolean":
        return lambda v: None if v is None else bool(v)
    if data_type in ("bigint", "integer"):
        return lambda v: None if v is None else int(v)
    if data_type == "double precision":
        return lambda v: None if v is None else float(v)
    return lambda v: None if v is None else str(v)


async def _copy(
    lite: aiosqlite.Connection,
    con: asyncpg.Connection,
    table: str,
    progress: Callable[[str, int], None] | None,
) -> int:
    columns = await _pg_columns(con, table)
    select = ", ".join(FILLED.get((table, name), name) for name, _ in columns)
    convert = [_converter(t) for _, t in columns]
    copied = 0
    async with lite.execute(f"SELECT {select} FROM {table}") as cursor:
        while rows := list(await cursor.fetchmany(CHUNK)):
            await con.copy_records_to_table(
                table,
                records=[tuple(f(v) for f, v in zip(convert, r, strict=True)) for r in rows],
                columns=[name for name, _ in columns],
            )
            copied += len(rows)
            if progress is not None:
                progress(table, copied)
    return copied


async def _verify(
    lite: aiosqlite.Connection, con: asyncpg.Connection, report: MigrationReport
) -> None:
    for table in TABLES:
        async with lite.execute(f"SELECT COUNT(*) FROM {table}") as cursor:
            row = await cursor.fetchone()
        want = int(row[0]) if row is not None else 0
        got = int(await con.fetchval(f"SELECT COUNT(*) FROM {table}"))
        if got != want or report.counts[table] != want:
            raise StoreError(
                f"table {table}: {want} rows in SQLite but {got} in PostgreSQL after the copy; "
                "nothing was kept"
            )


async def _reset_sequences(con: asyncpg.Connection) -> None:
    """Ids go on from the highest copied one, so new rows never reuse an id (or a key)."""
    for table in TABLES:
        columns = [name for name, _ in await _pg_columns(con, table)]
        key = "seq" if table == "journal" else "id"
        if key not in columns:
            continue
        sequence = await con.fetchval("SELECT pg_get_serial_sequence($1, $2)", table, key)
        if sequence is not None:
            await con.execute(
                f"SELECT setval($1, COALESCE((SELECT MAX({key}) FROM {table}), 0) + 1, false)",
                sequence,
            )
