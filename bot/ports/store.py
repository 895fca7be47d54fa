"""The store port: what the core needs from any database (SQLite or PostgreSQL), by role.

Every implementation passes the contract suite in `tests/store_contract.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from bot.domain.periods import Month
from bot.domain.plausibility import DEFAULT_RULE, Hold, HoldRule
from bot.domain.records import (
    GroupSpec,
    ImportSummary,
    IncRow,
    JournalEntry,
    ModelName,
    SalesRecord,
    SourceInfo,
    SourceSpec,
    StoreStats,
)
from bot.domain.staging import StagedChunk
from bot.ports.fetches import FetchStateRows
from bot.ports.installations import SlackInstallationRows
from bot.ports.market_shares import MarketShareRows
from bot.ports.mutes import MuteRows
from bot.ports.outbox import OutboxRows
from bot.ports.templates import TemplateRows

if TYPE_CHECKING:
    from bot.domain.channels import Channel
    from bot.domain.deliveries import DeliveryRow
    from bot.domain.events import Event
    from bot.domain.milestones import Recorded
    from bot.domain.records import DetectionWrite, StoredEvent
    from bot.domain.series_state import SeriesState
    from bot.domain.subscriptions import FanoutPlan, Subscription, SubscriptionSpec


class StoreError(RuntimeError):
    """The store cannot do what was asked (bad file, newer schema, conflicting source)."""


class SalesStore(MarketShareRows, Protocol):
    """Sales figures with revision semantics, kept aggregates and a change journal."""

    stats: StoreStats

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None:
        """Close the connection; safe to call twice."""

    async def import_records(
        self,
        batches: Sequence[tuple[SourceSpec, Sequence[SalesRecord]]],
        *,
        file: str = "",
        dry_run: bool = False,
        hold: HoldRule | None = DEFAULT_RULE,
    ) -> list[ImportSummary]:
        """Write one import (records by source) as one transaction; a known key is a revision.

        A revision replaces the figure, never adds to it. With `dry_run` nothing is written, and
        the summaries say what would have changed.
        """

    async def import_stream(
        self,
        chunks: AsyncIterable[StagedChunk | None],
        spec_for: Callable[[str], SourceSpec],
        *,
        file: str = "",
        dry_run: bool = False,
        aggregate: bool = False,
        hold: HoldRule | None = DEFAULT_RULE,
        snapshot: str = "",
    ) -> list[ImportSummary]:
        """Write chunks of rows (`bot.domain.staging`) as one import, holding only a chunk at a
        time.

        `snapshot`: the stream is each source's whole figure set. "refuse": figures a source
        holds that the stream lacks make an `ImportFailed` saying so; "remove": they are
        removed, journalled as a revision (`ImportSummary.removed`). "" (a file): kept.

        Each figure written is judged by `hold` (None: nothing is held): a held figure is kept,
        its source's summary gets a notice (FILE:LINE, or the source when aggregated, and why),
        and the events that depend on it are held (`bot.domain.holds`) until released.

        Repeated keys are de-duplicated (an exact repeat counted once with a notice in its
        source's summary, a conflicting one an `ImportFailed` problem) or, with `aggregate`,
        summed. A `None` chunk restarts the stream. An exception from the stream (the parser's
        `ImportFailed`) rolls everything back; its problems are merged with the store's.
        """

    async def sources(self) -> list[SourceInfo]:
        """Every known source, by id."""

    async def model_names(self) -> list[ModelName]:
        """Every make/model that has figures, with its display names."""

    async def make_names(self) -> dict[str, str]:
        """Make key -> display name, for every make that has figures."""

    async def name_rows(self) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
        """The makes' (key, display) and models' (make key, model key, display) rows as
        stored, in no set order: what a reader keeping names compares its copy with."""

    async def names_version(self) -> int | None:
        """A number that every change to the makes' or models' rows moves, by any process,
        visible when the change is (None: not kept, compare the rows). Read before
        `name_rows`, the rows hold at least every change the number counts."""

    async def regions(self) -> list[str]:
        """Every region that has figures."""

    async def model_increments(self, make_key: str, model_key: str) -> list[IncRow]:
        """Monthly increments of one model, every source and region, ordered by month."""

    async def make_increments(self, make_keys: Sequence[str]) -> list[IncRow]:
        """Monthly increments of whole makes (all their models), ordered by month."""

    async def all_increments(self) -> list[IncRow]:
        """Monthly increments of everything, per source and region, ordered by month."""

    async def parts_between(
        self,
        make_keys: Sequence[str] | None,
        first: Month,
        last: Month,
        *,
        whole_makes: bool = False,
    ) -> list[IncRow]:
        """The cells from `first` to `last`, figures of 0 included (a source that gave 0
        is chosen for its year like any other): of the models of `make_keys`, or with None, of
        every make (what a total of all EVs is made of). With `whole_makes`, the makes' own
        sums (as `make_increments` reads them) instead of their models' cells."""

    async def pairs_between(
        self, make_keys: Sequence[str] | None, first: Month, last: Month
    ) -> list[tuple[str, int, str, int]]:
        """Each (make key, year, region, source id) the makes' own sums have a cell of from
        `first` to `last` (of every make with None), once, in no order: what a basis of
        `parts_between(..., whole_makes=True)` depends on, without its rows."""

    async def models_gone(
        self,
        make_keys: Sequence[str],
        before: Month,
        end: Month,
        before_pair: tuple[str, int],
        end_pair: tuple[str, int],
    ) -> list[tuple[str, str]]:
        """The (make key, model key) of the makes' models (and their own figures, model key
        "": the models `parts_between` reads) with units in `before` from `before_pair`'s
        (region, source id) and none in `end` from `end_pair`'s: what compares unlike parts
        of a year to date, found without reading the cells of either month."""

    async def models_gone_among(
        self,
        models: Sequence[tuple[str, str]],
        before: Month,
        end: Month,
        before_pair: tuple[str, int],
        end_pair: tuple[str, int],
    ) -> list[tuple[str, str]]:
        """`models_gone` of the (make key, model key) `models` alone (model key "": the make's
        own figures), for a caller that knows the others are not gone."""

    async def powertrain_increments(
        self, powertrain: str, make_key: str | None = None, model_key: str | None = None
    ) -> list[IncRow]:
        """Monthly increments of one powertrain (BEV, PHEV or FCEV) per model (`powertrain_cells`),
        ordered by month: every model's, a make's (`make_key`) or one model's (both keys; a
        country total's are both ""). A make's or all EVs' split is the sum of these."""

    async def every_model_increment(self) -> list[IncRow]:
        """Every model's increments at once, for building an in-memory read model."""

    async def journal_head(self) -> int:
        """The sequence of the newest journal entry (0 when empty)."""

    async def journal_since(self, seq: int, limit: int = 10_000) -> list[JournalEntry]:
        """Journal entries with a sequence above `seq`, oldest first."""

    async def sync_groups(self, groups: Sequence[GroupSpec]) -> None:
        """Replace the stored groups of makes and their aliases with the configured ones."""

    async def groups(self) -> list[GroupSpec]:
        """The stored groups of makes."""


class BotStore(
    SalesStore,
    OutboxRows,
    SlackInstallationRows,
    MuteRows,
    FetchStateRows,
    TemplateRows,
    Protocol,
):
    """Everything the running bot needs from its database: the sales port above, plus detection
    state, subscriptions, the outbox (`bot.ports.outbox`) and Slack installations. `SqliteStore`
    and `PgStore` both provide it; core modules that take "the store" are typed with it, not with
    one backend."""

    path: str  # what messages name: a file, or a DSN without its password

    # -- detection --------------------------------------------------------------------------

    async def watermark(self, name: str) -> int:
        """How far in the journal a reader called `name` has got (0: nowhere yet)."""
        ...

    async def recorded_milestones(
        self, subject_key: str, region: str, metric: str
    ) -> dict[int, Recorded]:
        """The milestone ranges recorded for one series, by lowest threshold."""
        ...

    async def share_level(self, key: tuple[str, str, str, str]) -> float | None:
        """The last announced or baselined share band of (model, parent, region, metric)."""
        ...

    # What a poll reads in batches (one statement each, whatever the number of series), so
    # that a poll over every series of a large store reads each series' state and new cells
    # once; see bot/detection/detector.py and bot/domain/series_state.py.

    async def journal_changes(
        self, after: int, upto: int
    ) -> list[tuple[int, str, str, str, Month, Month | None]]:
        """The cells the journal entries `after` < seq <= `upto` changed, once each: (source id,
        region, make key, model key, earliest month changed, earliest month a news change
        touched or None when all was history)."""
        ...

    async def recorded_milestones_of(
        self, series: Sequence[tuple[str, str, str, int | None]]
    ) -> dict[tuple[str, str, str], dict[int, Recorded]]:
        """The milestone ranges of many (subject key, region, metric, floor), by lowest
        threshold: all of a series when its floor is None, else only the ranges reaching above
        the floor."""
        ...

    async def share_levels_of(
        self, models: Sequence[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str, str], float | None]:
        """The share levels of many (model key, region, metric) in every parent, by (model,
        parent, region, metric); a pair never placed is absent."""
        ...

    async def series_states(
        self, series: Sequence[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], SeriesState]:
        """The kept detection states of many (subject key, region, metric); absent when none
        (or unreadable: the series is then read whole)."""
        ...

    async def increments_after(
        self,
        models: Sequence[tuple[str, str, Month]],
        makes: Sequence[tuple[str, Month]],
        everything: Month | None,
    ) -> tuple[list[IncRow], list[IncRow], list[IncRow]]:
        """Monthly increments after a month each: of (make key, model key, after) models, of
        (make key, after) whole makes, and of everything after a month (None: not wanted)."""
        ...

    async def save_detection(
        self,
        name: str,
        expected: int,
        new: int,
        write: DetectionWrite,
        plan_for: Callable[
            [list[tuple[StoredEvent, Sequence[str]]], list[Subscription]], FanoutPlan
        ]
        | None = None,
        now: float = 0.0,
        *,
        states: Sequence[SeriesState] = (),
    ) -> list[StoredEvent]:
        """Record a detection, fan it out, keep the detected series' `states` (replacing
        theirs), move the watermark `expected` -> `new`, atomically; StoreError when another
        detector moved it meanwhile."""
        ...

    async def events(self, after_id: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Recorded events with an id above `after_id`, oldest first."""
        ...

    async def holds(self, everything: bool = False) -> list[Hold]:
        """The figures held (with `everything`, released and revised ones too), oldest first."""
        ...

    async def held_event_ids(self) -> set[int]:
        """The events held now (never fanned out until their holds are released)."""
        ...

    async def release_hold(
        self,
        hold_id: int,
        plan_for: Callable[
            [list[tuple[StoredEvent, Sequence[str]]], list[Subscription]], FanoutPlan
        ],
        now: float,
    ) -> list[StoredEvent]:
        """Release a hold and fan out the events it alone held back, once, atomically;
        LookupError for no such hold, ValueError for one not held."""
        ...

    async def events_by_id(self, ids: Sequence[int]) -> dict[int, Event]:
        """Stored events by id."""
        ...

    async def milestone_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """Recorded milestone ranges (lowest, highest, count), newest crossing first."""
        ...

    async def correction_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """Corrections to recorded milestone ranges (lowest, highest, count), newest first."""
        ...

    # -- subscriptions ----------------------------------------------------------------------

    async def subscribe(self, spec: SubscriptionSpec) -> tuple[Subscription, bool]:
        """Create or update a subscription; returns it and whether it is new."""
        ...

    async def subscription(self, sub_id: int) -> Subscription | None:
        """One subscription by id."""
        ...

    async def subscriptions(self, channel: Channel | None = None) -> list[Subscription]:
        """Every subscription, or a channel's."""
        ...

    async def unsubscribe(self, channel: Channel, subject_key: str | None) -> int:
        """Remove a channel's subscription(s), cancelling what no longer has one."""
        ...

    async def unsubscribe_id(self, sub_id: int) -> Subscription | None:
        """Remove one subscription by id (cancelling what no subscription covers any more);
        returns it, or None when there is no such id."""
        ...

    async def resume(
        self, channel: Channel, subject_key: str | None = None, now: float | None = None
    ) -> int:
        """Resume a channel's paused subscriptions and what the pause held back."""
        ...

    async def set_flag(self, name: str, value: str = "") -> None:
        """Raise a store flag that the next detection consumes
        (`bot.domain.corrections.SILENT_FLAG`)."""
        ...

    # -- preview: indexed reads, whatever the number of other events and channels -----------

    async def events_about(
        self, subject_key: str, region: str, limit: int = 5
    ) -> list[StoredEvent]:
        """The newest `limit` events about one subject in one region, oldest first."""
        ...

    async def channel_deliveries(
        self, channel: Channel, event_ids: Sequence[int]
    ) -> dict[int, DeliveryRow]:
        """The newest delivery to `channel` of each of `event_ids` that it was sent in."""
        ...
