"""The `SalesStore` contract: what every store implementation must do, whatever its database.

A backend's test module subclasses `StoreContract` and overrides `make_store`, a fixture that
returns a factory of *unopened* stores on one fresh, empty database (two calls give two stores on
the same database, so persistence can be checked):

    class TestSqliteStoreContract(StoreContract):
        @pytest.fixture
        def make_store(self, tmp_path):
            return lambda: SqliteStore(tmp_path / "contract.sqlite3")

The tests use the port's methods only (`bot/store/common.py`), never SQL, so that PostgreSQL runs
them
unchanged: `tests/test_sqlite_store.py` runs them on SQLite files, `tests/test_pg_store.py` on a
fresh PostgreSQL schema each (where `EVBOT_TEST_POSTGRES_DSN` is set; skipped otherwise).
`tests/test_pg_outbox.py` holds the same for detection, subscriptions and the outbox, run on both.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import pytest

from bot.domain.market_shares import MarketShare
from bot.domain.periods import Month
from bot.domain.records import GroupMember, GroupSpec, ImportFailed, IncRow, SalesRecord, SourceSpec
from bot.ports.store import SalesStore, StoreError

StoreFactory = Callable[[], SalesStore]

SALES = SourceSpec("monthly")
PRESS = SourceSpec("press", priority=10)
STOCK = SourceSpec("registrations", metric="stock")


def rec(
    period: str,
    units: int,
    make: str = "Nissan",
    model: str = "Leaf",
    region: str = "World",
    powertrain: str = "",
    cumulative: bool = False,
) -> SalesRecord:
    return SalesRecord(period, region, make, model, units, powertrain, cumulative)


def incs(rows: Sequence[IncRow]) -> dict[tuple[int, str, str, str, str], int]:
    """{(source, region, make, model, month): increment}, zero increments left out."""
    out: dict[tuple[int, str, str, str, str], int] = defaultdict(int)
    for r in rows:
        out[(r.source_id, r.region, r.make_key, r.model_key, str(r.month))] += r.inc
    return {k: v for k, v in out.items() if v}


def by_month(rows: Sequence[IncRow]) -> dict[str, int]:
    """{month: increment} summed over sources and regions, zero increments left out."""
    out: dict[str, int] = defaultdict(int)
    for r in rows:
        out[str(r.month)] += r.inc
    return {k: v for k, v in out.items() if v}


async def snapshot(store: SalesStore) -> tuple[Any, ...]:
    """Everything the port can tell about the stored figures."""
    return (
        await store.journal_head(),
        await store.journal_since(0),
        await store.sources(),
        await store.model_names(),
        await store.make_names(),
        await store.regions(),
        incs(await store.all_increments()),
        incs(await store.every_model_increment()),
    )


class Poisoned(Sequence[SalesRecord]):
    """Records that fail half-way through being read, like a crash in the middle of an import."""

    def __init__(self, records: Sequence[SalesRecord]) -> None:
        self.records = list(records)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice) or index >= len(self.records) // 2:
            raise RuntimeError("boom: the import died half-way")
        return self.records[index]

    def __iter__(self) -> Iterator[SalesRecord]:
        for i, r in enumerate(self.records):
            if i == len(self.records) // 2:
                raise RuntimeError("boom: the import died half-way")
            yield r


class StoreContract:
    """Port semantics every `SalesStore` must have. Subclass it and override `make_store`."""

    @pytest.fixture
    def make_store(self) -> StoreFactory:
        raise NotImplementedError("a backend's test class overrides the make_store fixture")

    @pytest.fixture
    async def store(self, make_store: StoreFactory) -> AsyncIterator[SalesStore]:
        store = make_store()
        await store.open()
        try:
            yield store
        finally:
            await store.close()

    # -- lifecycle --------------------------------------------------------------------------

    async def test_open_twice_and_close_twice_are_safe(self, make_store: StoreFactory) -> None:
        store = make_store()
        await store.open()
        await store.open()
        await store.import_records([(SALES, [rec("2014-01", 5)])])
        await store.close()
        await store.close()

    async def test_a_new_store_is_empty(self, store: SalesStore) -> None:
        assert await store.journal_head() == 0
        assert await store.journal_since(0) == []
        assert await store.sources() == []
        assert await store.model_names() == []
        assert await store.make_names() == {}
        assert await store.regions() == []
        assert await store.all_increments() == []
        assert await store.every_model_increment() == []
        assert await store.make_increments([]) == []
        assert await store.groups() == []

    async def test_figures_survive_closing_and_reopening(self, make_store: StoreFactory) -> None:
        first = make_store()
        await first.open()
        await first.import_records([(SALES, [rec("2014-01", 100), rec("2014-02", 50)])])
        await first.sync_groups([GroupSpec("G", (GroupMember("Nissan"),), ("gee",))])
        before = await snapshot(first)
        await first.close()
        second = make_store()
        await second.open()
        try:
            assert await snapshot(second) == before
            assert by_month(await second.model_increments("nissan", "leaf")) == {
                "2014-01": 100,
                "2014-02": 50,
            }
            assert [g.name for g in await second.groups()] == ["G"]
        finally:
            await second.close()

    # -- import and revision ----------------------------------------------------------------

    async def test_import_stores_figures_and_reports_them_new(self, store: SalesStore) -> None:
        [summary] = await store.import_records(
            [
                (
                    SALES,
                    [rec("2014-01", 100), rec("2014-02", 200), rec("2014-02", 7, "Renault", "Zoe")],
                )
            ],
            file="a.csv",
        )
        assert (summary.source, summary.records, summary.new) == ("monthly", 3, 3)
        assert (summary.revised, summary.unchanged, summary.dry_run) == (0, 0, False)
        assert summary.first_import is True
        assert by_month(await store.model_increments("nissan", "leaf")) == {
            "2014-01": 100,
            "2014-02": 200,
        }
        assert by_month(await store.model_increments("renault", "zoe")) == {"2014-02": 7}
        assert by_month(await store.all_increments()) == {"2014-01": 100, "2014-02": 207}

    async def test_a_year_and_a_month_of_it_for_one_key_are_refused(
        self, store: SalesStore
    ) -> None:
        year = SalesRecord("2015", "World", "Nissan", "Leaf", 12_000, line=2)
        june = SalesRecord("2015-06", "World", "Nissan", "Leaf", 5_000, line=3)
        day = SalesRecord("2016-03-09", "World", "Nissan", "Leaf", 10, line=4)
        march = SalesRecord("2016-03", "World", "Nissan", "Leaf", 500, line=5)
        with pytest.raises(ImportFailed) as failed:
            await store.import_records([(SALES, [year, june, day, march])], file="f.csv")
        assert failed.value.problems == [
            "f.csv:2: 2015 overlaps 2015-06 of the same key (line 3)",
            "f.csv:5: 2016-03 overlaps 2016-03-09 of the same key (line 4)",
        ]
        assert await store.sources() == []  # nothing written
        # across imports of the source, too; another key, or another source, is no overlap
        await store.import_records([(SALES, [year])], file="f.csv")
        before = await snapshot(store)
        with pytest.raises(ImportFailed) as again:
            await store.import_records([(SALES, [june])], file="g.csv")
        assert again.value.problems == [
            "g.csv:3: 2015-06 overlaps 2015 of the same key, imported before"
        ]
        assert await snapshot(store) == before
        other = SalesRecord("2015-06", "World", "Nissan", "e-NV200", 50, line=3)
        await store.import_records([(SALES, [other])], file="g.csv")
        await store.import_records([(PRESS, [june])], file="h.csv")

    async def test_a_revision_replaces_the_figure_never_adds(self, store: SalesStore) -> None:
        await store.import_records([(SALES, [rec("2014-01", 100), rec("2014-02", 200)])])
        [summary] = await store.import_records(
            [(SALES, [rec("2014-01", 150), rec("2014-02", 200)])]
        )
        assert (summary.new, summary.revised, summary.unchanged) == (0, 1, 1)
        assert summary.first_import is False
        expected = {"2014-01": 150, "2014-02": 200}
        assert by_month(await store.model_increments("nissan", "leaf")) == expected
        assert by_month(await store.make_increments(["nissan"])) == expected
        assert by_month(await store.all_increments()) == expected
        # a revision downwards, to zero, also replaces
        await store.import_records([(SALES, [rec("2014-02", 0)])])
        assert by_month(await store.all_increments()) == {"2014-01": 150}

    async def test_names_are_compared_without_case_or_accents(self, store: SalesStore) -> None:
        await store.import_records([(SALES, [rec("2014-01", 100, "Renault", "Zoé")])])
        [summary] = await store.import_records([(SALES, [rec("2014-01", 120, "RENAULT", "ZOE")])])
        assert (summary.new, summary.revised) == (0, 1)
        assert by_month(await store.model_increments("renault", "zoe")) == {"2014-01": 120}

    async def test_an_identical_reimport_changes_and_journals_nothing(
        self, store: SalesStore
    ) -> None:
        records = [rec("2014-01", 100), rec("2014-02", 200)]
        await store.import_records([(SALES, records)])
        head = await store.journal_head()
        [summary] = await store.import_records([(SALES, records)])
        assert (summary.new, summary.revised, summary.unchanged) == (0, 0, 2)
        assert (summary.journal_from, summary.journal_to) == (0, 0)
        assert await store.journal_head() == head
        assert by_month(await store.all_increments()) == {"2014-01": 100, "2014-02": 200}

    async def test_source_and_powertrain_are_part_of_the_key(self, store: SalesStore) -> None:
        await store.import_records(
            [
                (
                    SALES,
                    [rec("2014-01", 100, powertrain="BEV"), rec("2014-01", 30, powertrain="PHEV")],
                ),
                (PRESS, [rec("2014-01", 90, powertrain="BEV")]),
            ]
        )
        sources = {s.name: s.id for s in await store.sources()}
        got = incs(await store.model_increments("nissan", "leaf"))
        assert got == {
            (sources["monthly"], "World", "nissan", "leaf", "2014-01"): 130,
            (sources["press"], "World", "nissan", "leaf", "2014-01"): 90,
        }

    async def test_periods_roll_into_the_month_they_end(self, store: SalesStore) -> None:
        await store.import_records(
            [(SALES, [rec("2013", 1200), rec("2014-03-09", 4), rec("2014-03-20", 6)])]
        )
        assert by_month(await store.model_increments("nissan", "leaf")) == {
            "2013-12": 1200,
            "2014-03": 10,
        }

    # -- dry run and all-or-nothing ---------------------------------------------------------

    async def test_a_dry_run_writes_nothing(self, store: SalesStore) -> None:
        await store.import_records([(SALES, [rec("2014-01", 100)])])
        before = await snapshot(store)
        summaries = await store.import_records(
            [
                (SALES, [rec("2014-01", 999), rec("2014-02", 5, "Tesla", "Model S", "Norway")]),
                (PRESS, [rec("2014-03", 7)]),
            ],
            dry_run=True,
        )
        assert [(s.source, s.dry_run) for s in summaries] == [("monthly", True), ("press", True)]
        assert [(s.new, s.revised) for s in summaries] == [(1, 1), (1, 0)]
        assert summaries[1].first_import is True
        assert await snapshot(store) == before
        # and the dry run left no trace that changes what a real import then says
        [real] = await store.import_records([(SALES, [rec("2014-01", 999)])])
        assert (real.new, real.revised) == (0, 1)

    async def test_a_failure_half_way_writes_nothing(self, store: SalesStore) -> None:
        await store.import_records([(SALES, [rec("2014-01", 100)])])
        before = await snapshot(store)
        good = [rec("2014-02", 5), rec("2014-01", 1)]
        bad = Poisoned([rec(f"2015-{m:02d}", m, "Tesla", "Model S") for m in range(1, 9)])
        with pytest.raises(RuntimeError, match="boom"):
            await store.import_records([(SALES, good), (PRESS, bad)])
        assert await snapshot(store) == before
        # the store is still usable afterwards
        [summary] = await store.import_records([(SALES, good)])
        assert (summary.new, summary.revised) == (1, 1)

    async def test_market_shares_are_kept_apart_and_replaced_whole(self, store: SalesStore) -> None:
        """A source's shares of one metric are replaced whole, never added to; the preferred
        source's come first; a source the store does not hold is refused, writing nothing."""
        await store.import_records([(SALES, [rec("2023", 5)])])
        await store.import_records([(PRESS, [rec("2023", 6)])])

        def share(source: str, region: str, year: int, percent: float) -> MarketShare:
            return MarketShare(source, "sales_share", region, year, percent)

        first = [share("monthly", "Norway", 2022, 89.0), share("monthly", "Norway", 2023, 93.0)]
        assert await store.replace_market_shares("monthly", "sales_share", first) == 2
        assert (
            await store.replace_market_shares(
                "press", "sales_share", [share("press", "Norway", 2023, 90.0)]
            )
            == 1
        )
        again = [share("monthly", "Norway", 2023, 92.5)]
        assert await store.replace_market_shares("monthly", "sales_share", again) == 1
        # PRESS has priority 10: its figures come before the default source's
        assert await store.market_shares("sales_share") == [
            share("press", "Norway", 2023, 90.0),
            share("monthly", "Norway", 2023, 92.5),
        ]
        assert await store.market_shares("stock_share") == []
        with pytest.raises(StoreError, match="no such source"):
            await store.replace_market_shares("nowhere", "sales_share", first)
        assert len(await store.market_shares()) == 2
        # the units are untouched by shares
        assert sum(incs(await store.all_increments()).values()) == 11

    async def test_a_source_keeps_its_metric(self, store: SalesStore) -> None:
        await store.import_records([(SALES, [rec("2014-01", 100)])])
        before = await snapshot(store)
        with pytest.raises(StoreError, match="monthly"):
            await store.import_records(
                [
                    (PRESS, [rec("2014-05", 1)]),
                    (SourceSpec("monthly", metric="stock"), [rec("2014-02", 5)]),
                ]
            )
        assert await snapshot(store) == before

    async def test_sources_say_metric_priority_imports_and_latest_month(
        self, store: SalesStore
    ) -> None:
        await store.import_records([(SALES, [rec("2014-01", 1), rec("2014-03", 1)])])
        await store.import_records([(STOCK, [rec("2013", 10, cumulative=True)])])
        await store.import_records([(SourceSpec("monthly", priority=7), [rec("2014-02", 1)])])
        sources = {s.name: s for s in await store.sources()}
        assert set(sources) == {"monthly", "registrations"}
        monthly, stock = sources["monthly"], sources["registrations"]
        assert (monthly.metric, monthly.priority, monthly.imports) == ("sales", 7, 2)
        assert monthly.latest_month == Month(2014, 3)  # an older import does not move it back
        assert (stock.metric, stock.priority, stock.imports) == ("stock", 100, 1)
        assert stock.latest_month == Month(2013, 12)
        assert monthly.id != stock.id

    # -- journal ----------------------------------------------------------------------------

    async def test_the_journal_is_monotonic_and_read_from_a_sequence(
        self, store: SalesStore
    ) -> None:
        heads = [await store.journal_head()]
        summaries = []
        for n in range(4):
            [s] = await store.import_records(
                [(SALES, [rec(f"2014-{m:02d}", n * 10 + m) for m in range(1, 4)])]
            )
            summaries.append(s)
            heads.append(await store.journal_head())
        assert heads == sorted(set(heads))  # strictly increasing
        entries = await store.journal_since(0)
        seqs = [e.seq for e in entries]
        assert seqs == sorted(set(seqs)) and seqs[-1] == heads[-1]
        for s, before, after in zip(summaries, heads, heads[1:], strict=False):
            assert (s.journal_from, s.journal_to) == (before + 1, after)
            assert [e.seq for e in await store.journal_since(before) if e.seq <= after] == list(
                range(before + 1, after + 1)
            )
        middle = heads[2]
        assert all(e.seq > middle for e in await store.journal_since(middle))
        assert [e.seq for e in await store.journal_since(middle)] == [s for s in seqs if s > middle]
        assert await store.journal_since(heads[-1]) == []
        assert len(await store.journal_since(0, limit=2)) == 2
        assert [e.seq for e in await store.journal_since(0, limit=2)] == seqs[:2]

    async def test_journal_entries_name_the_changed_cells(self, store: SalesStore) -> None:
        await store.import_records([(SALES, [rec("2014-01", 1), rec("2014-02", 2)])])
        head = await store.journal_head()
        await store.import_records(
            [
                (
                    SALES,
                    [
                        rec("2014-01", 1),
                        rec("2014-02", 3),
                        rec("2014-02", 4, "Tesla", "Model S", "USA"),
                    ],
                )
            ]
        )
        [source] = await store.sources()
        changed = {
            (e.source_id, e.region, e.make_key, e.model_key, str(e.month))
            for e in await store.journal_since(head)
        }
        assert changed == {
            (source.id, "World", "nissan", "leaf", "2014-02"),
            (source.id, "USA", "tesla", "model s", "2014-02"),
        }

    async def test_history_is_the_first_import_and_older_than_three_months(
        self, store: SalesStore
    ) -> None:
        await store.import_records([(SALES, [rec("2014-01", 1), rec("2014-06", 1)])])
        assert all(e.history for e in await store.journal_since(0))  # first import: history
        head = await store.journal_head()
        await store.import_records(
            [(SALES, [rec("2014-07", 1), rec("2014-04", 9), rec("2014-03", 9), rec("2014-02", 9)])]
        )
        flags = {str(e.month): e.history for e in await store.journal_since(head)}
        # the latest month is now 2014-07: 2014-04 is 3 months older (news), 2014-03 is 4 (history)
        assert flags == {"2014-07": False, "2014-04": False, "2014-03": True, "2014-02": True}
        # a source's first import is history even when the store already holds other sources
        head = await store.journal_head()
        await store.import_records([(PRESS, [rec("2014-07", 5)])])
        assert [e.history for e in await store.journal_since(head)] == [True]

    # -- running totals and kept sums -------------------------------------------------------

    async def test_running_totals_become_increments(self, store: SalesStore) -> None:
        await store.import_records(
            [
                (
                    SALES,
                    [rec("2014-03", 1000, cumulative=True), rec("2014-06", 1600, cumulative=True)],
                )
            ]
        )
        assert by_month(await store.model_increments("nissan", "leaf")) == {
            "2014-03": 1000,
            "2014-06": 600,
        }
        # period figures before a running total are part of it; after it, they add to it
        await store.import_records(
            [(SALES, [rec("2014-01", 100), rec("2014-02", 200), rec("2014-07", 50)])]
        )
        assert by_month(await store.model_increments("nissan", "leaf")) == {
            "2014-01": 100,
            "2014-02": 200,
            "2014-03": 700,
            "2014-06": 600,
            "2014-07": 50,
        }
        # revising an earlier running total moves the later increments, never the later totals
        await store.import_records([(SALES, [rec("2014-03", 1100, cumulative=True)])])
        expected = {"2014-01": 100, "2014-02": 200, "2014-03": 800, "2014-06": 500, "2014-07": 50}
        assert by_month(await store.model_increments("nissan", "leaf")) == expected
        assert by_month(await store.make_increments(["nissan"])) == expected
        assert by_month(await store.all_increments()) == expected
        assert sum(expected.values()) == 1650  # the last running total plus what came after

    async def test_a_figure_can_change_from_period_to_running(self, store: SalesStore) -> None:
        await store.import_records([(SALES, [rec("2014-01", 100), rec("2014-02", 300)])])
        [summary] = await store.import_records([(SALES, [rec("2014-02", 300, cumulative=True)])])
        assert summary.revised == 1
        assert by_month(await store.model_increments("nissan", "leaf")) == {
            "2014-01": 100,
            "2014-02": 200,
        }

    async def test_make_and_all_sums_follow_the_models(self, store: SalesStore) -> None:
        """Random imports with revisions and running totals; an independent oracle checks."""
        rng = random.Random(7)
        subjects = [
            ("Nissan", "Leaf"),
            ("Nissan", "e-NV200"),
            ("Renault", "Zoe"),
            ("Tesla", "Model S"),
        ]
        months = [f"2014-{m:02d}" for m in range(1, 9)]
        specs = [SALES, PRESS]
        latest: dict[tuple[str, str, str, str, str], tuple[int, bool]] = {}
        for _ in range(25):
            spec = rng.choice(specs)
            batch: dict[tuple[str, str, str, str, str], SalesRecord] = {}
            for _ in range(rng.randrange(1, 8)):
                make, model = rng.choice(subjects)
                region, month = rng.choice(["World", "Norway"]), rng.choice(months)
                cumulative = rng.random() < 0.25
                units = rng.randrange(0, 50) + (400 if cumulative else 0)
                batch[(spec.name, make, model, region, month)] = rec(
                    month, units, make, model, region, cumulative=cumulative
                )
            await store.import_records([(spec, list(batch.values()))])
            for key, r in batch.items():
                latest[key] = (r.units, r.cumulative)

            ids = {s.name: s.id for s in await store.sources()}
            expected: dict[tuple[int, str, str, str, str], int] = {}
            series: dict[tuple[str, str, str, str], dict[str, tuple[int, bool]]] = defaultdict(dict)
            for (src, make, model, region, month), figure in latest.items():
                series[(src, make, model, region)][month] = figure
            for (src, make, model, region), cells in series.items():
                total = 0
                for month in sorted(cells):
                    units, cumulative = cells[month]
                    value = units if cumulative else total + units
                    if value - total:
                        cell = (ids[src], region, make.lower(), model.lower(), month)
                        expected[cell] = value - total
                    total = value
            assert incs(await store.every_model_increment()) == expected

            make_sums: dict[tuple[int, str, str, str, str], int] = defaultdict(int)
            all_sums: dict[tuple[int, str, str, str, str], int] = defaultdict(int)
            for (sid, region, make_key, _model, month), inc in expected.items():
                make_sums[(sid, region, make_key, "", month)] += inc
                all_sums[(sid, region, "", "", month)] += inc
            makes = sorted({m.lower() for m, _ in subjects})
            assert incs(await store.make_increments(makes)) == {
                k: v for k, v in make_sums.items() if v
            }
            assert incs(await store.all_increments()) == {k: v for k, v in all_sums.items() if v}

    async def test_figures_without_make_or_model(self, store: SalesStore) -> None:
        await store.import_records(
            [
                (
                    SALES,
                    [
                        rec("2014", 20000, "", "", "Norway", "BEV"),
                        rec("2014", 1700, "", "", "Norway", "PHEV"),
                        rec("2014-05", 10, "Nissan", "", "Norway"),
                        rec("2014-05", 3, "Nissan", "Leaf", "Norway"),
                    ],
                )
            ]
        )
        assert await store.regions() == ["Norway"]
        assert by_month(await store.all_increments()) == {"2014-12": 21700, "2014-05": 13}
        assert by_month(await store.make_increments(["nissan"])) == {"2014-05": 13}
        # every_model_increment is for models only: the country and make totals are not in it
        assert by_month(await store.every_model_increment()) == {"2014-05": 3}
        assert [(m.make_key, m.model_key) for m in await store.model_names()] == [
            ("nissan", "leaf")
        ]

    async def test_make_increments_of_several_makes(self, store: SalesStore) -> None:
        await store.import_records(
            [
                (
                    SALES,
                    [
                        rec("2014-01", 1),
                        rec("2014-01", 2, "Renault", "Zoe"),
                        rec("2014-01", 4, "Tesla", "Model S"),
                    ],
                )
            ]
        )
        got = await store.make_increments(["nissan", "renault", "nobody"])
        assert {(r.make_key, r.model_key, r.inc) for r in got} == {
            ("nissan", "", 1),
            ("renault", "", 2),
        }
        assert await store.make_increments(["nobody"]) == []

    async def test_increments_come_ordered_by_month(self, store: SalesStore) -> None:
        await store.import_records(
            [
                (
                    SALES,
                    [
                        rec(m, 1, region=r)
                        for m in ("2015-03", "2013-01", "2014-07")
                        for r in ("B", "A")
                    ],
                )
            ]
        )
        for rows in (
            await store.model_increments("nissan", "leaf"),
            await store.make_increments(["nissan"]),
            await store.all_increments(),
            await store.every_model_increment(),
        ):
            months = [r.month for r in rows]
            assert months == sorted(months) and len(months) == 6

    async def test_regions_are_those_with_figures(self, store: SalesStore) -> None:
        await store.import_records(
            [(SALES, [rec("2014-01", 1, region="USA"), rec("2014-01", 1, region="Norway")])]
        )
        await store.import_records([(STOCK, [rec("2014-01", 1, region="WA", cumulative=True)])])
        assert await store.regions() == ["Norway", "USA", "WA"]

    # -- groups and names -------------------------------------------------------------------

    async def test_groups_round_trip_and_are_replaced(self, store: SalesStore) -> None:
        alliance = GroupSpec(
            "Renault-Nissan Alliance",
            (
                GroupMember("Renault"),
                GroupMember("Nissan"),
                GroupMember("Mitsubishi", Month(2016, 10)),
                GroupMember("Dacia", Month(2020, 1), Month(2023, 12)),
            ),
            ("alliance", "renault nissan"),
        )
        other = GroupSpec("Stellantis", (GroupMember("Peugeot"), GroupMember("Fiat")))
        await store.sync_groups([alliance, other])
        assert await store.groups() == [alliance, other]
        smaller = GroupSpec("Renault-Nissan Alliance", (GroupMember("Nissan"),), ())
        await store.sync_groups([smaller])
        assert await store.groups() == [smaller]
        await store.sync_groups([])
        assert await store.groups() == []

    async def test_names_prefer_the_first_unless_it_is_shouted(self, store: SalesStore) -> None:
        await store.import_records([(SALES, [rec("2014-01", 1, "NISSAN", "LEAF")])])
        [name] = await store.model_names()
        assert (name.make, name.model) == ("NISSAN", "LEAF")
        await store.import_records([(PRESS, [rec("2014-01", 1, "Nissan", "Leaf")])])
        await store.import_records(
            [(STOCK, [rec("2014-01", 1, "NISSAN", "leaf", cumulative=True)])]
        )
        [name] = await store.model_names()
        assert (name.make_key, name.model_key, name.make, name.model) == (
            "nissan",
            "leaf",
            "Nissan",
            "Leaf",
        )
        assert await store.make_names() == {"nissan": "Nissan"}
        await store.import_records(
            [(SALES, [rec("2014-02", 1, "Renault", "Zoé"), rec("2014-03", 1, "renault", "ZOE")])]
        )
        names = {(m.make_key, m.model_key): (m.make, m.model) for m in await store.model_names()}
        assert names[("renault", "zoe")] == ("Renault", "Zoé")
        # the unjoined rows a kept detector compares: the same names as the joined reads
        make_rows, model_rows = await store.name_rows()
        assert dict(make_rows) == await store.make_names()
        assert sorted(model_rows) == [
            (m.make_key, m.model_key, m.model) for m in await store.model_names()
        ]
