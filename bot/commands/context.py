"""What every command reads: the store (for subscriptions), the configuration and the read model,
in one `CommandContext` that builds nothing itself (`bot.app.bootstrap.open_commands` builds
one over an open store)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from bot.commands.completion import NameIndex
from bot.domain.coverage import Basis, SourceFacts, Told
from bot.domain.events import Subject
from bot.domain.hierarchy import Hierarchy
from bot.domain.ladders import Ladder
from bot.domain.messages import Message
from bot.domain.periods import Month
from bot.domain.plausibility import Hold
from bot.domain.settings import Config
from bot.ports.store import BotStore
from bot.reading.queries import TotalAnswer
from bot.reading.read_model import ReadModel, Series

REFRESH_SECONDS = 1.0  # a command refreshes the read model when it is older than this
# below this many models a name index builds in milliseconds: built at once, never stale
SMALL_CATALOG = 1_000

# a running total told: the answer with its coverage, sources and explanation, and its message
# before what the holds and the explanation add
TotalWords = tuple[TotalAnswer, Message]

# a series' recent crossings, its total, the next threshold and its projected month
MilestoneFacts = tuple[list[tuple[int, tuple[Month, int]]], int, int | None, Month | None]


class CommandContext:
    """What commands need: the store (for subscriptions), the configuration and the read model."""

    def __init__(
        self,
        store: BotStore,
        config: Config,
        model: ReadModel,
        *,
        hierarchy: Hierarchy,
        ladders: list[Ladder],
        subscription_ladders: dict[str, Ladder],
        holds: Sequence[Hold] = (),
        clock: Callable[[], float] = time.time,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self.store = store
        self.config = config
        self.model = model
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self.ladders = ladders  # the configured ladders: the milestones' thresholds
        self.subscription_ladders = subscription_ladders  # by name, as a subscription names them
        self.hierarchy = hierarchy  # which subjects cover which
        self.last_refresh = clock()
        # told each command's time, e.g. the /metrics latency histogram
        self.latency_observers: list[Callable[[float], None]] = []
        self._refreshing: asyncio.Task[int] | None = None
        self._names: NameIndex | None = None
        self._names_version = -1
        self._names_task: asyncio.Future[NameIndex] | None = None
        self.milestone_memo: dict[int, tuple[Series, MilestoneFacts]] = {}
        # /ev-milestones messages by (series, subject's name, region, metric, powertrain,
        # locale), each with its series
        self.milestone_words: dict[tuple[int, str, str, str, str, str], tuple[Series, Message]] = {}
        # a total's words per (answer, locale), with the answer and the model's version
        self.total_memo: dict[tuple[int, str], tuple[TotalAnswer, int, TotalWords]] = {}
        # how a total is told (`running_total.kept_told`) by (basis, region, month told, year
        # asked, locale), with the basis and the facts it was told under
        self.told_memo: dict[
            tuple[int, str, int | None, int | None, str], tuple[Basis, SourceFacts, Told]
        ] = {}
        # figures held as implausible: answers say "unconfirmed"
        self.holds: list[Hold] = list(holds)
        self._facts: tuple[ReadModel, int, SourceFacts] | None = None

    async def refresh(self) -> int:
        """Bring the read model up to the journal's head now."""
        self.last_refresh = self.clock()
        version = await self.model.refresh()
        self.holds = await self.store.holds()
        if self._names is not None and self._names_version != self.model.version:
            self.rebuild_names()  # ready before the next keystroke, which then never waits
        return version

    def facts(self) -> SourceFacts:
        """The read model's facts of its sources (`ReadModel.facts`), made once per version of
        the model: its sources change only with a load or a refresh, which bump it."""
        kept = self._facts
        if kept is None or kept[0] is not self.model or kept[1] != self.model.version:
            kept = self._facts = (self.model, self.model.version, self.model.facts)
        return kept[2]

    async def maybe_refresh(self) -> None:
        """Refresh when stale; concurrent commands do not wait for a refresh under way."""
        if self.clock() - self.last_refresh < self.refresh_seconds:
            return
        if self._refreshing is not None and not self._refreshing.done():
            return
        self._refreshing = asyncio.ensure_future(self.refresh())
        await self._refreshing

    def names(self) -> NameIndex:
        """The name index of autocomplete and "did you mean". Built here only when there is
        none yet (a one-shot command) or the catalog is small; otherwise, after a refresh, the
        previous index answers until the rebuild under way off the loop lands (the new names
        join a moment later), so no keystroke waits for a big catalog's index."""
        version = self.model.version
        if self._names is not None and self._names_version == version:
            return self._names
        if self._names is None or len(self.model.catalog.models) < SMALL_CATALOG:
            self._names = NameIndex.build(
                self.model.catalog, self.config, self.model.world_sales_of
            )
            self._names_version = version
        else:
            self.rebuild_names()
        return self._names

    def rebuild_names(self) -> None:
        """Start building the current version's name index off the loop, unless under way."""
        if self._names_task is None or self._names_task.done():
            self._names_task = asyncio.ensure_future(self._build_names())

    async def prepare_names(self) -> NameIndex:
        """The name index of the read model's current version, built ahead of the first
        keystroke (waiting for a build under way rather than starting a second)."""
        if self._names_task is not None and not self._names_task.done():
            await self._names_task
        return await self._build_names()

    async def _build_names(self) -> NameIndex:
        # the subjects' sizes a few hundred at a time on the loop (they read the model), the
        # index in a worker thread (0.7 s of string work at ten thousand models); again while
        # a refresh landed meanwhile
        while self._names is None or self._names_version != self.model.version:
            version, catalog = self.model.version, self.model.catalog
            sizes = await self.model.world_sales()
            index = await asyncio.to_thread(NameIndex.build, catalog, self.config, _sized(sizes))
            self._names, self._names_version = index, version
        return self._names


def _sized(sizes: dict[str, int]) -> Callable[[Subject], int]:
    return lambda subject: sizes.get(subject.key, 0)
