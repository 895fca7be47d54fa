"""A poll's changed cells (`BotStore.journal_changes`): SQLite gathers the journal's entries in
Python, a window at a time, instead of its GROUP BY; the cells and their order are the GROUP
BY's, and both backends give the cells the journal's entries define."""

from __future__ import annotations

import itertools
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.periods import Month
from bot.domain.records import SalesRecord, SourceSpec
from bot.store.detection_rows import JournalCells, gather_journal, journal_cells, journal_changes
from bot.store.sqlite.sales import SqliteStore
from tests.conftest import StoreFactory

GROUP_BY = (
    "SELECT source_id, region, make_key, model_key, MIN(month), "
    "MIN(CASE WHEN history = 0 THEN month END) FROM journal "
    "GROUP BY source_id, region, make_key, model_key"
)

entries = st.lists(
    st.tuples(
        st.integers(1, 2),
        st.sampled_from(["World", "Åland"]),
        st.sampled_from(["nissan", "zoé"]),
        st.sampled_from(["", "leaf", "Z"]),
        st.sampled_from(["2015-01", "2015-02", "2016-12", "2099-10"]),
        st.integers(0, 1),
    ),
    max_size=40,
)


@given(entries, st.lists(st.integers(0, 40), max_size=4))
def test_gathered_entries_are_the_group_by_of_them(
    rows: list[tuple[int, str, str, str, str, int]], cuts: list[int]
) -> None:
    with closing(sqlite3.connect(":memory:")) as con:
        con.execute(
            "CREATE TABLE journal (source_id INTEGER, region TEXT, make_key TEXT, "
            "model_key TEXT, month TEXT, history INTEGER)"
        )
        con.executemany("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?)", rows)
        grouped = journal_changes(con.execute(GROUP_BY).fetchall())
    cells: JournalCells = {}
    bounds = [0, *sorted(cuts), len(rows)]
    for low, high in itertools.pairwise(bounds):  # gathered window by window
        gather_journal(rows[low:high], cells)
    assert journal_cells(cells) == grouped


def rec(period: str, make: str, model: str, region: str = "World") -> SalesRecord:
    return SalesRecord(period, region, make, model, 10)


IMPORTS = [
    (SourceSpec("a"), [rec(f"2015-{m:02d}", "Nissan", "Leaf") for m in range(1, 7)]),
    (SourceSpec("b"), [rec("2015-03", "BYD", "Seal", "Chile"), rec("2015-02", "Nissan", "Leaf")]),
    (SourceSpec("a"), [rec("2015-07", "Nissan", "Leaf"), rec("2015-02", "Zoé", "Z")]),
    (SourceSpec("a"), [rec("2015-08", "Nissan", "Leaf"), rec("2015-01", "BYD", "Seal")]),
]


@pytest.mark.parametrize("window", [1, 3, 100_000])
async def test_sqlite_windows_give_the_group_by_in_its_order(tmp_path: Path, window: int) -> None:
    path = tmp_path / "s.db"
    async with SqliteStore(path) as store:
        store.journal_window = window
        for source, records in IMPORTS:
            await store.import_records([(source, records)])
        head = await store.journal_head()
        with closing(sqlite3.connect(path)) as plain:
            for after, upto in ((0, head), (2, head), (1, head - 1), (head, head)):
                old = plain.execute(
                    GROUP_BY.replace("GROUP BY", "WHERE seq > ? AND seq <= ? GROUP BY"),
                    (after, upto),
                ).fetchall()
                assert await store.journal_changes(after, upto) == journal_changes(old)


async def test_both_backends_give_the_cells_the_entries_define(make_store: StoreFactory) -> None:
    async with make_store() as store:
        for source, records in IMPORTS:
            await store.import_records([(source, records)])
        entries = await store.journal_since(0)
        head = entries[-1].seq
        for after in (0, 3, head - 1):
            want: dict[tuple[int, str, str, str], tuple[Month, Month | None]] = {}
            for e in entries:
                if e.seq <= after:
                    continue
                key = (e.source_id, e.region, e.make_key, e.model_key)
                low, news = want.get(key, (e.month, None))
                if not e.history and (news is None or e.month < news):
                    news = e.month
                want[key] = (min(low, e.month), news)
            got = await store.journal_changes(after, head)
            assert sorted(got) == sorted((*k, *v) for k, v in want.items())
            if after == 0:  # the imports give cells of history only and cells with news
                assert {news is None for *_, news in got} == {True, False}
