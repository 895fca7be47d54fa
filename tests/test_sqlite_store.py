"""SqliteStore: the store contract on real files, plus what only SQLite has (pragmas, versions)."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.records import SalesRecord, SourceSpec, StoreStats
from bot.domain.settings import default_config
from bot.ports.store import StoreError
from bot.reading.queries import SeriesReader, load_catalog, region_tree, total
from bot.store.sqlite.migrations import MIGRATIONS
from bot.store.sqlite.sales import SqliteStore
from tests.conftest import new_store_at
from tests.store_contract import SALES, StoreContract, StoreFactory, rec


class TestSqliteStoreContract(StoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> StoreFactory:
        return lambda: SqliteStore(tmp_path / "contract.sqlite3")


def _many_records(subjects: int = 40, months: int = 50) -> list[SalesRecord]:
    return [
        rec(f"{2010 + m // 12}-{m % 12 + 1:02d}", 10 + m, f"Make{s % 7}", f"Model {s}", "World")
        for s in range(subjects)
        for m in range(months)
    ]


# -- pragmas and schema versions -------------------------------------------------------------


async def test_wal_and_foreign_keys_are_on(store: SqliteStore) -> None:
    async with store.db.execute("PRAGMA journal_mode") as cursor:
        assert [tuple(r) for r in await cursor.fetchall()] == [("wal",)]
    async with store.db.execute("PRAGMA foreign_keys") as cursor:
        assert [tuple(r) for r in await cursor.fetchall()] == [(1,)]
    # WAL is a property of the file: a plain connection sees it too
    plain = sqlite3.connect(store.path)
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        plain.close()


async def test_foreign_keys_are_enforced(store: SqliteStore) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        await store.db.execute(
            "INSERT INTO records VALUES (999, 'nissan', 'leaf', 'World', '2014-01', '2014-01', "
            "'', 0, 5, 2)"
        )


async def test_schema_version_is_the_number_of_migrations(store: SqliteStore) -> None:
    assert await store.schema_version() == len(MIGRATIONS) >= 1
    plain = sqlite3.connect(store.path)
    try:
        assert plain.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    finally:
        plain.close()


async def test_reopening_keeps_the_version_and_the_figures(tmp_path: Path) -> None:
    path = tmp_path / "again.sqlite3"
    async with SqliteStore(path) as first:
        await first.import_records([(SALES, [rec("2014-01", 5)])])
    async with SqliteStore(path) as second:
        assert await second.schema_version() == len(MIGRATIONS)
        assert await second.count_records() == 1


async def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    plain = sqlite3.connect(path)
    plain.execute("CREATE TABLE from_the_future (x)")
    plain.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    plain.commit()
    plain.close()
    store = SqliteStore(path)
    with pytest.raises(StoreError) as caught:
        await store.open()
    message = str(caught.value)
    assert str(path) in message and "newer" in message and "upgrade" in message
    await store.close()  # safe after a failed open
    plain = sqlite3.connect(path)
    try:  # nothing was migrated into it
        assert plain.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
        tables = {r[0] for r in plain.execute("SELECT name FROM sqlite_master")}
        assert tables == {"from_the_future"}
    finally:
        plain.close()


async def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    content = b"period,region,make,model,units\n" * 200
    path.write_bytes(content)
    with pytest.raises(StoreError) as caught:
        await SqliteStore(path).open()
    message = str(caught.value)
    assert message.startswith(f"{path}: not an EV bot database")
    assert "Traceback" not in message
    assert path.read_bytes() == content


async def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "evbot.sqlite3"
    with pytest.raises(StoreError, match="does not exist"):
        await SqliteStore(path).open()
    assert not path.parent.exists()


async def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "x.sqlite3")
    with pytest.raises(StoreError, match="not open"):
        await store.journal_head()


async def test_a_failing_migration_is_rolled_back(tmp_path: Path) -> None:
    path = tmp_path / "half.sqlite3"
    async with SqliteStore(path):
        pass
    version = len(MIGRATIONS)
    # the list is shared by whichever module applies it: extend it in place, then restore it
    MIGRATIONS.append("CREATE TABLE extra (x INTEGER); THIS IS NOT SQL")
    try:
        with pytest.raises(StoreError):
            await SqliteStore(path).open()
    finally:
        MIGRATIONS.pop()
    plain = sqlite3.connect(path)
    try:
        assert plain.execute("PRAGMA user_version").fetchone()[0] == version
        tables = {r[0] for r in plain.execute("SELECT name FROM sqlite_master")}
        assert "extra" not in tables and "records" in tables
    finally:
        plain.close()


async def test_version_9_keeps_the_figures_and_rekeys_the_cells(tmp_path: Path) -> None:
    """A store written by schema 8 opens at the current version with its figures intact: the
    records gain a line (0: not known), the cells are keyed model first."""
    path = tmp_path / "v8.sqlite3"
    plain = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:8]:
        plain.executescript(script)
    plain.executescript(
        "INSERT INTO sources (id, name, metric, priority) VALUES (1, 'old', 'sales', 100);"
        "INSERT INTO records VALUES (1, 'nissan', 'leaf', 'World', '2014-01', '2014-01', '', 0,"
        " 5);"
        "INSERT INTO cells VALUES (1, 'nissan', 'leaf', 'World', '2014-01', 5, NULL, 5);"
        "PRAGMA user_version = 8;"
    )
    plain.close()
    async with SqliteStore(path) as store:
        assert await store.schema_version() == len(MIGRATIONS)
        [row] = await store.model_increments("nissan", "leaf")
        assert (row.source_id, row.region, str(row.month), row.inc) == (1, "World", "2014-01", 5)
        assert [tuple(r) for r in await store.db.execute_fetchall("SELECT line FROM records")] == [
            (0,)
        ]
        indexes = await store.db.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'cells'"
        )
        assert list(indexes) == []  # the key is the only order kept
        columns = await store.db.execute_fetchall("PRAGMA table_info(cells)")
        key = sorted((r[5], r[1]) for r in columns if r[5])  # (position in the key, name)
        assert [name for _, name in key] == [
            "make_key",
            "model_key",
            "month",
            "source_id",
            "region",
        ]
        # and it takes a revision of that figure as any store does
        await store.import_records([(SourceSpec("old"), [rec("2014-01", 7)])])
        [row] = await store.model_increments("nissan", "leaf")
        assert row.inc == 7


# -- reads use the kept aggregates, never the sales rows --------------------------------------


async def test_reads_never_touch_the_records_table(tmp_path: Path) -> None:
    path = tmp_path / "reads.sqlite3"
    async with SqliteStore(path) as writer:
        await writer.import_records([(SALES, _many_records())])
        await writer.import_records(
            [(SourceSpec("press", priority=5), [rec("2014-06", 9000, cumulative=True)])]
        )
    config = default_config()
    async with SqliteStore(path) as store:
        tables_read: set[str] = set()

        def authorizer(action: int, arg1: str | None, *_: object) -> int:
            if action == sqlite3.SQLITE_READ and arg1:
                tables_read.add(arg1)
            return sqlite3.SQLITE_OK

        assert store._reader is not None  # reads go to the reader connection
        for db in (store.db, store._reader):
            await db.set_authorizer(authorizer)
        store.stats = StoreStats()
        head = await store.journal_head()
        assert await store.journal_since(head) == []
        await store.model_increments("make3", "model 3")
        await store.make_increments(["make1", "make2"])
        await store.all_increments()
        await store.every_model_increment()
        catalog = await load_catalog(store, config)
        reader = SeriesReader(store, region_tree(config), list(config.groups))
        answer = await total(reader, catalog, catalog.resolve("make3").subject)
        assert answer.total > 0
        assert "records" not in tables_read and "records" not in store.stats.rows_read
        assert "cells" in tables_read  # the authorizer does see the reads


async def test_a_poll_with_nothing_new_reads_no_rows(store: SqliteStore) -> None:
    await store.import_records([(SALES, _many_records())])
    head = await store.journal_head()
    assert head == 40  # a first import journals each of its 40 series once
    store.stats = StoreStats()
    assert await store.journal_since(head) == []
    assert await store.journal_head() == head
    assert sum(store.stats.rows_read.values()) == 0
    assert store.stats.statements == 2


async def test_a_model_read_reads_only_that_model(store: SqliteStore) -> None:
    await store.import_records([(SALES, _many_records())])
    store.stats = StoreStats()
    rows = await store.model_increments("make3", "model 3")
    assert len(rows) == 50
    assert store.stats.rows_read == {"cells": 50}


async def test_a_revision_touches_only_its_series(store: SqliteStore) -> None:
    await store.import_records([(SALES, _many_records())])
    store.stats = StoreStats()
    await store.import_records([(SALES, [rec("2012-01", 1, "Make3", "Model 3")])])
    # the touched model's 50 cells are re-read to recompute its increments; no other series
    assert store.stats.rows_read.get("cells", 0) == 50


async def test_counts_of_records(store: SqliteStore) -> None:
    await store.import_records([(SALES, _many_records(3, 4))])
    await store.import_records([(SALES, [rec("2010-01", 99, "Make0", "Model 0")])])
    assert await store.count_records() == 12


async def test_a_dry_run_reports_no_journal_entries(store: SqliteStore) -> None:
    await store.import_records([(SALES, [rec("2014-01", 5)])])
    [summary] = await store.import_records([(SALES, [rec("2014-02", 5)])], dry_run=True)
    assert await store.journal_head() == 1
    assert (summary.journal_from, summary.journal_to) == (0, 0)


# -- a first import's cells are computed in SQL: they must equal `series.increments` ---------

_FIGURE = st.tuples(
    st.integers(0, 23),  # month index
    st.integers(0, 5_000),  # units
    st.booleans(),  # a running total?
    st.sampled_from(["", "BEV", "PHEV"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_FIGURE, min_size=1, max_size=30))
@pytest.mark.slow
def test_first_import_cells_equal_the_revision_paths(
    new_store_file: bytes, figures: list[tuple[int, int, bool, str]]
) -> None:
    """The first import computes cells with SQL window functions; a later import recomputes them
    in Python. Both must give the same period units, running totals and increments."""
    records: list[SalesRecord] = []
    seen: dict[tuple[str, str], SalesRecord] = {}
    for month, units, cumulative, powertrain in figures:
        period = f"{2014 + month // 12}-{month % 12 + 1:02d}"
        if (period, powertrain) in seen:
            records.append(seen[(period, powertrain)])  # an exact repeat: counted once
            continue
        seen[(period, powertrain)] = record = SalesRecord(
            period, "World", "Nissan", "Leaf", units, powertrain, cumulative
        )
        records.append(record)

    async def cells(first: bool) -> list[tuple[object, ...]]:
        with tempfile.TemporaryDirectory() as tmp:
            # each example from a copy of a new store's file: its migrations cost more than
            # the imports the property compares
            async with SqliteStore(new_store_at(Path(tmp) / "cells.sqlite3", new_store_file)) as s:
                if not first:  # an earlier import makes the next one take the revision path
                    await s.import_records([(SALES, [rec("2010-01", 1, "Other", "Car")])])
                await s.import_records([(SALES, records)])
                async with s.db.execute(
                    "SELECT month, period_units, running_units, inc FROM cells "
                    "WHERE model_key = 'leaf' ORDER BY month"
                ) as cursor:
                    rows = [tuple(r) for r in await cursor.fetchall()]
                async with s.db.execute(
                    "SELECT month, inc FROM make_cells WHERE make_key = 'nissan' ORDER BY month"
                ) as cursor:
                    makes = [tuple(r) for r in await cursor.fetchall()]
                return [*rows, ("make", *makes)]

    assert asyncio.run(cells(first=True)) == asyncio.run(cells(first=False))


async def test_a_write_between_a_reads_execute_and_fetch_cannot_reach_the_read() -> None:
    """Tasks share the writer connection (an in-memory store has no other): another task's write
    queued while a read is under way must wait until the read has all its rows (reads once saw
    a NOT NULL status as None)."""
    async with SqliteStore(":memory:") as store:
        await store._run("CREATE TABLE t (id INTEGER PRIMARY KEY, status TEXT NOT NULL)")
        await store._run("CREATE INDEX t_by_status ON t (status)")
        await store._many("INSERT INTO t (status) VALUES (?)", [("a",)] * 100 + [("b",)] * 100)
        for flip in range(40):
            new, old = ("b", "a") if flip % 2 == 0 else ("a", "b")
            counts, _ = await asyncio.gather(
                store._rows("SELECT status, COUNT(*) FROM t GROUP BY status"),
                store._run("UPDATE t SET status = ? WHERE id % 2 = 0 AND status = ?", (new, old)),
            )
            assert {s for s, _ in counts} <= {"a", "b"}, counts
            assert sum(n for _, n in counts) == 200, counts


async def test_other_tasks_read_only_what_is_committed(store: SqliteStore) -> None:
    """A task inside a transaction reads its own writes; every other task reads only what is
    committed (a poll beside an import that then fails must not see the import's rows)."""
    count = "SELECT COUNT(*) FROM slack_oauth_states"
    written, looked = asyncio.Event(), asyncio.Event()

    async def other() -> list[int]:
        await written.wait()
        seen = [(await store._rows(count))[0][0]]
        looked.set()
        return seen

    task = asyncio.create_task(other())  # its own context, made outside the transaction
    async with store.transaction():
        await store._run("INSERT INTO slack_oauth_states (state, expires_at) VALUES ('s', 1)")
        inside = await asyncio.gather(store._rows(count))  # gathered: inside the transaction
        written.set()
        await looked.wait()
    assert inside == [[(1,)]]
    assert await task == [0]
    assert (await store._rows(count))[0][0] == 1

    with pytest.raises(RuntimeError):
        async with store.transaction():
            await store._run("INSERT INTO slack_oauth_states (state, expires_at) VALUES ('t', 1)")
            raise RuntimeError("the import failed")
    assert (await store._rows(count))[0][0] == 1


async def test_a_write_beside_a_transaction_does_not_go_with_its_rollback(
    store: SqliteStore,
) -> None:
    """A one-statement write made while another task's transaction is open waits for it; it
    used to join that transaction and be rolled back with it."""
    begun, release = asyncio.Event(), asyncio.Event()

    async def failing_import() -> None:
        async with store.transaction():
            await store._run("INSERT INTO slack_oauth_states (state, expires_at) VALUES ('x', 1)")
            begun.set()
            await release.wait()
            raise RuntimeError("bad row")

    task = asyncio.create_task(failing_import())
    await begun.wait()
    saving = asyncio.create_task(store.save_slack_bot("", "T1", "{}", 1.0))
    await asyncio.sleep(0.05)
    release.set()
    with pytest.raises(RuntimeError):
        await task
    await saving
    assert await store.find_slack_bot("", "T1") == "{}"
    assert await store._rows("SELECT state FROM slack_oauth_states") == []
