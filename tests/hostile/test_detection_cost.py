"""Detection costs what it tells, whatever the figure (issue 26): over any short history, the
poll after importing a figure of the accepted maximum and the poll after revising it back run
the same statements and write the same rows as the same polls with an ordinary figure that
tells the same (crosses a threshold in every series, and falls back below one on revision)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.detection.detector import Detector
from bot.domain.channels import Channel
from bot.domain.ladders import DEFAULT_LADDER
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.settings import default_config
from bot.domain.subjects import ALL
from bot.domain.subscriptions import SubscriptionSpec
from bot.ingest.fields import MAX_UNITS
from bot.store.sqlite.sales import SqliteStore
from tests.hostile.support import FUZZ

SOURCE = SourceSpec("feed")
Cost = tuple[int, int]  # statements, rows inserted, updated or deleted


def row(month: int, units: int, model: str = "Leaf", make: str = "Nissan") -> SalesRecord:
    return SalesRecord(f"2020-{month:02d}", "World", make, model, units)


async def costs(
    path: Path, history: list[int], other: list[int], figure: int, back: int
) -> tuple[Cost, Cost]:
    """The cost of the poll after `figure` arrives as the Leaf's next month, and of the poll
    after it is revised to `back`; the Leaf has `history` before it, another make `other`."""
    config = default_config()
    store = SqliteStore(path)
    await store.open()
    try:
        await store.sync_groups(config.groups)
        await store.subscribe(SubscriptionSpec(Channel("console", "w", "c"), ALL))
        detector = Detector(store, config)
        first = [row(m + 1, u) for m, u in enumerate(history)]
        first += [row(m + 1, u, "Model 3", "Tesla") for m, u in enumerate(other)]
        await store.import_records([(SOURCE, first)])
        await detector.poll()
        out: list[Cost] = []
        for units in (figure, back):
            # accepted as a jump: told, so the detection's whole cost is paid (holds have their
            # own property in test_holds.py)
            await store.import_records([(SOURCE, [row(len(history) + 1, units)])], hold=None)
            statements, changes = store.stats.statements, store.db.total_changes
            await detector.poll()
            out.append((store.stats.statements - statements, store.db.total_changes - changes))
        return out[0], out[1]
    finally:
        await store.close()


def above(value: int) -> int:
    found = DEFAULT_LADDER.next_above(value)
    assert found is not None
    return found


months = st.lists(st.integers(0, 3_000), min_size=1, max_size=8)


@settings(FUZZ, max_examples=min(FUZZ.max_examples, 25))
@given(history=months, other=months, extra=st.integers(0, 200_000), back=st.integers(0, 10**6))
@pytest.mark.slow
def test_a_maximal_figure_costs_what_an_ordinary_crossing_does(
    runner: asyncio.Runner, history: list[int], other: list[int], extra: int, back: int
) -> None:
    # The ordinary figure tells what the maximal one does: in every series it moves (the Leaf,
    # Nissan, the Alliance: the Leaf's own total; all EVs: with Tesla's) it crosses a threshold
    # that the revision back to `back` takes it below again (the maximum's crossing has one).
    # Then both polls differ only in how many thresholds their ranges hold.
    other = other[: len(history)]  # Tesla's months end before the Leaf's new one
    totals = (sum(history), sum(history) + sum(other))
    figure = extra + max(above(total + back) - total for total in totals)
    with tempfile.TemporaryDirectory() as folder:
        normal = runner.run(costs(Path(folder) / "n.db", history, other, figure, back))
        huge = runner.run(costs(Path(folder) / "h.db", history, other, MAX_UNITS, back))
    assert huge == normal
