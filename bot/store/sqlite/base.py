"""The SQLite connections shared by the store's parts: open, migrations, counted statements.

Two connections to one file. Writes, and the reads of a task inside its own write, go to the
writer; every other read goes to the reader, which in WAL mode sees only what is committed.
Tasks share the writer, and one task's open transaction would otherwise show the others its
uncommitted rows: a poll running beside an import that then failed would have recorded
milestones from rows that never existed, and moved its watermark past journal numbers that
the rollback hands out again. An in-memory database has no second connection; its reads share
the writer (tests and dry runs only).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, Self

import aiosqlite

from bot.domain.records import StoreStats
from bot.ports.store import StoreError
from bot.store.migration_steps import Migration
from bot.store.sqlite.migrations import MIGRATIONS

# The store this context is writing to (inside its transaction): its reads see its own writes.
# A context variable rather than the task, so that tasks a transaction gathers are inside it.
_WRITING: ContextVar[object | None] = ContextVar("evbot_sqlite_writing", default=None)


class SqliteBase:
    """A writer and a reader connection in autocommit mode; transactions are explicit."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.stats = StoreStats()
        self._db: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        if self._db is not None:
            return
        if self.path != ":memory:":
            parent = Path(self.path).parent
            if not parent.exists():
                raise StoreError(f"{self.path}: folder {parent} does not exist")
            head = await asyncio.to_thread(_head, self.path)
            # SQLite takes a short file for an empty database and overwrites it
            if head and not head.startswith(SQLITE_MAGIC):
                raise StoreError(
                    f"{self.path}: not an EV bot database (not an SQLite file); nothing was "
                    "written to it"
                )
        try:
            db = await aiosqlite.connect(self.path, isolation_level=None)
        except Exception as exc:  # sqlite3 raises a bare OperationalError with no path
            raise StoreError(f"{self.path}: cannot open database: {exc}") from exc
        self._db = db
        try:
            await db.execute("PRAGMA busy_timeout = 5000")
            await db.execute("PRAGMA foreign_keys = ON")
            await self._refuse_foreign()  # before WAL mode, which rewrites the file's header
            if self.path != ":memory:":
                await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await self._migrate()
            if self.path != ":memory:":
                self._reader = await aiosqlite.connect(self.path, isolation_level=None)
                await self._reader.execute("PRAGMA busy_timeout = 5000")
                await self._reader.execute("PRAGMA query_only = ON")
        except aiosqlite.DatabaseError as exc:
            await self.close()
            raise StoreError(f"{self.path}: not an EV bot database ({exc})") from exc
        except UnicodeDecodeError as exc:
            # damage in the schema's text: sqlite3 cannot even decode SQLite's error message
            await self.close()
            raise StoreError(_damaged_text(self.path, exc)) from exc
        except StoreError:
            await self.close()
            raise

    async def close(self) -> None:
        if self._reader is not None:
            reader, self._reader = self._reader, None
            await reader.close()
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
        if sql == "ROLLBACK" and not self.db.in_transaction:
            # The BEGIN failed (locked, disk full): nothing to undo, and SQLite's "no
            # transaction is active" would replace the error that says what happened.
            return await self.db.execute("SELECT 0")
        with self._faults():
            return await self.db.execute(sql, params)

    async def _rows(self, sql: str, params: Sequence[Any] = (), table: str = "") -> list[Any]:
        self.stats.statements += 1
        db = self.db
        if self._reader is not None and _WRITING.get() is not self:
            db = self._reader
        with self._faults():
            # Executed and fetched in one call on the connection's thread: between a separate
            # execute and fetch another task's write could change the table under the open
            # cursor, and SQLite then returns garbage (a GROUP BY on a NOT NULL column gave None).
            rows = list(await db.execute_fetchall(sql, params))
        if table:
            self.stats.rows_read[table] = self.stats.rows_read.get(table, 0) + len(rows)
        return rows

    async def _fetch_q(self, sql: str, *args: Any, table: str = "") -> list[Any]:
        return await self._rows(positional(sql), args, table)

    async def _run_q(self, sql: str, *args: Any) -> None:
        await self._run(positional(sql), args)

    async def _many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.stats.statements += 1
        with self._faults():
            await self.db.executemany(sql, rows)

    @contextmanager
    def _faults(self) -> Iterator[None]:
        """Turn SQLite's faults of the file (locked, full, unwritable, damaged) into a
        StoreError that names the file and says what to do; bugs (SQL errors) pass through."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            reason = _fault(str(exc))
            if reason is None:
                raise
            raise StoreError(f"{self.path}: {reason} ({exc})") from exc
        except sqlite3.DatabaseError as exc:
            if type(exc) is not sqlite3.DatabaseError:  # IntegrityError and the like: bugs
                raise
            damaged = "malformed" in str(exc)
            raise StoreError(
                f"{self.path}: not an EV bot database"
                + (": the file is damaged" if damaged else "")
                + f" ({exc})"
            ) from exc
        except UnicodeDecodeError as exc:
            raise StoreError(_damaged_text(self.path, exc)) from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """`async with store.transaction():` BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any
        error; other writers wait for it."""
        async with self._writing():
            await self._run("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                await self._run("ROLLBACK")
                raise
            await self._run("COMMIT")

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        """Hold the writer: other tasks' writes wait, and this context's reads see its own
        uncommitted rows (everyone else's see only what is committed)."""
        async with self._lock:
            token = _WRITING.set(self)
            try:
                yield
            finally:
                _WRITING.reset(token)

    async def _migrate(self) -> None:
        (version,) = (await self._rows("PRAGMA user_version"))[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this evbot knows "
                f"({len(MIGRATIONS)}); upgrade evbot"
            )
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            await self._run("BEGIN IMMEDIATE")
            try:
                await self._step(step)
                await self._run(f"PRAGMA user_version = {number}")
                await self._run("COMMIT")
            except BaseException as exc:
                await self._run("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    # DDL is transactional in SQLite: the rollback undid this step entirely
                    raise StoreError(
                        f"{self.path}: migration to schema version {number} failed ({exc}); "
                        f"the database is unchanged at version {number - 1}"
                    ) from exc
                raise

    async def _step(self, step: Migration) -> None:
        """One migration: a script's statements in turn, or a Python step on this connection."""
        if isinstance(step, str):
            for statement in _statements(step):
                await self._run(statement)
        else:
            await step(_SqliteSteps(self))

    async def _refuse_foreign(self) -> None:
        """A file with tables but no schema version belongs to another application: adding
        ours to it would mix two programs' data, so refuse it."""
        (version,) = (await self._rows("PRAGMA user_version"))[0]
        if version != 0:
            return
        rows = await self._rows(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name LIMIT 6"
        )
        if rows:
            names = ", ".join(str(r[0]) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
            raise StoreError(
                f"{self.path}: not an EV bot database: it holds another application's tables "
                f"({names}) and no evbot schema version; give evbot a file of its own"
            )

    async def schema_version(self) -> int:
        """The schema version of the open database."""
        return int((await self._rows("PRAGMA user_version"))[0][0])


class _SqliteSteps:
    """A Python migration step's view of the migration's connection (`MigrationSql`)."""

    backend: Literal["sqlite", "postgres"] = "sqlite"

    def __init__(self, base: SqliteBase) -> None:
        self.base = base

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return list(await self.base._rows(sql, params))

    async def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        await self.base._run(sql, params)

    async def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.base._many(sql, rows)


SQLITE_MAGIC = b"SQLite format 3\x00"


def _head(path: str) -> bytes:
    """The first bytes of a file, or b"" when there is none (a new database)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(SQLITE_MAGIC))
    except (FileNotFoundError, IsADirectoryError):
        return b""
    except OSError as exc:
        raise StoreError(f"{path}: cannot read: {exc.strerror or exc}") from exc


_FAULTS = (
    ("database is locked", "the database is locked by another writer; try again later"),
    ("database table is locked", "the database is locked by another writer; try again later"),
    ("database or disk is full", "the disk is full; free space and try again"),
    ("disk i/o error", "the disk could not be written (full, or failing); check it and try again"),
    ("attempt to write a readonly database", "the database file is read-only"),
    ("unable to open database file", "the database file cannot be opened"),
)


def _damaged_text(path: str, exc: UnicodeDecodeError) -> str:
    return f"{path}: not an EV bot database: the file is damaged (text that is not UTF-8: {exc})"


def _fault(message: str) -> str | None:
    text = message.lower()
    return next((reason for prefix, reason in _FAULTS if text.startswith(prefix)), None)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def positional(sql: str) -> str:
    """`$N` placeholders (used in order, once each) as SQLite's `?`."""
    return re.sub(r"\$\d+", "?", sql)
