"""A series' basis as its kept state holds it: each year's (region, source) pairs, frozen.

The basis (`bot.domain.coverage.Basis`) says what each year of a figure was taken from; a
milestone's, record's or growth's words depend on every year of it. A whole read gives it; a
series continued from its state gets it from the state, with the new years' pairs added
(`bot.detection.continuing`), so that telling its events needs no read of its history.

Most series share one of a handful of bases (one source, one region, the same years): the
frozen forms, their texts and their dict forms are made once and shared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Set
from typing import TypeVar

YearPairs = frozenset[tuple[str, int]]  # (region, source id)
KeptBasis = tuple[tuple[int, YearPairs], ...]  # (year, its pairs), by year

_FROZEN: dict[KeptBasis, KeptBasis] = {}  # the one shared copy of each
_PAIRS: dict[YearPairs, YearPairs] = {}
_TEXTS: dict[KeptBasis, str] = {}
_DECODED: dict[str, KeptBasis] = {}
_LIMIT = 10_000  # distinct bases remembered; past it they are made afresh (still right)
T = TypeVar("T")


def _shared(table: dict[T, T], value: T) -> T:
    found = table.get(value)
    if found is not None:
        return found
    if len(table) < _LIMIT:
        table[value] = value
    return value


def kept_basis(basis: Mapping[int, Set[tuple[str, int]]]) -> KeptBasis:
    """The frozen form of a basis (years without pairs left out, as `basis.get` reads them)."""
    return _shared(
        _FROZEN,
        tuple(
            (year, _shared(_PAIRS, frozenset(pairs)))
            for year, pairs in sorted(basis.items())
            if pairs
        ),
    )


def with_years(kept: KeptBasis, years: Mapping[int, Set[tuple[str, int]]]) -> KeptBasis:
    """`kept` with the pairs of `years` in place of whatever it held for them."""
    if not years:
        return kept
    merged: dict[int, Set[tuple[str, int]]] = dict(kept)
    merged.update(years)
    return kept_basis(merged)


def with_year(kept: KeptBasis, year: int, pair: tuple[str, int]) -> KeptBasis:
    """`kept` with `year` taken from the one `pair` (a model's new year, the usual case): the
    same shared value for every series that had the same basis."""
    if kept and kept[-1][0] == year and kept[-1][1] == {pair}:
        return kept
    return with_years(kept, {year: {pair}})


def basis_dict(kept: KeptBasis) -> dict[int, set[tuple[str, int]]]:
    """The basis as detection and coverage read it (a new dict: callers may add to it)."""
    return {year: set(pairs) for year, pairs in kept}


def encode_basis(kept: KeptBasis) -> str:
    """The basis as text for a store column: JSON [[first year, last year, [[region, source],
    ...]], ...], a run of years taken alike as one item (region names are free text)."""
    text = _TEXTS.get(kept)
    if text is None:
        runs: list[list[object]] = []
        previous: YearPairs | None = None
        for year, pairs in kept:
            if pairs is previous and runs and runs[-1][1] == year - 1:
                runs[-1][1] = year
            else:
                runs.append([year, year, sorted(pairs)])
            previous = pairs
        text = json.dumps(runs, ensure_ascii=False, separators=(",", ":"))
        if len(_TEXTS) < _LIMIT:
            _TEXTS[kept] = text
    return text


def decode_basis(text: str) -> KeptBasis:
    """The inverse of `encode_basis`; a malformed text raises ValueError naming it."""
    found = _DECODED.get(text)
    if found is None:
        try:
            found = kept_basis(
                {
                    year: {(str(region), int(source)) for region, source in pairs}
                    for first, last, pairs in json.loads(text)
                    for year in range(int(first), int(last) + 1)
                }
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"series state: {text!r} is not a list of [first year, last year, "
                "[[region, source], ...]]"
            ) from exc
        if len(_DECODED) < _LIMIT:
            _DECODED[text] = found
    return found
