"""`evbot backup`, `restore` and `export`: copies taken while a bot writes, restores refused
while one runs, and an export that imports back to the same totals."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.store.sqlite.migrations import MIGRATIONS

LATEST = len(MIGRATIONS)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EVBOT_DB", raising=False)
    monkeypatch.delenv("EVBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def figures(db: Path) -> list[tuple[object, ...]]:
    """Every stored figure with its source and names: what must survive a copy."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        return sorted(
            con.execute(
                "SELECT s.name, s.metric, r.make_key, r.model_key, r.region, r.period, "
                "r.powertrain, r.cumulative, r.units FROM records r JOIN sources s "
                "ON s.id = r.source_id"
            )
        )


@pytest.fixture
def demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    db = tmp_path / "bot.sqlite3"
    assert run(capsys, "import", "--demo", "--db", str(db))[0] == 0
    assert run(capsys, "detect", "--db", str(db))[0] == 0
    hook = "https://hooks.example.com/services/T0/B0/very-secret-token"
    follow = ("subscribe", "leaf", "--platform", "webhook", "--channel", hook, "--db", str(db))
    assert run(capsys, *follow)[0] == 0
    return db


def test_a_backup_taken_while_a_bot_writes_is_whole_private_and_leaves_the_store_alone(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = sqlite3.connect(
        demo, isolation_level=None
    )  # a running bot: WAL, a write not checkpointed
    bot.execute("PRAGMA journal_mode = WAL")
    bot.execute("UPDATE sources SET priority = 7")
    try:
        copy = tmp_path / "copy.sqlite3"
        status, out, err = run(capsys, "backup", str(copy), "--db", str(demo))
        assert status == 0, err
        assert "schema version" in out and str(copy) in out
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600  # it holds Slack tokens
        assert not Path(f"{copy}-wal").exists()  # one self-contained file
        assert figures(copy) == figures(demo) and len(figures(copy)) == 334
        with closing(sqlite3.connect(copy)) as con:
            assert con.execute("SELECT priority FROM sources").fetchone() == (7,)
        # a second backup never overwrites a file
        status, _, err = run(capsys, "backup", str(copy), "--db", str(demo))
        assert status == 1 and "already exists" in err
    finally:
        bot.close()


def test_a_backup_never_upgrades_the_store_it_copies(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with closing(sqlite3.connect(demo, isolation_level=None)) as con:
        con.execute(f"PRAGMA user_version = {LATEST + 5}")  # written by a newer evbot
    status, out, err = run(capsys, "backup", str(tmp_path / "b.sqlite3"), "--db", str(demo))
    assert status == 0, err and f"schema version {LATEST + 5}" in out
    with closing(sqlite3.connect(demo, isolation_level=None)) as con:
        assert con.execute("PRAGMA user_version").fetchone() == (LATEST + 5,)
    # and this evbot refuses to restore what it cannot read
    status, _, err = run(capsys, "restore", str(tmp_path / "b.sqlite3"), "--db", "new.sqlite3")
    assert status == 1 and "newer than this evbot knows" in err
    assert not Path("new.sqlite3").exists()


def test_postgres_is_backed_up_with_pg_dump(capsys: pytest.CaptureFixture[str]) -> None:
    dsn = "postgresql://evbot@db.internal/evbot"
    status, _, err = run(capsys, "backup", "x.dump", "--db", dsn)
    assert status == 1 and f"pg_dump --format=custom --file evbot.dump '{dsn}'" in err
    status, _, err = run(capsys, "restore", "x.dump", "--db", dsn)
    assert status == 1 and "pg_restore" in err
    assert not Path("x.dump").exists()


def test_restore_refuses_while_a_bot_holds_the_store_and_drops_an_old_log(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "backup.sqlite3"
    assert run(capsys, "backup", str(backup), "--db", str(demo))[0] == 0
    with closing(sqlite3.connect(demo, isolation_level=None)) as con:
        con.execute("DELETE FROM records WHERE region = 'World' AND period < '2012'")
    before = figures(demo)

    bot = sqlite3.connect(demo, isolation_level=None)
    bot.execute("PRAGMA journal_mode = WAL")
    bot.execute("SELECT count(*) FROM records").fetchone()
    try:
        status, _, err = run(capsys, "restore", str(backup), "--db", str(demo))
        assert status == 1 and "a running bot holds the store" in err
        assert figures(demo) == before  # nothing changed
    finally:
        bot.close()

    Path(f"{demo}-wal").write_bytes(b"a log of another file")  # never replayed into the copy
    status, out, err = run(capsys, "restore", str(backup), "--db", str(demo))
    assert status == 0, err
    assert "restored" in out
    assert not Path(f"{demo}-wal").exists()
    assert figures(demo) == figures(backup) != before
    assert run(capsys, "total", "alliance", "--db", str(demo))[0] == 0  # it opens and answers


def test_export_imports_back_to_the_same_totals(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "export", "out", "--db", str(demo))
    assert status == 0, err
    assert "out/figures.csv: 334 rows" in out
    lines = Path("out/figures.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == f"# evbot schema {LATEST}"
    assert lines[1] == "period,region,make,model,units,powertrain,source,cumulative"
    with open("out/sources.csv", encoding="utf-8") as handle:
        (source,) = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    assert (source["name"], source["metric"], source["priority"]) == (
        "alliance-demo",
        "sales",
        "100",
    )
    for name in ("milestones", "events", "subscriptions", "deliveries"):
        assert Path(f"out/{name}.csv").exists()
    text = Path("out/subscriptions.csv").read_text() + Path("out/deliveries.csv").read_text()
    assert "very-secret-token" not in text and "https://hooks.example.com/(redacted)" in text

    fresh = tmp_path / "fresh.sqlite3"
    status, _, err = run(capsys, "import", "out/figures.csv", "--db", str(fresh))
    assert status == 0, err
    assert figures(fresh) == figures(demo)
    totals = [run(capsys, "total", "alliance", "--db", str(db))[1] for db in (demo, fresh)]
    assert totals[0] == totals[1] and "377,700" in totals[0]

    # never over an earlier export
    status, _, err = run(capsys, "export", "out", "--db", str(demo))
    assert status == 1 and "already exists" in err


def test_export_as_json(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "export", "js", "--format", "json", "--db", str(demo))
    assert status == 0, err
    data = json.loads(Path("js/figures.json").read_text(encoding="utf-8"))
    assert data["evbot_schema"] == LATEST and len(data["rows"]) == 334
    assert set(data["rows"][0]) == {
        "period",
        "region",
        "make",
        "model",
        "units",
        "powertrain",
        "source",
        "cumulative",
    }
    assert sorted(os.listdir("js")) == [
        f"{n}.json"
        for n in sorted(
            ("figures", "sources", "milestones", "events", "subscriptions", "deliveries")
        )
    ]
