"""Plain records that cross the store port."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.domain.events import Event
from bot.domain.milestones import Correction, Recorded
from bot.domain.periods import Month

MetricName = Literal["sales", "stock"]
POWERTRAINS = ("BEV", "PHEV", "FCEV")


@dataclass(frozen=True, slots=True)
class SalesRecord:
    """One figure: units of a make/model in a region and period (a period figure or running total).

    `make` and `model` are empty for totals that have no such dimension (a country's EV sales).
    """

    period: str  # canonical YYYY, YYYY-MM or YYYY-MM-DD
    region: str
    make: str
    model: str
    units: int
    powertrain: str = ""  # BEV, PHEV, FCEV or "" when not given
    cumulative: bool = False  # True: `units` is a running total as of `period`
    line: int = 0  # where it came from, for messages


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """A named source of figures; `priority` picks between overlapping sources (lower wins)."""

    id: int
    name: str
    metric: MetricName
    priority: int
    imports: int
    latest_month: Month | None
    running: bool = False  # publishes running totals (its figures are levels)
    yearly: frozenset[int] = frozenset()  # years it gives whole (yearly figures), not by month


# what an import that is its sources' whole figure set does with the figures it lacks
# (`import_stream(snapshot=...)`): refuse (the data went backwards) or remove them
REFUSE_SHRINK, REMOVE_MISSING = "refuse", "remove"


@dataclass(slots=True)
class ImportSummary:
    """What an import did (or, in a dry run, would do)."""

    source: str
    rows_read: int = 0
    records: int = 0  # distinct figures after de-duplication and aggregation
    new: int = 0
    revised: int = 0
    unchanged: int = 0
    removed: int = 0  # figures the source held that a snapshot no longer has (allow_shrink)
    duplicates: int = 0  # exact duplicate rows, counted once
    skipped: int = 0  # rows left out by the source's include filters
    first_import: bool = False
    dry_run: bool = False
    journal_from: int = 0  # first journal sequence written by this import (0: none)
    journal_to: int = 0
    notices: list[str] = field(default_factory=list)  # e.g. the duplicates counted once


# not frozen: a poll makes tens of thousands from the rows it reads, and a frozen dataclass's
# __init__ sets each field through object.__setattr__ (three times the cost of a plain one's).
# Nothing changes a row once made.
@dataclass(slots=True)
class IncRow:
    """A monthly increment of a cumulative series, from one source in one region.

    For a model series `make_key`/`model_key` are set; for a make series `model_key` is "";
    for the all-EVs series both are "".
    """

    source_id: int
    region: str
    make_key: str
    model_key: str
    month: Month
    inc: int


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One changed (source, region, make, model, month) cell, in commit order."""

    seq: int
    source_id: int
    region: str
    make_key: str
    model_key: str
    month: Month
    history: bool


@dataclass(frozen=True, slots=True)
class ModelName:
    make_key: str
    model_key: str
    make: str
    model: str


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """A configured group of makes, each member valid from/to an optional month (inclusive)."""

    name: str
    members: tuple[GroupMember, ...]
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GroupMember:
    make: str
    valid_from: Month | None = None
    valid_to: Month | None = None

    def covers(self, month: Month) -> bool:
        if self.valid_from is not None and month < self.valid_from:
            return False
        return self.valid_to is None or month <= self.valid_to


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """What an import needs to know about its source before writing."""

    name: str
    metric: MetricName = "sales"
    priority: int = 100


@dataclass(slots=True)
class StoreStats:
    """Counters a test can read to prove what a call did (not a timing)."""

    statements: int = 0
    rows_read: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SeriesRef:
    """One detected series: a subject in a region, for one metric."""

    subject_key: str
    subject_name: str
    region: str
    metric: str


@dataclass
class DetectionWrite:
    """Everything one detection run records, written with the watermark in one transaction."""

    milestones: list[tuple[SeriesRef, Recorded, bool]] = field(default_factory=list)  # history?
    # stored milestone ranges replaced by others, by their lowest threshold
    milestone_drops: list[tuple[SeriesRef, int]] = field(default_factory=list)
    ladder: str = ""  # the spec of the rungs the milestones are ranges of
    corrections: list[tuple[SeriesRef, Correction]] = field(default_factory=list)
    share_levels: dict[tuple[str, str, str, str], float | None] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    event_keys: list[list[str]] = field(default_factory=list)  # subjects covering each event
    # the holds (ids) each event depends on, parallel to `events` (empty: none, or not judged);
    # a held event is stored but not fanned out (`bot.domain.holds`)
    holds: list[tuple[int, ...]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as recorded, with the id the outbox refers to."""

    id: int
    event: Event


class ImportFailed(ValueError):
    """The file has problems; nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
