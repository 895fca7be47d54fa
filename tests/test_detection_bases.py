"""A poll's bases (issue 19): the (region, source) of each year a make's, group's or all EVs'
event is made of, read for the poll's window as the pairs the makes' sums have
(`BotStore.pairs_between`) rather than the sums themselves, are what a whole read of the series
chooses, on both backends, with several sources and regions."""

from __future__ import annotations

import random

import pytest

from bot.detection.detector import Detector
from bot.detection.parts_gone import KnownParts, units_of
from bot.detection.steps import SeriesKey
from bot.domain.events import Event, GrowthEvent, Subject
from bot.domain.like_parts import unlike_parts
from bot.domain.periods import Month
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.settings import default_config
from bot.domain.subjects import ALL, SubjectKey
from bot.ports.store import BotStore

SOURCES = (SourceSpec("monthly"), SourceSpec("press", priority=10), SourceSpec("late", priority=5))
MAKES = ("Nissan", "Renault", "Tesla", "BYD")
# the world's own figures, and Norway's (in Europe, in the world) for some makes
REGIONS = ("World", "World", "World", "Norway")
LAST = Month(2021, 6)


def drawn_records(seed: int) -> list[tuple[SourceSpec, list[SalesRecord]]]:
    rng = random.Random(seed)
    out: dict[SourceSpec, list[SalesRecord]] = {s: [] for s in SOURCES}
    regions = {make: rng.choice(((("World",)), REGIONS)) for make in MAKES}
    for make in MAKES:
        for index in range(Month(2019, 1).index, LAST.index + 1):
            month = Month.from_index(index)
            for source in SOURCES:
                if rng.random() < 0.3:
                    region = rng.choice(regions[make])
                    units = rng.choice((0, rng.randint(1, 90)))
                    out[source].append(
                        SalesRecord(str(month), region, make, rng.choice(("A", "B")), units)
                    )
    return [(s, rows) for s, rows in out.items() if rows]


@pytest.mark.parametrize("seed", range(6))
async def test_a_poll_s_bases_are_the_whole_read_s_choice(any_store: BotStore, seed: int) -> None:
    for source, records in drawn_records(seed):
        await any_store.import_records([(source, records)])
    config = default_config()
    await any_store.sync_groups(config.groups)
    detector = Detector(any_store, config)
    known = await any_store.sources()
    subjects = [Subject("make", f"make:{m.lower()}", m) for m in MAKES]
    group = config.groups[0]
    subjects += [ALL, Subject("group", SubjectKey.for_group(group.name), group.name)]
    keys = [SeriesKey(s, region, "sales") for s in subjects for region in ("World", "Europe")]
    events: list[Event] = [GrowthEvent(k.subject, k.region, "sales", LAST, 2, 1) for k in keys]
    bases: dict[SeriesKey, dict[int, set[tuple[str, int]]]] = {}
    await detector.reads.read_bases(events, bases, {}, known)
    for key in keys:
        whole: dict[int, set[tuple[str, int]]] = {}
        await detector.reads.read_series(key, known, whole)
        # the window is from January of the year before the event's: those years' choices
        expected = {year: pairs for year, pairs in whole.items() if year >= LAST.year - 1}
        assert bases[key] == expected, key
    alliance = SeriesKey(subjects[-1], "World", "sales")
    assert detector.reader.members(alliance.subject), "the group has its makes"


def gappy_records(seed: int) -> list[tuple[SourceSpec, list[SalesRecord]]]:
    """Makes' models with figures some months and none (or 0) others, from one or two sources,
    some in Norway only: models gone in a month, as `unlike_parts` tells."""
    rng = random.Random(seed)
    out: dict[SourceSpec, list[SalesRecord]] = {s: [] for s in SOURCES[:2]}
    for make in MAKES:
        sources = SOURCES[:1] if rng.random() < 0.7 else SOURCES[:2]
        region = "World" if rng.random() < 0.8 else "Norway"
        for model in ("A", "B", "C", ""):
            for index in range(Month(2020, 10).index, LAST.index + 1):
                if rng.random() < 0.75:
                    units = rng.choice((0, rng.randint(1, 90), rng.randint(1, 90)))
                    month = str(Month.from_index(index))
                    source = rng.choice(sources)
                    out[source].append(SalesRecord(month, region, make, model, units))
    return [(s, rows) for s, rows in out.items() if rows]


async def gappy_growth(
    store: BotStore, seed: int
) -> tuple[Detector, list[tuple[GrowthEvent, dict[int, set[tuple[str, int]]]]]]:
    """A detector on `gappy_records(seed)`, and each make's growth events (in the world and in
    Norway, of three months) with the bases a poll reads for them."""
    for source, records in gappy_records(seed):
        await store.import_records([(source, records)])
    detector = Detector(store, default_config())
    known = await store.sources()
    events: list[GrowthEvent] = []
    for make in MAKES:
        subject = Subject("make", f"make:{make.lower()}", make)
        for region in ("World", "Norway"):
            for period in (LAST, LAST.plus(-1), Month(2021, 1)):
                events.append(GrowthEvent(subject, region, "sales", period, 2, 1))
    bases: dict[SeriesKey, dict[int, set[tuple[str, int]]]] = {}
    await detector.reads.read_bases(events, bases, {}, known)
    return detector, [(e, bases[SeriesKey(e.subject, e.region, "sales")]) for e in events]


@pytest.mark.parametrize("seed", range(8))
async def test_a_poll_s_unlike_parts_are_those_of_the_months_cells(
    any_store: BotStore, seed: int
) -> None:
    detector, growth = await gappy_growth(any_store, seed)
    found = await detector.reads.unlike_parts_of(growth)
    told = 0
    for event, basis in growth:
        assert isinstance(event, GrowthEvent)
        make_key = event.subject.key.removeprefix("make:")
        rows = await any_store.parts_between([make_key], event.period.plus(-1), event.period)
        expected = unlike_parts(rows, basis, event.period)
        assert found.get(id(event), "") == expected, (
            event.subject.name,
            event.region,
            event.period,
        )
        told += bool(expected)
    assert told, "some months compare unlike parts"


@pytest.mark.parametrize("seed", range(8))
async def test_parts_a_poll_knows_are_not_asked_and_change_nothing(
    any_store: BotStore, seed: int
) -> None:
    """With the makes' models and some cells with units known (what a poll's reads after the
    kept states show), the same events compare unlike parts, for the same reasons, and the
    store is asked only of the parts not known to have units in the event's month."""
    detector, growth = await gappy_growth(any_store, seed)
    expected = await detector.reads.unlike_parts_of(growth)
    _, model_rows = await any_store.name_rows()
    models: dict[str, list[str]] = {}
    for make_key, model_key, _ in model_rows:
        models.setdefault(make_key, []).append(model_key)
    cells, _, _ = await any_store.increments_after(
        [(m[0], m[1], Month(2000, 1)) for m in model_rows], [], None
    )
    rng = random.Random(seed)
    units = units_of(r for r in cells if rng.random() < 0.7)
    asked: list[tuple[str, str, Month, str, int]] = []
    among = any_store.models_gone_among

    async def counting(parts, before, end, before_pair, end_pair):  # type: ignore[no-untyped-def]
        asked.extend((*part, end, *end_pair) for part in parts)
        return await among(parts, before, end, before_pair, end_pair)

    any_store.models_gone_among = counting  # type: ignore[method-assign]
    found = await detector.reads.unlike_parts_of(growth, None, KnownParts(models, units))
    assert found == expected
    assert any(expected.values()), "some months compare unlike parts"
    assert asked, "the parts not known are asked"
    with_units = {
        (*part, Month.from_index(index), region, source)
        for (index, region, source), parts in units.items()
        for part in parts
    }
    assert not with_units & set(asked), "a part known to have units in the month is not asked"
