"""The streamed import: records flow from the parser thread to the store in chunks, are staged and
de-duplicated in SQLite, and are written all or nothing, with memory that does not grow with the
file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from bot.domain.records import ImportFailed, SalesRecord, SourceSpec
from bot.domain.settings import default_config
from bot.ingest.importer import CHUNK_ROWS, import_file
from bot.ingest.worker import Job, ProcessFeed
from bot.ports.store import StoreError
from bot.store.sqlite import imports as sqlite_store
from bot.store.sqlite.sales import SqliteStore

HEADER = "period,region,make,model,units\n"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=[False, True], ids=["thread", "process"])
def processes(request: pytest.FixtureRequest) -> bool:
    """Parse in a thread of the test's process, or in a process of its own (large files)."""
    return bool(request.param)


async def _sums_agree(store: SqliteStore) -> int:
    """The kept sums agree with the cells (per make, and over everything); returns the total."""
    by_make = await store.db.execute_fetchall(
        "SELECT source_id, make_key, region, month, SUM(inc) FROM cells "
        "GROUP BY source_id, make_key, region, month ORDER BY 1, 2, 3, 4"
    )
    makes = await store.db.execute_fetchall(
        "SELECT source_id, make_key, region, month, inc FROM make_cells ORDER BY 1, 2, 3, 4"
    )
    assert [tuple(r) for r in makes] == [tuple(r) for r in by_make]
    everything = await store.db.execute_fetchall(
        "SELECT source_id, region, month, inc FROM all_cells ORDER BY 1, 2, 3"
    )
    by_all = await store.db.execute_fetchall(
        "SELECT source_id, region, month, SUM(inc) FROM make_cells GROUP BY 1, 2, 3 "
        "ORDER BY 1, 2, 3"
    )
    assert [tuple(r) for r in everything] == [tuple(r) for r in by_all]
    return sum(r[3] for r in everything)


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
    store: SqliteStore, tmp_path: Path, processes: bool
) -> None:
    rows = _rows(CHUNK_ROWS * 2 + 123)
    report = await import_file(
        store, default_config(), _write(tmp_path / "a.csv", rows), processes=processes
    )
    assert report.rows_read == len(rows)
    assert await store.count_records() == len(rows)
    assert sum(int(r.split(",")[-1]) for r in rows) == await _sums_agree(store)


async def test_a_duplicate_in_a_later_chunk_is_counted_once(
    store: SqliteStore, tmp_path: Path, processes: bool
) -> None:
    rows = _rows(CHUNK_ROWS + 10)
    rows.append(rows[0])  # the first data row (line 2) again, in the second chunk
    path = _write(tmp_path / "d.csv", rows)
    report = await import_file(store, default_config(), path, processes=processes)
    assert report.duplicates == 1
    assert report.notices == [f"{path}:{len(rows) + 1}: duplicate of line 2, counted once"]
    assert await store.count_records() == len(rows) - 1
    assert sum(int(r.split(",")[-1]) for r in rows[:-1]) == await _sums_agree(store)


async def test_a_conflicting_duplicate_in_a_later_chunk_writes_nothing(
    store: SqliteStore, tmp_path: Path, processes: bool
) -> None:
    await import_file(
        store, default_config(), _write(tmp_path / "first.csv", _rows(5)), processes=processes
    )
    before = await _state(store)
    rows = _rows(CHUNK_ROWS + 10)
    first = rows[0].rsplit(",", 1)[0]
    rows.append(f"{first},999")  # same key as line 2, another figure
    rows.append("2014-13,World,Nissan,Leaf,1")  # and a bad period after it
    path = _write(tmp_path / "c.csv", rows)
    with pytest.raises(ImportFailed) as failed:
        await import_file(store, default_config(), path, processes=processes)
    problems = failed.value.problems
    assert problems[0] == (
        f"{path}:{len(rows)}: conflicting duplicate of line 2: same period, region, make, model "
        f"and powertrain with 999 units instead of {rows[0].rsplit(',', 1)[1]}"
    )
    assert problems[1].startswith(f"{path}:{len(rows) + 1}: bad period")
    assert await _state(store) == before


async def test_the_fast_path_giving_up_midway_restarts_without_counting_twice(
    store: SqliteStore, tmp_path: Path, processes: bool
) -> None:
    # the fast path streams two chunks, then meets a row it leaves to the careful path (a
    # figure in non-ASCII digits); the careful path starts again from the first row, so the
    # store hears of the problem once and writes none of the chunks it was sent
    before = await _state(store)
    rows = _rows(CHUNK_ROWS * 2 + 50)
    rows.append("2030-01,World,Nissan,Leaf,١٢")
    path = _write(tmp_path / "r.csv", rows)
    with pytest.raises(ImportFailed) as caught:
        await import_file(store, default_config(), path, processes=processes)
    assert caught.value.problems == [f"{path}:{len(rows) + 1}: units '١٢' is not a whole number"]
    assert await _state(store) == before
    rows[-1] = "2030-01,World,Nissan,Leaf,12"
    report = await import_file(store, default_config(), _write(path, rows), processes=processes)
    assert report.rows_read == len(rows)
    assert await store.count_records() == len(rows)
    [summary] = report.summaries
    assert summary.records == summary.new == len(rows)


async def test_a_store_failure_midstream_stops_the_parser(
    store: SqliteStore, tmp_path: Path, processes: bool
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
        await asyncio.wait_for(
            import_file(store, default_config(), path, processes=processes), timeout=120
        )
    assert await _state(store) == before


async def test_make_sums_let_go_midway_still_add_up(
    store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a first import holds its make sums up to a bound, then adds them to the store: with a
    # bound of 5, every chunk's sums go in, exact repeats' units taken out after them
    monkeypatch.setattr(sqlite_store, "MAKE_SUMS_HELD", 5)
    rows = _rows(CHUNK_ROWS * 2 + 7)
    rows += [rows[3], rows[CHUNK_ROWS + 1], rows[-1]]  # repeats, each in a later chunk
    report = await import_file(store, default_config(), _write(tmp_path / "h.csv", rows))
    assert report.duplicates == 3
    assert sum(int(r.split(",")[-1]) for r in rows[:-3]) == await _sums_agree(store)


async def test_running_totals_after_let_go_make_sums(
    store: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # period figures first (their sums let go of), then running totals: the source publishes
    # running totals, so its make sums come from its cells' increments instead
    monkeypatch.setattr(sqlite_store, "MAKE_SUMS_HELD", 2)
    path = tmp_path / "running.csv"
    path.write_text(
        "period,region,make,model,units,cumulative\n"
        "2014-01,World,Nissan,Leaf,5,false\n"
        "2014-02,World,Nissan,Leaf,7,false\n"
        "2014-01,World,Renault,Zoe,3,false\n"
        "2014-03,World,Nissan,Leaf,20,true\n"
        "2014-04,World,Nissan,Leaf,26,true\n",
        encoding="utf-8",
    )
    await import_file(store, default_config(), path)
    assert await _sums_agree(store) == 26 + 3
    leaf = await store.model_increments("nissan", "leaf")
    assert [(str(r.month), r.inc) for r in leaf] == [
        ("2014-01", 5),
        ("2014-02", 7),
        ("2014-03", 8),
        ("2014-04", 6),
    ]


async def test_a_parser_process_that_dies_fails_the_import(
    store: SqliteStore, tmp_path: Path
) -> None:
    before = await _state(store)
    path = _write(tmp_path / "k.csv", _rows(CHUNK_ROWS * 10))
    feed = ProcessFeed(Job("canonical", str(path), "k", None, CHUNK_ROWS), None)
    chunks = feed.chunks()
    try:
        assert len(await anext(chunks) or []) == CHUNK_ROWS
        # the reader holds a few chunks at most: the child is still writing when killed
        assert feed._process is not None
        feed._process.kill()
        with pytest.raises(ImportFailed, match="the parser process ended early"):
            async for _ in chunks:
                pass
    finally:
        await feed.close()
    assert await _state(store) == before


async def test_a_parser_process_reports_progress_and_problems(tmp_path: Path) -> None:
    rows = _rows(CHUNK_ROWS + 5)
    path = _write(tmp_path / "p.csv", [*rows, "2014-13,World,Nissan,Leaf,1"])
    seen: list[int] = []
    async with SqliteStore(tmp_path / "p.sqlite3") as store:
        with pytest.raises(ImportFailed) as failed:
            await import_file(store, default_config(), path, progress=seen.append, processes=True)
        assert await store.count_records() == 0
    assert failed.value.problems[0].startswith(f"{path}:{len(rows) + 2}: bad period")
    # the fast path gave up at the bad line, and the careful path read the file again
    assert seen[-1] == path.stat().st_size and max(seen) == seen[-1]


@pytest.mark.slow
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
            "from bot.domain.settings import default_config\n"
            "from bot.ingest.importer import import_file\n"
            "from bot.store.sqlite.sales import SqliteStore\n"
            "async def main():\n"
            "    async with SqliteStore(sys.argv[2]) as s:\n"
            "        await import_file(s, default_config(), sys.argv[1])\n"
            "asyncio.run(main())\n"
            "print(max(resource.getrusage(who).ru_maxrss\n"
            "          for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))\n"
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
