"""Migration steps written in Python, for what SQL cannot say (`name_key` has no SQL equivalent).

A migration list (`bot.migrations.MIGRATIONS`, `bot.pg_migrations.PG_MIGRATIONS`) holds SQL
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


def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, ...` (the steps' SQL quotes no `?`)."""
    parts = sql.split("?")
    return "".join(p + (f"${i}" if i < len(parts) else "") for i, p in enumerate(parts, 1))
