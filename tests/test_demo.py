"""`evbot demo`: the Alliance's milestones through the real scheduler, detector, outbox, worker."""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from adapters.console import ConsoleAdapter
from bot.cli.demo import DEMO_CHANNEL, run_demo
from bot.domain.channels import CHANNEL_GONE, Channel, DeliveryFailure, Limits
from bot.domain.messages import Message
from bot.domain.settings import default_config
from tests.conftest import built_once
from tests.demo_once import DemoRun

MONTHS = {
    name: number
    for number, name in enumerate(
        [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ],
        start=1,
    )
}
ALLIANCE = "Renault-Nissan Alliance passes {} electric cars sold"


class CollectingAdapter:
    platform = "console"
    limits = Limits(global_per_second=1000.0, channel_per_second=1000.0)

    def __init__(self) -> None:
        self.posts: list[tuple[Channel, Message]] = []
        self.keys: set[str] = set()

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        assert key not in self.keys, f"{key} posted twice"
        self.keys.add(key)
        self.posts.append((channel, message))
        return f"msg-{len(self.posts)}"

    async def find_posted(
        self, channel: Channel, key: str, since: float | None = None
    ) -> str | None:
        return None


def data_month(message: Message) -> tuple[int, int]:
    """The month a message's news is about, from its footer ("... data through June 2015")."""
    match = re.search(r"[Dd]ata through (\w+) (\d{4})", message.footer)
    assert match, message.footer
    return int(match.group(2)), MONTHS[match.group(1)]


@pytest.fixture(scope="module")
def demo_run(demo_once: DemoRun) -> tuple[list[Message], str]:
    """The shared in-process demo at full speed (speed 0: no waiting between months)."""
    assert {channel for channel, _, _ in demo_once.posts} == {DEMO_CHANNEL}
    assert len({key for _, _, key in demo_once.posts}) == len(demo_once.posts)  # none twice
    return [m for _, m, _ in demo_once.posts], demo_once.out


@pytest.mark.slow
def test_scheduled_ticks_due_at_once_never_stall_the_demo(
    demo_run: tuple[list[Message], str],
) -> None:
    # each tick schedules the next, here due at once: it fires while the tick that scheduled it
    # is still returning, and must run rather than be skipped (the demo then waited forever)
    adapter = CollectingAdapter()
    out = io.StringIO()
    demo = run_demo(default_config(), out, speed=1e9, adapter=adapter)
    assert asyncio.run(asyncio.wait_for(demo, timeout=120)) == 0
    # the same messages; a chart is drawn when its message is posted, from the data then
    assert [replace(m, image=None) for _, m in adapter.posts] == [
        replace(m, image=None) for m in demo_run[0]
    ]


def test_the_demo_starts_with_the_baseline(demo_run: tuple[list[Message], str]) -> None:
    messages, out = demo_run
    first = messages[0]
    assert first.kind == "following"
    assert first.title == "Now following Renault-Nissan Alliance"
    assert first.body.startswith("Now following Renault-Nissan Alliance: 50 so far")
    assert sum(m.kind == "following" for m in messages) == 1
    assert out.startswith(
        "EV Milestone Bot demo: Renault-Nissan Alliance sales, 2010-12 to 2016-12"
    )
    assert f"Demo done: {len(messages)} messages posted to the terminal (0 failed)." in out


def test_the_alliance_milestones_appear_once_each_in_month_order(
    demo_run: tuple[list[Message], str],
) -> None:
    messages, _ = demo_run
    where = {}
    for threshold, month in [
        ("100,000", (2013, 7)),
        ("200,000", (2014, 11)),
        ("250,000", (2015, 6)),
        ("350,000", (2016, 8)),
    ]:
        said = ALLIANCE.format(threshold)
        found = [i for i, m in enumerate(messages) if said in f"{m.title}\n{m.body}"]
        assert len(found) == 1, (threshold, found)
        where[threshold] = found[0]
        assert data_month(messages[found[0]]) == month
    assert list(where.values()) == sorted(where.values())


def test_each_headline_alliance_milestone_is_shown_whole_with_total_month_and_leader(
    demo_run: tuple[list[Message], str],
) -> None:
    # issue 15: four of the five came as bare bullets inside "N EV milestones"; the README's
    # showcase message was never shown
    messages, _ = demo_run
    for threshold in ("100,000", "200,000", "250,000", "350,000"):
        [message] = [m for m in messages if ALLIANCE.format(threshold) in m.title]
        assert message.body.startswith(
            f"The Renault-Nissan Alliance has passed {threshold} electric cars sold ("
        ), message.body
        names = [f.name for f in message.fields]
        assert {"Total", "Period", "Leader"} <= set(names), names
    [showcase] = [m for m in messages if ALLIANCE.format("250,000") in m.title]
    assert showcase.body.startswith(
        "The Renault-Nissan Alliance has passed 250,000 electric cars sold"
        " (256,132 through June 2015). The Nissan Leaf leads with 184,190, 72% of the total."
    )


def test_at_most_one_message_per_month_plus_yearly_digests(
    demo_run: tuple[list[Message], str],
) -> None:
    messages, _ = demo_run
    news = [m for m in messages if m.kind not in ("following", "digest")]
    digests = [m for m in messages if m.kind == "digest"]
    months = [data_month(m) for m in news]
    assert len(months) == len(set(months)), "two messages for one month"
    assert months == sorted(months), "months out of order"
    assert 20 < len(news) <= 72  # 2011-01 .. 2016-12
    assert 1 <= len(digests) <= 6  # one a year at most (2011 .. 2016)
    assert all(data_month(d)[1] == 12 for d in digests)
    assert all(m.kind in ("milestone", "share", "group") for m in news)


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVBOT_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ClosedPipe(io.StringIO):
    """An output whose reader has gone, as under `evbot demo | head`."""

    def write(self, s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_console_is_a_permanent_delivery_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # rich dup2()s /dev/null over sys.stdout's descriptor: give it one of our own
    with open(os.devnull, "w") as sink:
        monkeypatch.setattr(sys, "stdout", sink)
        adapter = ConsoleAdapter(ClosedPipe(), width=60)
        message = Message(title="t", body="b", accent="info")
        try:
            asyncio.run(adapter.post(DEMO_CHANNEL, message, "key-1"))
        except SystemExit:
            pytest.fail("SystemExit escaped from ConsoleAdapter.post")
        except DeliveryFailure as failure:
            assert failure.permanent and failure.reason == CHANNEL_GONE
        else:
            pytest.fail("a post to a closed pipe reported success")


def test_the_console_adapter_does_not_print_a_key_twice() -> None:
    out = io.StringIO()
    adapter = ConsoleAdapter(out, width=60)
    message = Message(title="t", body="b", accent="info")

    async def post_twice() -> tuple[str, str]:
        first = await adapter.post(DEMO_CHANNEL, message, "key-1")
        return first, await adapter.post(DEMO_CHANNEL, message, "key-1")

    first, second = asyncio.run(post_twice())
    assert first == second
    assert out.getvalue().count("╭") == 1
    assert asyncio.run(adapter.find_posted(DEMO_CHANNEL, "key-1")) == first


# -- evbot demo as a real process ----------------------------------------------------------------


def run_demo_process(folder: Path) -> tuple[int, str, str, float]:
    env = _environment()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--speed", "50"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        cwd=folder,
        env=env,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    return (
        done.returncode,
        done.stdout.decode("utf-8", errors="replace"),
        done.stderr.decode("utf-8", errors="replace"),
        elapsed,
    )


@pytest.fixture(scope="module")
def demo_process(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str, float]:
    """`evbot demo` run once for the run (its tests may run in several workers)."""
    return built_once(tmp_path_factory, "demo-process", run_demo_process)


def test_evbot_demo_finishes_well_under_a_minute(
    demo_process: tuple[int, str, str, float],
) -> None:
    status, out, err, elapsed = demo_process
    assert status == 0, err
    assert elapsed < 40  # "well under a minute", with room for a loaded machine
    assert "Now following Renault-Nissan Alliance" in out
    for threshold in ("100,000", "200,000", "250,000", "350,000"):
        assert out.count(ALLIANCE.format(threshold)) == 1
    assert re.search(r"Demo done: \d+ messages posted to the terminal \(0 failed\)\.", out)
    assert "Traceback" not in err


def test_evbot_demo_keeps_stderr_quiet(demo_process: tuple[int, str, str, float]) -> None:
    _, _, err, _ = demo_process
    assert "maximum number of running instances" not in err
