"""`evbot subscribe|unsubscribe|resume|subscriptions|deliveries` end to end on the demo data."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.domain.channels import MISSING_ACCESS
from bot.domain.deliveries import DeliveryRow
from bot.domain.subscriptions import Subscription
from bot.store.sqlite.sales import SqliteStore

TERMINAL = "console:local/terminal"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EVBOT_DB", raising=False)
    monkeypatch.delenv("EVBOT_CONFIG", raising=False)
    monkeypatch.setenv("USER", "tester")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """A database holding the demo data (imported once: history, so nothing to announce)."""
    path = str(tmp_path / "cli.sqlite3")
    assert main(["import", "--demo", "--db", path]) == 0
    capsys.readouterr()
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def stored(db: str) -> tuple[list[Subscription], list[DeliveryRow]]:
    async def read() -> tuple[list[Subscription], list[DeliveryRow]]:
        async with SqliteStore(db) as store:
            return await store.subscriptions(), await store.deliveries(limit=1000)

    return asyncio.run(read())


def fail_first_delivery(db: str, reason: str, error: str) -> bool:
    """What the worker does when the platform refuses a post for good."""

    async def fail() -> bool:
        async with SqliteStore(db) as store:
            first = min(await store.deliveries(limit=1000), key=lambda d: d.id)
            return await store.mark_failed(first, reason, error)

    return asyncio.run(fail())


# -- subscribe ----------------------------------------------------------------------------------


def test_subscribe_stores_the_subscription_and_queues_one_baseline(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "subscribe", "alliance", "--db", db, "--by", "alice")
    assert (status, err) == (0, "")
    assert out == f"{TERMINAL} now follows Renault-Nissan Alliance (World) [#1]\n"
    [sub], [delivery] = stored(db)
    assert sub.spec.subject.name == "Renault-Nissan Alliance"
    assert sub.spec.created_by == "alice"
    assert (sub.spec.ladder, sub.spec.locale, sub.spec.mode) == ("default", "en", "instant")
    assert (delivery.kind, delivery.status) == ("following", "pending")
    # the creator defaults to $USER
    assert run(capsys, "subscribe", "nissan leaf", "--db", db, "--channel", "other")[0] == 0
    assert stored(db)[0][1].spec.created_by == "tester"


def test_subscribe_with_every_setting(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys,
        *("subscribe", "renault", "--db", db, "--platform", "slack", "--workspace", "T1"),
        *("--channel", "C9", "--kinds", "milestone,record", "--instant", "milestone"),
        *("--mode", "weekly", "--at", "08:30", "--timezone", "America/New_York"),
        *("--locale", "fr", "--region", "World", "--by", "U42"),
    )
    assert status == 0
    assert out.startswith("slack:T1/C9 now follows Renault (World)")
    [sub], _ = stored(db)
    spec = sub.spec
    assert (spec.kinds, spec.instant_kinds) == (("milestone", "record"), ("milestone",))
    assert (spec.mode, spec.digest_at, spec.timezone, spec.locale) == (
        "weekly",
        "08:30",
        "America/New_York",
        "fr",
    )


def test_subscribing_again_says_already_and_updates(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "subscribe", "alliance", "--db", db, "--by", "alice")
    status, out, _ = run(capsys, "subscribe", "Renault-Nissan", "--db", db, "--locale", "de")
    assert status == 0
    assert out == (
        f"{TERMINAL} already followed; settings updated for Renault-Nissan Alliance (World) [#1]\n"
    )
    [sub], deliveries = stored(db)
    assert (sub.spec.locale, sub.spec.created_by) == ("de", "alice")
    assert [d.kind for d in deliveries] == ["following", "following"]


def test_an_overlapping_subscription_gets_a_note(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "subscribe", "nissan leaf", "--db", db)
    status, out, _ = run(capsys, "subscribe", "alliance", "--db", db)
    assert status == 0
    assert out.splitlines() == [
        f"{TERMINAL} now follows Renault-Nissan Alliance (World) [#2]",
        "note: this channel also follows Nissan Leaf; each event is sent once, with the most "
        "specific subscription's settings",
    ]
    # another channel, or an unrelated subject, is no overlap
    assert "note:" not in run(capsys, "subscribe", "alliance", "--db", db, "--channel", "x")[1]
    run(capsys, "subscribe", "nissan leaf", "--db", db, "--channel", "y")
    assert "note:" not in run(capsys, "subscribe", "renault zoe", "--db", db, "--channel", "y")[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--ladder", "nope"),
            "evbot subscribe: ladder: no ladder named 'nope' (known: default)",
        ),
        (
            ("--timezone", "Mars/Olympus_Mons"),
            "evbot subscribe: timezone: 'Mars/Olympus_Mons' is not a time zone (e.g. Europe/Paris)",
        ),
        (
            ("--kinds", "milestone,gossip"),
            "evbot subscribe: kinds: 'gossip' is not one of milestone, share, growth, record",
        ),
        (("--at", "25:00"), "evbot subscribe: time: '25:00' is not a time of day HH:MM"),
    ],
)
def test_a_bad_setting_is_refused_and_nothing_is_stored(
    db: str, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    run(capsys, "subscribe", "alliance", "--db", db)
    before = stored(db)
    status, out, err = run(capsys, "subscribe", "nissan leaf", "--db", db, *args)
    assert (status, out) == (1, "")
    assert err == message + "\n"
    assert stored(db) == before


def test_an_unknown_subject_is_refused(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "subscribe", "nissan leef", "--db", db)
    assert (status, out) == (1, "")
    assert err.startswith("evbot subscribe: ") and "Leaf" in err  # did you mean
    assert stored(db) == ([], [])


def test_an_unknown_mode_is_a_usage_error(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["subscribe", "alliance", "--db", db, "--mode", "hourly"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'hourly'" in capsys.readouterr().err
    assert stored(db) == ([], [])


@pytest.mark.parametrize(
    ("args", "setting"),
    [(("--locale", "xx-nowhere"), "locale"), (("--instant", "gossip"), "instant")],
)
def test_a_bad_locale_or_instant_kind_is_refused(
    db: str, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], setting: str
) -> None:
    status, out, err = run(capsys, "subscribe", "alliance", "--db", db, *args)
    assert (status, out) == (1, "")
    assert err.startswith(f"evbot subscribe: {setting}: ")
    assert stored(db) == ([], [])


# -- unsubscribe --------------------------------------------------------------------------------


def test_unsubscribe_a_subject_then_all(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    for subject in ("alliance", "nissan leaf", "renault"):
        run(capsys, "subscribe", subject, "--db", db)
    run(capsys, "subscribe", "alliance", "--db", db, "--channel", "elsewhere")
    assert run(capsys, "unsubscribe", "Nissan Leaf", "--db", db) == (
        0,
        f"removed 1 subscription\n  #2 {TERMINAL}: Nissan Leaf (World)\n",
        "",
    )
    names = [(str(s.channel), s.spec.subject.name) for s in stored(db)[0]]
    assert (TERMINAL, "Nissan Leaf") not in names and len(names) == 3
    assert run(capsys, "unsubscribe", "all", "--db", db) == (
        0,
        f"removed 2 subscriptions\n  #1 {TERMINAL}: Renault-Nissan Alliance (World)\n"
        f"  #3 {TERMINAL}: Renault (World)\n",
        "",
    )
    assert [str(s.channel) for s in stored(db)[0]] == ["console:local/elsewhere"]
    # the baselines still queued for the removed subscriptions' channel are left to the
    # worker; news deliveries would be cancelled (see test_subscriptions)


def test_unsubscribe_by_id_removes_that_subscription_only(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "subscribe", "alliance", "--db", db)
    run(capsys, "subscribe", "alliance", "--db", db, "--region", "USA")
    run(capsys, "subscribe", "alliance", "--db", db, "--channel", "elsewhere")
    listing = run(capsys, "subscriptions", "--db", db)[1]
    assert [line.split()[0] for line in listing.splitlines()] == ["#1", "#2", "#3"]
    # the id is the channel's own: no --channel needed
    assert run(capsys, "unsubscribe", "--id", "3", "--db", db) == (
        0,
        "removed 1 subscription\n  #3 console:local/elsewhere: Renault-Nissan Alliance (World)\n",
        "",
    )
    assert [s.id for s in stored(db)[0]] == [1, 2]
    status, out, err = run(capsys, "unsubscribe", "--id", "3", "--db", db)
    assert (status, out) == (1, "")
    assert err == (
        "evbot unsubscribe: --id 3: no subscription #3 (`evbot subscriptions` lists ids)\n"
    )
    status, _, err = run(capsys, "unsubscribe", "alliance", "--id", "1", "--db", db)
    assert status == 1 and "give no subject, --region or --metric with it" in err
    status, _, err = run(capsys, "unsubscribe", "--db", db)
    assert status == 1 and "--id N" in err
    assert [s.id for s in stored(db)[0]] == [1, 2]  # refused commands changed nothing


def test_unsubscribe_with_region_keeps_the_other_regions(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "subscribe", "alliance", "--db", db)
    run(capsys, "subscribe", "alliance", "--db", db, "--region", "USA")
    run(capsys, "subscribe", "nissan leaf", "--db", db, "--region", "USA")
    status, out, err = run(capsys, "unsubscribe", "alliance", "--region", "usa", "--db", db)
    assert (status, err) == (0, "")
    assert out == f"removed 1 subscription\n  #2 {TERMINAL}: Renault-Nissan Alliance (USA)\n"
    assert [(s.id, s.spec.region) for s in stored(db)[0]] == [(1, "World"), (3, "USA")]
    status, out, err = run(capsys, "unsubscribe", "alliance", "--region", "USA", "--db", db)
    assert status == 1
    assert err == f"evbot unsubscribe: {TERMINAL} does not follow 'alliance' in USA\n"
    assert run(capsys, "unsubscribe", "all", "--region", "USA", "--db", db)[0] == 0
    assert [s.id for s in stored(db)[0]] == [1]


def test_unsubscribing_what_is_not_followed_fails(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "subscribe", "alliance", "--db", db)
    status, out, err = run(capsys, "unsubscribe", "nissan leaf", "--db", db)
    assert (status, out) == (1, "")
    assert err == f"evbot unsubscribe: {TERMINAL} does not follow 'nissan leaf'\n"
    status, _, err = run(capsys, "unsubscribe", "all", "--db", db, "--channel", "nobody")
    assert status == 1
    assert err == "evbot unsubscribe: console:local/nobody does not follow 'all'\n"
    assert len(stored(db)[0]) == 1


# -- pause, listing, resume, deliveries ----------------------------------------------------------


def test_subscriptions_lists_status_pause_reason_and_last_error(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "subscriptions", "--db", db) == (0, "no subscriptions\n", "")
    run(capsys, "subscribe", "alliance", "--db", db, "--by", "alice")
    run(capsys, "subscribe", "nissan leaf", "--db", db, "--channel", "other", "--locale", "fr")
    status, out, _ = run(capsys, "subscriptions", "--db", db)
    assert status == 0
    first, second = out.splitlines()
    assert first.startswith(
        f"#1 {TERMINAL}: Renault-Nissan Alliance (World) milestone,share,growth,record "
        "ladder=default instant en [active] by alice at "
    )
    assert "last error" not in first
    assert second.startswith("#2 console:local/other: Nissan Leaf (World)")
    assert " fr [active] by tester at " in second

    assert fail_first_delivery(db, MISSING_ACCESS, "403 Missing Access")  # pauses at once
    status, out, _ = run(capsys, "subscriptions", "--db", db)
    first, second = out.splitlines()
    assert "[PAUSED (missing_access)]" in first
    assert first.endswith("; last error: missing_access: 403 Missing Access")
    assert "[active]" in second and "last error" not in second  # another channel

    status, out, _ = run(capsys, "subscriptions", "--db", db, "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0]["status"] == "paused"
    assert rows[0]["paused_reason"] == MISSING_ACCESS
    assert rows[0]["last_error"] == "missing_access: 403 Missing Access"
    assert (rows[0]["created_by"], rows[0]["channel"]) == ("alice", TERMINAL)
    assert rows[1]["status"] == "active" and rows[1]["locale"] == "fr"


def test_deliveries_failed_shows_what_failed_and_why(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "subscribe", "alliance", "--db", db)
    run(capsys, "subscribe", "nissan leaf", "--db", db)  # a second queued baseline
    fail_first_delivery(db, MISSING_ACCESS, "403 Missing Access")
    status, out, _ = run(capsys, "deliveries", "--failed", "--db", db)
    assert status == 0
    lines = out.splitlines()
    assert [re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC ", "", line) for line in lines[::2]] == [
        f"#2 {TERMINAL} following failed after 0 tries missing_access: channel paused",
        f"#1 {TERMINAL} following failed after 0 tries missing_access: 403 Missing Access",
        "pending 0, inflight 0, posted 0, failed 2, cancelled 0",
    ]
    assert lines[1].startswith("    Nissan Leaf (World) · following · (as queued) Now following")
    status, out, _ = run(capsys, "deliveries", "--failed", "--json", "--db", db)
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["id"], r["reason"], r["last_error"]) for r in rows] == [
        (2, MISSING_ACCESS, "channel paused"),
        (1, MISSING_ACCESS, "403 Missing Access"),
    ]


def test_resume_brings_a_paused_channel_back(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "subscribe", "alliance", "--db", db)
    run(capsys, "subscribe", "nissan leaf", "--db", db)
    assert run(capsys, "resume", "--db", db) == (0, "resumed 0 subscriptions\n", "")
    fail_first_delivery(db, MISSING_ACCESS, "403 Missing Access")
    assert run(capsys, "resume", "nissan leaf", "--db", db) == (0, "resumed 1 subscription\n", "")
    assert run(capsys, "resume", "--db", db) == (0, "resumed 1 subscription\n", "")
    subs, deliveries = stored(db)
    assert all(s.active and s.paused_reason is None for s in subs)
    # what the pause held back is queued again
    assert [d.status for d in deliveries] == ["pending", "pending"]
    out = run(capsys, "subscriptions", "--db", db)[1]
    assert out.count("[active]") == 2 and "PAUSED" not in out
    assert run(capsys, "deliveries", "--failed", "--db", db)[1].splitlines() == [
        "pending 2, inflight 0, posted 0, failed 0, cancelled 0"
    ]


def test_commands_on_a_database_that_cannot_be_opened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "no" / "such" / "folder" / "x.sqlite3")
    for command in (
        ["subscribe", "alliance"],
        ["unsubscribe", "all"],
        ["resume"],
        ["subscriptions"],
        ["deliveries", "--failed"],
    ):
        status, out, err = run(capsys, *command, "--db", missing)
        assert (status, out) == (1, "")
        assert err.startswith(f"evbot {command[0]}: ") and missing in err


def test_no_corrections_opts_a_subscription_out_of_corrections(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "subscribe", "nissan leaf", "--db", db, "--no-corrections")[0] == 0
    assert run(capsys, "subscribe", "alliance", "--db", db)[0] == 0
    leaf, alliance = stored(db)[0]
    assert (leaf.spec.corrections, alliance.spec.corrections) == (False, True)
    status, out, _ = run(capsys, "subscriptions", "--db", db)
    assert status == 0
    assert [("corrections=off" in line) for line in out.splitlines() if line.startswith("#")] == [
        True,
        False,
    ]


def test_a_webhook_url_is_never_listed_whole(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A generic webhook's URL is its credential: `evbot subscriptions`, text or JSON, shows its
    host only."""
    url = "https://hooks.example.com/services/T0/B0/s3cr3t-token?sig=abc"
    status, _, _ = run(
        capsys, "subscribe", "leaf", "--platform", "webhook", "--channel", url, "--db", db
    )
    assert status == 0
    for extra in ((), ("--json",)):
        status, out, _ = run(capsys, "subscriptions", "--db", db, *extra)
        assert status == 0 and "hooks.example.com" in out
        assert "s3cr3t" not in out and "sig=" not in out, out
