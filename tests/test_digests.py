"""Digests: when they go out (cron in the subscription's time zone, across DST), and what they say.

Everything runs on a frozen clock: Monday 31 March 2025, 09:00 in Paris (07:00 UTC), the first
Monday after Europe's clocks went forward.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.app.bootstrap import build_app
from bot.app.runtime import App, digest_trigger
from bot.delivery.following import subscribe
from bot.domain.channels import Channel, Limits
from bot.domain.messages import Message
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.settings import default_config
from bot.domain.subjects import ALL
from bot.domain.subscriptions import Subscription, SubscriptionSpec
from bot.ingest.canonical import parse_canonical
from bot.ingest.importer import DEMO_SOURCE, demo_data_path
from bot.reading.queries import load_catalog
from bot.store.sqlite.sales import SqliteStore

FROZEN_AT = datetime(2025, 3, 31, 7, 0, tzinfo=UTC)
FROZEN = FROZEN_AT.timestamp()
CHANNEL = Channel("test", "guild", "digest-channel")
PARIS = "Europe/Paris"
NEW_YORK = "America/New_York"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def sub_with(mode: str, timezone: str, at: str = "09:00") -> Subscription:
    spec = SubscriptionSpec(CHANNEL, ALL, mode=mode, digest_at=at, timezone=timezone)
    return Subscription(1, spec, "2025-01-01T00:00:00Z")


def next_fire(sub: Subscription, now: datetime) -> datetime:
    fire: datetime | None = digest_trigger(sub).get_next_fire_time(None, now)
    assert fire is not None
    return fire.astimezone(UTC)


# -- when: cron triggers in the subscription's time zone ----------------------------------------


@pytest.mark.parametrize(
    ("mode", "timezone", "now", "expected"),
    [
        # Paris, daily 09:00: 08:00 UTC in winter (CET), 07:00 UTC from Sunday 30 March (CEST)
        ("daily", PARIS, utc(2025, 3, 29, 7, 30), utc(2025, 3, 29, 8, 0)),
        ("daily", PARIS, utc(2025, 3, 29, 8, 0, 1), utc(2025, 3, 30, 7, 0)),
        ("daily", PARIS, utc(2025, 10, 25, 12, 0), utc(2025, 10, 26, 8, 0)),  # back to CET
        # New York, weekly (Mondays) 09:00: 14:00 UTC in EST, 13:00 UTC from 9 March (EDT)
        ("weekly", NEW_YORK, utc(2025, 2, 26, 12, 0), utc(2025, 3, 3, 14, 0)),
        ("weekly", NEW_YORK, utc(2025, 3, 5, 0, 0), utc(2025, 3, 10, 13, 0)),
        ("weekly", NEW_YORK, utc(2025, 10, 29, 0, 0), utc(2025, 11, 3, 14, 0)),  # EST again
        # monthly, on the 1st at 09:00
        ("monthly", PARIS, utc(2025, 2, 15, 0, 0), utc(2025, 3, 1, 8, 0)),
        ("monthly", PARIS, utc(2025, 3, 15, 0, 0), utc(2025, 4, 1, 7, 0)),
        ("monthly", NEW_YORK, utc(2025, 10, 15, 0, 0), utc(2025, 11, 1, 13, 0)),  # still EDT
        ("monthly", NEW_YORK, utc(2025, 11, 15, 0, 0), utc(2025, 12, 1, 14, 0)),
        # an instant subscription's growth and records: a weekly digest, Mondays
        ("instant", PARIS, utc(2025, 3, 26, 0, 0), utc(2025, 3, 31, 7, 0)),
    ],
)
def test_digest_fire_times_follow_the_time_zone_across_dst(
    mode: str, timezone: str, now: datetime, expected: datetime
) -> None:
    assert next_fire(sub_with(mode, timezone), now) == expected


def test_a_week_of_daily_digests_across_the_spring_change_stays_at_nine_local() -> None:
    sub = sub_with("daily", PARIS)
    trigger = digest_trigger(sub)
    fire = trigger.get_next_fire_time(None, utc(2025, 3, 27, 12, 0))
    fires = []
    for _ in range(7):
        assert fire is not None
        fires.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    local = [f.astimezone(ZoneInfo(PARIS)) for f in fires]
    assert [(f.month, f.day, f.hour, f.minute) for f in local] == [
        (3, 28, 9, 0),
        (3, 29, 9, 0),
        (3, 30, 9, 0),  # the day the clocks went forward
        (3, 31, 9, 0),
        (4, 1, 9, 0),
        (4, 2, 9, 0),
        (4, 3, 9, 0),
    ]
    assert [f.astimezone(UTC).hour for f in fires] == [8, 8, 7, 7, 7, 7, 7]


def test_a_late_digest_time_lands_on_the_next_utc_day() -> None:
    sub = sub_with("daily", NEW_YORK, at="23:30")
    assert next_fire(sub, utc(2025, 3, 8, 12, 0)) == utc(2025, 3, 9, 4, 30)  # 23:30 EST
    assert next_fire(sub, utc(2025, 3, 9, 12, 0)) == utc(2025, 3, 10, 3, 30)  # 23:30 EDT


# -- what: growth and records collected, sent as one digest --------------------------------------


class CollectingAdapter:
    platform = "test"
    limits = Limits(global_per_second=1000.0, channel_per_second=1000.0)

    def __init__(self) -> None:
        self.posts: list[Message] = []

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        self.posts.append(message)
        return f"msg-{len(self.posts)}"

    async def find_posted(
        self, channel: Channel, key: str, since: float | None = None
    ) -> str | None:
        return None


@dataclass
class Harness:
    app: App
    adapter: CollectingAdapter
    by_month: dict[str, list[SalesRecord]]

    @property
    def store(self) -> SqliteStore:
        return self.app.store

    async def feed(self, month: str) -> None:
        spec = SourceSpec(DEMO_SOURCE)
        await self.store.import_records([(spec, self.by_month[month])], file=month)
        await self.app.poll()

    async def follow(self, **settings: Any) -> Subscription:
        catalog = await load_catalog(self.store, self.app.config)
        spec = SubscriptionSpec(CHANNEL, catalog.resolve("alliance").subject, **settings)
        result = await subscribe(self.store, self.app.config, spec, FROZEN)
        return result.subscription

    async def drain(self) -> list[Message]:
        before = len(self.adapter.posts)
        await self.app.worker.drain(limit_seconds=10)
        return self.adapter.posts[before:]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """The demo data up to March 2015 as history, on a frozen clock."""
    parsed = parse_canonical(demo_data_path(), DEMO_SOURCE)
    by_month: dict[str, list[SalesRecord]] = {}
    for record in parsed.records[DEMO_SOURCE]:
        by_month.setdefault(record.period, []).append(record)
    history = [r for m in sorted(by_month) if m <= "2015-03" for r in by_month[m]]
    store = SqliteStore(tmp_path / "digest.sqlite3")
    adapter = CollectingAdapter()
    app = build_app(default_config(), store, {"test": adapter}, clock=lambda: FROZEN)
    await store.open()
    await store.sync_groups(app.config.groups)
    await store.import_records([(SourceSpec(DEMO_SOURCE), history)], file="history")
    assert await app.poll() == 0  # history
    try:
        yield Harness(app, adapter, by_month)
    finally:
        await store.close()


def lines(message: Message, heading: str) -> list[str]:
    """The bullet lines of one section of a digest."""
    for section in message.body.split("\n\n"):
        head, *rest = section.splitlines()
        if head == heading:
            return rest
    return []


def kinds(messages: Sequence[Message]) -> list[str]:
    return [m.kind for m in messages]


async def test_growth_and_records_wait_for_the_digest(harness: Harness) -> None:
    sub = await harness.follow(timezone=PARIS)  # instant: milestones and shares at once
    assert kinds(await harness.drain()) == ["following"]
    for month in ("2015-04", "2015-05", "2015-06"):
        await harness.feed(month)
    instant = await harness.drain()
    assert instant, "milestones and shares are sent at once"
    said = "\n".join(f"{m.title}\n{m.body}" for m in instant)
    assert "Renault-Nissan Alliance passes 250,000 electric cars sold" in said
    assert "on last year" not in said and "monthly record" not in said
    assert all(m.kind in ("milestone", "share", "group") for m in instant)
    # 3 months x growth of the Alliance, Nissan and Renault; Zoe (May, June), Renault (June)
    assert await harness.store.digest_size(sub.id) == 9 + 3

    assert await harness.app.run_digest(sub.id) is True
    [row] = [d for d in await harness.store.deliveries() if d.kind == "digest"]
    assert (row.status, row.channel, len(row.event_ids)) == ("pending", CHANNEL, 12)
    assert row.created_at == FROZEN
    assert await harness.store.digest_size(sub.id) == 0
    [digest] = await harness.drain()
    assert digest.kind == "digest"
    assert digest.title == "EV digest: this week"
    # each subject's year to date once, the latest (January to June) figure
    # each line keeps its figure and period (issue 15, point 7)
    assert [line.split(" (")[0] for line in lines(digest, "Growth")] == [
        "• Renault sales up 31.5% on last year",
        "• Renault-Nissan Alliance sales up 9.0% on last year",
        "• Nissan sales up 1.9% on last year",
    ]
    assert lines(digest, "Growth")[0].endswith("(11,199 from January to June 2015, against 8,516)")
    assert "14.9%" not in digest.body and "14.4%" not in digest.body
    assert [line.split(" (")[0] for line in lines(digest, "Records")] == [
        "• Renault sets a monthly record: 2,568 in June 2015",
        "• Renault Zoe sets a monthly record: 2,026 in June 2015",
        "• Renault Zoe sets a monthly record: 1,674 in May 2015",
    ]
    assert ("Growth", "3") in [(f.name, f.value) for f in digest.fields]


async def test_an_empty_digest_is_skipped(harness: Harness) -> None:
    sub = await harness.follow(mode="daily", timezone=NEW_YORK)
    await harness.drain()
    assert await harness.app.run_digest(sub.id) is False
    assert await harness.store.take_digest(sub.id, FROZEN) is None
    assert [d.kind for d in await harness.store.deliveries()] == ["following"]
    # a digest that was sent leaves nothing behind for the next run
    await harness.feed("2015-04")
    assert await harness.app.run_digest(sub.id) is True
    assert await harness.app.run_digest(sub.id) is False
    assert [d.kind for d in await harness.store.deliveries()].count("digest") == 1


async def test_a_digest_mode_subscription_gets_everything_in_its_digest(harness: Harness) -> None:
    sub = await harness.follow(mode="daily", timezone=PARIS, locale="fr")
    await harness.drain()
    await harness.feed("2015-05")
    await harness.feed("2015-06")
    assert await harness.drain() == []  # nothing instant, not even the 250,000
    assert await harness.app.run_digest(sub.id) is True
    [digest] = await harness.drain()
    assert digest.title == "Bilan VE : aujourd’hui"
    assert digest.locale == "fr"
    assert (
        "• Renault-Nissan Alliance franchit le cap des 250\u202f000 voitures électriques vendues"
        " (250\u202f158 jusqu’à juin 2015 ; Nissan Leaf en tête avec 72\xa0%)"
    ) in lines(digest, "Caps franchis")
    assert len([line for line in lines(digest, "Croissance") if "Alliance" in line]) == 1


async def test_a_paused_or_removed_subscription_gets_no_digest(harness: Harness) -> None:
    sub = await harness.follow(mode="weekly", timezone=NEW_YORK)
    [following] = await harness.store.deliveries()
    await harness.feed("2015-04")
    assert await harness.store.digest_size(sub.id) > 0
    await harness.store.mark_failed(following, "channel_gone", "404 Unknown Channel")
    assert await harness.app.run_digest(sub.id) is False
    await harness.store.unsubscribe(CHANNEL, sub.spec.subject.key)
    assert await harness.store.digest_size(sub.id) == 0  # collected items went with it
    assert await harness.app.run_digest(sub.id) is False


async def test_the_app_schedules_one_digest_job_per_subscription(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "jobs.sqlite3")
    config = replace(default_config(), poll_seconds=3600.0)
    app = build_app(config, store, {"test": CollectingAdapter()}, clock=lambda: FROZEN)
    await store.open()
    paris = await subscribe(store, config, SubscriptionSpec(CHANNEL, ALL, timezone=PARIS), FROZEN)
    york_spec = SubscriptionSpec(
        Channel("test", "guild", "ny"), ALL, mode="monthly", timezone=NEW_YORK, digest_at="07:15"
    )
    york = await subscribe(store, config, york_spec, FROZEN)
    await app.start(poll=False)
    try:
        jobs = {job.id: job for job in app.scheduler.get_jobs()}
        paris_job = jobs[f"digest-{paris.subscription.id}"]
        york_job = jobs[f"digest-{york.subscription.id}"]
        assert str(paris_job.trigger.timezone) == PARIS
        assert paris_job.trigger.get_next_fire_time(None, FROZEN_AT - timedelta(seconds=1)) == (
            FROZEN_AT
        )
        fire = york_job.trigger.get_next_fire_time(None, FROZEN_AT)
        assert fire.astimezone(UTC) == utc(2025, 4, 1, 11, 15)  # 07:15 EDT
        # a removed subscription's job goes at the next rescheduling
        await store.unsubscribe(york_spec.channel, None)
        await app.schedule_digests()
        assert {j.id for j in app.scheduler.get_jobs()} == {f"digest-{paris.subscription.id}"}
    finally:
        await app.stop(grace=2)
