"""Store faults: a second writer holding the lock, a full disk, a corrupted or foreign file, and a
migration interrupted halfway. Each gives a clear `StoreError` naming the file, and nothing that
was acknowledged (committed) is lost."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import bot.store.sqlite.base
from bot.cli.main import main
from bot.domain.settings import default_config
from bot.ingest.importer import import_file
from bot.ports.store import StoreError
from bot.store.sqlite.migrations import MIGRATIONS
from bot.store.sqlite.sales import SqliteStore
from tests.hostile.support import table_counts

ROOT = Path(__file__).resolve().parents[2]
HEADER = "period,region,make,model,units\n"


def _csv(path: Path, rows: int, make: str = "Nissan", start: int = 0) -> Path:
    lines = (
        f"20{10 + (i // 12) % 80:02d}-{i % 12 + 1:02d},R{i // 960},{make},M{i},7\n"
        for i in range(start, start + rows)
    )
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    return path


async def _seeded(tmp_path: Path) -> tuple[SqliteStore, Path]:
    db = tmp_path / "bot.sqlite3"
    store = SqliteStore(db)
    await store.open()
    await import_file(store, default_config(), _csv(tmp_path / "first.csv", 50), source="first")
    return store, db


def _integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


# -- a second writer ---------------------------------------------------------------------------


async def test_a_second_writer_holding_the_lock(tmp_path: Path) -> None:
    store, db = await _seeded(tmp_path)
    before = table_counts(db)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError) as info:
            await import_file(store, default_config(), _csv(tmp_path / "b.csv", 20), source="b")
        assert str(info.value).startswith(
            f"{db}: the database is locked by another writer; try again later"
        )
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert table_counts(db) == before
    # the lock gone, the same import goes through on the same connection
    report = await import_file(store, default_config(), tmp_path / "b.csv", source="b")
    assert report.summaries[0].new == 20
    await store.close()


def test_the_cli_reports_a_locked_database_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cli.sqlite3"
    assert main(["import", "--demo", "--db", str(db)]) == 0
    capsys.readouterr()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        status = main(["import", str(_csv(tmp_path / "c.csv", 5)), "--db", str(db)])
    finally:
        other.execute("ROLLBACK")
        other.close()
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith(f"evbot import: {db}: the database is locked by another writer")
    assert "Traceback" not in err and len(err.splitlines()) == 1


# -- a full disk -------------------------------------------------------------------------------

_FULL_DISK_CHILD = textwrap.dedent(
    """
    import asyncio, resource, signal, sys
    from pathlib import Path
    from bot.config.load import default_config
    from bot.ingest.importer import import_file
    from bot.store.sqlite.sales import SqliteStore
    from bot.ports.store import StoreError

    async def main(db, csv, limit):
        store = SqliteStore(db)
        await store.open()
        # files may not grow past `limit` bytes from now on: the WAL fills up mid-import
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        try:
            await import_file(store, default_config(), csv, source="big")
        except StoreError as exc:
            print("STORE-ERROR", exc, flush=True)
            return 3
        finally:
            try:
                await store.close()
            except Exception as exc:
                print("CLOSE", type(exc).__name__, exc, flush=True)
        print("IMPORTED", flush=True)
        return 0

    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
    """
)


def test_a_full_disk_mid_import(tmp_path: Path) -> None:
    """RLIMIT_FSIZE in a child process stands in for a full disk (no tiny filesystem without
    root): the write fails part way through the import's transaction."""
    store, db = asyncio.run(_seeded(tmp_path))
    asyncio.run(store.close())
    before = table_counts(db)
    big = _csv(tmp_path / "big.csv", 30_000, make="Renault")
    limit = max(db.stat().st_size, 64 * 1024) + 256 * 1024
    child = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_CHILD, str(db), str(big), str(limit)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    assert child.returncode == 3, child.stdout + child.stderr
    assert "Traceback" not in child.stderr, child.stderr
    line = child.stdout.splitlines()[0]
    assert line.startswith(f"STORE-ERROR {db}: the dis"), line
    assert table_counts(db) == before
    assert _integrity(db) == "ok"

    async def again() -> int:
        async with SqliteStore(db) as store:
            report = await import_file(store, default_config(), big, source="big")
            return report.summaries[0].new

    assert asyncio.run(again()) == 30_000  # with room again, the same import goes through


# -- a corrupted or foreign file ---------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
async def test_random_bytes_are_refused_and_left_alone(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "random.sqlite3"
    content = rng.randbytes(rng.choice([1, 100, 4096, 65536]))
    path.write_bytes(content)
    with pytest.raises(StoreError) as info:
        await SqliteStore(path).open()
    assert str(info.value).startswith(f"{path}: not an EV bot database")
    assert path.read_bytes() == content


async def test_a_damaged_database_is_refused_or_reports_damage(tmp_path: Path) -> None:
    """Pages overwritten after the header: opening, or the first read, names the file."""
    store, db = await _seeded(tmp_path)
    await store.close()
    data = bytearray(db.read_bytes())
    rng = random.Random(7)
    for _ in range(400):
        data[rng.randrange(100, len(data))] = rng.randrange(256)
    db.write_bytes(bytes(data))
    store = SqliteStore(db)
    with pytest.raises(StoreError) as info:
        await store.open()
        await import_file(store, default_config(), _csv(tmp_path / "x.csv", 3), source="x")
        await store.sources()
    await store.close()
    assert str(info.value).startswith(f"{db}: not an EV bot database")


async def test_a_foreign_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other-app.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
        conn.execute("CREATE TABLE sources (url TEXT)")  # a name the bot also uses
        conn.execute("INSERT INTO users VALUES (1, 'a@example.com')")
    content = path.read_bytes()
    with pytest.raises(StoreError) as info:
        await SqliteStore(path).open()
    assert str(info.value) == (
        f"{path}: not an EV bot database: it holds another application's tables "
        "(sources, users) and no evbot schema version; give evbot a file of its own"
    )
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master ORDER BY name")]
    assert tables == ["sources", "users"]
    assert path.read_bytes() == content


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    store, db = await _seeded(tmp_path)
    await store.close()
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="is newer than this evbot knows"):
        await SqliteStore(db).open()


# -- a migration interrupted halfway -------------------------------------------------------------


async def test_a_failing_migration_leaves_the_version_and_a_retry_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, db = await _seeded(tmp_path)
    await store.close()
    before = table_counts(db)
    version = len(MIGRATIONS)
    broken = "CREATE TABLE half_done (x INTEGER); INSERT INTO half_done VALUES (1); SELECT nope"
    monkeypatch.setattr(bot.store.sqlite.base, "MIGRATIONS", [*MIGRATIONS, broken])
    with pytest.raises(StoreError) as info:
        await SqliteStore(db).open()
    assert str(info.value).startswith(
        f"{db}: migration to schema version {version + 1} failed (no such column: nope); "
        f"the database is unchanged at version {version}"
    )
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == version
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    assert "half_done" not in names
    assert table_counts(db) == before
    fixed = "CREATE TABLE half_done (x INTEGER); INSERT INTO half_done VALUES (1)"
    monkeypatch.setattr(bot.store.sqlite.base, "MIGRATIONS", [*MIGRATIONS, fixed])
    async with SqliteStore(db) as store:
        assert await store.schema_version() == version + 1
    assert table_counts(db) == before


_SLOW_MIGRATION_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    import bot.store.sqlite.base
    from bot.store.sqlite.migrations import MIGRATIONS
    from bot.store.sqlite.sales import SqliteStore

    SLOW = (
        "CREATE TABLE big (x INTEGER); "
        "INSERT INTO big WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
        "WHERE x < 200000000) SELECT x FROM c"
    )

    async def main(db):
        bot.store.sqlite.base.MIGRATIONS = [*MIGRATIONS, SLOW]
        print("migrating", flush=True)
        async with SqliteStore(db):
            pass
        print("finished", flush=True)

    asyncio.run(main(sys.argv[1]))
    """
)


def test_a_migration_killed_halfway(tmp_path: Path) -> None:
    """SIGKILL during a long migration: the file stays at the old version with all its data,
    and the next start opens it (and would migrate again from the start)."""
    store, db = asyncio.run(_seeded(tmp_path))
    asyncio.run(store.close())
    before = table_counts(db)
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_MIGRATION_CHILD, str(db)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "migrating"
    wal = Path(f"{db}-wal")
    for _ in range(1200):  # wait until the migration has written something, then kill
        if wal.exists() and wal.stat().st_size > 1_000_000:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    async def reopen() -> int:
        async with SqliteStore(db) as store:
            return await store.schema_version()

    assert asyncio.run(reopen()) == len(MIGRATIONS)
    with sqlite3.connect(db) as conn:
        assert "big" not in [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    assert table_counts(db) == before
    assert _integrity(db) == "ok"
