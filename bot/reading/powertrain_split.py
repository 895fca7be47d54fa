"""The powertrain split in memory (`powertrain:bev|phev|fcev`): each powertrain's increments
per model, from the store's `powertrain_cells` (kept on write, never the sales rows). A make's,
a group's or all EVs' series of one powertrain is computed from its models' rows, which
`bot.domain.series.regional_increments` sums as it sums a make's.

A powertrain is read on its first question (`ensure`), not at load: most answers are of electric
cars, and a store of a million figures by powertrain would otherwise be held twice. The rows are
held as columns (`bot.reading.row_columns`); in a big store (`makes` given) they are read one
make at a time, so that a million rows never exist as objects at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from bot.domain.events import Subject
from bot.domain.records import POWERTRAINS, GroupMember, IncRow
from bot.domain.subjects import SubjectKey
from bot.ports.store import SalesStore
from bot.reading.queries import member_filter
from bot.reading.row_columns import Columns, Regions, by_key, packed

# a refresh touching more models than this reads every powertrain cell again, one read each
# (one read a make in a big store)
PER_MODEL_READS = 50

Rows = dict[tuple[str, str], Columns]  # by (make key, model key)


class PowertrainSplit:
    """Each powertrain's rows by (make key, model key)."""

    def __init__(
        self, rows: Mapping[str, Rows] | None = None, regions: Regions | None = None
    ) -> None:
        given = rows or {}
        self.regions = regions or Regions()
        self.by_powertrain: dict[str, Rows] = {p: dict(given.get(p, {})) for p in POWERTRAINS}
        self.loaded: set[str] = set(given)  # the powertrains read (and kept current)

    async def ensure(
        self, store: SalesStore, powertrain: str, makes: Sequence[str] | None = None
    ) -> int:
        """Read a powertrain's rows unless they are held (with `makes`, one make at a time);
        how many were read now."""
        if powertrain in self.loaded:
            return 0
        rows = await self._read(store, powertrain, makes)
        if powertrain in self.loaded:  # read meanwhile by another question
            return 0
        self.by_powertrain[powertrain] = rows
        self.loaded.add(powertrain)
        return sum(map(len, rows.values()))

    async def _read(self, store: SalesStore, powertrain: str, makes: Sequence[str] | None) -> Rows:
        if makes is None:
            return by_key(await store.powertrain_increments(powertrain), self.regions, False)
        out: Rows = {}
        for make in makes:
            out.update(
                by_key(await store.powertrain_increments(powertrain, make), self.regions, False)
            )
        return out

    @property
    def size(self) -> int:
        """How many rows are held."""
        return sum(len(found) for per in self.by_powertrain.values() for found in per.values())

    async def read(
        self,
        store: SalesStore,
        pairs: set[tuple[str, str]],
        makes: Sequence[str] | None = None,
    ) -> PowertrainSplit:
        """The rows of the (make, model) pairs a refresh touched in the powertrains held, each
        pair present (with no rows when it has none now); past `PER_MODEL_READS` pairs, every
        row of those powertrains (with `makes`, a big store's: every row of the touched makes,
        one make at a time)."""
        held = sorted(self.loaded)
        if len(pairs) > PER_MODEL_READS:
            touched = None if makes is None else {m for m, _ in pairs}
            out = {
                p: await self._read(store, p, None if touched is None else sorted(touched))
                for p in held
            }
            for powertrain in held:
                for pair in self.by_powertrain[powertrain]:
                    if touched is None or pair[0] in touched:
                        out[powertrain].setdefault(pair, self._packed(pair, []))
            return PowertrainSplit(out, self.regions)
        out = {}
        for powertrain in held:
            out[powertrain] = {
                pair: self._packed(pair, await store.powertrain_increments(powertrain, *pair))
                for pair in sorted(pairs)
            }
        return PowertrainSplit(out, self.regions)

    def _packed(self, pair: tuple[str, str], rows: Sequence[IncRow]) -> Columns:
        return packed(pair[0], pair[1], rows, self.regions)

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
            found = per_model.get((key.make, key.model))
            return self._rows([] if found is None else [found]), None
        if subject.kind == "make":
            make = SubjectKey.parse(subject.key).make
            return self._rows(f for (m, _), f in per_model.items() if m == make), None
        if subject.kind == "group":
            rows = self._rows(f for (m, _), f in per_model.items() if m in members)
            return rows, member_filter(dict(members))
        return self._rows(per_model.values()), None

    def _rows(self, held: Iterable[Columns]) -> list[IncRow]:
        return [row for columns in held for row in columns.rows(self.regions)]
