"""The webhook adapter and the delivery worker end to end: a real SQLite store, the real detector
fanning milestones out, the real `DeliveryWorker` and `WebhookAdapter`, and the fake receiver in
`tests/fake_webhook.py` over real sockets on 127.0.0.1.

Covers the wire contract, back-off and retry (429 with Retry-After, 5xx, timeouts), failure with a
reason and pausing (at once for 401/403/404/410, after three rejected payloads in a row), one
failing channel never holding up the others, reconciliation of in-flight deliveries after a
crash (the receiver deduplicates by Idempotency-Key), unsubscribing during a queued fan-out, and
request signing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from adapters.webhook import (
    DEFAULT_CHANNEL_RATE,
    DEFAULT_RATE,
    DEFAULT_TIMEOUT,
    WebhookAdapter,
    parse_retry_after,
    sign,
    verify_signature,
)
from bot.config.version import evbot_version
from bot.delivery.pacing import Pacer
from bot.delivery.worker import DeliveryWorker, backoff
from bot.detection.detector import Detector
from bot.domain.channels import (
    CHANNEL_GONE,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    NETWORK,
    RATE_LIMITED,
    REJECTED_PAYLOAD,
    SERVER_ERROR,
    TIMEOUT,
    UNKNOWN,
    Channel,
    DeliveryFailure,
)
from bot.domain.deliveries import DeliveryRow
from bot.domain.messages import Field, Message
from bot.domain.settings import ConfigError, PlatformConfig, default_config
from bot.domain.subscriptions import PlannedDelivery, SubscriptionSpec, ladder_objects
from bot.store.sqlite.sales import SqliteStore
from tests.crash_runner import LEAF, Feed, prepare
from tests.fake_webhook import FakeWebhook

LADDERS = ladder_objects(default_config().ladders)
FAST = {"rate_per_second": 200.0, "channel_rate_per_second": 50.0}


class Clock:
    """A wall clock the test moves: retries fall due when the test says so."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake(fake_webhook: FakeWebhook) -> FakeWebhook:
    return fake_webhook


@pytest.fixture
async def adapters() -> AsyncIterator[list[WebhookAdapter]]:
    """Adapters made by a test, closed after it."""
    made: list[WebhookAdapter] = []
    yield made
    for adapter in made:
        await adapter.close()


@pytest.fixture
def make_adapter(adapters: list[WebhookAdapter]) -> Callable[..., WebhookAdapter]:
    def make(**options: float | str) -> WebhookAdapter:
        settings: dict[str, float | str] = {**FAST, "timeout": 2.0, **options}
        secret = settings.pop("secret", None)
        adapter = WebhookAdapter(
            secret=str(secret) if secret is not None else None,
            rate_per_second=float(settings["rate_per_second"]),
            channel_rate_per_second=float(settings["channel_rate_per_second"]),
            timeout=float(settings["timeout"]),
        )
        adapters.append(adapter)
        return adapter

    return make


async def _true(value: bool) -> bool:
    return value


def worker(
    store: SqliteStore,
    adapter: WebhookAdapter,
    *,
    clock: Callable[[], float] = time.time,
    concurrency: int = 8,
) -> DeliveryWorker:
    return DeliveryWorker(
        store,
        {"webhook": adapter},
        LADDERS,
        concurrency=concurrency,
        clock=clock,
        rng=random.Random(7),
    )


def channel(url: str) -> Channel:
    return Channel("webhook", "default", url)


async def rows_of(store: SqliteStore, url: str) -> list[DeliveryRow]:
    """A channel's deliveries, oldest first."""
    found = [d for d in await store.deliveries(limit=10_000) if d.channel.channel == url]
    return sorted(found, key=lambda d: d.id)


async def row(store: SqliteStore, delivery_id: int) -> DeliveryRow:
    found = [d for d in await store.deliveries(limit=10_000) if d.id == delivery_id]
    assert found, delivery_id
    return found[0]


async def eventually(condition: Callable[[], Awaitable[bool]], limit: float = 15.0) -> None:
    """Wait until `condition()` holds, checking every 10 ms, for at most `limit` seconds."""
    deadline = time.monotonic() + limit
    for _ in itertools.count():
        if await condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"still not so after {limit:g} s")
        await asyncio.sleep(0.01)


async def settled(store: SqliteStore) -> bool:
    counts = await store.delivery_counts()
    return counts["pending"] == 0 and counts["inflight"] == 0


async def run_until_settled(w: DeliveryWorker, store: SqliteStore) -> None:
    """Run the worker until nothing is pending or in flight."""
    stop = asyncio.Event()
    task = asyncio.create_task(w.run(stop))
    try:
        await eventually(lambda: settled(store))
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def setup(
    store: SqliteStore, fake: FakeWebhook, names: Sequence[str], rounds: int = 1, **kw: object
) -> tuple[list[str], Feed]:
    urls = [fake.url(n) for n in names]
    feed = await prepare(store, urls, rounds=rounds, **kw)  # type: ignore[arg-type]
    return urls, feed


# -- the wire contract ------------------------------------------------------------------------


async def test_a_fan_out_reaches_every_channel_under_the_contract(
    store: SqliteStore, fake: FakeWebhook, make_adapter: Callable[..., WebhookAdapter]
) -> None:
    urls, _ = await setup(store, fake, ["a", "b", "c"], rounds=2)
    assert (await store.delivery_counts())["pending"] == 6  # one per (event, channel)
    w = worker(store, make_adapter())
    await w.drain()

    assert await store.delivery_counts() == {
        "pending": 0,
        "inflight": 0,
        "posted": 6,
        "failed": 0,
        "cancelled": 0,
    }
    assert len(fake.messages) == 6 and fake.duplicates == 0
    for url in urls:
        for d in await rows_of(store, url):
            got = fake.messages[d.key]
            assert d.message_id == got.message_id  # the receiver's id is recorded
            assert got.path == "/hook/" + url.rsplit("/", 1)[1]
            assert got.headers["Idempotency-Key"] == d.key
            assert got.headers["Content-Type"] == "application/json"
            assert got.headers["User-Agent"] == f"evbot/{evbot_version()}"
            assert "X-Evbot-Signature" not in got.headers  # no secret configured
            assert got.json["delivery"] == d.key and got.json["channel"] == url
            message = got.json["message"]
            assert set(message) == {
                "title",
                "body",
                "fields",
                "footer",
                "accent",
                "kind",
                "locale",
            }
            assert "Nissan Leaf" in message["title"] + message["body"]
            assert message["locale"] == "en" and message["accent"] == "milestone"
            assert all(set(f) == {"name", "value", "inline"} for f in message["fields"])


async def test_the_payload_is_scrubbed_of_control_characters(
    fake: FakeWebhook, make_adapter: Callable[..., WebhookAdapter]
) -> None:
    adapter = make_adapter()
    message = Message(
        "Leaf\x1b[2J\nwins\u202e",
        "line one\r\nline\x07 two",
        (Field("To\tdate", "251,100\x1b]0;pwned\x07"),),
        footer="src\u2066",
    )
    await adapter.post(adapter.channel(fake.url("a")), message, "k-1")
    sent = fake.requests[0].json["message"]
    assert sent["title"] == "Leaf wins"
    assert sent["body"] == "line one\nline two"
    assert sent["fields"] == [{"name": "To date", "value": "251,100", "inline": True}]
    assert sent["footer"] == "src"


# -- transient failures: back off, retry, never lose ------------------------------------------


async def test_a_429_is_retried_after_its_retry_after_and_not_lost(
    store: SqliteStore, fake: FakeWebhook, make_adapter: Callable[..., WebhookAdapter]
) -> None:
    urls, _ = await setup(store, fake, ["a-limited", "b", "c"])
    fake.fail(429, "a-limited", times=1, retry_after="1")
    w = worker(store, make_adapter())
    await run_until_settled(w, store)

    first, second = fake.received("a-limited")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.95  # waited for Retry-After: 1
    (d,) = await rows_of(store, urls[0])
    assert (d.status, d.attempts, d.message_id) == ("posted", 2, second.message_id)
    assert len(fake.messages) == 3 and fake.duplicates == 0
    # the others went out at once, long before the limited channel's retry was due
    assert all(r.at < first.at + 0.5 for n in ("b", "c") for r in fake.accepted(n))


async def test_a_global_429_holds_every_channel_for_its_retry_after(
    store: SqliteStore, fake: FakeWebhook, make_adapter: Callable[..., WebhookAdapter]
) -> None:
    await setup(store, fake, [f"c{i}" for i in range(6)])
    fake.fail(429, times=1, retry_after="1", global_=True)
    w = worker(store, make_adapter(), concurrency=2)
    await run_until_settled(w, store)

    limited = [r for r in fake.requests if r.status == 429]
    assert len(limited) == 1
    at = limited[0].at
    # the one post already past the pacer (the other slot) may still land; nothing else does
    assert len([r for r in fake.requests if at < r.at < at + 0.95]) <= 1
    assert len(fake.messages) == 6 and (await store.delivery_counts())["posted"] == 6


async def test_server_errors_back_off_exponentially_then_post(
    store: SqliteStore, fake: FakeWebhook, make_adapter: Callable[..., WebhookAdapter]
) -> None:
    clock = Clock()
    urls, _ = await setup(store, fake, ["flaky"], clock=clock)
    fake.fail(500, "flaky", times=2)
    w = worker(store, make_adapter(), clock=clock)
    (d,) = await rows_of(store, urls[0])

    await w.drain()
    retry = await row(store, d.id)
    assert (retry.status, retry.reason, retry.attempts) == ("pending", SERVER_ERROR, 1)
    assert 1.0 <= retry.next_attempt_at - clock() <= 2.0  # backoff(1): 2 s with jitter
    await w.drain()
    assert len(fake.received("flaky")) == 1  # not due yet: not retried early

    clock.advance(2.0)
    await w.drain()
    retry = await row(store, d.id)
    assert (retry.status, retry.attempts) == ("pending", 2)
    assert 2.0 <= retry.next_attempt_at - clock() <= 4.0  # doubled

    clock.advance(4.0)
    await w.drain()
    done = await row(store, d.id)
    assert (done.status, done.attempts) == ("posted", 3)
    assert [r.status for r in fake.received("flaky")] == [500, 500, 200]
    assert len(fake.messages) == 1


async def test_a_timeout_is_retried_and_the_receiver_keeps_one_message(
    store: SqliteStore, fake: FakeWebhook, make_adapter: Callable[..., WebhookAdapter]
) -> None:
    clock = Clock()
    urls, _ = await setup(store, fake, ["slow"], clock=clock)
    fake.fail("slow", "slow", times=1, delay=1.0)  # the message is in, the answer comes late
    w = worker(store, make_adapter(timeout=0.3), clock=clock)
    (d,) = await rows_of(store, urls[0])

    await w.drain()
    retry = await row(store, d.id)
    assert (retry.status, retry.reason) == ("pending", TIMEOUT)
    clock.advance(2.0)
    await w.drain()
    done = await row(store, d.id)
    assert done.status == "posted"
    # same Idempotency-Key: a duplicate the receiver answered with the first message's id
    assert len(fake.messages) == 1 and fake.duplicates == 1
    assert done.message_id == fake.messages[d.key].message_id


@pytest.mark.parametrize("fault", ["slow", 429])
async def test_a_failing_channel_does_not_hold_up_the_others(
    fault: str | int,
    store: SqliteStore,
    fake: FakeWebhook,
    make_adapter: Callable[..., WebhookAdapter],
) -> None:
    names = ["bad", *(f"ok{i}" for i in range(6))]
    await setup(store, fake, names)
    fake.fail(fault, "bad", times=1, retry_after="2", delay=3.0)
    w = worker(store, make_adapter(timeout=0.5), concurrency=2)
    await run_until_settled(w, store)

    first, second = fake.received("bad")[:2]
    assert all(r.at < second.at for n in names[1:] for r in fake.received(n))
    assert all(r.at < first.at + 0.5 for n in names[1:] for r in fake.received(n))
    assert len(fake.messages) == 7


async def test_a_failing_channel_with_a_queue_does_not_hold_up_the_others(
    store: SqliteStore, fake: FakeWebhook, make_adapter: Callable[..., WebhookAdapter]
) -> None:
    """Deliveries waiting for a rate-limited channel must not sit in worker slots."""
    await setup(store, fake, ["bad"], rounds=4)  # the bad channel has four queued deliveries
    for name in ("ok1", "ok2", "ok3"):
        await store.subscribe(SubscriptionSpec(channel(fake.url(name)), LEAF))
    feed = Feed(store, Detector(store, default_config()))
    feed.step = 4
    await feed.news()  # one more round: every channel, the ok ones queued behind "bad"
    fake.fail(429, "bad", times=1, retry_after="2")
    started = time.time()
    w = worker(store, make_adapter(), concurrency=2)
    await run_until_settled(w, store)
    late = [r.at - started for n in ("ok1", "ok2", "ok3") for r in fake.received(n)]
    assert max(late) < 1.0, f"the other channels waited {max(late):.1f} s"


# -- permanent failures: a reason, and a pause ------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (401, MISSING_ACCESS),
        (403, MISSING_PERMISSIONS),
        (404, CHANNEL_GONE),
        (410, CHANNEL_GONE),
    ],
)
async def test_access_failures_fail_with_a_reason_and_pause_the_channel_at_once(
    status: int,
    reason: str,
    store: SqliteStore,
    fake: FakeWebhook,
    make_adapter: Callable[..., WebhookAdapter],
) -> None:
    urls, feed = await setup(store, fake, ["gone", "fine"], rounds=3)
    fake.fail(status, "gone")
    w = worker(store, make_adapter(), concurrency=1)
    await w.drain()

    assert len(fake.received("gone")) == 1  # the queued ones are not tried
    first, *queued = await rows_of(store, urls[0])
    assert (first.status, first.reason) == ("failed", reason)
    assert f"HTTP {status}" in (first.last_error or "")
    assert [(d.status, d.reason, d.last_error) for d in queued] == [
        ("failed", reason, "channel paused")
    ] * 2
    (sub,) = await store.subscriptions(channel(urls[0]))
    assert (sub.status, sub.paused_reason) == ("paused", reason)
    assert [d.status for d in await rows_of(store, urls[1])] == ["posted"] * 3
    (other,) = await store.subscriptions(channel(urls[1]))
    assert other.status == "active"

    await feed.news()  # a paused channel hears nothing new
    assert len(await rows_of(store, urls[0])) == 3
    await w.drain()
    assert len(fake.received("gone")) == 1


async def test_access_failure_with_concurrent_claims_posts_nothing_more(
    store: SqliteStore, fake: FakeWebhook, make_adapter: Callable[..., WebhookAdapter]
) -> None:
    urls, _ = await setup(store, fake, ["gone", "fine"], rounds=3)
    fake.fail(403, "gone")
    await worker(store, make_adapter(), concurrency=8).drain()
    assert len(fake.received("gone")) == 1
    statuses = [d.status for d in await rows_of(store, urls[0])]
    assert statuses[0] == "failed" and set(statuses[1:]) <= {"failed", "cancelled"}
    (sub,) = await store.subscriptions(channel(urls[0]))
    assert (sub.status, sub.paused_reason) == ("paused", MISSING_PERMISSIONS)


async def test_rejected_payloads_pause_after_three_in_a_row(
    store: SqliteStore, fake: FakeWebhook, make_adapter: Callable[..., WebhookAdapter]
) -> None:
    urls, _ = await setup(store, fake, ["picky"], rounds=4)
    fake.fail(400, "picky")
    w = worker(store, make_adapter(), concurrency=1)
    await w.drain()

    assert [r.status for r in fake.received("picky")] == [400, 400, 400]
    rows = await rows_of(store, urls[0])
    assert [(d.status, d.reason) for d in rows] == [("failed", REJECTED_PAYLOAD)] * 4
    assert rows[3].last_error == "channel paused"  # the fourth was never sent
    (sub,) = await store.subscriptions(channel(urls[0]))
    assert (sub.status, sub.paused_reason, sub.failures) == ("paused", REJECTED_PAYLOAD, 3)


async def test_a_success_between_rejections_resets_the_count(
    store: SqliteStore, fake: FakeWebhook, make_adapter: Callable[..., WebhookAdapter]
) -> None:
    urls, feed = await setup(store, fake, ["picky"], rounds=2)
    w = worker(store, make_adapter(), concurrency=1)
    fake.fail(413, "picky")
    await w.drain()
    await feed.news()
    fake.clear()
    await w.drain()  # posted: the run of failures is over
    await feed.news()
    await feed.news()
    fake.fail(422, "picky")
    await w.drain()

    assert [d.status for d in await rows_of(store, urls[0])] == [
        "failed",
        "failed",
        "posted",
        "failed",
        "failed",
    ]
    (sub,) = await store.subscriptions(channel(urls[0]))
    assert (sub.status, sub.failures) == ("active", 2)


async def test_resume_sends_what_the_pause_held_back(
    store: SqliteStore, fake: FakeWebhook, make_adapter: Callable[..., WebhookAdapter]
) -> None:
    """The queue a pause stopped is kept for a resume, and a resume sends it."""
    urls, _ = await setup(store, fake, ["gone"], rounds=3)
    fake.fail(404, "gone")
    w = worker(store, make_adapter(), concurrency=1)
    await w.drain()
    fake.clear()
    assert await store.resume(channel(urls[0])) == 1
    await w.drain()
    assert [d.status for d in await rows_of(store, urls[0])][1:] == ["posted", "posted"]


# -- effectively once across crashes ----------------------------------------------------------


async def test_an_inflight_delivery_is_reposted_under_its_key_and_deduplicated(
    tmp_path: Path, fake: FakeWebhook, make_adapter: Callable[..., WebhookAdapter]
) -> None:
    path = tmp_path / "bot.sqlite3"
    async with SqliteStore(path) as store:
        await setup(store, fake, ["a", "b"])
        w = worker(store, make_adapter())
        claimed = await store.claim_due(time.time(), 10)
        assert [d.status for d in claimed] == ["inflight", "inflight"]
        # the post reaches the platform, then the process dies before recording it
        message = await w.compose(claimed[0])
        assert message is not None
        await w.adapters["webhook"].post(claimed[0].channel, message, claimed[0].key)
    assert len(fake.messages) == 1

    async with SqliteStore(path) as store:  # a restart
        assert [d.id for d in await store.inflight()] == [d.id for d in claimed]
        w = worker(store, make_adapter())
        await w.drain()
        done = {d.id: d for d in await store.deliveries()}
        assert {d.status for d in done.values()} == {"posted"}
        assert fake.duplicates == 1 and fake.duplicate_keys == {claimed[0].key: 1}
        assert len(fake.messages) == 2  # no second message for the re-posted key
        assert done[claimed[0].id].message_id == fake.messages[claimed[0].key].message_id
        assert w.stats.reconciled == 0  # a webhook cannot be asked; the key does the work


async def test_unsubscribing_during_a_queued_fan_out_cancels_what_is_queued(
    store: SqliteStore, fake: FakeWebhook, make_adapter: Callable[..., WebhookAdapter]
) -> None:
    names = [f"c{i}" for i in range(8)]
    urls, _ = await setup(store, fake, names)
    w = worker(store, make_adapter(rate_per_second=20.0), concurrency=1)
    stop = asyncio.Event()
    task = asyncio.create_task(w.run(stop))
    try:
        await eventually(lambda: _true(len(fake.messages) >= 2))
        assert await store.unsubscribe(channel(urls[-1]), LEAF.key) == 1
        (cancelled,) = await rows_of(store, urls[-1])
        assert (cancelled.status, cancelled.reason) == ("cancelled", "unsubscribed")
        await eventually(lambda: settled(store))
    finally:
        stop.set()
        await task
    assert fake.received(names[-1]) == []
    assert len(fake.messages) == 7


# -- signing and secrets ----------------------------------------------------------------------


async def test_signed_requests_verify(
    store: SqliteStore, make_adapter: Callable[..., WebhookAdapter]
) -> None:
    async with FakeWebhook(secret="shh-its-a-secret") as fake:
        await setup(store, fake, ["a", "b"])
        await worker(store, make_adapter(secret="shh-its-a-secret")).drain()
        assert len(fake.messages) == 2
        for got in fake.requests:
            assert got.signature_ok is True
            stamp = got.headers["X-Evbot-Timestamp"]
            signature = got.headers["X-Evbot-Signature"]
            assert signature.startswith("sha256=")
            assert verify_signature("shh-its-a-secret", stamp, got.body, signature)
            assert not verify_signature("other", stamp, got.body, signature)
            assert not verify_signature("shh-its-a-secret", stamp, got.body + b" ", signature)
            old = str(int(stamp) - 600)
            assert not verify_signature(
                "shh-its-a-secret", old, got.body, sign("shh-its-a-secret", old, got.body)
            )
            assert "shh-its-a-secret" not in got.body.decode()


async def test_a_wrongly_signed_request_is_refused_by_the_receiver(
    make_adapter: Callable[..., WebhookAdapter],
) -> None:
    async with FakeWebhook(secret="right") as fake:
        adapter = make_adapter(secret="wrong")
        with pytest.raises(DeliveryFailure) as caught:
            await adapter.post(adapter.channel(fake.url("a")), Message("t", "b"), "k")
        assert caught.value.reason == REJECTED_PAYLOAD and not fake.messages


async def test_errors_name_neither_the_secret_nor_the_url_credentials(
    store: SqliteStore, fake: FakeWebhook, make_adapter: Callable[..., WebhookAdapter]
) -> None:
    url = f"http://user:hunter2@127.0.0.1:{fake.port}/hook/t0ken?key=s3cret"
    await prepare(store, [url])
    fake.fail(404, "t0ken")
    adapter = make_adapter(secret="shh-its-a-secret")
    await worker(store, adapter).drain()
    (d,) = await rows_of(store, url)
    (sub,) = await store.subscriptions(channel(url))
    assert d.reason == CHANNEL_GONE and sub.status == "paused"
    for text in (d.last_error or "", sub.last_error or "", repr(adapter)):
        for secret in ("hunter2", "t0ken", "s3cret", "shh-its-a-secret"):
            assert secret not in text, text
    assert f"127.0.0.1:{fake.port}" in (d.last_error or "")


async def test_logs_name_no_url_credentials(
    store: SqliteStore,
    fake: FakeWebhook,
    make_adapter: Callable[..., WebhookAdapter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A webhook URL's path is often its credential: logs show the host only."""
    url = f"http://127.0.0.1:{fake.port}/hook/t0ken"
    await prepare(store, [url])
    fake.fail(404, "t0ken")
    with caplog.at_level(logging.DEBUG, logger="evbot"):
        await worker(store, make_adapter()).drain()
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("evbot")]
    assert ours  # the failure was logged
    assert not [m for m in ours if "t0ken" in m]


# -- the adapter on its own -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason", "permanent"),
    [
        (400, REJECTED_PAYLOAD, True),
        (401, MISSING_ACCESS, True),
        (403, MISSING_PERMISSIONS, True),
        (404, CHANNEL_GONE, True),
        (408, TIMEOUT, False),
        (410, CHANNEL_GONE, True),
        (413, REJECTED_PAYLOAD, True),
        (422, REJECTED_PAYLOAD, True),
        (429, RATE_LIMITED, False),
        (500, SERVER_ERROR, False),
        (502, SERVER_ERROR, False),
        (503, SERVER_ERROR, False),
        (302, UNKNOWN, True),
    ],
)
async def test_answers_map_to_reason_codes(
    status: int,
    reason: str,
    permanent: bool,
    fake: FakeWebhook,
    make_adapter: Callable[..., WebhookAdapter],
) -> None:
    adapter = make_adapter()
    fake.fail(status, "a")
    with pytest.raises(DeliveryFailure) as caught:
        await adapter.post(adapter.channel(fake.url("a")), Message("t", "b"), "k")
    assert (caught.value.reason, caught.value.permanent) == (reason, permanent)
    assert f"HTTP {status}" in caught.value.detail


async def test_429_retry_after_as_seconds_date_or_body_and_global_flag(
    fake: FakeWebhook, make_adapter: Callable[..., WebhookAdapter]
) -> None:
    adapter = make_adapter()
    target = adapter.channel(fake.url("a"))

    async def failure() -> DeliveryFailure:
        with pytest.raises(DeliveryFailure) as caught:
            await adapter.post(target, Message("t", "b"), "k")
        return caught.value

    fake.fail(429, "a", retry_after="3")
    got = await failure()
    assert (got.retry_after, got.global_limit) == (3.0, False)
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    fake.fail(429, "a", retry_after=when, global_=True)
    got = await failure()
    assert got.retry_after is not None and 25 <= got.retry_after <= 31 and got.global_limit
    fake.fail(429, "a", body={"retry_after": 0.25})  # no header: the body's figure
    assert (await failure()).retry_after == 0.25
    fake.fail(429, "a")
    assert (await failure()).retry_after is None  # the worker's backoff applies


def test_parse_retry_after() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after("86400000") == 3600.0  # capped
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    for bad in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(bad) is None


async def test_a_2xx_without_an_id_is_recorded_under_the_key(
    make_adapter: Callable[..., WebhookAdapter],
) -> None:
    from aiohttp import web

    app = web.Application()

    async def accept(request: web.Request) -> web.Response:
        return web.Response(status=204)

    app.router.add_post("/x", accept)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        adapter = make_adapter()
        url = f"http://127.0.0.1:{port}/x"
        assert await adapter.post(adapter.channel(url), Message("t", "b"), "key-9") == "key-9"
    finally:
        await runner.cleanup()


async def test_network_errors_are_transient_and_bad_urls_permanent(
    make_adapter: Callable[..., WebhookAdapter],
) -> None:
    adapter = make_adapter()
    with pytest.raises(DeliveryFailure) as caught:  # nothing listens on port 1
        await adapter.post(adapter.channel("http://127.0.0.1:1/hook/x"), Message("t", "b"), "k")
    assert (caught.value.reason, caught.value.permanent) == (NETWORK, False)
    for url in ("ftp://127.0.0.1/x", "not a url", "http://[::1/x"):
        with pytest.raises(DeliveryFailure) as caught:
            await adapter.post(adapter.channel(url), Message("t", "b"), "k")
        assert (caught.value.reason, caught.value.permanent) == (CHANNEL_GONE, True)
    assert await adapter.find_posted(adapter.channel("http://127.0.0.1:1/x"), "k") is None


async def test_limits_timeout_and_secret_from_the_platform_config() -> None:
    plain = WebhookAdapter()
    assert (plain.limits.global_per_second, plain.limits.channel_per_second) == (
        DEFAULT_RATE,
        DEFAULT_CHANNEL_RATE,
    )
    assert plain.timeout == DEFAULT_TIMEOUT and not plain.signs
    config = PlatformConfig(
        "webhook",
        enabled=True,
        secrets={"signing_secret": "EVBOT_WEBHOOK_SECRET"},
        options={"rate_per_second": 40, "channel_rate_per_second": 2.5, "timeout": 3},
    )
    adapter = WebhookAdapter(config, environ={"EVBOT_WEBHOOK_SECRET": "from-env"})
    assert (adapter.limits.global_per_second, adapter.limits.channel_per_second) == (40.0, 2.5)
    assert adapter.timeout == 3.0 and adapter.signs
    assert "from-env" not in repr(adapter)
    assert WebhookAdapter(config, rate_per_second=9).limits.global_per_second == 9.0
    assert not WebhookAdapter(config, environ={}).signs
    for bad in (0, -1, "fast", True, float("inf")):
        with pytest.raises(ConfigError, match=r"platforms\.webhook\.rate_per_second"):
            WebhookAdapter(PlatformConfig("webhook", options={"rate_per_second": bad}))
    await adapter.close()  # never opened: nothing to do
    with pytest.raises(ConfigError, match=r"platforms\.webhook\.rate: unknown key"):
        WebhookAdapter(PlatformConfig("webhook", options={"rate": 5}))
    with pytest.raises(ConfigError, match="secrets never go in the file") as caught:
        WebhookAdapter(PlatformConfig("webhook", options={"signing_secret": "xyzzy"}))
    assert "xyzzy" not in str(caught.value)


# -- the worker's own costs ------------------------------------------------------------------


async def test_the_worker_does_not_spin_while_its_slots_are_busy(
    store: SqliteStore, fake: FakeWebhook, make_adapter: Callable[..., WebhookAdapter]
) -> None:
    """With every slot busy, the worker waits for a post to end instead of polling the store."""
    await setup(store, fake, ["a-slow", "b-next"])  # channels are claimed in this order
    fake.fail("slow", "a-slow", delay=1.0)
    w = worker(store, make_adapter(timeout=2.0), concurrency=1)
    stop = asyncio.Event()
    task = asyncio.create_task(w.run(stop))
    try:
        await eventually(lambda: _true(bool(fake.received("a-slow"))))
        before = store.stats.statements
        await asyncio.sleep(0.5)  # the one slot waits for the slow answer
        spent = store.stats.statements - before
    finally:
        stop.set()
        await task
    assert spent < 100, f"{spent} statements in half a second of waiting"


async def test_the_pacer_keeps_its_rate_when_sleeps_run_late() -> None:
    """Late wake-ups are caught up by the platform bucket's burst, not lost for good."""
    clock = Clock(0.0)

    async def late_sleep(seconds: float) -> None:
        clock.advance(seconds + 0.0005)  # every wake-up half a millisecond late

    pacer = Pacer(500.0, 1.0, clock, late_sleep)
    for i in range(1000):
        await pacer.acquire(i)  # 1,000 channels, one post each
    achieved = 1000 / clock()
    assert achieved >= 0.97 * 500, f"{achieved:.0f}/s of 500/s"


async def claim_work(tmp_path: Path, pending: int) -> int:
    """SQLite VM steps (in hundreds) one `claim_due(8)` takes with `pending` deliveries due."""
    async with SqliteStore(tmp_path / f"claim-{pending}.sqlite3") as store:
        await store.enqueue(
            [
                PlannedDelivery(channel(f"http://h/c{i}"), "following", (), (1,), "en", "{}")
                for i in range(pending)
            ],
            1_000.0,
        )
        steps = 0

        def count() -> int:
            nonlocal steps
            steps += 1
            return 0

        await store.db.set_progress_handler(count, 100)
        assert len(await store.claim_due(2_000.0, 8)) == 8
        await store.db.set_progress_handler(None, 100)
        return steps


async def test_claiming_costs_the_same_with_a_long_queue(tmp_path: Path) -> None:
    short, long = await claim_work(tmp_path, 500), await claim_work(tmp_path, 10_000)
    assert long < 3 * short, f"{short} vs {long} hundred VM steps for one claim"


def test_backoff_is_what_the_retry_tests_expect() -> None:
    rng = random.Random(1)
    assert all(1.0 <= backoff(1, rng) <= 2.0 for _ in range(50))
    assert all(2.0 <= backoff(2, rng) <= 4.0 for _ in range(50))


def test_the_payload_is_json_with_the_key_and_channel() -> None:
    from adapters.webhook import payload

    data = payload(channel("http://h/x"), Message("T", "B", kind="milestone"), "k")
    assert json.loads(json.dumps(data)) == {
        "delivery": "k",
        "channel": "http://h/x",
        "message": {
            "title": "T",
            "body": "B",
            "fields": [],
            "footer": "",
            "accent": "milestone",
            "kind": "milestone",
            "locale": "en",
        },
    }
