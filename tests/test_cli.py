"""The `evbot` command line end to end: `bot.cli.main.main([...])`, and a real `python -m bot`."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.cli.main import main
from bot.domain.defuse import ZWSP, defuse, defuse_json
from bot.store.sqlite.sales import SqliteStore

HEADER = "period,region,make,model,units,powertrain\n"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EVBOT_DB", raising=False)
    monkeypatch.delenv("EVBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # a stray ./evbot.sqlite3 lands in tmp_path, never in the repo


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


async def _state(db: Path) -> tuple[int, int, list[tuple[str, int]]]:
    async with SqliteStore(db) as store:
        sources = [(s.name, s.imports) for s in await store.sources()]
        return await store.count_records(), await store.journal_head(), sources


def state(db: Path) -> tuple[int, int, list[tuple[str, int]]]:
    """Records, journal head and sources: what an import that fails must leave as it was."""
    return asyncio.run(_state(db))


def number(text: str) -> int:
    match = re.search(r": ([\d,]+) electric vehicles", text)
    assert match, text
    return int(match.group(1).replace(",", ""))


def good_rows(count: int) -> list[str]:
    """`count` distinct canonical rows: 100 models x months from 2010-01."""
    return [
        f"{2010 + (i // 100) // 12}-{(i // 100) % 12 + 1:02d},World,Make{i % 100 // 10},"
        f"Model {i % 100},{i % 500},BEV"
        for i in range(count)
    ]


# -- the demo ---------------------------------------------------------------------------------


def test_demo_import_and_alliance_totals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "demo.sqlite3")
    status, out, err = run(capsys, "import", "--demo", "--db", db)
    assert status == 0 and err == ""
    assert out.startswith("imported ") and "as source 'alliance-demo': 334 rows read" in out
    status, june, _ = run(
        capsys, "total", "Renault-Nissan Alliance", "--as-of", "2015-06", "--db", db
    )
    assert status == 0
    assert june.startswith(
        "Renault-Nissan Alliance: 256,132 electric vehicles sold through June 2015\n"
    )
    assert "  Nissan Leaf " in june and "72%" in june
    _, may, _ = run(capsys, "total", "alliance", "--as-of", "2015-05", "--db", db)
    assert number(may) < 250_000 <= number(june)


def test_total_json_and_regions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "demo.sqlite3")
    assert main(["import", "--demo", "--db", db]) == 0
    capsys.readouterr()
    status, out, _ = run(capsys, "total", "nissan leaf", "--as-of", "2014-12", "--json", "--db", db)
    assert status == 0
    data = json.loads(out)
    assert data["subject"] == "Nissan Leaf" and data["kind"] == "model"
    assert (data["region"], data["metric"], data["as_of"]) == ("World", "sales", "2014-12")
    assert data["requested_as_of"] == "2014-12" and data["breakdown"] == []
    assert isinstance(data["total"], int) and data["total"] > 100_000
    status, out, _ = run(capsys, "total", "alliance", "--json", "--db", db)
    data = json.loads(out)
    assert data["requested_as_of"] is None and data["as_of"] == "2016-12"
    assert sum(b["share"] for b in data["breakdown"]) == pytest.approx(1, abs=0.001)
    # a region the figures do not hold is refused, as chat refuses it (tests/test_cli_agrees.py)
    status, out, err = run(capsys, "total", "nissan leaf", "--region", "Norway", "--db", db)
    assert (status, out) == (1, "")
    assert err == "evbot total: --region: no figures for 'Norway'.\n"


def test_total_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "demo.sqlite3")
    assert main(["import", "--demo", "--db", db]) == 0
    capsys.readouterr()
    status, out, err = run(capsys, "total", "nisan lef", "--db", db)
    assert (status, out) == (1, "")
    assert err.startswith("evbot total: No subject called 'nisan lef'. Did you mean 'Nissan Leaf'")
    status, out, err = run(capsys, "total", "leaf", "--as-of", "2015-13", "--db", db)
    assert (status, out) == (1, "")
    assert err == "evbot total: --as-of: '2015-13': month 13 is not between 1 and 12.\n"
    status, _, err = run(capsys, "total", "leaf", "--as-of", "Juni 2015x", "--db", db)
    assert status == 1 and err.startswith("evbot total: --as-of: 'Juni 2015x' is not a period")


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys)
    assert status == 2 and "usage: evbot" in out


def test_import_needs_something_to_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "import", "--db", str(tmp_path / "x.sqlite3"))
    assert (status, out) == (1, "")
    assert (
        err == "evbot import: import: give a FILE, --source NAME (a configured source) or --demo\n"
    )


def test_the_database_comes_from_evbot_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "env.sqlite3"
    monkeypatch.setenv("EVBOT_DB", str(db))
    assert main(["import", "--demo"]) == 0
    assert state(db)[0] == 334
    assert not (tmp_path / "evbot.sqlite3").exists()
    capsys.readouterr()


# -- all or nothing ---------------------------------------------------------------------------


def test_ten_thousand_good_rows_and_one_bad_change_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "evbot.sqlite3"
    first = tmp_path / "first.csv"
    first.write_text(HEADER + "2009-12,World,Nissan,Leaf,10,BEV\n", encoding="utf-8")
    assert main(["import", str(first), "--source", "bulk", "--db", str(db)]) == 0
    before = state(db)
    rows = good_rows(10_000)
    bad_index = 6_543
    rows.insert(bad_index, "2013-02,World,Nissan,Leaf,-7,BEV")
    bulk = tmp_path / "bulk.csv"
    bulk.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    capsys.readouterr()
    status, out, err = run(capsys, "import", str(bulk), "--source", "bulk", "--db", str(db))
    assert (status, out) == (1, "")
    line = bad_index + 2  # the header is line 1
    assert err == (
        f"{bulk}:{line}: negative units '-7': figures are never below 0\n"
        "import failed: nothing was written\n"
    )
    assert state(db) == before
    # without the bad row, the same file goes in
    bulk.write_text(HEADER + "\n".join(good_rows(10_000)) + "\n", encoding="utf-8")
    status, out, _ = run(capsys, "import", str(bulk), "--source", "bulk", "--db", str(db))
    assert status == 0 and "10,000 figures: 10,000 new" in out
    assert state(db)[0] == 10_001


def test_several_bad_rows_are_all_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER
        + "2014-01,World,Nissan,Leaf,5,BEV\n"
        + "2014-13,World,Nissan,Leaf,5,BEV\n"
        + "2014-02,World,Nissan,Leaf,5.5,BEV\n"
        + "2014-01,World,Nissan,Leaf,6,BEV\n",
        encoding="utf-8",
    )
    status, _, err = run(capsys, "import", str(path), "--db", str(tmp_path / "x.sqlite3"))
    assert status == 1
    assert err.splitlines() == [
        f"{path}:3: bad period: '2014-13': month 13 is not between 01 and 12",
        f"{path}:4: units '5.5' is not a whole number",
        f"{path}:5: conflicting duplicate of line 2: same period, region, make, model and "
        "powertrain with 6 units instead of 5",
        "import failed: nothing was written",
    ]


def test_a_revised_reimport_replaces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "evbot.sqlite3")
    path = tmp_path / "leaf.csv"
    rows = [f"2014-{m:02d},World,Nissan,Leaf,{1000 + m},BEV" for m in range(1, 13)]
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    assert main(["import", str(path), "--db", db]) == 0
    _, out, _ = run(capsys, "total", "nissan leaf", "--db", db)
    assert number(out) == 12_078
    rows[4] = "2014-05,World,Nissan,Leaf,2000,BEV"  # revised from 1005
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    status, out, _ = run(capsys, "import", str(path), "--db", db)
    assert status == 0
    assert "12 figures: 0 new, 1 revised, 11 unchanged" in out
    assert "first import" not in out
    _, out, _ = run(capsys, "total", "nissan leaf", "--db", db)
    assert number(out) == 12_078 - 1005 + 2000
    assert state(Path(db))[0] == 12


def test_exact_duplicates_are_reported_and_counted_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "evbot.sqlite3")
    path = tmp_path / "dup.csv"
    path.write_text(
        HEADER + "2014-01,World,Nissan,Leaf,5,BEV\n2014-01,World,Nissan,Leaf,5,BEV\n",
        encoding="utf-8",
    )
    status, out, err = run(capsys, "import", str(path), "--db", db)
    assert status == 0
    assert err == f"note: {path}:3: duplicate of line 2, counted once\n"
    assert "2 rows read, 1 figures: 1 new" in out
    assert "1 exact duplicate rows counted once" in out
    _, out, _ = run(capsys, "total", "leaf", "--db", db)
    assert number(out) == 5


def test_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "evbot.sqlite3"
    assert main(["import", "--demo", "--db", str(db)]) == 0
    before = state(db)
    path = tmp_path / "more.csv"
    path.write_text(HEADER + "2017-01,World,Nissan,Leaf,5000,BEV\n", encoding="utf-8")
    capsys.readouterr()
    status, out, _ = run(
        capsys, "import", str(path), "--source", "alliance-demo", "--dry-run", "--db", str(db)
    )
    assert status == 0
    assert out.startswith(f"would import {path} as source 'alliance-demo': 1 rows read")
    assert "1 new" in out
    assert state(db) == before
    status, out, _ = run(capsys, "import", "--demo", "--dry-run", "--db", str(db))
    assert status == 0 and "334 unchanged" in out
    assert state(db) == before
    # a dry run of a bad file reports like a real one
    path.write_text(HEADER + "2017-01,World,Nissan,Leaf,lots,BEV\n", encoding="utf-8")
    status, _, err = run(capsys, "import", str(path), "--dry-run", "--db", str(db))
    assert status == 1 and f"{path}:2: units 'lots' is not a whole number" in err
    assert state(db) == before


def test_a_dry_run_on_a_new_database_leaves_it_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "new.sqlite3"
    path = tmp_path / "a.csv"
    path.write_text(HEADER + "2017-01,World,Nissan,Leaf,5000,BEV\n", encoding="utf-8")
    status, out, _ = run(capsys, "import", str(path), "--dry-run", "--db", str(db))
    assert status == 0 and "would import" in out
    assert state(db) == (0, 0, [])


def test_a_source_keeps_its_metric_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "evbot.toml"
    config.write_text("[sources.reg]\nformat = 'canonical'\nmetric = 'stock'\n", encoding="utf-8")
    path = tmp_path / "reg.csv"
    path.write_text(HEADER + "2017-01,WA,Nissan,Leaf,5000,BEV\n", encoding="utf-8")
    db = tmp_path / "evbot.sqlite3"
    assert (
        main(["import", str(path), "--source", "reg", "--config", str(config), "--db", str(db)])
        == 0
    )
    before = state(db)
    capsys.readouterr()
    status, out, err = run(capsys, "import", str(path), "--source", "reg", "--db", str(db))
    assert (status, out) == (1, "")
    assert err == (
        "evbot import: source 'reg' holds stock figures; this import says sales: "
        "import it under another source name\n"
    )
    assert state(db) == before


def test_a_dry_run_creates_no_database_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "typo.sqlite3"
    path = tmp_path / "a.csv"
    path.write_text(HEADER + "2017-01,World,Nissan,Leaf,5000,BEV\n", encoding="utf-8")
    status, out, _ = run(capsys, "import", str(path), "--dry-run", "--db", str(db))
    assert status == 0 and "would import" in out
    assert not db.exists()


def test_iea_format_and_a_bad_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "iea.csv"
    path.write_text(
        "region,category,parameter,mode,powertrain,year,unit,value\n"
        "World,Historical,EV sales,Cars,BEV,2014,Vehicles,200000\n"
        "Norway,Historical,EV sales,Cars,BEV,2014,Vehicles,20000\n"
        "Europe,Historical,EV sales,Cars,BEV,2014,Vehicles,50000\n",
        encoding="utf-8",
    )
    db = str(tmp_path / "iea.sqlite3")
    status, out, _ = run(capsys, "import", str(path), "--format", "iea", "--db", db)
    assert status == 0 and "as source 'iea': 3 rows read, 3 figures" in out
    _, out, _ = run(capsys, "total", "all", "--db", db)
    # a yearly figure is told as its year, with the source behind it
    assert out == "all EVs: 200,000 electric vehicles sold through 2014\nSource: iea\n"
    _, out, _ = run(capsys, "total", "norway", "--db", db)
    assert out == "all EVs in Norway: 20,000 electric vehicles sold through 2014\nSource: iea\n"
    with pytest.raises(SystemExit) as usage:  # argparse's usage errors exit with status 2
        main(["import", str(path), "--format", "xlsx", "--db", db])
    assert usage.value.code == 2 and "invalid choice: 'xlsx'" in capsys.readouterr().err
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("hello\n" * 500, encoding="utf-8")
    status, out, err = run(capsys, "total", "all", "--db", str(not_a_db))
    assert (status, out) == (1, "")
    assert err.startswith(f"evbot total: {not_a_db}: not an EV bot database")


# -- --json output pings nobody --------------------------------------------------------------

# what would ping if a script forwarded the output to chat (as the console check in tests/hostile)
MENTION = re.compile(r"@(?:everyone|here|channel)|<[@!#:/&]|<[at]:", re.IGNORECASE)
HOSTILE_DATA = (
    HEADER
    + "2020-01,USA,@everyone Motors,<!channel> Hype,5000,BEV\n"
    + "2020-02,USA,@everyone Motors,<!channel> Hype,6000,BEV\n"
    + "2020-01,<@&123>land,@everyone Motors,<!channel> Hype,500,BEV\n"
)
HOSTILE_NEWS = (
    HEADER
    + "2020-03,USA,@everyone Motors,<!channel> Hype,90000,BEV\n"
    + "2020-03,<@&123>land,@everyone Motors,<!channel> Hype,20000,BEV\n"
)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value, *(s for v in value.values() for s in _strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_every_json_printer_defuses_mentions_from_data_and_users(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Subject and region names from an imported file, a channel, a creator and a platform's
    error text all carry mentions; no `--json` printout holds one raw, in its text or in any
    decoded value (keys included), while the plain output of `ask` was already inert."""
    db = str(tmp_path / "hostile.sqlite3")
    (tmp_path / "a.csv").write_text(HOSTILE_DATA, encoding="utf-8")
    (tmp_path / "b.csv").write_text(HOSTILE_NEWS, encoding="utf-8")
    for argv in (
        ["import", str(tmp_path / "a.csv"), "--source", "<!here>", "--db", db],
        ["import", str(tmp_path / "b.csv"), "--source", "<!here>", "--db", db],
        ["detect", "--db", db],
        ["subscribe", "@everyone Motors", "--channel", "<!channel>", "--by", "@here", "--db", db],
    ):
        assert run(capsys, *argv)[0] == 0, argv

    async def fail_one() -> None:
        async with SqliteStore(db) as store:
            [delivery] = await store.deliveries(limit=10)
            await store.mark_failed(delivery, "rejected", "<@&42> @everyone: no such channel")

    asyncio.run(fail_one())
    config = tmp_path / "evbot.toml"
    config.write_text(
        "[aliases]\n'<!channel>' = '@everyone Motors'\n"
        "[[groups]]\nname = '@here Group'\nmembers = ['@everyone Motors']\n",
        encoding="utf-8",
    )
    commands = [
        ["total", "@everyone Motors", "--json"],
        ["total", "<!channel> Hype", "--region", "<@&123>land", "--json"],
        ["replay", "--json"],
        ["milestones", "--json"],
        ["subscriptions", "--json"],
        ["deliveries", "--json"],
        ["ask", "/ev-milestones @everyone", "--json"],
        ["ask", "/ev-total @everyone Motors", "--json"],
        ["ask", "/ev-subscriptions", "--json"],
        ["check-config", "--config", str(config)],
    ]
    seen: list[str] = []
    for argv in commands:
        status, out, err = run(capsys, *argv, "--db", db)
        assert status in (0, 1) and "Traceback" not in err, (argv, err)
        assert out.strip(), argv
        assert MENTION.search(out) is None, (argv, out)
        lines = [out] if argv[0] == "check-config" else out.splitlines()
        for line in lines:
            for text in _strings(json.loads(line)):
                assert MENTION.search(text) is None, (argv, text)
                seen.append(text)
    # the hostile names did reach every kind of output, defused
    every = "\n".join(seen)
    for inert in ("@\u200beveryone Motors", "<\u200b!channel> Hype", "<\u200b@&123>land"):
        assert inert in every, inert
    assert "<\u200b@&42> @\u200beveryone: no such channel" in every  # a delivery's error
    assert "@\u200bhere Group" in every  # check-config
    # the plain output escapes them as before, through the same function
    status, out, _ = run(capsys, "ask", "/ev-milestones @everyone Motors", "--db", db)
    assert status == 0 and "@\u200beveryone Motors" in out and MENTION.search(out) is None


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(
        st.one_of(
            st.sampled_from(["@", "<", "everyone", "HERE", "channel", "!", "&", "#", "A:", "t:"]),
            st.text(max_size=6),
        ),
        max_size=12,
    ).map("".join)
)
@example(text="<<@@everyone<A:x>")
def test_defuse_only_adds_zero_width_spaces_and_leaves_no_mention(text: str) -> None:
    inert = defuse(text)
    assert MENTION.search(inert) is None, inert
    assert inert.replace(ZWSP, "") == text.replace(ZWSP, "")
    assert defuse(inert) == inert
    assert defuse_json({text: [text, 5, None]}) == {inert: [inert, 5, None]}


def test_the_outbox_keeps_raw_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Defusing is for output: the stored event holds the names as imported (each adapter
    escapes for its platform when it posts; stored defused, a post would be escaped twice)."""
    db = str(tmp_path / "raw.sqlite3")
    (tmp_path / "a.csv").write_text(HOSTILE_DATA, encoding="utf-8")
    (tmp_path / "b.csv").write_text(HOSTILE_NEWS, encoding="utf-8")
    run(capsys, "import", str(tmp_path / "a.csv"), "--source", "s", "--db", db)
    run(capsys, "subscribe", "@everyone Motors", "--db", db)
    run(capsys, "import", str(tmp_path / "b.csv"), "--source", "s", "--db", db)
    run(capsys, "detect", "--db", db)
    with sqlite3.connect(db) as conn:
        payloads = "\n".join(str(row[0]) for row in conn.execute("SELECT payload FROM events"))
    assert "@everyone Motors" in payloads and "\u200b" not in payloads


# -- a real process ---------------------------------------------------------------------------


def _evbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("EVBOT_DB", "EVBOT_CONFIG")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_python_m_bot_demo_and_bad_import(tmp_path: Path) -> None:
    db = str(tmp_path / "proc.sqlite3")
    done = _evbot("import", "--demo", "--db", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    june = _evbot(
        "total", "Renault-Nissan Alliance", "--as-of", "2015-06", "--json", "--db", db, cwd=tmp_path
    )
    may = _evbot(
        "total", "Renault-Nissan Alliance", "--as-of", "2015-05", "--json", "--db", db, cwd=tmp_path
    )
    assert june.returncode == may.returncode == 0
    assert json.loads(may.stdout)["total"] < 250_000 <= json.loads(june.stdout)["total"]

    before = state(Path(db))
    bad = tmp_path / "bad.csv"
    bad.write_text(
        HEADER + "\n".join(good_rows(500)) + "\n2015-02,World,Nissan,Leaf,x,BEV\n", encoding="utf-8"
    )
    done = _evbot("import", str(bad), "--db", db, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert f"{bad}:502: units 'x' is not a whole number" in done.stderr
    assert "Traceback" not in done.stderr
    assert state(Path(db)) == before
