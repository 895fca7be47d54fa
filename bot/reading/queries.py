"""Questions about the figures, platform-free: totals, breakdowns with shares, period changes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bot.domain.coverage import SourceFacts, Told, explain, told
from bot.domain.events import Subject
from bot.domain.hierarchy import Hierarchy
from bot.domain.names import name_key
from bot.domain.periods import Month
from bot.domain.powertrains import split_measure
from bot.domain.records import GroupMember, GroupSpec, IncRow, SourceInfo
from bot.domain.series import WORLD, RegionTree, regional_increments, total_as_of, window_total
from bot.domain.settings import Config
from bot.domain.subjects import Catalog, SubjectKey
from bot.ports.store import SalesStore


def region_tree(config: Config) -> RegionTree:
    """The region rules of a configuration."""
    return RegionTree(
        frozenset(config.region_aggregates) | {WORLD},
        dict(config.region_parents),
        frozenset(config.region_residuals),
    )


async def load_catalog(store: SalesStore, config: Config) -> Catalog:
    """Every name the store and configuration know: the regions with figures, and those told
    as their sum (a continent of countries: `Hierarchy.summed_regions`)."""
    regions = await store.regions()
    summed = Hierarchy.of(config, region_tree(config)).summed_regions(regions)
    return Catalog(
        models=await store.model_names(),
        makes=await store.make_names(),
        groups=list(config.groups),
        aliases=dict(config.aliases),
        regions=[*regions, *summed],
        region_aliases=dict(config.region_aliases),
    )


@dataclass(frozen=True, slots=True)
class ModelShare:
    name: str
    units: int
    share: float  # of the parent's total, 0..1


@dataclass(frozen=True, slots=True)
class TotalAnswer:
    """`evbot total`: the cumulative figure of a subject in a region as of a month."""

    subject: Subject
    region: str
    metric: str
    as_of: Month | None  # the last month with figures up to the one asked for
    total: int
    breakdown: list[ModelShare] = field(default_factory=list)
    told: Told = field(default=Told())  # its granularity, coverage and sources (frozen: shared)
    explanation: list[str] = field(default_factory=list)  # what made it, when asked
    powertrain: str = ""  # BEV, PHEV or FCEV; "" for electric cars (BEV + PHEV)

    def as_json(self) -> dict[str, object]:
        as_of: str | None = None
        if self.as_of is not None:
            yearly = self.told.granularity == "year"
            as_of = str(self.as_of.year) if yearly else str(self.as_of)
        data: dict[str, object] = {
            "subject": self.subject.name,
            "kind": self.subject.kind,
            "region": self.region,
            "metric": self.metric,
            "powertrain": self.powertrain or "electric",
            "as_of": as_of,
            "granularity": self.told.granularity,
            "covers": list(self.told.covers),
            "source": self.told.source,
            "total": self.total,
            "breakdown": [
                {"model": b.name, "units": b.units, "share": round(b.share, 4)}
                for b in self.breakdown
            ],
        }
        if self.told.note:
            data["note"] = self.told.note
        if self.explanation:
            data["explanation"] = self.explanation
        return data


@dataclass(frozen=True, slots=True)
class PeriodAnswer:
    """Units in a window (a year, a month or year to date) against the same window a year before."""

    subject: Subject
    region: str
    first: Month
    last: Month
    units: int
    previous: int

    @property
    def change(self) -> float | None:
        return (self.units - self.previous) / self.previous if self.previous else None


class SeriesReader:
    """Computes subjects' monthly series from the store's kept aggregates."""

    def __init__(
        self,
        store: SalesStore,
        tree: RegionTree,
        groups: list[GroupSpec],
        samples: frozenset[str] = frozenset(),
    ) -> None:
        self.store = store
        self.tree = tree
        # sources that hold a sample of their region: good for shares, never for a total
        self.samples = samples
        # set for a batch of reads (a poll) so each series does not ask for the sources again
        self.snapshot: list[SourceInfo] | None = None
        self.groups = {SubjectKey.for_group(g.name): g for g in groups}

    async def monthly(
        self,
        subject: Subject,
        region: str,
        metric: str = "sales",
        chosen: dict[int, set[tuple[str, int]]] | None = None,
    ) -> dict[Month, int]:
        """Units added in each month (sales, or change in stock) for a subject in a region;
        `chosen` receives each year's (region, source) pairs they were taken from. `metric` may
        name a powertrain (`bot.domain.powertrains.measure`): its models' cells are read."""
        metric, powertrain = split_measure(metric)
        known = self.snapshot if self.snapshot is not None else await self.store.sources()
        sources = counted(known, metric, self.samples)
        priority = {s.id: s.priority for s in sources}
        levels: bool | set[int] = metric == "stock" or {s.id for s in sources if s.running}
        rows: list[IncRow]
        keep: Callable[[IncRow], bool] | None = None
        if powertrain:
            rows, keep = await self._split_rows(subject, powertrain)
        elif subject.kind == "model":
            key = SubjectKey.parse(subject.key)
            rows = await self.store.model_increments(key.make, key.model)
        elif subject.kind == "make":
            rows = await self.store.make_increments([SubjectKey.parse(subject.key).make])
        elif subject.kind == "group":
            members = self.members(subject)
            rows = await self.store.make_increments(sorted(members))
            keep = member_filter(members)
        else:
            rows = await self.store.all_increments()
        return regional_increments(rows, priority, self.tree, region, keep, levels, chosen)

    async def _split_rows(
        self, subject: Subject, powertrain: str
    ) -> tuple[list[IncRow], Callable[[IncRow], bool] | None]:
        """A subject's models' rows of one powertrain (their sum is the subject's)."""
        read = self.store.powertrain_increments
        if subject.kind == "model":
            key = SubjectKey.parse(subject.key)
            return await read(powertrain, key.make, key.model), None
        if subject.kind == "make":
            return await read(powertrain, SubjectKey.parse(subject.key).make), None
        if subject.kind == "group":
            members = self.members(subject)
            rows = [r for make in sorted(members) for r in await read(powertrain, make)]
            return rows, member_filter(members)
        return await read(powertrain), None

    def members(self, subject: Subject) -> dict[str, list[GroupMember]]:
        """A group's makes by key, each with its validity periods."""
        group = self.groups.get(subject.key)
        out: dict[str, list[GroupMember]] = {}
        if group is not None:
            for m in group.members:
                out.setdefault(name_key(m.make), []).append(m)
        return out


def counted(
    sources: Iterable[SourceInfo], metric: str, samples: frozenset[str]
) -> list[SourceInfo]:
    """The sources whose figures of `metric` add up to totals: not those holding a sample."""
    return [s for s in sources if s.metric == metric and s.name not in samples]


def sample_sources(config: Config) -> frozenset[str]:
    """The configured sources that hold a sample of their region (`coverage = "sample"`)."""
    return frozenset(name for name, s in config.sources.items() if s.coverage == "sample")


def series_reader(store: SalesStore, config: Config) -> SeriesReader:
    """The reader of every subject's series under a configuration."""
    return SeriesReader(store, region_tree(config), list(config.groups), sample_sources(config))


def member_filter(members: dict[str, list[GroupMember]]) -> Callable[[IncRow], bool]:
    def keep(row: IncRow) -> bool:
        return any(m.covers(row.month) for m in members.get(row.make_key, ()))

    return keep


async def total(
    reader: SeriesReader,
    catalog: Catalog,
    subject: Subject,
    region: str = WORLD,
    as_of: Month | None = None,
    metric: str = "sales",
    facts: SourceFacts | None = None,
    explained: bool = False,
    loc: str = "en",
) -> TotalAnswer:
    """The cumulative total as of a month, and for a make or group each model's share; with
    `facts`, what the figure is made of (and with `explained`, each part of it, in the language
    of `loc`)."""
    basis: dict[int, set[tuple[str, int]]] = {}
    monthly = await reader.monthly(subject, region, metric, basis if facts else None)
    value, last = total_as_of(monthly, as_of)
    breakdown: list[ModelShare] = []
    if subject.kind in ("make", "group"):
        breakdown = await _breakdown(reader, catalog, subject, region, as_of, metric, value)
    metric, powertrain = split_measure(metric)  # the answer names them apart
    if facts is None:
        return TotalAnswer(subject, region, metric, last, value, breakdown, powertrain=powertrain)
    samples = sorted(reader.samples)
    lines = explain(region, metric, basis, facts, samples, last, loc) if explained else []
    return TotalAnswer(
        subject,
        region,
        metric,
        last,
        value,
        breakdown,
        told(basis, region, last, as_of, facts, loc),
        lines,
        powertrain,
    )


async def _breakdown(
    reader: SeriesReader,
    catalog: Catalog,
    subject: Subject,
    region: str,
    as_of: Month | None,
    metric: str,
    parent_total: int,
) -> list[ModelShare]:
    members: dict[str, list[GroupMember]] | None = None
    if subject.kind == "make":
        makes: Mapping[str, object] = {SubjectKey.parse(subject.key).make: None}
    else:
        members = reader.members(subject)
        makes = members
    shares = []
    for m in catalog.models:
        if m.make_key not in makes:
            continue
        model = Subject(
            "model", SubjectKey.for_model(m.make_key, m.model_key), f"{m.make} {m.model}"
        )
        monthly = await reader.monthly(model, region, metric)
        if members is not None:
            spans = members[m.make_key]
            monthly = {k: v for k, v in monthly.items() if any(s.covers(k) for s in spans)}
        units, _ = total_as_of(monthly, as_of)
        if units > 0:
            shares.append(
                ModelShare(model.name, units, units / parent_total if parent_total else 0)
            )
    shares.sort(key=lambda s: (-s.units, s.name))
    return shares


async def period_total(
    reader: SeriesReader,
    subject: Subject,
    region: str,
    first: Month,
    last: Month,
    metric: str = "sales",
) -> PeriodAnswer:
    """Units from `first` to `last` and in the same months a year earlier."""
    monthly = await reader.monthly(subject, region, metric)
    return PeriodAnswer(
        subject,
        region,
        first,
        last,
        window_total(monthly, first, last),
        window_total(monthly, first.plus(-12), last.plus(-12)),
    )
