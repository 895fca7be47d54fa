"""The SQLite connection shared by the store's parts: open, migrations, counted statements."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Self

import aiosqlite

from bot.migrations import MIGRATIONS
from bot.records import StoreStats
from bot.store import StoreError


class SqliteBase:
    """One aiosqlite connection in autocommit mode; transactions are explicit."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.stats = StoreStats()
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        if self._db is not None:
            return
        if self.path != ":memory:":
            parent = Path(self.path).parent
            if not parent.exists():
                raise StoreError(f"{self.path}: folder {parent} does not exist")
        try:
            db = await aiosqlite.connect(self.path, isolation_level=None)
        except Exception as exc:  # sqlite3 raises a bare OperationalError with no path
            raise StoreError(f"{self.path}: cannot open database: {exc}") from exc
        self._db = db
        try:
            await db.execute("PRAGMA busy_timeout = 5000")
            await db.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await self._migrate()
        except aiosqlite.DatabaseError as exc:
            await self.close()
            raise StoreError(f"{self.path}: not an EV bot database ({exc})") from exc
        except StoreError:
            await self.close()
            raise

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("the store is not open")
        return self._db

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Cursor:
        self.stats.statements += 1
        return await self.db.execute(sql, params)

    async def _rows(self, sql: str, params: Sequence[Any] = (), table: str = "") -> list[Any]:
        self.stats.statements += 1
        async with self.db.execute(sql, params) as cursor:
            rows = list(await cursor.fetchall())
        if table:
            self.stats.rows_read[table] = self.stats.rows_read.get(table, 0) + len(rows)
        return rows

    async def _many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.stats.statements += 1
        await self.db.executemany(sql, rows)

    def transaction(self) -> Transaction:
        """One write transaction; other writers on this connection wait for it."""
        return Transaction(self)

    async def _migrate(self) -> None:
        (version,) = (await self._rows("PRAGMA user_version"))[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this evbot knows "
                f"({len(MIGRATIONS)}); upgrade evbot"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await self._run("BEGIN IMMEDIATE")
            try:
                for statement in _statements(script):
                    await self._run(statement)
                await self._run(f"PRAGMA user_version = {number}")
                await self._run("COMMIT")
            except BaseException:
                await self._run("ROLLBACK")
                raise

    async def schema_version(self) -> int:
        """The schema version of the open database."""
        return int((await self._rows("PRAGMA user_version"))[0][0])


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


class Transaction:
    """`async with store.transaction():` BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error."""

    def __init__(self, base: SqliteBase) -> None:
        self.base = base

    async def __aenter__(self) -> None:
        await self.base._lock.acquire()
        try:
            await self.base._run("BEGIN IMMEDIATE")
        except BaseException:
            self.base._lock.release()
            raise

    async def __aexit__(self, exc_type: object, *exc: object) -> None:
        try:
            await self.base._run("ROLLBACK" if exc_type is not None else "COMMIT")
        finally:
            self.base._lock.release()
