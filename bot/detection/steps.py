"""The pure steps of detection on one series' figures: its milestones, its growth and record
months, a model's share of a parent, and the order series are detected (and told) in.

The running detector (`bot.detection.detector`) and `replay` both take these steps; neither
reads anything here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

from bot.domain.events import (
    Event,
    GrowthEvent,
    Leader,
    Metric,
    MilestoneEvent,
    RecordEvent,
    ShareEvent,
    Subject,
)
from bot.domain.growth import eligible, record_month, year_to_date
from bot.domain.ladders import Ladder, union_next_above
from bot.domain.milestones import Correction, Recorded, crossing_ranges, group_new, reconcile
from bot.domain.periods import Month
from bot.domain.projection import project
from bot.domain.records import SeriesRef
from bot.domain.rungs import RungSet, union_rungs
from bot.domain.series import total_as_of
from bot.domain.series_state import SeriesView
from bot.domain.settings import Config
from bot.domain.shares import banding, step_level
from bot.domain.subjects import SubjectKey

SUMMED_KINDS = ("make", "group", "all")  # growth is told for these, not for every model


@dataclass(frozen=True)
class SeriesKey:
    subject: Subject
    region: str
    metric: Metric
    # a poll hashes thousands of keys many times: the subject's key stands for it, hashed once
    hashed: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hashed", hash((self.subject.key, self.region, self.metric)))

    def __hash__(self) -> int:
        return self.hashed

    def ref(self) -> SeriesRef:
        return SeriesRef(self.subject.key, self.subject.name, self.region, self.metric)


@dataclass
class MilestoneOutcome:
    """What one series' detection found: the ranges to write and drop, corrections, the event.

    `recorded` is what is recorded for the series after it, by lowest threshold.
    """

    recorded: dict[int, Recorded]
    new: list[Recorded] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    written: list[Recorded] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    event: MilestoneEvent | None = None


def detect_milestones(
    key: SeriesKey,
    series: Sequence[tuple[Month, int]],
    recorded: Mapping[int, Recorded],
    ladders: Sequence[Ladder] | RungSet,
    news: bool,
    source: str = "",
    news_from: Month | None = None,
    prior_peak: int | None = None,
) -> MilestoneOutcome:
    """Reconcile a series' crossings with what is recorded; one event for the new ones.

    A change moves the series only from its own month on, so a crossing before `news_from` (the
    earliest month a news change touched) was made by history alone: recorded, not announced.
    New ranges carry `history` accordingly.

    With `prior_peak`, `series` is only the part since a kept state whose peak it was: every
    threshold up to that peak is recorded and stands (its first crossing is older), so only the
    thresholds above it are looked for, and `recorded` need only hold those (and any flagged
    below). Which thresholds were crossed is arithmetic on the ladders: the cost is that of
    the series' months, never of the thresholds between its figures.
    """
    if not series and not recorded:
        return MilestoneOutcome(dict(recorded))
    rungs = ladders if isinstance(ladders, RungSet) else union_rungs(ladders)
    if prior_peak is not None and not recorded:
        peak = max((v for _, v in series), default=0)
        if peak < (rungs.next_above(prior_peak) or peak + 1):
            return MilestoneOutcome({})  # the usual month: no threshold above the kept peak
    computed = crossing_ranges(series, rungs, prior_peak)
    found = reconcile(recorded, computed, rungs, prior_peak)
    announced = [r for r in found.new if news and (news_from is None or r.period >= news_from)]
    told = {r.lowest for r in announced}
    # a new range is history unless it is told; the rest keep what they were
    fresh = {r.lowest for r in found.new}
    written = [
        replace(r, history=r.lowest not in told) if r.lowest in fresh else r for r in found.written
    ]
    for r in written:
        found.recorded[r.lowest] = r
    outcome = MilestoneOutcome(
        found.recorded,
        [replace(r, history=r.lowest not in told) for r in found.new],
        found.corrections,
        written,
        found.dropped,
    )
    grouped = group_new(announced, rungs.spec)
    if grouped is not None:
        crossed, period, value = grouped
        latest = series[-1][1]
        upcoming = rungs.next_above(latest)
        outcome.event = MilestoneEvent(
            subject=key.subject,
            region=key.region,
            metric=key.metric,
            thresholds=crossed,
            period=period,
            value=value,
            source=source,
            next_threshold=upcoming,
            projected=project(series, upcoming) if upcoming else None,
        )
    return outcome


def growth_events(
    key: SeriesKey,
    monthly: Mapping[Month, int],
    month: Month,
    config: Config,
    source: str = "",
) -> list[Event]:
    """Year-to-date change and a record month for a series' latest month, when not noise."""
    if not monthly:
        return []
    first = min(m for m, v in monthly.items() if v) if any(monthly.values()) else month
    total, _ = total_as_of(monthly, month)
    return growth_events_from(
        key, monthly, month, first, total, lambda: record_month(monthly, month), config, source
    )


def growth_events_from(
    key: SeriesKey,
    recent: Mapping[Month, int],
    month: Month,
    first: Month,
    total: int,
    record: Callable[[], tuple[int, Month] | None],
    config: Config,
    source: str = "",
) -> list[Event]:
    """`growth_events` from what it needs: the figures of `month` and of the months since
    January of the year before (`recent`), the first month with units (`first`), the cumulative
    figure at `month`, and `record`, the previous best month when `month` beats it (asked for
    only when the subject is eligible)."""
    ms = config.milestones
    if key.metric == "stock":
        return []  # stock is a level: told as vehicles registered, never as a month's additions
    if not eligible(first, month, total, ms.min_months, ms.min_parent_total):
        return []
    events: list[Event] = []
    # a year-earlier window the subject only partly existed in is no comparison
    if key.subject.kind in SUMMED_KINDS and first <= Month(month.year - 1, 1):
        value, previous = year_to_date(recent, month)
        if previous > 0:
            events.append(
                GrowthEvent(key.subject, key.region, key.metric, month, value, previous, source)
            )
    if key.metric == "sales":
        found = record()
        if found is not None:
            best, best_month = found
            events.append(
                RecordEvent(
                    key.subject,
                    key.region,
                    key.metric,
                    month,
                    recent.get(month, 0),
                    best,
                    best_month,
                    source,
                )
            )
    return events


def share_step(
    level: float | None,
    model_total: int,
    parent_total: int,
    first: Month,
    month: Month,
    config: Config,
) -> tuple[float | None, float | None, str | None]:
    """(new level, boundary, direction) of a model's share in a parent after one observation."""
    ms = config.milestones
    if parent_total <= 0 or not eligible(
        first, month, parent_total, ms.min_months, ms.min_parent_total
    ):
        return level, None, None
    share = min(1.0, max(0.0, model_total / parent_total))
    new_level, direction, boundary = step_level(
        level, share, banding(ms.share_band / 100, ms.share_hysteresis / 100)
    )
    return new_level, boundary, direction


def share_event(
    key: SeriesKey,
    parent: Subject,
    direction: str | None,
    boundary: float,
    units: int,
    parent_units: int,
    month: Month,
    source: str,
) -> ShareEvent:
    """The event for a model's share of a parent crossing a band boundary."""
    return ShareEvent(
        key.subject,
        parent,
        key.region,
        key.metric,
        "down" if direction == "down" else "up",
        boundary,
        units / parent_units,
        units,
        parent_units,
        month,
        source,
    )


def with_leader(event: MilestoneEvent, leader: Leader | None) -> MilestoneEvent:
    return replace(event, leader=leader)


_KIND_ORDER = {"group": 0, "make": 1, "model": 2, "all": 3, "region": 4}


def series_order(key: SeriesKey) -> tuple[int, str, str, str]:
    return (_KIND_ORDER[key.subject.kind], key.subject.name, key.region, key.metric)


def item_order(item: tuple[SeriesKey, object]) -> tuple[int, str, str, str]:
    """`series_order` of a (key, value) item."""
    key = item[0]
    return (_KIND_ORDER[key.subject.kind], key.subject.name, key.region, key.metric)


def model_keys(subject: Subject) -> tuple[str, str]:
    """A model's make and model keys."""
    # a poll asks for every touched model's: taken apart as `SubjectKey.parse` does, without
    # making one (any other key goes through it, and raises there)
    kind, _, rest = subject.key.partition(":")
    make, slash, model = rest.partition("/")
    if kind == "model" and slash:
        return make, model
    key = SubjectKey.parse(subject.key)
    return key.make, key.model


def next_above_of(ladders: Sequence[Ladder]) -> Callable[[int], int | None]:
    """`union_next_above` over `ladders`, asked once per series: with the usual one ladder,
    that ladder's own."""
    if len(ladders) == 1:
        return ladders[0].next_above
    return partial(union_next_above, ladders)


def record_of(view: SeriesView) -> tuple[int, Month] | None:
    """The previous best month when the view's latest month beats it (a record), else None."""
    units = view.monthly.get(view.latest, 0)
    if view.best is None or units <= view.best[0]:
        return None
    return view.best
