"""A detection's events as both backends write them in one statement (issue 19): each new one
stored once, with its id in the detection's order, and read back as the same event, whatever its
kind, names or figures; one already stored, or repeated within the detection, is not new."""

from __future__ import annotations

import pytest

import bot.store.sqlite.detection as sqlite_detection
from bot.domain.event_codec import dedupe_key
from bot.domain.events import (
    CorrectionEvent,
    Event,
    GrowthEvent,
    Leader,
    MilestoneEvent,
    RecordEvent,
    ShareEvent,
    Subject,
)
from bot.domain.milestones import Recorded
from bot.domain.periods import Month
from bot.domain.records import DetectionWrite, SeriesRef, StoredEvent
from bot.domain.rungs import RungRange
from bot.ports.store import BotStore
from bot.store.detection_rows import stored_events

SKODA = Subject("make", "make:škoda", 'Škoda "the \\ make"')
ENYAQ = Subject("model", "model:škoda/enyaq", "Škoda Enyaq iV 蔚来")
ALL = Subject("all", "all", "all EVs")


def every_kind() -> list[Event]:
    """One event of each kind, with names to escape and every optional part filled."""
    june = Month(2021, 6)
    return [
        MilestoneEvent(
            ENYAQ,
            "Europe",
            "sales",
            RungRange("1,2,5", 1000, 5000, 3),
            june,
            5210,
            source="press",
            leader=Leader("Enyaq \u2013 iV", 4000, 0.7677543186180422),
            next_threshold=10000,
            projected=Month(2022, 3),
            since=2019,
            before=("Norway", "Sweden"),
            covers=("Norway",),
            basis="sales|Norway|2",
            same_as=((SKODA, "Norway"),),
        ),
        ShareEvent(ENYAQ, SKODA, "World", "sales", "up", 0.1, 0.10046414735764929, 27, 273, june),
        GrowthEvent(SKODA, "World", "sales", june, 15780, 15940, granularity="month"),
        GrowthEvent(ALL, "World", "sales", Month(2020, 12), 3, 0, granularity="year"),
        RecordEvent(SKODA, "Norway", "sales", june, 900, 899, Month(2020, 3)),
        RecordEvent(SKODA, "Sweden", "stock", june, 1, 0, None),
        CorrectionEvent(
            SKODA, "World", "sales", 1000, "fell_below", june, 990, Month(2021, 4), 1003
        ),
        CorrectionEvent(
            SKODA, "World", "sales", 500, "moved", june, 990, Month(2021, 4), 501, june, 520
        ),
    ]


@pytest.mark.parametrize("at_once", [1000, 3])
async def test_events_are_stored_once_in_order_and_read_back_the_same(
    any_store: BotStore, monkeypatch: pytest.MonkeyPatch, at_once: int
) -> None:
    # three at once: SQLite writes them in several statements, the repeat in a later one
    monkeypatch.setattr(sqlite_detection, "EVENTS_AT_ONCE", at_once)
    # the milestones the corrections are about, told (a correction of none is not stored)
    told = Recorded(500, 1000, 2, Month(2021, 4), 1003)
    ref = SeriesRef(SKODA.key, SKODA.name, "World", "sales")
    await any_store.save_detection("detector", 0, 1, DetectionWrite([(ref, told, False)]))
    events = every_kind()
    keys = [[e.subject.key, f"extra:{i}"] for i, e in enumerate(events)]
    write = DetectionWrite(events=[*events, events[1]], event_keys=[*keys, keys[1]])
    stored = await any_store.save_detection("detector", 1, 2, write)
    assert [s.event for s in stored] == events
    ids = [s.id for s in stored]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [(s.id, s.event) for s in await any_store.events()] == list(
        zip(ids, events, strict=True)
    )

    # one already stored is skipped; the new one after it gets the next id
    later = GrowthEvent(SKODA, "World", "sales", Month(2021, 7), 16000, 15940)
    again = DetectionWrite(events=[events[4], later, events[0]])
    (new,) = await any_store.save_detection("detector", 2, 3, again)
    assert new.event == later and new.id > ids[-1]
    assert [s.event for s in await any_store.events()] == [*events, later]


def test_the_new_events_keep_their_order_and_the_keys_they_cover() -> None:
    events = every_kind()[:3]
    write = DetectionWrite(events=[*events, events[0]], event_keys=[["a"], ["b"], ["c"], ["d"]])
    dedupes = [dedupe_key(e) for e in write.events]
    # RETURNING names the new in no promised order; the second event was stored already
    found = [(12, dedupes[2]), (10, dedupes[0])]
    got = stored_events(write, dedupes, found)
    assert got == [(StoredEvent(10, events[0]), ["a"]), (StoredEvent(12, events[2]), ["c"])]
    # without keys told, an event covers its own subject
    plain = DetectionWrite(events=events[:1])
    assert stored_events(plain, dedupes[:1], [(3, dedupes[0])]) == [
        (StoredEvent(3, events[0]), [events[0].subject.key])
    ]
