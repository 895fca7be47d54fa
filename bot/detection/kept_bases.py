"""The bases a poll's continued series kept in their states, given to their events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.detection.steps import SeriesKey
from bot.domain.coverage import AlikeMemo, Basis, SourceFacts, earlier_alike
from bot.domain.events import Event
from bot.domain.kept_basis import KeptBasis, basis_dict


def kept_bases(
    events: Sequence[Event],
    bases: Mapping[SeriesKey, Basis],
    kept: Mapping[SeriesKey, KeptBasis],
    facts: SourceFacts | None,
    memo: AlikeMemo | None = None,
) -> dict[SeriesKey, dict[int, set[tuple[str, int]]]]:
    """The basis of each event's series that has none in `bases` and a `kept` one, save a
    series with a record some earlier year of which is unlike the record's own (or any record,
    without `facts`): that record compares months, so its series is read whole.

    Series that kept the same basis are given the same dict (`memo`, of the same `facts`,
    remembers its years' likeness for the poll's telling): read it, do not change it."""
    given: dict[SeriesKey, dict[int, set[tuple[str, int]]]] = {}
    shared: dict[int, dict[int, set[tuple[str, int]]]] = {}  # by id of a kept basis
    unlike: set[SeriesKey] = set()
    for event in events:
        key = SeriesKey(event.subject, event.region, event.metric)
        if key in bases or key not in kept:
            continue
        basis = given.get(key)
        if basis is None:
            frozen = kept[key]  # alive in `kept` while this runs: its id is its own
            basis = shared.get(id(frozen))
            if basis is None:
                basis = shared[id(frozen)] = basis_dict(frozen)
            given[key] = basis
        if event.kind == "record" and (
            facts is None or not earlier_alike(basis, event.period.year, facts, memo)
        ):
            unlike.add(key)
    return {k: b for k, b in given.items() if k not in unlike}
