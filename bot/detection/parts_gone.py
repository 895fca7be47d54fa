"""Which parts of a make are gone from a growth event's period: the models (and the make's own
figures) with units in the period before and none in the event's, asked of the store, save
those a poll already knows to have units there (`KnownParts`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass

from bot.domain.coverage import Basis
from bot.domain.events import GrowthEvent
from bot.domain.like_parts import period_before, unlike_reason
from bot.domain.periods import Month
from bot.domain.records import IncRow
from bot.domain.subjects import SubjectKey
from bot.ports.store import BotStore

# where cells with units are: (month index, region, source id) -> their (make key, model key)
UnitCells = dict[tuple[int, str, int], set[tuple[str, str]]]


@dataclass(frozen=True)
class KnownParts:
    """What a poll already knows of its makes' parts, so that `makes_gone` asks the
    store only of the others: each make's models (the names table's, as the poll named them)
    and the model cells with units it has read (those after the kept states, `units_of`). A
    model with units in an event's month is not gone from it, whatever its month before had."""

    models: Mapping[str, Sequence[str]]
    units: Mapping[tuple[int, str, int], Set[tuple[str, str]]]


def units_of(rows: Iterable[IncRow]) -> UnitCells:
    """The cells of `rows` with units, by month index, region and source."""
    out: UnitCells = {}
    for r in rows:
        if r.inc:
            where = (r.month.index, r.region, r.source_id)
            found = out.get(where)
            if found is None:
                found = out[where] = set()
            found.add((r.make_key, r.model_key))
    return out


async def makes_gone(
    store: BotStore,
    told: Sequence[tuple[GrowthEvent, Basis]],
    out: dict[int, str],
    known: KnownParts | None,
) -> list[tuple[GrowthEvent, Basis]]:
    """`unlike_parts` of the makes' events whose two periods each have one (region,
    source) in their basis (the usual make), into `out`, asked of `store` by the
    periods and pairs they share (of the parts not `known` to be there still); returns
    the other events."""
    rest = []
    asked: dict[tuple[Month, Month, tuple[str, int], tuple[str, int]], list[GrowthEvent]] = {}
    for event, basis in told:
        before = period_before(event.period, event.granularity == "year")
        pairs, now = basis.get(before.year, set()), basis.get(event.period.year, set())
        if event.subject.kind != "make":
            rest.append((event, basis))
        elif not pairs:
            continue  # nothing counted before: nothing can be missing
        elif len(pairs) == 1 and len(now) == 1:
            (pair,), (pair_now,) = pairs, now
            asked.setdefault((before, event.period, pair, pair_now), []).append(event)
        else:
            rest.append((event, basis))
    for (before, end, pair, pair_now), events in asked.items():
        by_make: dict[str, list[GrowthEvent]] = {}
        for event in events:
            by_make.setdefault(SubjectKey.parse(event.subject.key).make, []).append(event)
        gone: dict[str, list[tuple[str, str]]] = {}
        if known is None:
            found = await store.models_gone(sorted(by_make), before, end, pair, pair_now)
        else:
            # a poll of every model's next month asked 22,000 cells for what its own
            # reads after the kept states had shown already
            there = known.units.get((end.index, *pair_now), set())
            parts = [
                (make_key, model_key)
                for make_key in sorted(by_make)
                for model_key in ("", *known.models.get(make_key, ()))
                if (make_key, model_key) not in there
            ]
            found = await store.models_gone_among(parts, before, end, pair, pair_now)
        for make_key, model_key in found:
            gone.setdefault(make_key, []).append((make_key, model_key))
        for make_key, missing in gone.items():
            for event in by_make[make_key]:
                out[id(event)] = unlike_reason(missing, end, event.granularity == "year")
    return rest
