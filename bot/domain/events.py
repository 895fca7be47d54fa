"""Events the detector finds: the plain records the announcer turns into messages.

Two events tell the same fact when they have the same kind, metric, threshold and period over
the same contributing figures (`basis`): the world that is only the USA, a make with one model.
Detection keeps both; each channel hears the fact once (bot.domain.facts, bot.domain.subscriptions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.domain.periods import Month
from bot.domain.rungs import RungRange, listed_range

SubjectKind = Literal["model", "make", "group", "region", "all"]
Metric = Literal["sales", "stock"]
EventKind = Literal["milestone", "share", "growth", "record", "correction"]
CorrectionReason = Literal["moved", "fell_below", "restored"]
# A yearly figure is held as its year's last month, `granularity` says it is a year.
Granularity = Literal["month", "year"]


@dataclass(frozen=True, slots=True)
class Subject:
    """What a figure is about. `key` is stable and used in storage; `name` is for people."""

    kind: SubjectKind
    key: str  # e.g. "model:nissan/leaf", "make:nissan", "group:renault-nissan-alliance", "all"
    name: str  # e.g. "Nissan Leaf", "Nissan", "Renault-Nissan Alliance", "all EVs"


@dataclass(frozen=True, slots=True)
class Leader:
    """The model with the largest share of a make or group at the event's period."""

    name: str
    units: int
    share: float  # 0..1


@dataclass(frozen=True, slots=True)
class MilestoneEvent:
    """One or more thresholds of one subject crossed in one detection: one event, however many
    thresholds (a range of them: never one by one)."""

    subject: Subject
    region: str
    metric: Metric
    thresholds: RungRange  # the highest is the headline
    period: Month  # the month in which the highest threshold was first reached
    value: int  # the cumulative figure at `period`
    source: str = ""
    leader: Leader | None = None
    next_threshold: int | None = None
    projected: Month | None = None  # when `next_threshold` is reached at the trailing pace
    # a cumulative figure that is its region's own since a year, of fewer regions before
    since: int = 0
    before: tuple[str, ...] = ()
    granularity: Granularity = "month"  # "year": `period` (and other months) stand for years
    # the regions the figure is made of when they are not all of `region` (the world's figure
    # from US figures alone: ("USA",)); empty when the figure is the region's own
    covers: tuple[str, ...] = ()
    basis: str = (
        ""  # which figures it is made of (bot.domain.facts); "" = never the same as another
    )
    same_as: tuple[tuple[Subject, str], ...] = ()  # (subject, region) telling the same fact
    told_as: Subject | None = None  # the subscribed subject it is told to, when not its own
    kind: EventKind = field(default="milestone", init=False)

    def __post_init__(self) -> None:
        # thresholds given one by one (as events were built before ranges) name their own rungs
        if not isinstance(self.thresholds, RungRange):
            object.__setattr__(self, "thresholds", listed_range(self.thresholds))

    @property
    def headline(self) -> int:
        return self.thresholds.highest


@dataclass(frozen=True, slots=True)
class ShareEvent:
    """A model's cumulative share of a parent (make or group) crossed a band boundary."""

    subject: Subject  # the model
    parent: Subject  # the make or group
    region: str
    metric: Metric
    direction: Literal["up", "down"]
    boundary: float  # the band boundary crossed, 0..1 (e.g. 0.70)
    share: float  # the share now, 0..1
    units: int
    parent_units: int
    period: Month
    source: str = ""
    granularity: Granularity = "month"  # "year": `period` (and other months) stand for years
    # the regions the figure is made of when they are not all of `region` (the world's figure
    # from US figures alone: ("USA",)); empty when the figure is the region's own
    covers: tuple[str, ...] = ()
    basis: str = (
        ""  # which figures it is made of (bot.domain.facts); "" = never the same as another
    )
    same_as: tuple[tuple[Subject, str], ...] = ()  # (subject, region) telling the same fact
    told_as: Subject | None = None  # the subscribed subject it is told to, when not its own
    kind: EventKind = field(default="share", init=False)


@dataclass(frozen=True, slots=True)
class GrowthEvent:
    """Year to date against the same months a year earlier."""

    subject: Subject
    region: str
    metric: Metric
    period: Month  # the last month of the year-to-date window
    value: int  # units from January to `period`
    previous: int  # units in the same months a year earlier
    source: str = ""
    granularity: Granularity = "month"  # "year": `period` (and other months) stand for years
    # the regions the figure is made of when they are not all of `region` (the world's figure
    # from US figures alone: ("USA",)); empty when the figure is the region's own
    covers: tuple[str, ...] = ()
    basis: str = (
        ""  # which figures it is made of (bot.domain.facts); "" = never the same as another
    )
    same_as: tuple[tuple[Subject, str], ...] = ()  # (subject, region) telling the same fact
    told_as: Subject | None = None  # the subscribed subject it is told to, when not its own
    kind: EventKind = field(default="growth", init=False)

    @property
    def change(self) -> float:
        """Relative change, e.g. 0.149 for +14.9 %."""
        return (self.value - self.previous) / self.previous if self.previous else 0.0


@dataclass(frozen=True, slots=True)
class RecordEvent:
    """A subject's best month so far."""

    subject: Subject
    region: str
    metric: Metric
    period: Month
    value: int  # units in `period`
    previous_best: int
    previous_best_period: Month | None
    source: str = ""
    granularity: Granularity = "month"  # "year": `period` (and other months) stand for years
    # the regions the figure is made of when they are not all of `region` (the world's figure
    # from US figures alone: ("USA",)); empty when the figure is the region's own
    covers: tuple[str, ...] = ()
    basis: str = (
        ""  # which figures it is made of (bot.domain.facts); "" = never the same as another
    )
    same_as: tuple[tuple[Subject, str], ...] = ()  # (subject, region) telling the same fact
    told_as: Subject | None = None  # the subscribed subject it is told to, when not its own
    kind: EventKind = field(default="record", init=False)


@dataclass(frozen=True, slots=True)
class CorrectionEvent:
    """A revision changed an announced milestone of a subject: it moved to another period
    (`moved`), the figure fell back below it (`fell_below`), or passed it again (`restored`).

    `period` and `value` are the cumulative figure now (its latest month); `old_period` and
    `old_value` are what was announced; `new_period` and `new_value` the crossing now (None
    when the figure is below the threshold).
    """

    subject: Subject
    region: str
    metric: Metric
    threshold: int
    reason: CorrectionReason
    period: Month
    value: int
    old_period: Month
    old_value: int
    new_period: Month | None = None
    new_value: int | None = None
    source: str = ""
    granularity: Granularity = "month"  # "year": `period` (and other months) stand for years
    covers: tuple[str, ...] = ()  # as for the other events: what the figure is made of
    basis: str = ""  # corrections are never merged as one fact with another event
    same_as: tuple[tuple[Subject, str], ...] = ()
    told_as: Subject | None = None
    kind: EventKind = field(default="correction", init=False)

    def corrects(self, event: MilestoneEvent) -> bool:
        """Whether `event` announced the milestone this corrects."""
        return (
            event.subject.key == self.subject.key
            and event.region == self.region
            and event.metric == self.metric
            and self.threshold in event.thresholds
        )


Event = MilestoneEvent | ShareEvent | GrowthEvent | RecordEvent | CorrectionEvent
