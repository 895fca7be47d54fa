"""Crossing detection over a cumulative series, and reconciliation with what is already recorded.

A milestone is recorded once, forever. Later data can move its crossing month, take the series
back below it, or bring it back: each of these is a correction for the log, never a new
announcement.

Milestones are ranges: the thresholds a series first reached in one month are one `Recorded`
(lowest, highest, count), found by arithmetic on the ladder (`bot.domain.rungs.RungSet`), so a
figure
of 10**12 costs what a figure of 10,000 does. Reconciliation lays the recorded ranges over the
computed ones and splits them only where what they say differs.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal

from bot.domain.periods import Month
from bot.domain.rungs import RungRange, RungSet

CorrectionReason = Literal["moved", "fell_below", "restored"]


def first_crossings(
    series: Sequence[tuple[Month, int]], thresholds: Iterable[int]
) -> dict[int, tuple[Month, int]]:
    """For each threshold, the first (month, value) of `series` whose value is >= it.

    `series` is (month, cumulative value) in strictly ascending month order; values may go
    down (revisions, registrations). Thresholds never reached are absent from the result.
    Runs in O(n + m log n) for n points and m thresholds.
    """
    running: list[int] = []
    peak: int | None = None
    previous: Month | None = None
    for month, value in series:
        if previous is not None and month <= previous:
            raise ValueError(f"series months must ascend: {month} follows {previous}")
        previous = month
        peak = value if peak is None else max(peak, value)
        running.append(peak)
    found: dict[int, tuple[Month, int]] = {}
    for threshold in thresholds:
        # The running peak first reaches a threshold exactly where a value first does.
        index = bisect_left(running, threshold)
        if index < len(running):
            found[threshold] = series[index]
    return found


@dataclass(frozen=True, slots=True)
class Recorded:
    """Milestones as stored: the `count` thresholds from `lowest` to `highest`, first reached
    in `period` at `value`; announced (or recorded as history) once, kept forever.

    `below` is True once a correction found the series no longer reaches them.
    """

    lowest: int
    highest: int
    count: int
    period: Month
    value: int
    below: bool = False
    history: bool = False


@dataclass(frozen=True, slots=True)
class Correction:
    """A change to recorded milestones (a range of them); logged, never announced as news.

    `new_period` and `new_value` are None when the series fell back below the thresholds.
    """

    lowest: int
    highest: int
    count: int
    old_period: Month
    new_period: Month | None
    old_value: int
    new_value: int | None
    reason: CorrectionReason


def crossing_ranges(
    series: Sequence[tuple[Month, int]], rungs: RungSet, above: int | None = None
) -> list[Recorded]:
    """The thresholds of `rungs` the series reaches, as one range per month that first reached
    some, ascending; only thresholds above `above` when it is given.

    `series` is (month, cumulative value) in strictly ascending month order; values may go
    down (revisions, registrations). O(n) steps for n points, each O(log) on the ladder.
    """
    out: list[Recorded] = []
    peak = 0 if above is None else above
    # the next rung above the peak: a month that stays below it crosses none (most months of
    # a series), and is told so by one comparison rather than by counting rungs
    upcoming = rungs.next_above(peak)
    previous: Month | None = None
    for month, value in series:
        if previous is not None and month <= previous:
            raise ValueError(f"series months must ascend: {month} follows {previous}")
        previous = month
        if value > peak:
            if upcoming is not None and value >= upcoming:
                found = rungs.crossed(peak, value)
                if found is not None:
                    out.append(Recorded(found.lowest, found.highest, found.count, month, value))
                upcoming = rungs.next_above(value)
            peak = value
    return out


@dataclass
class Reconciliation:
    """What one detection found against the recorded milestones, each list by lowest threshold.

    `recorded` is what is recorded after it (by lowest threshold); `written` the ranges to store
    (new or changed) and `dropped` the lowest thresholds of stored ranges no longer there.
    """

    new: list[Recorded] = field(default_factory=list)
    moved: list[Correction] = field(default_factory=list)
    fell_below: list[Correction] = field(default_factory=list)
    restored: list[Correction] = field(default_factory=list)
    recorded: dict[int, Recorded] = field(default_factory=dict)
    written: list[Recorded] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)

    @property
    def corrections(self) -> list[Correction]:
        """All corrections, by lowest threshold."""
        return sorted(self.moved + self.fell_below + self.restored, key=lambda c: c.lowest)


Outcome = Literal["new", "kept", "moved", "fell_below", "restored"]


def _outcome(
    old: Recorded | None, now: Recorded | None, settled: bool
) -> tuple[Outcome, Month, int, bool] | None:
    """What one stretch of thresholds becomes: (outcome, period, value, below)."""
    if old is None:
        if now is None:
            return None
        return "new", now.period, now.value, False
    if settled or (now is None and old.below):
        return "kept", old.period, old.value, old.below
    if now is None:
        return "fell_below", old.period, old.value, True
    if old.below:
        return "restored", now.period, now.value, False
    if now.period != old.period:
        return "moved", now.period, now.value, False
    return "kept", old.period, old.value, False


def reconcile(
    recorded: Mapping[int, Recorded],
    computed: Sequence[Recorded],
    rungs: RungSet,
    floor: int | None = None,
) -> Reconciliation:
    """Compare recorded milestone ranges with freshly computed ones (`crossing_ranges`).

    A recorded threshold no computed range holds is taken as no longer reached; with `floor`,
    only thresholds above it are compared (those at or below stand as recorded). Only
    thresholds never recorded are `new`; a change of value within the same crossing month is
    not a correction (the recorded figure is the one that was announced). The work is linear
    in the number of ranges, whatever they hold.
    """
    olds = sorted(recorded.values(), key=lambda r: r.lowest)
    nows = sorted(computed, key=lambda r: r.lowest)
    # stretches of values (x, y] between every range end, each with what covers it
    cuts = {r.lowest - 1 for r in olds} | {r.highest for r in olds}
    cuts |= {r.lowest - 1 for r in nows} | {r.highest for r in nows}
    if floor is not None:
        cuts.add(floor)
    points = sorted(cuts)
    result = Reconciliation()
    # a piece: [x, y, count, origin, outcome, period, value, below]
    pieces: list[tuple[int, int, int, Recorded | None, Outcome, Month, int, bool]] = []
    i = j = 0
    last_end: int | None = None  # where the last piece ended, gaps without rungs skipped
    for x, y in pairwise(points):
        while i < len(olds) and olds[i].highest <= x:
            i += 1
        while j < len(nows) and nows[j].highest <= x:
            j += 1
        old = olds[i] if i < len(olds) and olds[i].lowest - 1 <= x else None
        now = nows[j] if j < len(nows) and nows[j].lowest - 1 <= x else None
        found = _outcome(old, now, floor is not None and y <= floor)
        count = rungs.count(x, y) if found is not None else 0
        if found is None or not count:
            if found is None and rungs.count(x, y):
                last_end = None  # thresholds nobody recorded or reached break a run
            continue
        outcome, period, value, below = found
        if (
            pieces
            and last_end == pieces[-1][1]
            and pieces[-1][3:]
            == (
                old,
                outcome,
                period,
                value,
                below,
            )
        ):
            first, _, before = pieces[-1][:3]
            pieces[-1] = (first, y, before + count, old, outcome, period, value, below)
        else:
            pieces.append((x, y, count, old, outcome, period, value, below))
        last_end = y
    starts: set[int] = set()
    # a stored range none of whose thresholds is on the ladders now (they were changed) stays
    reached = {id(p[3]) for p in pieces if p[3] is not None}
    for x, y, count, old, outcome, period, value, below in pieces:
        lowest, highest = rungs.next_above(x), rungs.at_or_below(y)
        assert lowest is not None and highest is not None
        history = old.history if old is not None else False
        piece = Recorded(lowest, highest, count, period, value, below, history)
        result.recorded[lowest] = piece
        starts.add(lowest)
        if outcome == "new":
            result.new.append(piece)
        elif outcome != "kept":
            assert old is not None
            new_period, new_value = (None, None) if outcome == "fell_below" else (period, value)
            correction = Correction(
                lowest, highest, count, old.period, new_period, old.value, new_value, outcome
            )
            {"moved": result.moved, "fell_below": result.fell_below}.get(
                outcome, result.restored
            ).append(correction)
        same = old is not None and (old.lowest, old.highest, old.count) == (lowest, highest, count)
        if outcome != "kept" or not same:
            result.written.append(piece)
    result.dropped = [r.lowest for r in olds if r.lowest not in starts and id(r) in reached]
    for r in olds:
        if id(r) not in reached:
            result.recorded[r.lowest] = r
    return result


def group_new(new: Sequence[Recorded], ladder: str) -> tuple[RungRange, Month, int] | None:
    """Fold one series' new crossings into one event: (the range, period, value).

    The period and value are those of the highest threshold, however far apart the crossings
    are; the count is that of the thresholds crossed. None for no crossings.
    """
    if not new:
        return None
    ordered = sorted(new, key=lambda r: r.lowest)
    top = ordered[-1]
    crossed = RungRange(ladder, ordered[0].lowest, top.highest, sum(r.count for r in ordered))
    return crossed, top.period, top.value
