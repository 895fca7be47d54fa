"""`evbot deliveries`: the listing (channel, subject, event, time, text), `--show ID`, and
`retry ID|--failed`, end to end on real SQLite files."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.domain.channels import MISSING_ACCESS, Channel
from bot.domain.deliveries import DeliveryRow
from bot.domain.event_codec import message_to_dict
from bot.domain.messages import Message
from bot.store.sqlite.sales import SqliteStore

HEADER = "period,region,make,model,units,powertrain\n"
HISTORY = HEADER + "2020-01,USA,Acme,Rocket,5000,BEV\n2020-02,USA,Acme,Rocket,6000,BEV\n"
NEWS = HEADER + "2020-03,USA,Acme,Rocket,90000,BEV\n"
HOOK = "https://hooks.example.com/services/T000/B000/SECRETTOKEN"
TERMINAL = "console:local/terminal"
TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EVBOT_DB", raising=False)
    monkeypatch.delenv("EVBOT_CONFIG", raising=False)
    monkeypatch.setenv("USER", "tester")
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Rocket followed by the terminal and by a webhook; news detected: a milestone queued to
    each (deliveries #3 and #4, after the two "now following" notices #1 and #2)."""
    path = str(tmp_path / "d.sqlite3")
    (tmp_path / "a.csv").write_text(HISTORY, encoding="utf-8")
    (tmp_path / "b.csv").write_text(NEWS, encoding="utf-8")
    assert run(capsys, "import", "a.csv", "--source", "s", "--db", path)[0] == 0
    assert run(capsys, "subscribe", "rocket", "--db", path)[0] == 0
    assert run(capsys, "subscribe", "rocket", "--platform", "webhook", "--channel", HOOK,
               "--db", path)[0] == 0  # fmt: skip
    assert run(capsys, "import", "b.csv", "--source", "s", "--db", path)[0] == 0
    assert run(capsys, "detect", "--db", path)[0] == 0
    return path


def rows(db: str) -> dict[int, DeliveryRow]:
    async def read() -> dict[int, DeliveryRow]:
        async with SqliteStore(db) as store:
            return {d.id: d for d in await store.deliveries(limit=1000)}

    return asyncio.run(read())


def render(db: str, delivery_id: int, message: Message) -> None:
    """What the worker's first claim does: keep the message the delivery sends."""

    async def keep() -> None:
        async with SqliteStore(db) as store:
            await store.keep_rendered(
                delivery_id, json.dumps({"message": message_to_dict(message), "chart": None})
            )

    asyncio.run(keep())


def fail(db: str, delivery_id: int, reason: str, error: str) -> None:
    async def mark() -> None:
        async with SqliteStore(db) as store:
            row = await store.delivery(delivery_id)
            assert row is not None
            await store.mark_failed(row, reason, error)

    asyncio.run(mark())


def test_the_listing_shows_channel_subject_event_time_and_text(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    queued = rows(db)
    news = [d for d in queued.values() if d.event_ids]
    assert len(news) == 2, queued
    terminal = next(d for d in news if d.channel == Channel("console", "local", "terminal"))
    render(db, terminal.id, Message("Acme Rocket passes 100,000", "101,000 so far."))
    status, out, err = run(capsys, "deliveries", "--db", db)
    assert (status, err) == (0, "")
    assert "SECRETTOKEN" not in out and "/services/" not in out  # a webhook by its host only
    lines = out.splitlines()
    [head] = [i for i, line in enumerate(lines) if line.startswith(f"#{terminal.id} ")]

    assert re.fullmatch(
        rf"#{terminal.id} {TIME} {TERMINAL} instant pending after 0 tries", lines[head]
    ), lines[head]
    event_id = terminal.event_ids[0]
    assert lines[head + 1] == (
        f"    Acme Rocket (World) · milestone #{event_id} · "
        "Acme Rocket passes 100,000: 101,000 so far."
    )
    hook = next(d for d in news if d.channel.platform == "webhook")
    [hook_line] = [line for line in lines if line.startswith(f"#{hook.id} ")]
    assert "webhook:https://hooks.example.com/…" in hook_line
    [hook_text] = [lines[i + 1] for i, line in enumerate(lines) if line == hook_line]
    assert "(not rendered yet: composed when it is sent)" in hook_text
    # a "now following" notice shows its text as queued
    assert any("(as queued) Now following" in line for line in lines)
    # --json: the same facts, webhooks by host
    status, out, _ = run(capsys, "deliveries", "--json", "--db", db)
    found = {r["id"]: r for r in map(json.loads, out.splitlines())}
    assert found[terminal.id]["subjects"] == "Acme Rocket (World)"
    assert found[terminal.id]["title"] == "Acme Rocket passes 100,000"
    assert found[hook.id]["channel"] == "webhook:https://hooks.example.com/…"


def test_show_prints_one_delivery_whole(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    terminal = next(d for d in rows(db).values() if d.event_ids and d.channel.platform == "console")
    render(db, terminal.id, Message("Acme Rocket passes 100,000", "101,000 so far.\nSecond line."))
    fail(db, terminal.id, "bad_payload", "400 Bad Request")
    status, out, err = run(capsys, "deliveries", "--show", str(terminal.id), "--db", db)
    assert (status, err) == (0, "")
    assert out.startswith(f"delivery #{terminal.id}: instant, failed\nchannel:       {TERMINAL}\n")
    assert "subjects:      Acme Rocket (World)\n" in out
    assert "last error:    bad_payload: 400 Bad Request\n" in out
    assert "attempts:      0\n" in out
    assert f"  #{terminal.event_ids[0]} milestone Acme Rocket (World) 2020-03" in out
    assert out.endswith(
        "message:\n  Acme Rocket passes 100,000\n  101,000 so far.\n  Second line.\n"
    )
    status, out, err = run(capsys, "deliveries", "--show", "999", "--db", db)
    assert (status, out) == (1, "")
    assert err == "evbot deliveries: --show 999: no delivery #999 (`evbot deliveries`)\n"


def test_retry_one_requeues_it_with_attempts_reset(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = next(d for d in rows(db).values() if d.event_ids and d.channel.platform == "webhook")
    render(db, hook.id, Message("Acme Rocket passes 100,000", "kept text"))
    fail(db, hook.id, "bad_payload", "400 Bad Request")  # one failure: the channel stays active
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE deliveries SET attempts = 3 WHERE id = ?", (hook.id,))
    status, out, err = run(capsys, "deliveries", "retry", str(hook.id), "--db", db)
    assert (status, err) == (0, "")
    assert out == (
        f"re-queued 1 delivery (#{hook.id}): pending, attempts from 0, sent as first rendered\n"
    )
    again = rows(db)[hook.id]
    assert (again.status, again.attempts, again.last_error, again.reason) == (
        "pending",
        0,
        None,
        None,
    )
    assert "kept text" in (again.rendered or "")  # sent as first rendered
    # not failed any more: a second retry is refused and changes nothing
    status, out, err = run(capsys, "deliveries", "retry", str(hook.id), "--db", db)
    assert (status, out) == (1, "")
    assert err == f"evbot deliveries: retry {hook.id}: delivery #{hook.id} is pending, not failed\n"
    status, _, err = run(capsys, "deliveries", "retry", "x", "--db", db)
    assert status == 1 and "a delivery id is a number" in err
    status, _, err = run(capsys, "deliveries", "retry", "--db", db)
    assert status == 1 and "one delivery id or --failed" in err
    status, _, err = run(capsys, "deliveries", "retry", "5", "--failed", "--db", db)
    assert status == 1 and "one delivery id or --failed" in err


def test_retry_failed_leaves_a_paused_channel_paused_and_says_so(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    queued = rows(db)
    terminal = next(d for d in queued.values() if d.event_ids and d.channel.platform == "console")
    hook = next(d for d in queued.values() if d.event_ids and d.channel.platform == "webhook")
    fail(db, hook.id, "bad_payload", "400 Bad Request")  # the webhook: still active
    fail(db, terminal.id, MISSING_ACCESS, "403 Missing Access")  # pauses the terminal
    failed = sorted(d.id for d in rows(db).values() if d.status == "failed")
    assert hook.id in failed and terminal.id in failed
    status, out, err = run(capsys, "deliveries", "retry", "--failed", "--db", db)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith(f"re-queued 1 delivery (#{hook.id}): pending")
    held = [i for i in failed if i != hook.id]
    assert lines[1:] == [
        f"not re-queued: #{i}: {TERMINAL} is paused (missing_access); retrying does not resume "
        "it. Fix the cause, then `evbot resume` (with its channel options) resumes it and sends "
        "what the pause held back"
        for i in held
    ]
    after = rows(db)
    assert after[hook.id].status == "pending"
    assert all(after[i].status == "failed" for i in held)
    subs = run(capsys, "subscriptions", "--db", db)[1]
    assert "[PAUSED (missing_access)]" in subs  # not silently resumed
    # nothing failed is left that can be retried: saying so, changing nothing
    assert run(capsys, "resume", "--db", db)[0] == 0
    assert all(d.status != "failed" for d in rows(db).values())
    assert run(capsys, "deliveries", "retry", "--failed", "--db", db) == (
        0,
        "no failed deliveries to retry\n",
        "",
    )


def test_retry_of_an_unsubscribed_channels_delivery_is_refused(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = next(d for d in rows(db).values() if d.event_ids and d.channel.platform == "webhook")
    fail(db, hook.id, "bad_payload", "400 Bad Request")
    assert run(capsys, "unsubscribe", "all", "--platform", "webhook", "--channel", HOOK,
               "--db", db)[0] == 0  # fmt: skip
    status, out, _ = run(capsys, "deliveries", "retry", str(hook.id), "--db", db)
    assert status == 0
    assert out == (
        f"not re-queued: #{hook.id}: no subscription of webhook:https://hooks.example.com/… "
        "covers it any more (unsubscribed)\n"
    )
    assert rows(db)[hook.id].status == "failed"


def test_every_deliveries_option_has_help_with_its_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["deliveries", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--show ID", "--failed", "--status", "--limit", "--json", "retry"):
        assert option in text
    assert text.count("(default:") >= 6
