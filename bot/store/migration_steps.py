"""Migration steps written in Python, for what SQL cannot say (`name_key` has no SQL equivalent).

A migration list (`bot.store.sqlite.migrations.MIGRATIONS`,
`bot.store.postgres.migrations.PG_MIGRATIONS`) holds SQL
scripts and `PythonStep`s; each runner gives a step its migration's connection, inside the same
transaction and version bookkeeping as a script.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Literal, Protocol


class MigrationSql(Protocol):
    """The migration's connection, in one dialect: `?` placeholders on both backends."""

    backend: Literal["sqlite", "postgres"]

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        """The rows a query returns."""
        ...

    async def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement."""
        ...

    async def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per row of parameters."""
        ...


PythonStep = Callable[[MigrationSql], Awaitable[None]]
Migration = str | PythonStep


def added_column(table: str, column: str, definition: str) -> PythonStep:
    """A SQLite step adding a column unless the table has it already (SQLite has no `ADD COLUMN
    IF NOT EXISTS`): steps after the key merge run again, as no-ops, on a store whose schema
    version was set back to replay the merge (`tests/test_key_migration.py`)."""

    async def step(db: MigrationSql) -> None:
        columns = {str(row[1]) for row in await db.rows(f"PRAGMA table_info({table})")}
        if column not in columns:
            await db.run(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    return step


def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, ...` (the steps' SQL quotes no `?`)."""
    parts = sql.split("?")
    return "".join(p + (f"${i}" if i < len(parts) else "") for i, p in enumerate(parts, 1))
