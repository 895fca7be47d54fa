"""The PostgreSQL connection pool shared by the store's parts: open, migrations, counted statements.

Besides the pool, each open store keeps one dedicated connection that holds a session advisory
lock on its replica id. Deliveries it claims carry that id; when the replica dies its connection
goes, the lock goes with it, and another replica can tell that the deliveries it left in flight
are orphans (see `PgOutbox.inflight`).

A running replica (`evbot run`, not a one-off command) also joins the deployment's replicas on
that connection (`join_replicas`): it holds a shared advisory lock on its database and schema,
so the number of such locks granted is the number of live replicas, and a replica that dies is
no longer counted the moment PostgreSQL ends its session (see `bot/store/postgres/leader.py`,
`RateShare`).
The same connection LISTENs: a transaction that queues deliveries NOTIFYs
`evbot_deliveries`, and a replica joining or leaving NOTIFYs `evbot_replicas`, each with the
schema as payload (notifications are per database; a listener ignores other schemas').
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, Literal, Self
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot.domain import holds as hold_rows
from bot.domain.records import StoreStats
from bot.ports.store import StoreError
from bot.store.migration_steps import Migration, numbered
from bot.store.postgres.migrations import PG_MIGRATIONS

# Two-int advisory lock classes (pg_locks shows them with objsubid = 2); single-bigint locks
# (the leader's) live in another space (objsubid = 1), so the numbers cannot clash.
MIGRATION_LOCK = (0x45564201, 1)
REPLICA_CLASS = 0x45564202
JOURNAL_LOCK = (0x45564203, 1)
LIVE_CLASS = 0x45564206  # shared, on hashtext(database.schema): one per live replica
DELIVERIES_CHANNEL = "evbot_deliveries"
REPLICAS_CHANNEL = "evbot_replicas"
_DEPLOYMENT = "hashtext(current_database() || '.' || current_schema())"
POOL_SIZE = 8
REGAIN_TRIES = 20  # a lost session's replica id is tried again for up to 2 s
CONNECT_TIMEOUT = 10.0

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
Runner = asyncpg.Pool | Connection

log = logging.getLogger("evbot.store")

# what a broken session raises (InternalClientError: a query sent as the server hung up)
_SESSION_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)


def is_postgres(database: str) -> bool:
    """Whether a `database` setting names a PostgreSQL server rather than a SQLite file."""
    return database.startswith(("postgresql://", "postgres://"))


def safe_dsn(dsn: str) -> str:
    """The DSN without its password, for messages and logs."""
    parts = urlsplit(dsn)
    query = "&".join(
        f"{k}=***" if k.lower() == "password" else (f"{k}={v}" if sep else k)
        for k, sep, v in (pair.partition("=") for pair in parts.query.split("&") if pair)
    )
    if parts.password is None:
        return urlunsplit(parts._replace(query=query))
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, query, parts.fragment))


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection, with failures turned into a `StoreError` that names the server."""
    try:
        return await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)
    except (OSError, asyncpg.PostgresError, TimeoutError, ValueError) as exc:
        raise StoreError(f"{safe_dsn(dsn)}: cannot connect: {exc}") from exc


async def _take_replica_id(con: asyncpg.Connection, wanted: int = 0) -> int:
    """A random id no live replica holds (`wanted`, if still free), locked for as long as
    `con` lives."""
    for _ in range(REGAIN_TRIES if wanted else 0):
        if await con.fetchval("SELECT pg_try_advisory_lock($1, $2)", REPLICA_CLASS, wanted):
            return wanted
        await asyncio.sleep(0.1)  # the server may not have ended the old session yet
    while True:
        candidate = secrets.randbelow(2**31 - 1) + 1  # the two-int lock form takes int4 keys
        if await con.fetchval("SELECT pg_try_advisory_lock($1, $2)", REPLICA_CLASS, candidate):
            return candidate


class PgBase:
    """An asyncpg pool; every write that must be atomic runs in one transaction."""

    def __init__(self, dsn: str, *, pool_size: int = POOL_SIZE) -> None:
        if not is_postgres(dsn):
            raise StoreError(f"{dsn}: not a PostgreSQL URL (postgresql://user@host/db)")
        self.dsn = dsn
        self.path = safe_dsn(dsn)  # what messages name, as SqliteStore.path does
        self.pool_size = pool_size
        self.stats = StoreStats()
        self.replica_id = 0
        self._pool: asyncpg.Pool | None = None
        self._life: asyncpg.Connection | None = None
        # set by join_replicas: what to call when a notification comes
        self._heard: tuple[Callable[[], None], Callable[[], None]] | None = None

    async def open(self) -> None:
        if self._pool is not None:
            return
        life = await connect(self.dsn)
        try:
            await self._migrate(life)
            self.replica_id = await _take_replica_id(life)
            pool = await asyncpg.create_pool(
                self.dsn, min_size=1, max_size=self.pool_size, timeout=CONNECT_TIMEOUT
            )
        except BaseException:
            await life.close()
            raise
        self._life, self._pool = life, pool

    async def close(self) -> None:
        pool, life = self._pool, self._life
        self._pool = self._life = None
        if life is not None and self._heard is not None and not life.is_closed():
            # leave before the session ends, and say so: the others take our share at once
            # (close comes after the worker's last post, so they never overlap with it)
            with contextlib.suppress(*_SESSION_ERRORS):
                await life.execute(
                    f"SELECT pg_advisory_unlock_shared({LIVE_CLASS}, {_DEPLOYMENT}), "
                    "pg_notify($1, coalesce(current_schema(), ''))",
                    REPLICAS_CHANNEL,
                )
        self._heard = None
        if pool is not None:
            await pool.close()
        if life is not None:
            await life.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- replicas ---------------------------------------------------------------------------

    async def join_replicas(
        self, on_deliveries: Callable[[], None], on_replicas: Callable[[], None]
    ) -> None:
        """Count this process among the live replicas until its session ends; call
        `on_deliveries` when any replica queues deliveries, `on_replicas` when one joins or
        leaves (the others hear this one join)."""
        self._heard = (on_deliveries, on_replicas)
        await self._join(self._life_connection())

    async def _join(self, life: asyncpg.Connection) -> None:
        assert self._heard is not None
        on_deliveries, on_replicas = self._heard
        schema = await life.fetchval("SELECT coalesce(current_schema(), '')")

        def heard(con: Connection, pid: int, channel: str, payload: object) -> None:
            if payload == schema:
                (on_deliveries if channel == DELIVERIES_CHANNEL else on_replicas)()

        await life.add_listener(DELIVERIES_CHANNEL, heard)
        await life.add_listener(REPLICAS_CHANNEL, heard)
        await life.execute(
            f"SELECT pg_advisory_lock_shared({LIVE_CLASS}, {_DEPLOYMENT}), "
            "pg_notify($1, coalesce(current_schema(), ''))",
            REPLICAS_CHANNEL,
        )

    async def live_replicas(self) -> int:
        """How many replicas are live now (this one included, once joined).

        A count that fails means this replica's own session cannot be trusted (the server
        restarted, the connection was cut): it is opened again, with the same replica id when
        that is free, and joined again. A replica that delivers must stay counted, or the
        others would take its share as well.
        """
        life = self._life_connection()
        try:
            if not life.is_closed():
                return int(await life.fetchval(_LIVE_COUNT, LIVE_CLASS))
        except _SESSION_ERRORS:
            pass
        try:
            life = await self._reopen_life(life)
            return int(await life.fetchval(_LIVE_COUNT, LIVE_CLASS))
        except _SESSION_ERRORS as exc:
            raise StoreError(f"{self.path}: cannot count the live replicas: {exc}") from exc

    def _life_connection(self) -> asyncpg.Connection:
        if self._life is None:
            raise StoreError("the store is not open")
        return self._life

    async def _reopen_life(self, old: asyncpg.Connection) -> asyncpg.Connection:
        log.warning("the replica's own session to %s was lost; opening it again", self.path)
        old.terminate()
        life = await connect(self.dsn)
        try:
            replica_id = await _take_replica_id(life, self.replica_id)
            if self._heard is not None:
                await self._join(life)
        except BaseException:
            life.terminate()
            raise
        if replica_id != self.replica_id:
            # deliveries claimed under the old id are settled by whoever sees them first
            log.warning("replica id %d was taken meanwhile; now %d", self.replica_id, replica_id)
            self.replica_id = replica_id
        self._life = life
        return life

    async def notify_deliveries(self, con: Runner) -> None:
        """Wake every replica's worker when `con`'s transaction commits (at once, if none)."""
        await self._run(
            con, "SELECT pg_notify($1, coalesce(current_schema(), ''))", DELIVERIES_CHANNEL
        )

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("the store is not open")
        return self._pool

    async def _fetch(self, con: Runner, sql: str, *args: Any, table: str = "") -> list[Any]:
        self.stats.statements += 1
        rows = list(await con.fetch(sql, *args))
        if table:
            self.stats.rows_read[table] = self.stats.rows_read.get(table, 0) + len(rows)
        return rows

    async def _val(self, con: Runner, sql: str, *args: Any) -> Any:
        self.stats.statements += 1
        return await con.fetchval(sql, *args)

    async def _run(self, con: Runner, sql: str, *args: Any) -> int:
        """Run a statement; returns the rows it touched (from the command tag)."""
        self.stats.statements += 1
        tag = await con.execute(sql, *args)
        last = tag.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def _many(self, con: Connection, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            self.stats.statements += 1
            await con.executemany(sql, rows)

    async def _fetch_q(self, sql: str, *args: Any, table: str = "") -> list[Any]:
        return await self._fetch(self.pool, sql, *args, table=table)

    def _fetch_on(self, con: Runner) -> hold_rows.Fetch:
        async def fetch(sql: str, *args: Any) -> list[Any]:
            return await self._fetch(con, sql, *args)

        return fetch

    def _run_on(self, con: Runner) -> hold_rows.Run:
        async def run(sql: str, *args: Any) -> int:
            return await self._run(con, sql, *args)

        return run

    async def _migrate(self, con: asyncpg.Connection) -> None:
        # replicas starting together must not race on CREATE TABLE
        await con.execute("SELECT pg_advisory_lock($1, $2)", *MIGRATION_LOCK)
        try:
            await con.execute("CREATE TABLE IF NOT EXISTS evbot_schema (version INTEGER NOT NULL)")
            version = await con.fetchval("SELECT max(version) FROM evbot_schema") or 0
            if version > len(PG_MIGRATIONS):
                raise StoreError(
                    f"{self.path}: schema version {version} is newer than this evbot knows "
                    f"({len(PG_MIGRATIONS)}); upgrade evbot"
                )
            for number, step in enumerate(PG_MIGRATIONS[version:], start=version + 1):
                async with con.transaction():
                    await _step(con, step)
                    await con.execute("INSERT INTO evbot_schema (version) VALUES ($1)", number)
        except asyncpg.PostgresError as exc:
            raise StoreError(f"{self.path}: cannot migrate the schema: {exc}") from exc
        finally:
            await con.execute("SELECT pg_advisory_unlock($1, $2)", *MIGRATION_LOCK)

    async def schema_version(self) -> int:
        """The schema version of the open database."""
        return int(await self._val(self.pool, "SELECT max(version) FROM evbot_schema"))

    async def ping(self) -> None:
        """Raise unless the database answers (for /healthz)."""
        await asyncio.wait_for(self._val(self.pool, "SELECT 1"), CONNECT_TIMEOUT)


def columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows as columns, for `unnest` (one statement instead of one per row)."""
    return [[row[i] for row in rows] for i in range(width)]


# granted shared locks on this deployment's key, in this database: one per live replica
_LIVE_COUNT = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
    f"AND classid = $1::oid AND objid = {_DEPLOYMENT}::oid "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


async def _step(con: asyncpg.Connection, step: Migration) -> None:
    """One migration: a script, or a Python step on the migration's connection."""
    if isinstance(step, str):
        await con.execute(step)
    else:
        await step(PgSteps(con))


class PgSteps:
    """A Python migration step's view of the migration's connection (`MigrationSql`)."""

    backend: Literal["sqlite", "postgres"] = "postgres"

    def __init__(self, con: asyncpg.Connection) -> None:
        self.con = con

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return [tuple(r) for r in await self.con.fetch(numbered(sql), *params)]

    async def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        await self.con.execute(numbered(sql), *params)

    async def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            await self.con.executemany(numbered(sql), rows)


@contextlib.asynccontextmanager
async def scratch_schema(dsn: str, prefix: str = "evbot_scratch") -> AsyncIterator[str]:
    """A throwaway schema in the database at `dsn`, dropped on exit; yields a DSN whose
    `search_path` points there (for benchmarks and tests that must not touch real data)."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    con = await connect(dsn)
    try:
        await con.execute(f'CREATE SCHEMA "{name}"')
    finally:
        await con.close()
    try:
        yield f"{dsn}{'&' if '?' in dsn else '?'}search_path={name}"
    finally:
        con = await connect(dsn)
        try:
            await con.execute(f'DROP SCHEMA "{name}" CASCADE')
        finally:
            await con.close()
