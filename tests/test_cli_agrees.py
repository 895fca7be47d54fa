"""`evbot total` and `/ev-total` agree (issue 18): the same periods for as-of, the same period
answers, and the same refusals ("did you mean" for an unknown region), on one SQLite file the
CLI imported the demo into."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from adapters.text import render_text
from bot.app.bootstrap import open_commands
from bot.cli.main import main
from bot.commands.dispatch import run_text
from bot.commands.types import Invocation, Reply
from bot.domain.channels import Channel
from bot.domain.settings import default_config
from bot.store.sqlite.sales import SqliteStore

CHAT = Invocation(Channel("console", "local", "terminal"), "alice", can_manage=True)


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EVBOT_DB", raising=False)
    monkeypatch.delenv("EVBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = str(tmp_path / "demo.sqlite3")
    assert main(["import", "--demo", "--db", path]) == 0
    capsys.readouterr()
    return path


def cli(capsys: pytest.CaptureFixture[str], db: str, *args: str) -> tuple[int, str, str]:
    status = main(["total", *args, "--db", db])
    out, err = capsys.readouterr()
    return status, out, err


async def _chat(db: str, texts: list[str]) -> list[Reply]:
    async with SqliteStore(db) as store:
        config = default_config()
        await store.sync_groups(config.groups)
        ctx = await open_commands(store, config)
        return [await run_text(ctx, CHAT, text) for text in texts]


def chat(db: str, *texts: str) -> list[Reply]:
    """The replies chat gives, over the same database file."""
    return asyncio.run(_chat(db, list(texts)))


AS_OF = [
    # (CLI's --as-of, chat's as-of:, the month the total runs through)
    ("2015", "2015", "2015-12"),
    ("june 2015", "june 2015", "2015-06"),
    ("juin 2015", "juin 2015", "2015-06"),
    ("06/2015", "06/2015", "2015-06"),
    ("2015-Q2", "2015-Q2", "2015-06"),
    ("Q1 2016", '"Q1 2016"', "2016-03"),
    ("ytd", "ytd", "2016-12"),
    ("all", "all", "2016-12"),
]


@pytest.mark.parametrize(("flag", "option", "through"), AS_OF)
def test_as_of_takes_every_period_chat_takes(
    db: str, capsys: pytest.CaptureFixture[str], flag: str, option: str, through: str
) -> None:
    status, out, err = cli(capsys, db, "alliance", "--as-of", flag, "--json")
    assert (status, err) == (0, "")
    data = json.loads(out)
    (reply,) = chat(db, f"/ev-total alliance as-of:{option}")
    assert reply.ok, reply.message.body
    assert reply.data is not None
    assert data["as_of"] == reply.data["as_of"] == through
    assert data["total"] == reply.data["total"] > 0
    assert data["requested_as_of"] == (None if flag == "all" else through)


def test_as_of_in_words_reads_as_a_sentence(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, db, "Renault-Nissan Alliance", "--as-of", "June 2015")
    assert status == 0
    assert out.startswith(
        "Renault-Nissan Alliance: 256,132 electric vehicles sold through June 2015\n"
    )


@pytest.mark.parametrize("period", ["2015", "2015-Q2", "Q2 2015", "2015-06", "ytd", "2014..2015"])
def test_period_is_chats_answer(db: str, capsys: pytest.CaptureFixture[str], period: str) -> None:
    status, out, err = cli(capsys, db, "alliance", "--period", period)
    assert (status, err) == (0, "")
    (reply,) = chat(db, f'/ev-total alliance period:"{period}"')
    assert reply.ok, reply.message.body
    assert out == render_text(reply.message).rstrip("\n") + "\n"
    status, out, _ = cli(capsys, db, "alliance", "--period", period, "--json")
    assert status == 0
    assert json.loads(out) == reply.data
    assert reply.data is not None and reply.data["total"] > 0


def test_period_of_a_year_names_units_and_change(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = cli(capsys, db, "alliance", "--period", "2015", "--json")
    data = json.loads(out)
    assert status == 0
    assert (data["first"], data["last"], data["total"]) == ("2015-01", "2015-12", 73_885)
    assert data["previous"] == 82_602  # 2014, a year earlier
    _, whole, _ = cli(capsys, db, "alliance", "--period", "all", "--json")
    _, running, _ = cli(capsys, db, "alliance", "--json")
    assert json.loads(whole) == json.loads(running)  # period all is the running total, as in chat


@pytest.mark.parametrize(
    ("args", "text", "flag"),
    [
        (["alliance", "--region", "Mars"], "/ev-total alliance region:Mars", "--region"),
        (["alliance", "--region", "wrld"], "/ev-total alliance region:wrld", "--region"),
        (["alliance", "--as-of", "2015-13"], "/ev-total alliance as-of:2015-13", "--as-of"),
        (["alliance", "--as-of", "2015-Q5"], "/ev-total alliance as-of:2015-Q5", "--as-of"),
        (["leaf", "--period", "2021..2019"], "/ev-total leaf period:2021..2019", "--period"),
        (
            ["alliance", "--period", "2015", "--metric", "stock"],
            "/ev-total alliance period:2015 metric:stock",
            "--period",
        ),
    ],
)
def test_refusals_are_chats_with_a_failing_exit(
    db: str, capsys: pytest.CaptureFixture[str], args: list[str], text: str, flag: str
) -> None:
    (reply,) = chat(db, text)
    assert not reply.ok
    said = reply.message.body
    status, out, err = cli(capsys, db, *args)
    assert (status, out) == (1, "")
    # chat's own words, the option named as the command line's flag
    assert err == f"evbot total: {flag}: {said.removeprefix(flag[2:] + ': ')}\n"


def test_unknown_region_offers_the_close_names(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = cli(capsys, db, "alliance", "--region", "wrld")
    assert (status, out) == (1, "")
    assert err == "evbot total: --region: no figures for 'wrld'. Did you mean World?\n"
    status, _, err = cli(capsys, db, "alliance", "--region", "Mars")
    assert status == 1 and err == "evbot total: --region: no figures for 'Mars'.\n"


def test_period_and_as_of_together_are_refused(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = cli(capsys, db, "leaf", "--period", "2015", "--as-of", "2015")
    assert (status, out) == (1, "")
    assert "give --period" in err and "or --as-of" in err and "not both" in err
    (reply,) = chat(db, "/ev-total leaf period:2015 as-of:2015")
    assert not reply.ok and "not both" in reply.message.body
    status, _, err = cli(capsys, db, "leaf", "--period", "2015", "--explain")
    assert status == 1 and "--explain tells a running total" in err


def test_replay_window_takes_periods(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`evbot replay --from/--to` read periods as chat does: a year from January to December,
    a month in words, a quarter; the same events as the months written out."""

    def replay(*window: str) -> list[str]:
        status = main(["replay", "--kinds", "milestone", "--json", *window, "--db", db])
        out, err = capsys.readouterr()
        assert (status, err) == (0, "")
        return out.splitlines()

    months = replay("--from", "2014-01", "--to", "2015-06")
    assert months and months == replay("--from", "2014", "--to", "june 2015")
    assert months == replay("--from", "Q1 2014", "--to", "2015-Q2")
    year = [json.loads(line)["period"] for line in replay("--to", "2014", "--from", "2014")]
    assert year and all(p.startswith("2014-") for p in year)
    status = main(["replay", "--from", "2015", "--to", "2014", "--db", db])
    assert status == 1 and "is before --from" in capsys.readouterr().err


def test_chart_is_chats_chart(db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`evbot chart` draws what /ev-chart draws and refuses what it refuses: an unknown region
    gets chat's "did you mean", an empty metric says there is nothing to draw, both exit 1 and
    write no file."""
    out_file = tmp_path / "a.png"

    def chart(*args: str) -> tuple[int, str, str]:
        status = main(["chart", *args, "--db", db, "--out", str(out_file)])
        out, err = capsys.readouterr()
        return status, out, err

    status, out, err = chart("alliance", "--region", "wrld")
    assert (status, out) == (1, "")
    assert err == "evbot chart: --region: no figures for 'wrld'. Did you mean World?\n"
    status, out, err = chart("alliance", "--metric", "stock")
    assert (status, out) == (1, "")
    (reply,) = chat(db, "/ev-chart alliance metric:stock")
    assert err == f"evbot chart: {reply.message.body}\n" and "nothing to draw" in err
    assert not out_file.exists()

    status, out, err = chart("alliance", "--kind", "shares")
    (reply,) = chat(db, "/ev-chart alliance kind:shares")
    assert (status, err) == (0, "")
    assert out_file.read_bytes() == reply.message.image and reply.data is not None
    assert out == (
        f"wrote {out_file} ({reply.data['width']}x{reply.data['height']}, "
        f"{len(out_file.read_bytes()):,} bytes): {reply.message.body}\n"
    )
