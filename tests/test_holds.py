"""Hold the implausible (issue 26): a typo of a few extra zeros is imported but not announced
until released; what depends on it is held with it; revising it back leaves no trace."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.detection.detector import Detector
from bot.domain.channels import Channel
from bot.domain.event_codec import event_to_dict
from bot.domain.events import MilestoneEvent, Subject
from bot.domain.periods import Month
from bot.domain.records import SalesRecord, SourceSpec, StoredEvent
from bot.domain.settings import default_config
from bot.domain.subjects import ALL
from bot.domain.subscriptions import SubscriptionSpec, ladder_objects, plan_fanout
from bot.ports.store import BotStore
from bot.store.sqlite.sales import SqliteStore

HEADER = "period,region,make,model,units,powertrain\n"
LEAF = Subject("model", "model:nissan/leaf", "Nissan Leaf")
HERE = Channel("test", "guild", "c1")
Factory = Callable[[], BotStore]  # conftest's `make_store`: a store of each backend, unopened


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EVBOT_DB", raising=False)
    monkeypatch.delenv("EVBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def write(path: Path, *rows: str) -> str:
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return str(path)


def leaf(month: int, units: int) -> str:
    return f"2020-{month:02d},World,Nissan,Leaf,{units},BEV"


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


async def _poll(db: Path) -> list[MilestoneEvent]:
    async with SqliteStore(db) as store:
        await store.sync_groups(default_config().groups)
        stored = await Detector(store, default_config()).poll()
    return [s.event for s in stored if isinstance(s.event, MilestoneEvent)]


def poll(db: Path) -> list[MilestoneEvent]:
    return asyncio.run(_poll(db))


async def _follow_everything(db: Path) -> None:
    async with SqliteStore(db) as store:
        await store.subscribe(SubscriptionSpec(HERE, ALL, charts=False))
        await store.subscribe(SubscriptionSpec(HERE, LEAF, charts=False))


def outbox(db: Path) -> list[int]:
    """The events in the outbox (deliveries and digest items), with repeats."""
    with sqlite3.connect(db) as con:
        ids = [
            i
            for (text,) in con.execute("SELECT event_ids FROM deliveries")
            for i in json.loads(text)
        ]
        ids += [i for (i,) in con.execute("SELECT event_id FROM digest_items")]
    return ids


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as con:
        return list(con.execute(sql))


@pytest.fixture
def history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Eight months of the Leaf at about 1,000 (a first import: history), and a subscriber."""
    db = tmp_path / "bot.sqlite3"
    first = write(tmp_path / "feed.csv", *(leaf(m, 1_000) for m in range(1, 9)))
    assert cli(capsys, "import", first, "--source", "feed", "--db", str(db))[0] == 0
    poll(db)
    asyncio.run(_follow_everything(db))
    return db


def test_a_typo_is_held_listed_and_released_once(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(history)
    typo = write(tmp_path / "september.csv", leaf(9, 1_000_000))
    status, _, out = cli(capsys, "import", typo, "--source", "feed", "--db", db)
    assert status == 0
    assert (
        f"note: {typo}:2: Nissan Leaf in World, 2020-09: held, not announced: 1,000,000 units is "
        "more than 20 times the largest of the 8 earlier figures of its series (1,000)" in out
    )
    told = poll(history)
    assert told == []  # nothing passes 10,000 ... 1,000,000
    assert outbox(history) == []
    held = json.loads(cli(capsys, "held", "--json", "--db", db)[1])["holds"]
    assert [(h["id"], h["units"], h["where"]) for h in held] == [(1, 1_000_000, f"{typo}:2")]
    # the Leaf, Nissan, the Alliance and all EVs crossed only because of it: all held
    subjects = {
        k
        for (k,) in rows(
            history, "SELECT e.subject_key FROM held_events h JOIN events e ON e.id = h.event_id"
        )
    }
    assert {"model:nissan/leaf", "make:nissan", "all"} <= subjects
    assert held[0]["events"] == len(subjects) >= 3
    status, out, _ = cli(capsys, "release", "1", "--db", db)
    assert status == 0 and f"{held[0]['events']} events go out" in out
    sent = outbox(history)
    released = {i for (i,) in rows(history, "SELECT id FROM events WHERE period = '2020-09'")}
    # one fact, one line: the channel hears the most specific of the facts, each once
    assert sent and set(sent) <= released and len(sent) == len(set(sent))
    status, _, err = cli(capsys, "release", "1", "--db", db)
    assert status == 1 and "hold 1 is released, not held" in err
    assert outbox(history) == sent  # once
    assert "nothing held" in cli(capsys, "held", "--db", db)[1]


def test_revising_the_typo_back_leaves_nothing_to_correct(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(history)
    cli(
        capsys,
        "import",
        write(tmp_path / "typo.csv", leaf(9, 1_000_000)),
        "--source",
        "feed",
        "--db",
        db,
    )
    poll(history)
    assert rows(history, "SELECT COUNT(*) FROM milestones WHERE highest > 10000") != [(0,)]
    fixed = write(tmp_path / "fixed.csv", leaf(9, 1_000))
    status, _, out = cli(capsys, "import", fixed, "--source", "feed", "--db", db)
    assert status == 0 and "held" not in out
    assert poll(history) == []
    assert rows(history, "SELECT COUNT(*) FROM milestones WHERE highest > 9000") == [(0,)]
    assert rows(history, "SELECT COUNT(*) FROM corrections") == [(0,)]
    assert rows(history, "SELECT state FROM holds") == [("revised",)]
    assert outbox(history) == []
    # the Leaf then passes 10,000 for real: told once, as a first crossing
    cli(
        capsys,
        "import",
        write(tmp_path / "october.csv", leaf(10, 1_500)),
        "--source",
        "feed",
        "--db",
        db,
    )
    told = [e for e in poll(history) if e.subject.key == LEAF.key]
    assert [(e.thresholds.lowest, e.value) for e in told] == [(10_000, 10_500)]
    assert rows(history, "SELECT COUNT(*) FROM corrections") == [(0,)]
    assert len(outbox(history)) >= 1


def test_accept_jumps_holds_nothing(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(history)
    typo = write(tmp_path / "typo.csv", leaf(9, 1_000_000))
    status, out, _ = cli(capsys, "import", typo, "--source", "feed", "--accept-jumps", "--db", db)
    assert status == 0 and "held" not in out
    told = [e for e in poll(history) if e.subject.key == LEAF.key]
    assert [e.thresholds.highest for e in told] == [1_000_000]
    assert outbox(history) != []
    assert "nothing held" in cli(capsys, "held", "--db", db)[1]


def test_the_ceiling_holds_a_figure_whatever_its_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bot.sqlite3"
    cli(
        capsys,
        "import",
        write(tmp_path / "a.csv", leaf(1, 100)),
        "--source",
        "feed",
        "--db",
        str(db),
    )
    poll(db)
    asyncio.run(_follow_everything(db))
    status, _, out = cli(
        capsys,
        "import",
        write(tmp_path / "b.csv", leaf(2, 10**12)),
        "--source",
        "feed",
        "--db",
        str(db),
    )
    assert status == 0 and "above the ceiling of 1,000,000,000 units in one period" in out
    assert poll(db) == [] and outbox(db) == []


def test_answers_and_replay_say_a_held_figure_is_unconfirmed(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(history)
    typo = write(tmp_path / "typo.csv", leaf(9, 1_000_000))
    cli(capsys, "import", typo, "--source", "feed", "--db", db)
    poll(history)
    status, out, _ = cli(capsys, "ask", "/ev-total nissan leaf", "--db", db)
    assert status == 0 and "1,008,000" in out
    assert "Unconfirmed: it counts 1 figure held as implausible, not yet confirmed (hold 1)" in out
    data = json.loads(cli(capsys, "ask", "/ev-total nissan", "--json", "--db", db)[1])
    assert "unconfirmed" in json.dumps(data)
    # as of August, before the held figure, nothing is unconfirmed
    out = cli(capsys, "ask", "/ev-total nissan leaf as-of:2020-08", "--db", db)[1]
    assert "8,000" in out and "nconfirmed" not in out
    lines = cli(capsys, "replay", "--db", db)[1].splitlines()
    september = [line for line in lines if line.startswith("2020-09")]
    assert september and all("(unconfirmed: held, hold 1)" in line for line in september)
    assert all("unconfirmed" not in line for line in lines if not line.startswith("2020-09"))
    cli(capsys, "release", "1", "--db", db)
    assert "nconfirmed" not in cli(capsys, "ask", "/ev-total nissan leaf", "--db", db)[1]
    assert "unconfirmed" not in cli(capsys, "replay", "--db", db)[1]


async def test_both_stores_hold_and_release_the_same(any_store: BotStore) -> None:
    store = any_store  # conftest's, open already (opening again is a no-op, as is closing twice)
    await store.open()
    try:
        config = default_config()
        await store.sync_groups(config.groups)
        await store.subscribe(SubscriptionSpec(HERE, LEAF, charts=False))
        detector = Detector(store, config)

        def record(month: int, units: int) -> SalesRecord:
            return SalesRecord(f"2020-{month:02d}", "World", "Nissan", "Leaf", units)

        feed = SourceSpec("feed")
        await store.import_records([(feed, [record(m, 1_000) for m in range(1, 9)])])
        await detector.poll()
        summaries = await store.import_records([(feed, [record(9, 50_000)])], file="typo.csv")
        assert summaries[0].notices == [
            "typo.csv:1: Nissan Leaf in World, 2020-09: held, not announced: 50,000 units is "
            "more than 20 times the largest of the 8 earlier figures of its series (1,000) "
            "(hold 1: `evbot held`, `evbot release 1`)"
        ]
        assert await detector.poll() == []
        [hold] = await store.holds()
        assert (hold.id, hold.units, hold.region, hold.period) == (1, 50_000, "World", "2020-09")
        held = await store.held_event_ids()
        assert len(held) == hold.events >= 3  # the Leaf, Nissan, the Alliance, all EVs
        ladders = ladder_objects(config.ladders)
        released = await store.release_hold(1, lambda e, s: plan_fanout(e, s, ladders), 0.0)
        assert {s.id for s in released} == held
        assert await store.held_event_ids() == set()
        with pytest.raises(ValueError, match="hold 1 is released, not held"):
            await store.release_hold(1, lambda e, s: plan_fanout(e, s, ladders), 0.0)
        with pytest.raises(LookupError, match="no hold 7"):
            await store.release_hold(7, lambda e, s: plan_fanout(e, s, ladders), 0.0)
        assert [h.released for h in await store.holds(everything=True)] == [True]
    finally:
        await store.close()


@pytest.mark.parametrize("later", [0, 4])
async def test_a_hold_revised_by_another_process_leaves_the_bot_no_stale_state(
    make_store: Factory, tmp_path: Path, later: int
) -> None:
    """A SQLite bot keeps the series states it saved in memory while its watermark stands. An
    import in another process that revises a held figure deletes the states that knew it on
    disk, without moving that watermark: the bot's next polls must still give what detectors
    with nothing in memory give (a new store and detector at every poll, on a store of their
    own fed the same files). They do because the revision is journaled at the held figure's
    month, which every dropped state had already detected: a series changed at or before its
    state's last month is read whole, never continued. PostgreSQL keeps no state in memory.
    The revision comes at once (news), or `later` months after the typo (history by then)."""
    config = default_config()
    feed = SourceSpec("feed")
    series = [
        ("all", "World", "sales"),
        (LEAF.key, "World", "sales"),
        ("make:nissan", "World", "sales"),
    ]

    def record(month: int, units: int) -> SalesRecord:  # month 13 is 2021-01
        return SalesRecord(str(Month(2020, 1).plus(month - 1)), "World", "Nissan", "Leaf", units)

    def said(stored: Sequence[StoredEvent]) -> list[str]:
        return sorted(json.dumps(event_to_dict(s.event), sort_keys=True) for s in stored)

    async def kept(store: BotStore) -> tuple[object, ...]:
        return (
            await store.series_states(series),
            await store.recorded_milestones_of([(*k, None) for k in series]),
            await store.holds(everything=True),
            await store.watermark("detector"),
        )

    reference = tmp_path / "reference.sqlite3"

    async def fresh_poll(records: list[SalesRecord]) -> tuple[list[str], tuple[object, ...]]:
        async with SqliteStore(reference) as fresh:
            await fresh.sync_groups(config.groups)
            await fresh.import_records([(feed, records)])
            told = said(await Detector(fresh, config).poll())
            return told, await kept(fresh)

    bot = make_store()  # the running bot's connection
    other = make_store()  # `evbot import` in another process, on the same database
    await bot.open()
    await other.open()
    try:
        await bot.sync_groups(config.groups)
        detector = Detector(bot, config)
        fixed = [record(9, 1_000)]  # the typo revised back, by another process
        steps = [
            [record(m, 1_000) for m in range(1, 9)],
            [record(9, 1_000_000)],  # a typo: held
            *([[record(m, 1_000) for m in range(10, 10 + later)]] if later else []),
            fixed,
            [record(10 + later, 1_500)],
            [record(11 + later, 1_200)],
        ]
        for records in steps:
            await other.import_records([(feed, records)])
            everything = series[0]
            if records == fixed and isinstance(bot, SqliteStore):
                # the premise: on disk the states that knew the typo are gone, the bot's
                # memory still has them
                assert (await other.series_states([everything])) == {}
                assert (await bot.series_states([everything]))[everything].total > 1_000_000
            told = await detector.poll()
            assert (said(told), await kept(bot)) == await fresh_poll(records)
            if not later and records[0].period == "2020-10":
                # the Leaf passes 10,000 for real: a first crossing, not a correction
                leaf = [s.event for s in told if s.event.subject.key == LEAF.key]
                assert [(e.kind, e.value) for e in leaf if isinstance(e, MilestoneEvent)] == [
                    ("milestone", 10_500)
                ]
        figures = {r.period: r.units for records in steps for r in records}
        assert (await bot.series_states([everything]))[everything].total == sum(figures.values())
    finally:
        await bot.close()
        await other.close()
