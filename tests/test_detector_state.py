"""Detection that continues series from their kept state gives exactly what reading every
series whole gives.

The property tests run the same random imports (new months, revisions, several sources with
different priorities, sub-regions, a group a make joins late) and polls into two stores: one
detected as the bot does, one whose kept states are dropped before every poll (so every series
is read whole, the path that existed before states). Events, milestones, corrections, share
levels and the states themselves must come out the same. The other tests pin down when a series
must be read whole again (an earlier month revised, the configuration or a source changed, a
new source taking over within a year, running totals) and the pure state arithmetic.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import bot.detection.continuing as continuing_module
from bot.detection.detector import Detector
from bot.detection.steps import SeriesKey, model_keys, series_order
from bot.detection.touched import touched_series
from bot.detection.window import own_figures
from bot.domain.event_codec import event_to_dict
from bot.domain.events import Subject
from bot.domain.names import name_key
from bot.domain.periods import Month
from bot.domain.records import GroupMember, GroupSpec, IncRow, SalesRecord, SourceSpec
from bot.domain.series import regional_increments
from bot.domain.series_state import (
    SeriesState,
    SeriesView,
    continue_one,
    continue_view,
    decode_recent,
    decode_sources,
    encode_recent,
    encode_sources,
    whole_view,
)
from bot.domain.settings import Config, MilestoneConfig, default_config
from bot.domain.subjects import ALL, SubjectKey
from bot.reading.queries import SeriesReader, region_tree
from bot.store.sqlite.sales import SqliteStore

MODELS = (("Alpha", "A1"), ("Alpha", "A2"), ("Beta", "B1"), ("Gamma", "G1"))
REGIONS = ("World", "USA", "WA", "Norway")
SOURCES = (SourceSpec("feed", priority=100), SourceSpec("other", priority=50))
START = Month(2019, 11)
DUO = "group:duo"


def config(**changes: Any) -> Config:
    """Two makes in a group (Beta from 2020-07), WA inside the USA, a ladder every 400 units,
    and the noise rules turned low so that share, growth and record events fire."""
    base = dataclasses.replace(
        default_config(),
        groups=(GroupSpec("Duo", (GroupMember("Alpha"), GroupMember("Beta", Month(2020, 7)))),),
        region_parents={"WA": "USA"},
        ladders={"small": "every:400"},
        milestones=MilestoneConfig(ladders=("small",), min_months=3, min_parent_total=100),
    )
    return dataclasses.replace(base, **changes)


NEW_STORE: list[bytes] = []  # a new store's file, made once per process (see open_store)


async def new_store_bytes() -> bytes:
    if not NEW_STORE:
        with tempfile.TemporaryDirectory(prefix="evbot-new-") as tmp:
            new = Path(tmp) / "new.db"
            async with SqliteStore(new):
                pass
            NEW_STORE.append(await asyncio.to_thread(new.read_bytes))
    return NEW_STORE[0]


async def open_store(path: Path, cfg: Config) -> SqliteStore:
    """The store at `path`, its groups synced; a new one starts from a copy of a new store's
    file, as the properties here open two or three stores per example and a store's migrations
    cost more than the example's imports and polls."""
    if not await asyncio.to_thread(path.exists):
        await asyncio.to_thread(path.write_bytes, await new_store_bytes())
    store = SqliteStore(path)
    await store.open()
    await store.sync_groups(cfg.groups)
    return store


Cell = tuple[int, int, int, int, int]  # model, region, source, month offset, units


async def load(store: SqliteStore, cells: Sequence[Cell]) -> None:
    batches = []
    for s, spec in enumerate(SOURCES):
        records = {
            (m, r, month): SalesRecord(
                str(START.plus(month)), REGIONS[r], MODELS[m][0], MODELS[m][1], units
            )
            for m, r, source, month, units in cells
            if source == s
        }
        if records:
            batches.append((spec, list(records.values())))
    await store.import_records(batches)


async def table(store: SqliteStore, sql: str) -> list[tuple[Any, ...]]:
    return sorted(tuple(r) for r in await store.db.execute_fetchall(sql))


MILESTONES = (
    "SELECT subject_key, region, metric, lowest, highest, count, period, value, below, history "
    "FROM milestones"
)
CORRECTIONS = (
    "SELECT subject_key, region, metric, lowest, highest, count, reason, old_period, new_period, "
    "old_value, "
    "new_value FROM corrections"
)
LEVELS = "SELECT model_key, parent_key, region, metric, level FROM share_levels"
EVENTS = "SELECT dedupe_key, kind, subject_key, region, period, payload FROM events"
STATES = "SELECT * FROM series_state"


class Twins:
    """Two stores fed alike: `kept` detects as the bot does; `whole` drops every kept state
    before each poll, so that it reads every touched series whole."""

    def __init__(self, folder: Path, cfg: Config) -> None:
        self.folder, self.cfg = folder, cfg
        self.continued = 0
        self.polls = 0

    async def __aenter__(self) -> Twins:
        self.kept = await open_store(self.folder / "kept.db", self.cfg)
        self.whole = await open_store(self.folder / "whole.db", self.cfg)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.kept.close()
        await self.whole.close()

    async def load(self, cells: Sequence[Cell]) -> None:
        await load(self.kept, cells)
        await load(self.whole, cells)

    async def poll(self, cfg: Config | None = None) -> int:
        """Poll both; the events must be the same. Returns how many series continued."""
        cfg = cfg or self.cfg
        detector = Detector(self.kept, cfg)
        mine = [event_to_dict(s.event) for s in await detector.poll()]
        await self.whole.db.execute("DELETE FROM series_state")
        await self.whole.close()  # a new connection: nothing kept in memory either
        self.whole = await open_store(self.folder / "whole.db", cfg)
        reference = Detector(self.whole, cfg)
        theirs = [event_to_dict(s.event) for s in await reference.poll()]
        assert reference.continued == 0
        assert mine == theirs
        self.continued += detector.continued
        self.polls += 1
        return detector.continued

    async def check(self) -> None:
        """Everything recorded is the same; a state the reference wrote in its last poll
        (from a whole read) is the state the kept store continued to."""
        for sql in (MILESTONES, CORRECTIONS, LEVELS, EVENTS):
            assert await table(self.kept, sql) == await table(self.whole, sql), sql
        kept = {r[:3]: r for r in await table(self.kept, STATES)}
        for row in await table(self.whole, STATES):
            assert kept.get(row[:3]) == row


# -- the property: continued from state == read whole ----------------------------------------

cell = st.tuples(
    st.integers(0, len(MODELS) - 1),
    st.sampled_from((0, 0, 0, 1, 2, 3)),  # mostly the world's own figures
    st.sampled_from((0, 0, 0, 1)),  # mostly the first source
    st.integers(0, 0),
    st.integers(0, 300),
)
step: st.SearchStrategy[tuple[str, int, list[Cell]]] = st.one_of(
    # the next month (or a later one, across a year end) for a few cells
    st.tuples(st.just("next"), st.integers(1, 14), st.lists(cell, min_size=1, max_size=5)),
    # months already imported, revised or filled in
    st.tuples(st.just("back"), st.integers(0, 30), st.lists(cell, min_size=1, max_size=3)),
    st.tuples(st.just("poll"), st.just(0), st.just([])),
)


async def run_steps(folder: Path, first: Sequence[Cell], steps: Sequence[Any]) -> Twins:
    async with Twins(folder, config()) as twins:
        await twins.load(first)  # a first import: history
        await twins.poll()
        latest = max(c[3] for c in first)
        for kind, months, cells in [*steps, ("poll", 0, [])]:
            if kind == "poll":
                await twins.poll()
                continue
            month = latest + months if kind == "next" else max(0, latest - months)
            await twins.load([(m, r, s, month, u) for m, r, s, _, u in cells])
            latest = max(latest, month)
        await twins.check()
        return twins


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# a cell in an unrelated region (Norway, for the USA series) changed before the last month
@example(
    first=[(0, 0, 0, 0, 0), (0, 1, 0, 0, 0)],
    steps=[("back", 0, [(0, 3, 0, 0, 0), (2, 1, 0, 0, 0)])],
)
# a year later the better source gives 0 (and the first 0): the year is the better source's, so
# its growth is not compared with the year before, taken from the first (no event)
@example(
    first=[(0, 0, 0, 0, 0)],
    steps=[
        ("next", 1, [(0, 0, 0, 0, 0)]),
        ("next", 1, [(0, 0, 0, 0, 0), (0, 0, 0, 0, 100)]),
        ("next", 12, [(0, 0, 0, 0, 0), (0, 0, 0, 0, 0), (0, 0, 0, 0, 0), (0, 0, 1, 0, 0)]),
    ],
)
# the same with units from the first source beside the better one's 0: still the better one's
@example(
    first=[(0, 0, 0, 0, 0)],
    steps=[
        ("next", 1, [(0, 0, 0, 0, 0)]),
        ("next", 1, [(0, 0, 0, 0, 100)]),
        ("next", 12, [(0, 0, 0, 0, 5), (0, 0, 1, 0, 0)]),
    ],
)
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(MODELS) - 1),
            st.integers(0, 3),
            st.integers(0, 1),
            st.integers(0, 8),
            st.integers(0, 300),
        ),
        min_size=1,
        max_size=12,
    ),
    st.lists(step, min_size=1, max_size=10),
)
@pytest.mark.slow
def test_continuing_from_state_gives_what_reading_whole_gives(
    first: list[Cell], steps: list[Any]
) -> None:
    with tempfile.TemporaryDirectory(prefix="evbot-state-") as tmp:
        asyncio.run(run_steps(Path(tmp), first, steps))


def test_month_by_month_continues_and_matches_reading_whole(tmp_path: Path) -> None:
    """A fixed run: a year and a half of new months for every model, in every region and from
    both sources, with a revision and a late-joining make on the way."""
    first: list[Cell] = [(m, 0, 0, 0, 50 + 10 * m) for m in range(len(MODELS))]
    steps: list[Any] = []
    for month in range(1, 20):
        cells = [
            (m, (m + month) % 4, month % 2 if m == 3 else 0, 0, 40 + (m * 31 + month * 7) % 90)
            for m in range(len(MODELS))
        ]
        steps += [("next", 1, cells), ("poll", 0, [])]
        if month == 9:
            steps += [("back", 5, [(0, 0, 0, 0, 500)]), ("poll", 0, [])]
    twins = asyncio.run(run_steps(tmp_path, first, steps))
    assert twins.continued > 0


def test_detected_month_by_month_records_what_one_detection_at_the_end_records(
    tmp_path: Path,
) -> None:
    """Milestones found by continuing month after month are those one detection of the
    final figures finds (their history flags aside: one store saw news, the other history)."""

    async def run() -> None:
        cfg = config()
        monthly = await open_store(tmp_path / "monthly.db", cfg)
        once = await open_store(tmp_path / "once.db", cfg)
        try:
            everything: list[Cell] = []
            continued = 0
            for month in range(30):
                cells = [
                    (m, m % 3, 0, month, 30 + (m * 17 + month * 13) % 120)
                    for m in range(len(MODELS))
                ]
                everything += cells
                await load(monthly, cells)
                detector = Detector(monthly, cfg)
                await detector.poll()
                continued += detector.continued
            await load(once, everything)
            await Detector(once, cfg).poll()
            sql = (
                "SELECT subject_key, region, metric, lowest, highest, count, period, value, below "
                "FROM milestones"
            )
            assert await table(monthly, sql) == await table(once, sql)
            assert len(await table(once, sql)) > 20
            assert continued > 100
        finally:
            await monthly.close()
            await once.close()

    asyncio.run(run())


# -- when a series must be read whole again --------------------------------------------------


async def test_a_revision_of_a_detected_month_reads_the_series_whole(tmp_path: Path) -> None:
    async with Twins(tmp_path, config()) as twins:
        await twins.load([(0, 0, 0, m, 100) for m in range(6)])
        await twins.poll()
        await twins.load([(0, 0, 0, 6, 100)])
        assert await twins.poll() == 4  # A1, Alpha, Duo, everything
        await twins.load([(0, 0, 0, 2, 900), (0, 0, 0, 7, 100)])  # an old month and a new one
        assert await twins.poll() == 0
        await twins.load([(0, 0, 0, 8, 100)])
        assert await twins.poll() == 4
        await twins.check()


async def test_a_group_membership_change_reads_every_series_whole_once(tmp_path: Path) -> None:
    before = config()
    async with Twins(tmp_path, before) as twins:
        await twins.load([(m, 0, 0, month, 120) for m in range(3) for month in range(10)])
        await twins.poll()
        await twins.load([(m, 0, 0, 10, 120) for m in range(3)])
        assert await twins.poll() > 0
        # Beta now counts for Duo from the start: Duo's past changes without a journal entry
        after = config(groups=(GroupSpec("Duo", (GroupMember("Alpha"), GroupMember("Beta"))),))
        await twins.kept.sync_groups(after.groups)
        await twins.whole.sync_groups(after.groups)
        await twins.load([(m, 0, 0, 11, 120) for m in range(3)])
        assert await twins.poll(after) == 0
        await twins.load([(m, 0, 0, 12, 120) for m in range(3)])
        assert await twins.poll(after) > 0
        await twins.check()
        duo = await table(twins.kept, f"SELECT total FROM series_state WHERE subject_key = '{DUO}'")
        assert duo == [(3 * 13 * 120,)]


async def test_a_source_priority_change_reads_series_whole(tmp_path: Path) -> None:
    async with Twins(tmp_path, config()) as twins:
        await twins.load([(0, 0, s, m, 100 + 50 * s) for s in (0, 1) for m in range(6)])
        await twins.poll()
        await twins.load([(0, 0, 0, 6, 100), (0, 0, 1, 6, 150)])
        assert await twins.poll() == 4
        # the first source now comes first: every year the two share changes
        month = str(START.plus(7))
        for store in (twins.kept, twins.whole):
            await store.import_records(
                [
                    (
                        SourceSpec("feed", priority=10),
                        [SalesRecord(month, "World", "Alpha", "A1", 100)],
                    ),
                    (SOURCES[1], [SalesRecord(month, "World", "Alpha", "A1", 150)]),
                ]
            )
        assert await twins.poll() == 0
        await twins.check()


async def test_a_new_source_does_not_void_the_states_of_the_others(tmp_path: Path) -> None:
    async with Twins(tmp_path, config()) as twins:
        await twins.load([(m, 0, 0, month, 100) for m in range(2) for month in range(6)])
        await twins.poll()
        # the second source's first import: a month of a new year (within the detected year
        # it would take the year over, see below)
        await twins.load([(0, 0, 1, 14, 70)])
        assert await twins.poll() == 4
        await twins.check()


async def test_a_better_source_arriving_within_the_year_reads_the_series_whole(
    tmp_path: Path,
) -> None:
    """Within a year the best source with figures is chosen: a better one arriving after the
    detected months changes the year's detected months too."""
    async with Twins(tmp_path, config()) as twins:
        await twins.load([(0, 0, 0, m, 100) for m in range(3, 6)])  # 2020-02 .. 2020-04
        await twins.poll()
        await twins.load([(0, 0, 1, 6, 400)])  # 2020-05 from the better source
        assert await twins.poll() == 0
        await twins.load([(0, 0, 1, 7, 400)])  # now the year has both: continue again
        assert await twins.poll() == 4
        await twins.check()


async def test_a_region_taking_over_from_its_sub_regions_reads_the_series_whole(
    tmp_path: Path,
) -> None:
    """USA is the sum of WA until the USA has figures of its own for the year."""
    async with Twins(tmp_path, config()) as twins:
        await twins.load([(0, 2, 0, m, 100) for m in range(3, 6)])  # WA
        await twins.poll()
        await twins.load([(0, 2, 0, 6, 100)])
        assert await twins.poll() > 0
        await twins.load([(0, 1, 0, 7, 1000)])  # the USA's own figure in the same year
        await twins.poll()
        await twins.check()


async def test_running_totals_are_never_continued(tmp_path: Path) -> None:
    cfg = config()
    store = await open_store(tmp_path / "s.db", cfg)
    try:
        source = SourceSpec("totals")
        await store.import_records(
            [
                (
                    source,
                    [
                        SalesRecord(f"2020-0{m}", "World", "Alpha", "A1", 100 * m, cumulative=True)
                        for m in range(1, 7)
                    ],
                )
            ]
        )
        detector = Detector(store, cfg)
        await detector.poll()
        await store.import_records(
            [(source, [SalesRecord("2020-07", "World", "Alpha", "A1", 800, cumulative=True)])]
        )
        await detector.poll()
        assert detector.continued == 0
        rows = await table(store, "SELECT subject_key, last_month, total FROM series_state")
        assert ("model:alpha/a1", Month(2020, 7).index, 800) in rows
    finally:
        await store.close()


async def test_a_make_joining_a_group_later_moves_the_group_from_that_month(
    tmp_path: Path,
) -> None:
    """A change from a month on (a journal may name only a series' earliest changed month)
    moves a group from when the make joined it, not when the make was outside it."""
    cfg = config()
    store = await open_store(tmp_path / "s.db", cfg)
    try:
        detector = Detector(store, cfg)
        sources = await _sources(store)
        # a history change from 2020-01 on (a first import may be journaled as one entry)
        beta = (1, "World", "beta", "b1", Month(2020, 1), None)
        touched, changed = touched_series([beta], sources, _Names(), detector.hierarchy)
        duo = SeriesKey(Subject("group", DUO, "Duo"), "World", "sales")
        assert changed[duo] == Month(2020, 7)
        assert touched[duo] is None
        news = (1, "World", "beta", "b1", Month(2020, 3), Month(2020, 3))
        touched, changed = touched_series([news], sources, _Names(), detector.hierarchy)
        assert (touched[duo], changed[duo]) == (Month(2020, 7), Month(2020, 7))
        assert touched[SeriesKey(ALL, "World", "sales")] == Month(2020, 3)
        left = config(groups=(GroupSpec("Duo", (GroupMember("Beta", None, Month(2020, 2)),)),))
        touched, _ = touched_series([news], sources, _Names(), Detector(store, left).hierarchy)
        assert duo not in touched
    finally:
        await store.close()


class _Names:
    def __init__(self) -> None:
        self.makes = {"beta": "Beta"}

    def model(self, make_key: str, model_key: str) -> None:
        return None


async def _sources(store: SqliteStore) -> dict[int, Any]:
    await load(store, [(3, 0, 0, 0, 1)])
    return {s.id: s for s in await store.sources()}


async def test_the_detector_reads_a_series_as_the_reader_does(tmp_path: Path) -> None:
    """The detector reads whole series itself (it keeps their cells' regions and sources);
    it must read them exactly as `SeriesReader.monthly` does."""
    cfg = config()
    store = await open_store(tmp_path / "s.db", cfg)
    try:
        await load(
            store,
            [
                (m, r, s, month, 10 + m * 7 + r * 3 + s + month)
                for m in range(len(MODELS))
                for r in range(len(REGIONS))
                for s in (0, 1)
                for month in range(0, 20, 1 + (m + r + s) % 3)
            ],
        )
        detector = Detector(store, cfg)
        reader = SeriesReader(store, region_tree(cfg), list(cfg.groups))
        sources = await store.sources()
        subjects = [
            ALL,
            Subject("group", DUO, "Duo"),
            *(Subject("make", f"make:{k}", k) for k in ("alpha", "beta", "gamma")),
            *(Subject("model", f"model:{a.lower()}/{b.lower()}", b) for a, b in MODELS),
        ]
        keys = sorted(
            (SeriesKey(s, r, "sales") for s in subjects for r in REGIONS), key=series_order
        )
        for key in keys:
            monthly, _ = await detector.reads.read_series(key, sources)
            assert monthly == await reader.monthly(key.subject, key.region), key
        # many at once (the models' cells in one read, the makes' in another), as one by one
        bases: dict[SeriesKey, dict[int, set[tuple[str, int]]]] = {}
        many = {
            key: (monthly, rows)
            async for key, monthly, rows in detector.reads.read_many(keys, sources, bases)
        }
        assert list(many) == keys
        for key in keys:
            basis: dict[int, set[tuple[str, int]]] = {}
            monthly, rows = await detector.reads.read_series(key, sources, basis)
            assert many[key][0] == monthly, key
            assert sorted(map(dataclasses.astuple, many[key][1])) == sorted(
                map(dataclasses.astuple, rows)
            ), key
            assert bases[key] == basis, key
    finally:
        await store.close()


# -- the state arithmetic ---------------------------------------------------------------------

figures = st.dictionaries(
    st.integers(0, 40).map(lambda i: Month(2019, 1).plus(i)), st.integers(-50, 400), min_size=1
)


@given(figures, st.integers(0, 40), st.booleans())
def test_a_state_continued_is_the_whole_series(
    monthly: dict[Month, int], cut: int, keep_year: bool
) -> None:
    months = sorted(monthly)
    head = {m: v for m, v in monthly.items() if m <= months[min(cut, len(months) - 1)]}
    tail = {m: v for m, v in monthly.items() if m not in head}
    seen = whole_view(head)
    assert seen is not None
    state = seen.state("k", "World", "sales", "fp", keep_year, frozenset())
    continued = continue_view(state, tail)
    whole = whole_view(monthly)
    assert whole is not None
    for attribute in ("first", "first_nonzero", "latest", "total", "peak", "best"):
        assert getattr(continued, attribute) == getattr(whole, attribute), attribute
    assert continued.prior_peak == seen.peak
    known = continued.known_from
    assert known is not None
    assert continued.monthly == {m: v for m, v in monthly.items() if m >= known}
    assert continued.points == [(m, v) for m, v in whole.points if m >= known]
    for month in (Month(2018, 12), *months, Month(2022, 1)):
        expected = whole.total_as_of(month)
        assert continued.total_as_of(month) in ((expected,) if month >= known else (None,))
    assert continued.state("k", "World", "sales", "fp", keep_year, frozenset()) == whole.state(
        "k", "World", "sales", "fp", keep_year, frozenset()
    )


def test_a_state_refuses_months_it_has_already_seen() -> None:
    state = whole_view({Month(2020, 1): 5, Month(2020, 2): 6})
    assert state is not None
    kept = state.state("k", "World", "sales", "fp", False, frozenset())
    with pytest.raises(ValueError, match="2020-02 is not after the last detected month 2020-02"):
        continue_view(kept, {Month(2020, 2): 1})


def test_state_columns_round_trip_and_refuse_garbage() -> None:
    recent = ((Month(2019, 1), -3), (Month(2019, 2), 0), (Month(2020, 12), 1_000_000))
    assert decode_recent(encode_recent(recent)) == recent
    assert decode_recent("") == ()
    sources = frozenset({("World", 1), ('Côte "d\'Ivoire", x', 2)})
    assert decode_sources(encode_sources(sources)) == sources
    with pytest.raises(ValueError, match="is not month:units"):
        decode_recent("24228:3,24229")
    with pytest.raises(ValueError, match="is not a month index"):
        decode_recent("-5:3")
    with pytest.raises(ValueError, match="is not a list of"):
        decode_sources('[["World"]]')


async def test_an_unreadable_state_is_read_whole(tmp_path: Path) -> None:
    async with Twins(tmp_path, config()) as twins:
        await twins.load([(0, 0, 0, m, 100) for m in range(6)])
        await twins.poll()
        await twins.kept.db.execute("UPDATE series_state SET recent = 'garbage'")
        await twins.kept.close()  # a restart: nothing kept in memory
        twins.kept = await open_store(tmp_path / "kept.db", twins.cfg)
        await twins.load([(0, 0, 0, 6, 100)])
        assert await twins.poll() == 0
        await twins.load([(0, 0, 0, 7, 100)])
        assert await twins.poll() == 4
        await twins.check()


def test_series_state_is_plain_data() -> None:
    state = SeriesState(
        "k",
        "World",
        "sales",
        "fp",
        Month(2020, 1),
        None,
        Month(2020, 1),
        0,
        0,
        None,
        Month(2020, 1),
        ((Month(2020, 1), 0),),
    )
    assert state.year_sources == frozenset()


async def test_states_kept_in_memory_serve_only_while_no_other_detection_saved(
    tmp_path: Path,
) -> None:
    """A connection serves the states it saved last from memory, until another connection
    (another replica, another process) saves a detection: then it reads them again."""
    cfg = config()
    path = tmp_path / "s.db"
    one = await open_store(path, cfg)
    two = await open_store(path, cfg)
    try:
        await load(one, [(0, 0, 0, m, 100) for m in range(6)])
        await Detector(one, cfg).poll()
        key = ("model:alpha/a1", "World", "sales")
        before = one.stats.rows_read.get("series_state", 0)
        assert (await one.series_states([key]))[key].total == 600
        assert one.stats.rows_read.get("series_state", 0) == before  # from memory
        await load(two, [(0, 0, 0, 6, 50)])
        other = Detector(two, cfg)
        await other.poll()  # the other connection moves the watermark and the states on
        assert other.continued == 4
        assert (await one.series_states([key]))[key].total == 650
        assert one.stats.rows_read.get("series_state", 0) == before + 1  # read again
        await load(one, [(0, 0, 0, 7, 50)])
        mine = Detector(one, cfg)
        await mine.poll()
        assert mine.continued == 4
        rows = await table(one, "SELECT total FROM series_state WHERE subject_key = 'all'")
        assert rows == [(700,)]
    finally:
        await one.close()
        await two.close()


async def test_share_levels_kept_in_memory_are_those_saved_while_no_other_detection_saved(
    tmp_path: Path,
) -> None:
    """A connection serves the share levels it read and saved from memory, as they are on
    disk, until another connection saves a detection: then it reads them again."""
    cfg = config()
    path = tmp_path / "s.db"
    one = await open_store(path, cfg)
    two = await open_store(path, cfg)
    models = [(f"model:alpha/{m}", "World", "sales") for m in ("a1", "a2")]

    async def read() -> tuple[dict[tuple[str, str, str, str], float | None], int]:
        return await one.share_levels_of(models), one.stats.rows_read.get("share_levels", 0)

    try:
        await load(one, [(m, 0, 0, month, 100 + 40 * m) for m in (0, 1) for month in range(6)])
        await Detector(one, cfg).poll()  # history: no share is stepped
        for month, units in ((6, 300), (7, 20)):
            await load(one, [(0, 0, 0, month, units), (1, 0, 0, month, 100)])
            await Detector(one, cfg).poll()
        on_disk = {r[:4]: r[4] for r in await table(one, LEVELS)}
        assert len(on_disk) == 4  # each model in its make and in the group
        levels, before = await read()
        assert levels == on_disk
        await load(one, [(0, 0, 0, 8, 400), (1, 0, 0, 8, 10)])
        await Detector(one, cfg).poll()
        levels, after = await read()
        assert after == before  # from memory, as saved
        assert levels == {r[:4]: r[4] for r in await table(one, LEVELS)} != on_disk
        await load(two, [(0, 0, 0, 9, 5), (1, 0, 0, 9, 900)])
        await Detector(two, cfg).poll()  # the other connection moves the watermark and levels
        levels, again = await read()
        assert again == after + 4  # read again
        assert levels == {r[:4]: r[4] for r in await table(one, LEVELS)}
    finally:
        await one.close()
        await two.close()


async def test_an_import_on_the_same_connection_keeps_the_states_in_memory(
    tmp_path: Path,
) -> None:
    """An import with no held figure before it cannot drop a state: the next poll of the bot
    that imported continues every series from the states in memory, reading none from disk."""
    cfg = config()
    store = await open_store(tmp_path / "s.db", cfg)
    try:
        await load(store, [(0, 0, 0, m, 100) for m in range(6)])
        detector = Detector(store, cfg)
        await detector.poll()
        await load(store, [(0, 0, 0, 6, 50)])
        before = store.stats.rows_read.get("series_state", 0)
        await detector.poll()
        assert detector.continued == 4
        assert store.stats.rows_read.get("series_state", 0) == before  # all from memory
        rows = await table(store, "SELECT total FROM series_state WHERE subject_key = 'all'")
        assert rows == [(650,)]
    finally:
        await store.close()


# -- the fast paths against the general ones --------------------------------------------------


@given(
    st.lists(
        st.tuples(
            st.integers(0, 40),
            st.integers(-50, 400),
            st.sampled_from(["World", "WA"]),
            st.booleans(),
        ),
        max_size=30,
    ),
    st.booleans(),
)
def test_a_series_of_one_region_and_source_is_figured_as_the_general_choice(
    cells: list[tuple[int, int, str, bool]], running: bool
) -> None:
    """`own_figures`, the usual series' fast path, gives what `regional_increments` gives
    (figures and each year's pairs) whenever it answers, and answers for every series of one
    source of period figures in its own region."""
    rows = [
        IncRow(2 if other else 1, region, "m", "", Month(2019, 1).plus(at), inc)
        for at, inc, region, other in cells
    ]
    tree = region_tree(config())
    levels: set[int] = {1} if running else set()
    for region in ("World", "WA"):
        chosen: dict[int, set[tuple[str, int]]] = {}
        general = regional_increments(rows, {1: 0, 2: 1}, tree, region, None, levels, chosen)
        fast = own_figures(rows, region, levels)
        sources = {r.source_id for r in rows}
        plain = len(sources) == 1 and not sources & levels and all(r.region == region for r in rows)
        assert (fast is not None) == plain
        if fast is not None:
            assert list(fast[0].items()) == list(general.items())
            assert fast[1] == chosen


@given(figures, st.integers(0, 40), st.booleans(), st.integers(1, 14), st.integers(-50, 400))
def test_one_more_month_continues_as_the_general_continuation(
    monthly: dict[Month, int], cut: int, keep_year: bool, ahead: int, units: int
) -> None:
    """`continue_one`, the usual poll's continuation, is `continue_view` with one month."""
    months = sorted(monthly)
    head = {m: v for m, v in monthly.items() if m <= months[min(cut, len(months) - 1)]}
    seen = whole_view(head)
    assert seen is not None
    state = seen.state("k", "World", "sales", "fp", keep_year, frozenset())
    month = state.last.plus(ahead)
    one = continue_one(state, month, units)
    general = continue_view(state, {month: units})
    for field in dataclasses.fields(SeriesView):
        assert getattr(one, field.name) == getattr(general, field.name), field.name
    assert list(one.monthly) == list(general.monthly)
    with pytest.raises(ValueError, match="is not after the last detected month"):
        continue_one(state, state.last, units)


async def _polled(folder: Path, first: Sequence[Cell], steps: Sequence[Any]) -> dict[str, Any]:
    """Everything a store records over the steps, polled after each, with its events."""
    cfg = config()
    store = await open_store(folder / "s.db", cfg)
    try:
        await load(store, first)
        told = [event_to_dict(s.event) for s in await Detector(store, cfg).poll()]
        latest = max(c[3] for c in first)
        for kind, months, cells in steps:
            if kind != "poll":
                month = latest + months if kind == "next" else max(0, latest - months)
                await load(store, [(m, r, s, month, u) for m, r, s, _, u in cells])
                latest = max(latest, month)
            told += [event_to_dict(s.event) for s in await Detector(store, cfg).poll()]
        found: dict[str, Any] = {"events": told}
        for sql in (MILESTONES, CORRECTIONS, LEVELS, EVENTS, STATES):
            found[sql] = await table(store, sql)
        return found
    finally:
        await store.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(MODELS) - 1),
            st.sampled_from((0, 0, 0, 1)),
            st.sampled_from((0, 0, 0, 1)),
            st.integers(0, 8),
            st.integers(0, 300),
        ),
        min_size=1,
        max_size=12,
    ),
    st.lists(step, min_size=1, max_size=8),
)
@pytest.mark.slow
def test_the_one_more_month_path_gives_what_the_general_continuation_gives(
    first: list[Cell], steps: list[Any]
) -> None:
    """A detector whose models never take the one-more-month path (`one_more` finds none)
    records and tells exactly what the usual detector does."""
    with tempfile.TemporaryDirectory(prefix="evbot-one-") as tmp:
        for name in ("fast", "general"):
            (Path(tmp) / name).mkdir()
        fast = asyncio.run(_polled(Path(tmp) / "fast", first, steps))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(continuing_module, "one_more", lambda *_: None)
            general = asyncio.run(_polled(Path(tmp) / "general", first, steps))
    assert fast == general


_PLACES = tuple(f"R{i:02d}" for i in range(20))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from((1, 2, 3, 20)),  # regions
    st.lists(
        st.tuples(
            st.integers(0, len(MODELS) - 1),
            st.integers(0, 19),
            st.integers(0, 1),
            st.integers(0, 30),
            st.integers(0, 300),
        ),
        min_size=1,
        max_size=40,
    ),
    st.integers(-1, 31),
)
def test_increments_after_reads_what_the_whole_reads_have_after(
    regions: int, cells: list[Cell], after: int
) -> None:
    async def run(folder: Path) -> None:
        store = await open_store(folder / "s.db", config())
        try:
            batches = []
            for s, spec in enumerate(SOURCES):
                records = {
                    (m, r % regions, month): SalesRecord(
                        str(START.plus(month)),
                        _PLACES[r % regions],
                        MODELS[m][0],
                        MODELS[m][1],
                        units,
                    )
                    for m, r, source, month, units in cells
                    if source == s
                }
                if records:
                    batches.append((spec, list(records.values())))
            await store.import_records(batches)
            month = START.plus(after)
            keys = sorted({(name_key(a), name_key(b)) for a, b in MODELS})
            makes = sorted({a for a, _ in keys})
            models, by_make, _ = await store.increments_after(
                [(a, b, month) for a, b in keys], [(a, month) for a in makes], None
            )
            expected = [
                r for a, b in keys for r in await store.model_increments(a, b) if r.month > month
            ]
            assert sorted(models, key=repr) == sorted(expected, key=repr)
            expected = [r for r in await store.make_increments(makes) if r.month > month]
            assert sorted(by_make, key=repr) == sorted(expected, key=repr)
        finally:
            await store.close()

    with tempfile.TemporaryDirectory(prefix="evbot-after-") as tmp:
        asyncio.run(run(Path(tmp)))


@given(
    st.one_of(
        st.text(alphabet="model:/ak", max_size=14),
        st.builds("model:{}/{}".format, st.text(max_size=5), st.text(max_size=5)),
    )
)
@example("model:a/b/c")
@example("model:/")
@example("all")
def test_a_models_keys_are_those_its_subject_key_parses_to(key: str) -> None:
    """`model_keys` takes a key apart without making a SubjectKey: as `SubjectKey.parse` does,
    and refusing what it refuses."""
    try:
        parsed = SubjectKey.parse(key)
    except ValueError:
        with pytest.raises(ValueError, match="not a subject key"):
            model_keys(Subject("model", key, "x"))
        return
    assert model_keys(Subject("model", key, "x")) == (parsed.make, parsed.model)
