"""The powertrain split in memory (`powertrain:bev|phev|fcev`): each powertrain's increments
per model, from the store's `powertrain_cells` (kept on write, never the sales rows). A make's,
a group's or all EVs' series of one powertrain is computed from its models' rows, which
`bot.domain.series.regional_increments` sums as it sums a make's.

A powertrain is read on its first question (`ensure`), not at load: most answers are of electric
cars, and a store of a million figures by powertrain would otherwise be held twice."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

from bot.domain.events import Subject
from bot.domain.records import POWERTRAINS, GroupMember, IncRow
from bot.domain.subjects import SubjectKey
from bot.ports.store import SalesStore
from bot.reading.queries import member_filter

# a refresh touching more models than this reads every powertrain cell again, one read each
PER_MODEL_READS = 50

Rows = dict[tuple[str, str], list[IncRow]]  # by (make key, model key)


class PowertrainSplit:
    """Each powertrain's rows by (make key, model key)."""

    def __init__(self, rows: Mapping[str, Rows] | None = None) -> None:
        given = rows or {}
        self.by_powertrain: dict[str, Rows] = {p: dict(given.get(p, {})) for p in POWERTRAINS}
        self.loaded: set[str] = set(given)  # the powertrains read (and kept current)

    async def ensure(self, store: SalesStore, powertrain: str) -> int:
        """Read a powertrain's rows unless they are held; how many were read now."""
        if powertrain in self.loaded:
            return 0
        rows = await store.powertrain_increments(powertrain)
        if powertrain in self.loaded:  # read meanwhile by another question
            return 0
        self.by_powertrain[powertrain] = by_model(rows)
        self.loaded.add(powertrain)
        return len(rows)

    @property
    def size(self) -> int:
        """How many rows are held."""
        return sum(len(found) for per in self.by_powertrain.values() for found in per.values())

    async def read(self, store: SalesStore, pairs: set[tuple[str, str]]) -> PowertrainSplit:
        """The rows of the (make, model) pairs a refresh touched in the powertrains held, each
        pair present (with no rows when it has none now); past `PER_MODEL_READS` pairs, every
        row of those powertrains."""
        held = sorted(self.loaded)
        if len(pairs) > PER_MODEL_READS:
            out = {p: by_model(await store.powertrain_increments(p)) for p in held}
            for powertrain in held:
                for pair in self.by_powertrain[powertrain]:
                    out[powertrain].setdefault(pair, [])
            return PowertrainSplit(out)
        out = {}
        for powertrain in held:
            out[powertrain] = {
                pair: await store.powertrain_increments(powertrain, *pair) for pair in sorted(pairs)
            }
        return PowertrainSplit(out)

    def update(self, other: PowertrainSplit) -> None:
        """Take `other`'s rows for the pairs it holds, in the powertrains it read."""
        for powertrain in other.loaded:
            self.by_powertrain[powertrain].update(other.by_powertrain[powertrain])

    def rows(
        self, subject: Subject, powertrain: str, members: Mapping[str, list[GroupMember]]
    ) -> tuple[list[IncRow], Callable[[IncRow], bool] | None]:
        """A subject's rows of one powertrain, with a group's filter of its members' months."""
        per_model = self.by_powertrain.get(powertrain, {})
        if subject.kind == "model":
            key = SubjectKey.parse(subject.key)
            return per_model.get((key.make, key.model), []), None
        if subject.kind == "make":
            make = SubjectKey.parse(subject.key).make
            return [r for (m, _), found in per_model.items() if m == make for r in found], None
        if subject.kind == "group":
            rows = [r for (m, _), found in per_model.items() if m in members for r in found]
            return rows, member_filter(dict(members))
        return [r for found in per_model.values() for r in found], None


def by_model(rows: Iterable[IncRow]) -> Rows:
    """Rows by (make key, model key), each list in the order read (by month)."""
    out: Rows = defaultdict(list)
    for row in rows:
        out[(row.make_key, row.model_key)].append(row)
    return dict(out)
