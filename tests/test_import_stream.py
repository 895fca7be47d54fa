"""The streamed import: records flow from the parser thread to the store in chunks, are staged and
de-duplicated in SQLite, and are written all or nothing, with memory that does not grow with the
file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import default_config
from bot.importer import CHUNK_ROWS, import_file
from bot.ingest import ImportFailed
from bot.records import SalesRecord, SourceSpec
from bot.sqlite_store import SqliteStore
from bot.store import StoreError

HEADER = "period,region,make,model,units\n"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "stream.sqlite3") as s:
        yield s


def _rows(n: int, start: int = 0) -> list[str]:
    """n distinct canonical rows: 100 models x months."""
    out = []
    for i in range(start, start + n):
        model, month = divmod(i, 100)
        out.append(
            f"{2010 + month // 12}-{month % 12 + 1:02d},World,Make{model % 9},M{model},{i % 7}"
        )
    return out


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


async def _state(store: SqliteStore) -> tuple[int, int, list[object]]:
    return await store.count_records(), await store.journal_head(), await store.sources()


async def test_a_file_of_many_chunks_imports_every_row_once(
    store: SqliteStore, tmp_path: Path
) -> None:
    rows = _rows(CHUNK_ROWS * 2 + 123)
    report = await import_file(store, default_config(), _write(tmp_path / "a.csv", rows))
    assert report.rows_read == len(rows)
    assert await store.count_records() == len(rows)
    assert (
        sum(int(r.split(",")[-1]) for r in rows)
        == (await store.db.execute_fetchall("SELECT SUM(inc) FROM all_cells"))[0][0]
    )


async def test_a_duplicate_in_a_later_chunk_is_counted_once(
    store: SqliteStore, tmp_path: Path
) -> None:
    rows = _rows(CHUNK_ROWS + 10)
    rows.append(rows[0])  # the first data row (line 2) again, in the second chunk
    path = _write(tmp_path / "d.csv", rows)
    report = await import_file(store, default_config(), path)
    assert report.duplicates == 1
    assert report.notices == [f"{path}:{len(rows) + 1}: duplicate of line 2, counted once"]
    assert await store.count_records() == len(rows) - 1


async def test_a_conflicting_duplicate_in_a_later_chunk_writes_nothing(
    store: SqliteStore, tmp_path: Path
) -> None:
    await import_file(store, default_config(), _write(tmp_path / "first.csv", _rows(5)))
    before = await _state(store)
    rows = _rows(CHUNK_ROWS + 10)
    first = rows[0].rsplit(",", 1)[0]
    rows.append(f"{first},999")  # same key as line 2, another figure
    rows.append("2014-13,World,Nissan,Leaf,1")  # and a bad period after it
    path = _write(tmp_path / "c.csv", rows)
    with pytest.raises(ImportFailed) as failed:
        await import_file(store, default_config(), path)
    problems = failed.value.problems
    assert problems[0] == (
        f"{path}:{len(rows)}: conflicting duplicate of line 2: same period, region, make, model "
        f"and powertrain with 999 units instead of {rows[0].rsplit(',', 1)[1]}"
    )
    assert problems[1].startswith(f"{path}:{len(rows) + 1}: bad period")
    assert await _state(store) == before


async def test_the_fast_path_giving_up_midway_restarts_without_counting_twice(
    store: SqliteStore, tmp_path: Path
) -> None:
    # the fast path streams two chunks, then meets a figure it leaves to the careful path
    # (non-ASCII digits); the careful path starts again from the first row
    rows = _rows(CHUNK_ROWS * 2 + 50)
    rows.append("2030-01,World,Nissan,Leaf,١٢")
    report = await import_file(store, default_config(), _write(tmp_path / "r.csv", rows))
    assert report.rows_read == len(rows)
    assert await store.count_records() == len(rows)
    [summary] = report.summaries
    assert summary.records == summary.new == len(rows)


async def test_a_store_failure_midstream_stops_the_parser(
    store: SqliteStore, tmp_path: Path
) -> None:
    # "b" holds stock figures, and the file's first row says sales for it: the store refuses
    # the first chunk while the parser still has chunks to hand over; it must not hang
    stock = SalesRecord("2014-01", "World", "Nissan", "Leaf", 1)
    await store.import_records([(SourceSpec("b", "stock"), [stock])])
    before = await _state(store)
    rows = ["2030-01,World,Nissan,Leaf,5,b"] + [r + ",a" for r in _rows(CHUNK_ROWS * 4)]
    path = tmp_path / "s.csv"
    path.write_text("period,region,make,model,units,source\n" + "\n".join(rows) + "\n")
    with pytest.raises(StoreError, match="holds stock figures"):
        await asyncio.wait_for(import_file(store, default_config(), path), timeout=120)
    assert await _state(store) == before


def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """Peak memory of an import of 40,000 rows and of 400,000 rows, each in a fresh process:
    streamed, the bigger file needs hardly more (collected, it needed about 10x)."""

    def peak(rows: int) -> float:
        path = tmp_path / f"m{rows}.csv"
        with path.open("w", encoding="utf-8") as handle:
            handle.write(HEADER)
            for start in range(0, rows, 50_000):
                handle.write("\n".join(_rows(min(50_000, rows - start), start)) + "\n")
        script = (
            "import asyncio, resource, sys\n"
            "from bot.config import default_config\n"
            "from bot.importer import import_file\n"
            "from bot.sqlite_store import SqliteStore\n"
            "async def main():\n"
            "    async with SqliteStore(sys.argv[2]) as s:\n"
            "        await import_file(s, default_config(), sys.argv[1])\n"
            "asyncio.run(main())\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", script, str(path), str(tmp_path / f"m{rows}.sqlite3")],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        return int(out.stdout.split()[-1]) / 1024  # MB

    small, big = peak(40_000), peak(400_000)
    print(f"peak RSS: {small:.0f} MB for 40,000 rows, {big:.0f} MB for 400,000 rows")
    assert big < small + 40, (small, big)
