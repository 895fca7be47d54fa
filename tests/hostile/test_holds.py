"""Hold and release (issue 26): whatever the order of ordinary months, typos of a few extra
zeros and releases, no held event is ever in the outbox (a delivery or a digest item), and
once released every event reaches a channel following the Leaf's milestones exactly once."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.detection.detector import Detector
from bot.domain.channels import Channel
from bot.domain.events import Subject
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.settings import default_config
from bot.domain.subscriptions import SubscriptionSpec, ladder_objects, plan_fanout
from bot.store.sqlite.sales import SqliteStore
from tests.hostile.support import FUZZ

SOURCE = SourceSpec("feed")
LEAF = Subject("model", "model:nissan/leaf", "Nissan Leaf")
LADDERS = ladder_objects(default_config().ladders)


def leaf(index: int, units: int) -> SalesRecord:
    return SalesRecord(
        f"{2020 + index // 12}-{index % 12 + 1:02d}", "World", "Nissan", "Leaf", units
    )


def outbox(path: Path) -> list[int]:
    """The events in the outbox (deliveries and digest items), with repeats."""
    with closing(sqlite3.connect(path)) as db:
        ids = [
            i
            for (text,) in db.execute("SELECT event_ids FROM deliveries")
            for i in json.loads(text)
        ]
        ids += [i for (i,) in db.execute("SELECT event_id FROM digest_items")]
    return ids


async def story(path: Path, steps: list[tuple[str, int]]) -> None:
    config = default_config()
    store = SqliteStore(path)
    await store.open()
    try:
        await store.sync_groups(config.groups)
        await store.subscribe(
            SubscriptionSpec(Channel("test", "w", "leaf"), LEAF, kinds=("milestone",))
        )
        detector = Detector(store, config)
        await store.import_records([(SOURCE, [leaf(m, 1_000) for m in range(8)])])
        await detector.poll()
        month = 8

        async def release(hold_id: int) -> None:
            await store.release_hold(hold_id, lambda e, s: plan_fanout(e, s, LADDERS), 0.0)

        for step, units in steps:
            if step == "month":
                await store.import_records([(SOURCE, [leaf(month, units)])])
                month += 1
                await detector.poll()
            elif step == "release":
                held = await store.holds()
                if held:
                    await release(held[units % len(held)].id)
            sent = outbox(path)
            assert not set(sent) & await store.held_event_ids()
            assert len(sent) == len(set(sent))
        for hold in await store.holds():
            await release(hold.id)
        sent = outbox(path)
        told = [
            s.id
            for s in await store.events()
            if s.event.kind == "milestone" and s.event.subject.key == LEAF.key
        ]
        assert sorted(sent) == sorted(told)  # each exactly once
        assert await store.held_event_ids() == set()
    finally:
        await store.close()


figure = st.one_of(st.integers(500, 1_500), st.integers(1, 1_500).map(lambda u: u * 1_000))
steps = st.lists(
    st.one_of(
        st.tuples(st.just("month"), figure), st.tuples(st.just("release"), st.integers(0, 9))
    ),
    min_size=1,
    max_size=8,
)


@settings(FUZZ, max_examples=min(FUZZ.max_examples, 25))
@given(steps=steps)
def test_held_events_reach_the_outbox_only_when_released_and_then_once(
    runner: asyncio.Runner, steps: list[tuple[str, int]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        runner.run(story(Path(folder) / "s.db", steps))
