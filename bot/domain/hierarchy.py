"""Which subjects and regions cover which, under one configuration.

A model's figures count in its make's, in the groups its make belonged to that month, and in
everything's; a region's in its configured parents', its continent's and the world's. Detection
asks this of every changed cell (which series it moves), of every event (whose subscriptions
cover it, which held figures it sums) and of every model's shares (its parents); the commands
ask the same.
Built once from the configuration and the region tree, and handed to those who ask.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from bot.domain.events import CorrectionEvent, Event, MilestoneEvent, Subject
from bot.domain.names import name_key
from bot.domain.periods import Month
from bot.domain.plausibility import Hold
from bot.domain.records import GroupMember, GroupSpec, ModelName
from bot.domain.regions import WORLD, RegionTree
from bot.domain.settings import Config
from bot.domain.subjects import ALL, SubjectKey


class NameBook(Protocol):
    """What detection needs of a catalog: the display names of makes and models."""

    @property
    def makes(self) -> Mapping[str, str]: ...

    def model(self, make_key: str, model_key: str) -> ModelName | None: ...


class Hierarchy:
    """The groups' memberships over time and the regions' configured parents.

    `region_parents` (the configuration's) and the continents of `tree` (the configuration's
    rules over the shipped table) say which series a cell in a region moves; `tree` also says
    which regions a figure sums.
    """

    def __init__(
        self, groups: Sequence[GroupSpec], region_parents: Mapping[str, str], tree: RegionTree
    ) -> None:
        self.tree = tree
        self.region_parents = region_parents
        self.groups = [
            (
                Subject("group", SubjectKey.for_group(g.name), g.name),
                [(name_key(m.make), m) for m in g.members],
            )
            for g in groups
        ]
        # make key -> the groups it is a member of, with the membership's months
        self.memberships: dict[str, list[tuple[Subject, GroupMember]]] = defaultdict(list)
        for subject, members in self.groups:
            for make_key, member in members:
                self.memberships[make_key].append((subject, member))
        self._chains: dict[str, frozenset[str]] = {}  # region -> regions it moves

    @classmethod
    def of(cls, config: Config, tree: RegionTree) -> Hierarchy:
        """The hierarchy of a configuration, its regions nested by `tree`."""
        return cls(config.groups, config.region_parents, tree)

    def covering(self, subject: Subject, month: Month) -> list[str]:
        """The subjects whose subscriptions cover an event about `subject`: itself, its make,
        the groups its make belonged to that month, and everything."""
        keys = [subject.key]
        make_key = ""
        if subject.kind == "model":
            make_key = SubjectKey.parse(subject.key).make
            keys.append(SubjectKey.for_make(make_key))
        elif subject.kind == "make":
            make_key = SubjectKey.parse(subject.key).make
        if make_key:
            keys.extend(g.key for g in self.groups_of(make_key, month))
        if ALL.key not in keys:
            keys.append(ALL.key)
        return keys

    def parents(self, model: Subject, names: NameBook, month: Month) -> list[Subject]:
        """The subjects a model's share is told of in a month: its make, then the groups its
        make belonged to that month."""
        make_key = SubjectKey.parse(model.key).make
        make = Subject("make", SubjectKey.for_make(make_key), names.makes.get(make_key, make_key))
        return [make, *self.groups_of(make_key, month)]

    def groups_of(self, make_key: str, month: Month) -> list[Subject]:
        """The groups a make belonged to in a month, in configuration order."""
        found: list[Subject] = []
        for subject, member in self.memberships.get(make_key, ()):
            if member.covers(month) and subject not in found:
                found.append(subject)
        return found

    def groups_from(self, make_key: str, month: Month) -> dict[Subject, Month]:
        """The groups a make belonged to in `month` or later, each with the first such month:
        a change from `month` on moves a group only from when the make was in it."""
        first: dict[Subject, Month] = {}
        for subject, member in self.memberships.get(make_key, ()):
            if member.valid_to is not None and member.valid_to < month:
                continue
            joined = month if member.valid_from is None else max(month, member.valid_from)
            if subject not in first or joined < first[subject]:
                first[subject] = joined
        return first

    def regions_of(self, region: str) -> list[str]:
        """A region, its configured parents, the continent holding it (summed from its parts
        where it has no figure of its own, as a total is: counting rule 6), and the world."""
        regions = [region]
        parent = self.region_parents.get(region)
        while parent is not None and parent not in regions:
            regions.append(parent)
            parent = self.region_parents.get(parent)
        seen = {self.tree.key(r) for r in regions}
        for holder in self.tree.told_holders(region):
            if holder not in seen:
                seen.add(holder)
                regions.append(self.tree.display(holder))
        if WORLD not in regions:
            regions.append(WORLD)
        return regions

    def summed_regions(self, present: Iterable[str]) -> list[str]:
        """The regions a figure is told in (`regions_of`) that are not among `present`, the
        regions with figures: a continent made only of its countries, a configured parent only
        of its parts, which a question may name and replay tells as the detector does."""
        have = {self.tree.key(r) for r in present}
        found: dict[str, str] = {}
        for region in present:
            for holder in self.regions_of(region)[1:]:
                key = self.tree.key(holder)
                if holder != WORLD and key not in have:
                    found.setdefault(key, holder)
        return sorted(found.values())

    def related(self, a: str, b: str) -> bool:
        """Whether one region contains the other (or they are one)."""
        return a == b or a in self.regions_of(b) or b in self.regions_of(a)

    def moving(self, region: str) -> Callable[[str], bool]:
        """Whether a cell in a region moves the series of `region` (as detection decides which
        series a change touches): only those cells count in a kept state's year sources, so
        that a state continued and one read whole keep the same; the others cannot change the
        series' figures."""
        if region == WORLD:
            return lambda _: True
        chains = self._chains

        def moves(where: str) -> bool:
            chain = chains.get(where)
            if chain is None:
                chain = chains[where] = frozenset(self.regions_of(where))
            return region in chain

        return moves

    def held_by(self, events: Sequence[Event], holds: Sequence[Hold]) -> list[tuple[int, ...]]:
        """The holds each event depends on (issue 26): an event about the held model, its make,
        its groups or everything, in the figure's region or one holding it, of its metric, from
        its month on. A milestone depends on it when some threshold it tells was crossed only
        because of it (its value less the held figure is below its highest threshold); a
        correction never does (it tells of what was told)."""
        out: list[tuple[int, ...]] = []
        for event in events:
            ids: list[int] = []
            if not isinstance(event, CorrectionEvent):
                for hold in self.holds_under(
                    event.subject.key, event.region, event.metric, event.period, holds
                ):
                    if isinstance(event, MilestoneEvent) and (
                        event.value - hold.units >= event.thresholds.highest
                    ):
                        continue
                    ids.append(hold.id)
            out.append(tuple(ids))
        return out

    def holds_under(
        self, subject_key: str, region: str, metric: str, month: Month, holds: Sequence[Hold]
    ) -> list[Hold]:
        """The held figures a figure of the subject in the region through `month` sums: of its
        metric, about a model it covers, in the region or one inside it, not after `month`."""
        found = []
        place = self.tree.key(region)
        for hold in holds:
            held_month = Month.parse(hold.month)
            if hold.metric != metric or month < held_month:
                continue
            if place != self.tree.key(hold.region) and place not in self.tree.containers(
                hold.region
            ):
                continue
            subjects = {
                SubjectKey.for_model(hold.make_key, hold.model_key),
                SubjectKey.for_make(hold.make_key),
                ALL.key,
                *(g.key for g in self.groups_of(hold.make_key, held_month)),
            }
            if subject_key in subjects:
                found.append(hold)
        return found
