"""Stores written before regions and sources compared by `name_key` are migrated on open:
`Chile` and `chile` (or sources `Press` and `press`) become one key, the later import standing as
a revision of the earlier, totals counted once, and the next poll tells nothing.

The old stores are written by this version with the two places that respell a name as the
store knows it (`respell_regions`, `source_named`) put back to what they did before (nothing,
an exact match), and the schema version set back to before the merge step: exactly what an
older evbot left (the steps after it are no-ops on a store that has what they add).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bot.store.postgres.base
import bot.store.postgres.imports
import bot.store.sqlite.base
import bot.store.sqlite.imports
from bot.detection.detector import Detector
from bot.domain.channels import Channel
from bot.domain.corrections import SILENT_FLAG
from bot.domain.names import name_key
from bot.domain.records import SalesRecord, SourceInfo, SourceSpec
from bot.domain.regions import WORLD
from bot.domain.settings import default_config
from bot.domain.subjects import ALL
from bot.domain.subscriptions import SubscriptionSpec
from bot.reading.queries import SeriesReader, load_catalog, region_tree, total
from bot.store.key_merge import merge_spellings, plan_merges, plan_source_merges
from bot.store.migration_steps import MigrationSql
from bot.store.postgres.migrations import PG_MIGRATIONS
from bot.store.postgres.sales import PgStore
from bot.store.sqlite.migrations import MIGRATIONS
from bot.store.sqlite.sales import SqliteStore
from tests.test_corrections import Recorder, worker

Store = SqliteStore | PgStore
# the schema version an older evbot left: the steps after the merge are re-runnable no-ops
BEFORE_MERGE = MIGRATIONS.index(merge_spellings)
PG_BEFORE_MERGE = PG_MIGRATIONS.index(merge_spellings)
HERE = Channel("test", "guild", "c1")


@contextmanager
def old_spelling_rules() -> Iterator[None]:
    """Imports as before one key, one spelling: every spelling its own region and source."""

    def exact(sources: Sequence[SourceInfo], name: str) -> SourceInfo | None:
        return next((s for s in sources if s.name == name), None)

    with pytest.MonkeyPatch.context() as patch:
        for module in (bot.store.sqlite.imports, bot.store.postgres.imports):
            patch.setattr(module, "respell_regions", lambda chunk, known: None)
            patch.setattr(module, "source_named", exact)
        yield


class Backend:
    """Stores of one backend at one place, and raw SQL on it."""

    def __init__(self, kind: str, where: str) -> None:
        self.kind, self.where = kind, where

    def store(self) -> Store:
        return SqliteStore(self.where) if self.kind == "sqlite" else PgStore(self.where)

    async def sql(self, statement: str) -> list[Any]:
        if self.kind == "sqlite":
            plain = sqlite3.connect(self.where, isolation_level=None)
            try:
                return plain.execute(statement).fetchall()
            finally:
                plain.close()
        con = await asyncpg.connect(self.where)
        try:
            return list(await con.fetch(statement))
        finally:
            await con.close()

    async def as_before(self) -> None:
        """Set the schema version back to before the merge step, as an older evbot left it."""
        if self.kind == "sqlite":
            await self.sql(f"PRAGMA user_version = {BEFORE_MERGE}")
        else:
            await self.sql(f"DELETE FROM evbot_schema WHERE version > {PG_BEFORE_MERGE}")

    async def count(self, table: str) -> int:
        return int((await self.sql(f"SELECT COUNT(*) FROM {table}"))[0][0])


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], Backend]:
    """Places for stores of each backend (PostgreSQL skips without a server)."""
    if request.param == "sqlite":
        return lambda name: Backend("sqlite", str(tmp_path / f"{name}.sqlite3"))
    dsn = request.getfixturevalue("pg_dsn")
    # the reference (what this version makes of the imports) is the same on either backend
    return lambda name: (
        Backend("postgres", dsn)
        if name == "old"
        else Backend("sqlite", str(tmp_path / f"{name}.sqlite3"))
    )


def sale(period: str, region: str, make: str, model: str, units: int) -> SalesRecord:
    return SalesRecord(period, region, make, model, units)


# Chile's figures as two files spelled it: the Leaf of January in both (100 is the later import);
# counted twice, 2,500 was reached in January, counted once in February: a correction, silent
BASE = [sale("2019-12", "Chile", "Kia", "EV6", 1)]  # a first import is history: then news
FIRST = [
    sale("2020-01", "Chile", "Nissan", "Leaf", 2600),
    sale("2020-02", "Chile", "Tesla", "3", 3000),
]
SECOND = [
    sale("2020-01", "chile", "Nissan", "Leaf", 100),
    sale("2020-03", "chile", "BYD", "Seal", 2000),
]


async def _imports(store: Store, batches: Sequence[tuple[str, list[SalesRecord]]]) -> None:
    """Import and poll each batch, and post what it told (so that a correction would be told)."""
    detector = Detector(store, default_config())
    for source, records in batches:
        await store.import_records([(SourceSpec(source), records)])
        await detector.poll()
        await worker(store, Recorder()).drain()


async def _figures(store: Store) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """Every model cell's increment (source by name), and the total per region."""
    names = {s.id: s.name for s in await store.sources()}
    cells = sorted(
        (names[r.source_id], r.region, r.make_key, r.model_key, str(r.month), r.inc)
        for r in await store.every_model_increment()
    )
    totals: dict[str, int] = {}
    for row in await store.all_increments():
        totals[row.region] = totals.get(row.region, 0) + row.inc
    return cells, totals


async def _old_store(backend: Backend, batches: Sequence[tuple[str, list[SalesRecord]]]) -> None:
    """A store as an older evbot wrote it: imported, polled, subscribed in both spellings."""
    with old_spelling_rules():
        async with backend.store() as store:
            await store.sync_groups(default_config().groups)
            await store.subscribe(SubscriptionSpec(HERE, ALL, region="Chile", charts=False))
            await store.subscribe(SubscriptionSpec(HERE, ALL, region="chile", charts=False))
            await _imports(store, batches)
    await backend.as_before()


async def _reference(backend: Backend, batches: Sequence[tuple[str, list[SalesRecord]]]) -> Any:
    """What this version makes of the same imports from an empty store."""
    async with backend.store() as store:
        await store.sync_groups(default_config().groups)
        await _imports(store, batches)
        return await _figures(store)


async def _check_merged(
    backend: Backend, batches: Sequence[tuple[str, list[SalesRecord]]], reference: Any
) -> Store:
    async with backend.store() as store:
        cells, totals = await _figures(store)
        assert (cells, totals) == reference
        assert await store.regions() == ["Chile"]
        # the whole of the world is the region's: each figure counted once
        assert totals == {"Chile": 1 + 100 + 3000 + 2000}
        config = default_config()
        catalog = await load_catalog(store, config)
        reader = SeriesReader(store, region_tree(config), list(config.groups))
        world = await total(reader, catalog, ALL, WORLD)
        chile = await total(reader, catalog, ALL, "chile")
        assert world.total == chile.total == 1 + 100 + 3000 + 2000
        assert [s.spec.region for s in await store.subscriptions(HERE)] == ["Chile"]
        told = {"Chile", "South America", "World"}  # Chile's continent is its sum
        assert {m["region"] for m in await store.milestone_log()} <= told
        deliveries = await backend.count("deliveries")
        flags = await backend.sql(f"SELECT name FROM store_flags WHERE name = '{SILENT_FLAG}'")
        assert len(flags) == 1
        detector = Detector(store, default_config())
        corrected = len(await store.correction_log())
        told = await detector.poll()
        assert len(await store.correction_log()) > corrected  # recorded, told to no one
        assert [e.event.kind for e in told if e.event.kind != "correction"] == []
        assert await backend.count("deliveries") == deliveries  # the re-recording tells nothing
        assert await backend.sql("SELECT name FROM store_flags") == []
        # and after it, figures are news again: the flag was for that poll only
        await store.import_records(
            [(SourceSpec(batches[-1][0]), [sale("2020-04", "CHILE", "Tesla", "3", 5000)])]
        )
        assert [e.event.region for e in await detector.poll()] != []
        assert await backend.count("deliveries") > deliveries
        return store


async def test_two_spellings_of_a_region_become_one(
    backend: Callable[[str], Backend], caplog: pytest.LogCaptureFixture
) -> None:
    batches = [("s", BASE), ("s", FIRST), ("s", SECOND)]
    old = backend("old")
    await _old_store(old, batches)
    # as written before: two regions, the world counting the Leaf's January twice
    assert sorted(r[0] for r in await old.sql("SELECT DISTINCT region FROM all_cells")) == [
        "Chile",
        "chile",
    ]
    reference = await _reference(backend("new"), batches)
    with caplog.at_level(logging.INFO, logger="bot.store.key_merge"):
        await _check_merged(old, batches, reference)
    merged = [r.getMessage() for r in caplog.records if r.name == "bot.store.key_merge"]
    assert len(merged) == 1 and merged[0].startswith("merged region 'chile' into 'Chile': ")
    assert (
        "records 2" in merged[0]
        and "1 records of one key in both: the later import's stands" in merged[0]
    )


async def test_two_spellings_of_a_source_become_one(backend: Callable[[str], Backend]) -> None:
    batches = [
        ("Press", BASE),
        ("Press", FIRST),
        ("press", [*SECOND, sale("2020-02", "Chile", "Tesla", "3", 3000)]),
    ]
    old = backend("old")
    await _old_store(old, batches)
    assert sorted(r[0] for r in await old.sql("SELECT name FROM sources")) == ["Press", "press"]
    reference = await _reference(backend("new"), batches)
    store = await _check_merged(old, batches, reference)
    async with store:
        assert [s.name for s in await store.sources()] == ["Press"]
        assert (await store.sources())[0].imports == 4  # three before, one after the merge


async def test_a_store_with_nothing_to_merge_is_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "plain.sqlite3"
    async with SqliteStore(path) as store:
        await _imports(store, [("s", FIRST)])
    before = _dump(path)
    sqlite3.connect(path).execute(f"PRAGMA user_version = {BEFORE_MERGE}").connection.close()
    async with SqliteStore(path) as store:
        assert await store.schema_version() == len(MIGRATIONS)
    assert _dump(path) == before


def _dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as con:
        return [line for line in con.iterdump() if "user_version" not in line]


def test_the_kept_spelling_is_the_first_unless_shouted_and_world_stays_world() -> None:
    assert plan_merges(["Chile", "chile", "CHILE"]) == {"chile": "Chile", "CHILE": "Chile"}
    assert plan_merges(["CHILE", "Chile "]) == {"CHILE": "Chile", "Chile ": "Chile"}
    assert plan_merges(["Peru", "Chile"]) == {}
    assert plan_merges(["world", "World"], fixed=["World"]) == {"world": "World"}


def test_sources_of_one_key_but_two_metrics_stay_apart(caplog: pytest.LogCaptureFixture) -> None:
    moves, names = plan_source_merges(
        [(1, "PRESS", "sales"), (2, "press", "stock"), (3, "Press", "sales")]
    )
    assert (moves, names) == ({3: 1}, {1: "Press"})
    assert "'PRESS', 'Press', 'press' differ only in spelling" in caplog.text


# -- properties -------------------------------------------------------------------------------

LETTERS = "aAeEéÉèÈëoOöÖcCçÇ"


def _respelled(draw: st.DrawFn, base: str) -> str:
    """The same name by `name_key`: each letter's case and accent changed at will, spaces
    doubled at will."""
    out = []
    for c in base:
        if c == " ":
            out.append(draw(st.sampled_from([" ", "  "])))
        else:
            same = [x for x in LETTERS if name_key(x) == name_key(c)]
            out.append(draw(st.sampled_from(same)))
    return "".join(out)


@st.composite
def spellings(draw: st.DrawFn) -> tuple[str, str]:
    words = draw(st.lists(st.text(LETTERS, min_size=1, max_size=5), min_size=1, max_size=2))
    base = " ".join(words)
    return base, _respelled(draw, base)


@given(st.lists(spellings(), min_size=1, max_size=4))
def test_every_spelling_of_a_key_merges_into_one(pairs: list[tuple[str, str]]) -> None:
    names = [n for pair in pairs for n in pair]
    moves = plan_merges(names)
    kept = {name_key(n): moves.get(n, n) for n in names}
    for name in names:
        assert moves.get(name, name) == kept[name_key(name)]
        assert name_key(moves.get(name, name)) == name_key(name)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spellings(), st.integers(1, 10_000), st.integers(1, 10_000))
def test_two_spellings_give_one_key_and_one_total(
    tmp_path: Path, pair: tuple[str, str], first: int, later: int
) -> None:
    """Any two spellings equal under `name_key`, as region and as source: after the migration,
    one region, one source, and the later import's figure as the one total."""
    a, b = pair
    path = tmp_path / f"p{abs(hash((a, b, first, later)))}.sqlite3"
    path.unlink(missing_ok=True)

    async def run() -> None:
        with old_spelling_rules():
            async with SqliteStore(path) as store:
                await store.import_records([(SourceSpec(a), [sale("2020-01", a, "M", "X", first)])])
                await store.import_records([(SourceSpec(b), [sale("2020-01", b, "M", "X", later)])])
        sqlite3.connect(path).execute(f"PRAGMA user_version = {BEFORE_MERGE}").connection.close()
        async with SqliteStore(path) as store:
            assert len(await store.regions()) == 1
            assert len(await store.sources()) == 1
            assert sum(r.inc for r in await store.all_increments()) == later

    asyncio.run(run())


# -- Python migration steps -----------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def runner(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Backend, Any, str]:
    """A store's place, and where its backend's runner finds its migration list."""
    if request.param == "sqlite":
        return Backend("sqlite", str(tmp_path / "s.sqlite3")), bot.store.sqlite.base, "MIGRATIONS"
    return (
        Backend("postgres", request.getfixturevalue("pg_dsn")),
        bot.store.postgres.base,
        "PG_MIGRATIONS",
    )


async def test_a_python_step_runs_in_its_migrations_transaction(
    runner: tuple[Backend, Any, str],
) -> None:
    """A step that fails leaves nothing of what it wrote and the version where it was; one that
    succeeds moves the version like a script."""
    backend, module, name = runner
    steps = getattr(module, name)

    async def write(db: MigrationSql) -> None:
        await db.run("INSERT INTO store_flags (name, value) VALUES (?, ?)", ("step", "ran"))

    async def fail(db: MigrationSql) -> None:
        await write(db)
        raise RuntimeError("a step that fails")

    async with backend.store() as store:
        assert await store.schema_version() == len(steps)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, name, [*steps, fail])
        failing = backend.store()
        with pytest.raises(RuntimeError):
            await failing.open()
        await failing.close()  # a failed open leaves its connection open (a warning, unclosed)
        assert await backend.sql("SELECT name FROM store_flags") == []
        patch.setattr(module, name, [*steps, write])
        async with backend.store() as store:
            assert await store.schema_version() == len(steps) + 1
    assert [tuple(r) for r in await backend.sql("SELECT name, value FROM store_flags")] == [
        ("step", "ran")
    ]
