"""Crossing detection over a cumulative series, and reconciliation with what is already recorded.

A milestone is recorded once, forever. Later data can move its crossing month, take the series
back below it, or bring it back: each of these is a correction for the log, never a new
announcement.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from bot.periods import Month

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
    """A milestone as stored: announced (or recorded as history) once, kept forever.

    `below` is True once a correction found the series no longer reaches `threshold`.
    """

    threshold: int
    period: Month
    value: int
    below: bool = False


@dataclass(frozen=True, slots=True)
class Correction:
    """A change to a recorded milestone; logged, never announced as news.

    `new_period` and `new_value` are None when the series fell back below the threshold.
    """

    threshold: int
    old_period: Month
    new_period: Month | None
    old_value: int
    new_value: int | None
    reason: CorrectionReason


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What one detection found against the recorded milestones; every list is by threshold."""

    new: list[tuple[int, Month, int]] = field(default_factory=list)
    moved: list[Correction] = field(default_factory=list)
    fell_below: list[Correction] = field(default_factory=list)
    restored: list[Correction] = field(default_factory=list)

    @property
    def corrections(self) -> list[Correction]:
        """All corrections, by threshold."""
        return sorted(self.moved + self.fell_below + self.restored, key=lambda c: c.threshold)


def reconcile(
    recorded: Mapping[int, Recorded], computed: Mapping[int, tuple[Month, int]]
) -> Reconciliation:
    """Compare recorded milestones with freshly computed first crossings.

    `computed` must come from `first_crossings` over thresholds that include every recorded
    one: a recorded threshold missing from `computed` is taken as no longer reached. Only
    thresholds never recorded are `new`; a change of value within the same crossing month is
    not a correction (the recorded figure is the one that was announced).
    """
    result = Reconciliation()
    for threshold in sorted(computed.keys() - recorded.keys()):
        month, value = computed[threshold]
        result.new.append((threshold, month, value))
    for threshold in sorted(recorded):
        old = recorded[threshold]
        now = computed.get(threshold)
        if now is None:
            if not old.below:
                result.fell_below.append(
                    Correction(threshold, old.period, None, old.value, None, "fell_below")
                )
        elif old.below:
            result.restored.append(
                Correction(threshold, old.period, now[0], old.value, now[1], "restored")
            )
        elif now[0] != old.period:
            result.moved.append(
                Correction(threshold, old.period, now[0], old.value, now[1], "moved")
            )
    return result


def apply_reconciliation(
    recorded: Mapping[int, Recorded], reconciliation: Reconciliation
) -> dict[int, Recorded]:
    """The recorded milestones after storing a reconciliation's new milestones and corrections.

    A milestone that fell below keeps its last period and value, flagged `below`.
    """
    updated = dict(recorded)
    for threshold, month, value in reconciliation.new:
        updated[threshold] = Recorded(threshold, month, value)
    for correction in reconciliation.fell_below:
        updated[correction.threshold] = replace(updated[correction.threshold], below=True)
    for correction in reconciliation.moved + reconciliation.restored:
        if correction.new_period is None or correction.new_value is None:
            raise ValueError(f"correction {correction} has no new period and value")
        updated[correction.threshold] = Recorded(
            correction.threshold, correction.new_period, correction.new_value
        )
    return updated


def group_new(
    new: list[tuple[int, Month, int]],
) -> list[tuple[tuple[int, ...], Month, int]]:
    """Fold one series' new crossings into one event: (ascending thresholds, period, value).

    The period and value are those of the highest threshold, however far apart the crossings
    are; an empty input gives an empty list.
    """
    if not new:
        return []
    ordered = sorted(new, key=lambda item: item[0])
    _, period, value = ordered[-1]
    return [(tuple(threshold for threshold, _, _ in ordered), period, value)]
