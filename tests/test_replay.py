"""`evbot replay` and `evbot demo` on the shipped Alliance demo data, through real processes and
the real store: the issue's done-when, the filters, and the demo's one message per poll."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from bot.domain.channels import Channel
from bot.domain.messages import Message
from bot.domain.rungs import RungRange
from bot.store.sqlite.sales import SqliteStore
from tests.conftest import built_once
from tests.demo_once import DemoRun

ROOT = Path(__file__).resolve().parent.parent
ALLIANCE = "Renault-Nissan Alliance"
DONE_WHEN = {100_000: "2013-07", 200_000: "2014-11", 250_000: "2015-06", 350_000: "2016-08"}


def evbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` in a clean environment (no EVBOT_* settings leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVBOT_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def import_demo_into(folder: Path) -> Path:
    db = folder / "demo.sqlite3"
    done = evbot("import", "--demo", "--db", str(db), cwd=folder)
    assert done.returncode == 0, done.stderr
    assert "first import of this source: recorded as history" in done.stdout
    return db


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's figures imported once for the run (the tests only read them)."""
    return built_once(tmp_path_factory, "replay", import_demo_into)


def replay_json(db: Path, *args: str) -> list[dict[str, Any]]:
    done = evbot("replay", "--json", "--db", str(db), *args, cwd=db.parent)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory, demo_db: Path) -> list[dict[str, Any]]:
    return built_once(tmp_path_factory, "replayed", lambda _: replay_json(demo_db))


def listed(event: dict[str, Any]) -> list[int]:
    """A milestone event's thresholds one by one (its JSON carries the range)."""
    crossed = RungRange(**event["thresholds"])
    return crossed.rungs(crossed.count)


def alliance_milestones(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e
        for e in events
        if e["kind"] == "milestone" and e["subject"] == ALLIANCE and e["region"] == "World"
    ]


def test_replay_announces_the_alliance_milestones_once_each(
    replayed: list[dict[str, Any]],
) -> None:
    mine = alliance_milestones(replayed)
    for threshold, month in DONE_WHEN.items():
        found = [e for e in mine if threshold in listed(e)]
        assert len(found) == 1, f"{threshold:,}: {found}"
        (event,) = found
        assert event["period"] == month
        assert event["value"] >= threshold
        assert event["metric"] == "sales"
    # no Alliance threshold is announced twice, and every event lists its thresholds ascending
    counts = Counter(t for e in mine for t in listed(e))
    assert all(n == 1 for n in counts.values()), counts
    periods = [e["period"] for e in mine]
    assert periods == sorted(periods)
    for event in replayed:
        if event["kind"] == "milestone":
            assert listed(event) == sorted(set(listed(event)))


def test_replay_json_lines_carry_the_documented_fields(replayed: list[dict[str, Any]]) -> None:
    assert replayed
    for event in replayed:
        assert {"kind", "subject", "region", "metric", "period", "value", "text"} <= set(event)
        assert len(event["period"]) == 7 and event["period"][4] == "-"
        assert isinstance(event["text"], str) and event["text"]
    assert {e["kind"] for e in replayed} <= {"milestone", "share", "growth", "record"}
    # one object per line, months in order
    periods = [e["period"] for e in replayed]
    assert periods == sorted(periods)


def test_the_250000_message_states_the_leaf_share(replayed: list[dict[str, Any]]) -> None:
    (event,) = [e for e in alliance_milestones(replayed) if 250_000 in listed(e)]
    assert "250,000" in event["text"]
    assert "Nissan Leaf" in event["text"]
    assert "72%" in event["text"]
    assert event["leader"]["name"] == "Nissan Leaf"
    assert round(event["leader"]["share"], 2) == 0.72


@pytest.mark.slow
def test_replay_from_and_to_keep_only_those_months(
    demo_db: Path, replayed: list[dict[str, Any]]
) -> None:
    window = replay_json(demo_db, "--from", "2014-11", "--to", "2015-06")
    assert window
    assert all("2014-11" <= e["period"] <= "2015-06" for e in window)
    # the same events as the full replay in that window: filtering does not change detection
    assert window == [e for e in replayed if "2014-11" <= e["period"] <= "2015-06"]
    assert [listed(e) for e in alliance_milestones(window)] == [[200_000], [250_000]]


def test_replay_kinds_milestone(demo_db: Path, replayed: list[dict[str, Any]]) -> None:
    only = replay_json(demo_db, "--kinds", "milestone")
    assert only
    assert {e["kind"] for e in only} == {"milestone"}
    assert only == [e for e in replayed if e["kind"] == "milestone"]


def test_replay_text_output(demo_db: Path) -> None:
    done = evbot(
        "replay", "--kinds", "milestone", "--from", "2015-06", "--to", "2015-06",
        "--db", str(demo_db), cwd=demo_db.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines and all(line.startswith("2015-06  ") for line in lines)
    assert any("Renault-Nissan Alliance has passed 250,000" in line for line in lines)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--from", "Juen 2015"), ("--from", "'juen' is not a month name")),
        (("--from", "ytd"), ("--from", "not ytd")),
        (("--to", "2015-13"), ("--to", "2015-13", "month 13 is not between 1 and 12")),
        (("--to", "2015-Q5"), ("--to", "a quarter is Q1 to Q4")),
        (("--kinds", "milestone,rumour"), ("--kinds", "rumour")),
    ],
)
def test_replay_bad_arguments_fail_clearly(
    demo_db: Path, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    done = evbot("replay", "--json", "--db", str(demo_db), *args, cwd=demo_db.parent)
    assert done.returncode == 1
    assert done.stdout == ""
    message = done.stderr.strip()
    assert message.startswith("evbot replay: ")
    assert len(message.splitlines()) == 1  # one line, no traceback
    for word in words:
        assert word in message


def test_replay_window_the_wrong_way_round_fails_clearly(demo_db: Path) -> None:
    done = evbot(
        "replay", "--db", str(demo_db), "--from", "2016-01", "--to", "2015-01",
        cwd=demo_db.parent,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("evbot replay: ")
    assert "--from" in done.stderr and "--to" in done.stderr


def test_replay_of_an_empty_store_prints_nothing(tmp_path: Path) -> None:
    db = tmp_path / "empty.sqlite3"

    async def create() -> None:
        async with SqliteStore(db):
            pass

    asyncio.run(create())
    done = evbot("replay", "--json", "--db", str(db), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


def test_replay_of_a_missing_database_fails_clearly(tmp_path: Path) -> None:
    db = tmp_path / "missing.sqlite3"
    done = evbot("replay", "--json", "--db", str(db), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("evbot replay: ") and str(db) in done.stderr
    assert not db.exists()  # a typo in --db does not leave an empty database behind


def test_replay_does_not_touch_the_detector_state(demo_db: Path) -> None:
    """Replay starts from an empty detector state and records nothing."""
    with closing(sqlite3.connect(demo_db)) as db:
        before = [
            db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()
            for t in ("milestones", "events", "corrections", "watermarks")
        ]
    assert before == [(0,), (0,), (0,), (0,)]  # fixture imported, nobody detected


# -- the demo: one grouped message per poll -------------------------------------------------


def _mentions(message: Message, threshold: int) -> bool:
    text = f"{message.title}\n{message.body}"
    return any(f"{ALLIANCE} {verb} {threshold:,} " in text for verb in ("passes", "has passed"))


def test_demo_posts_each_alliance_milestone_once_in_one_message_per_poll(
    demo_once: DemoRun,
) -> None:
    db = demo_once.db
    assert "Demo done" in demo_once.out
    posts = demo_once.posts
    assert posts
    assert len({key for _, _, key in posts}) == len(posts)  # nothing posted twice
    assert {channel for channel, _, _ in posts} == {Channel("console", "local", "terminal")}
    assert posts[0][1].kind == "following"  # the baseline, not a flood of history
    for threshold in DONE_WHEN:
        carrying = [m for _, m, _ in posts if _mentions(m, threshold)]
        assert len(carrying) == 1, f"{threshold:,} posted {len(carrying)} times"

    # one instant message per poll: the events of each delivery come from one month's import,
    # and no month's news is split over two messages
    with closing(sqlite3.connect(db)) as conn:
        periods = {
            event_id: json.loads(payload)["period"]
            for event_id, payload in conn.execute("SELECT id, payload FROM events")
        }
        kinds = {
            event_id: json.loads(payload)["kind"]
            for event_id, payload in conn.execute("SELECT id, payload FROM events")
        }
        deliveries = conn.execute(
            "SELECT kind, event_ids, status FROM deliveries ORDER BY id"
        ).fetchall()
    assert deliveries and all(status == "posted" for _, _, status in deliveries)
    instant = [json.loads(ids) for kind, ids, _ in deliveries if kind == "instant"]
    assert len(instant) == sum(1 for _, m, _ in posts if m.kind not in ("following", "digest"))
    months: list[str] = []
    for event_ids in instant:
        crossing = {periods[i] for i in event_ids if kinds[i] == "milestone"}
        assert len(crossing) <= 1, f"one message mixes months {crossing}"
        months.extend(crossing)
    assert len(months) == len(set(months)), "a month's milestones went out in two messages"
    digests = [m for _, m, _ in posts if m.kind == "digest"]
    assert len(digests) <= 6  # at most one a year, 2011 to 2016


def test_evbot_demo_speed_zero_through_the_cli(tmp_path: Path) -> None:
    done = evbot("demo", "--speed", "0", "--db", str(tmp_path / "d.sqlite3"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Renault-Nissan Alliance passes 250,000" in done.stdout
    assert "Demo done" in done.stdout
