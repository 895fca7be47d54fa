"""Arithmetic over the rungs of threshold ladders (`bot.domain.ladders`): sets of rungs, their
unions and intersections, and the runs of thresholds a figure crossed at once.

Which thresholds a figure crossed is counted, never listed: a figure of 10**12 crosses about a
million rungs of the default ladder, and detection must cost no more for it than for 10,000.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from math import gcd

from bot.domain.formatting import fast_units
from bot.domain.i18n import tn
from bot.domain.ladders import Ladder, LadderError, parse_ladder


@dataclass(frozen=True, slots=True)
class Progression:
    """The rungs first, first + step, first + 2*step, ... (unbounded)."""

    first: int
    step: int

    def upto(self, value: int) -> int:
        """How many rungs are <= `value`."""
        return 0 if value < self.first else (value - self.first) // self.step + 1

    def next_above(self, value: int) -> int:
        if value < self.first:
            return self.first
        return self.first + ((value - self.first) // self.step + 1) * self.step

    def at_or_below(self, value: int) -> int | None:
        if value < self.first:
            return None
        return self.first + ((value - self.first) // self.step) * self.step

    def __contains__(self, value: int) -> bool:
        return value >= self.first and (value - self.first) % self.step == 0

    def meet(self, other: Progression) -> Progression | None:
        """The rungs in both (a progression by the least common multiple), or None."""
        g = gcd(self.step, other.step)
        if (other.first - self.first) % g:
            return None
        m = other.step // g
        k = ((other.first - self.first) // g) * pow(self.step // g, -1, m) % m if m > 1 else 0
        common = self.first + self.step * k  # in both residue classes
        lcm = self.step // g * other.step
        floor = max(self.first, other.first)
        return Progression(floor + (common - floor) % lcm, lcm)


@dataclass(frozen=True)
class RungSet:
    """A set of rungs (a ladder, or a union or intersection of ladders) that answers by
    arithmetic: how many rungs lie in (low, high], the next rung above or at or below a value.

    `finite` holds the rungs no progression has; every query costs O(log) in it and one step
    per term of the progressions' inclusion-exclusion (one term for one ladder).
    """

    spec: str
    finite: tuple[int, ...]
    progressions: tuple[Progression, ...]
    terms: tuple[tuple[int, Progression], ...] = field(default=(), repr=False, compare=False)

    def upto(self, value: int) -> int:
        """How many rungs are <= `value`."""
        return bisect_right(self.finite, value) + sum(
            sign * p.upto(value) for sign, p in self.terms
        )

    def count(self, low: int, high: int) -> int:
        """How many rungs t have low < t <= high."""
        return self.upto(high) - self.upto(low) if high > low else 0

    def next_above(self, value: int) -> int | None:
        """The smallest rung above `value`; None when there is none."""
        index = bisect_right(self.finite, value)
        found = [self.finite[index]] if index < len(self.finite) else []
        found += [p.next_above(value) for p in self.progressions]
        return min(found, default=None)

    def at_or_below(self, value: int) -> int | None:
        """The largest rung <= `value`; None when there is none."""
        index = bisect_right(self.finite, value)
        found = [self.finite[index - 1]] if index else []
        found += [t for p in self.progressions if (t := p.at_or_below(value)) is not None]
        return max(found, default=None)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int) or isinstance(value, bool):
            return False
        index = bisect_left(self.finite, value)
        if index < len(self.finite) and self.finite[index] == value:
            return True
        return any(value in p for p in self.progressions)

    def first(self, low: int, high: int, limit: int) -> list[int]:
        """The lowest `limit` rungs t with low < t <= high, ascending."""
        out: list[int] = []
        value = low
        while len(out) < limit:
            found = self.next_above(value)
            if found is None or found > high:
                break
            out.append(found)
            value = found
        return out

    def crossed(self, old: int, new: int) -> RungRange | None:
        """The rungs t with old < t <= new as one range; None when there is none."""
        count = self.count(old, new)
        if not count:
            return None
        lowest, highest = self.next_above(old), self.at_or_below(new)
        assert lowest is not None and highest is not None
        return RungRange(self.spec, lowest, highest, count)

    def meet(self, other: RungSet) -> RungSet:
        """The rungs in both sets."""
        finite = [t for t in self.finite if t in other] + [t for t in other.finite if t in self]
        progressions = [
            m for p in self.progressions for q in other.progressions if (m := p.meet(q))
        ]
        return rung_set(f"{self.spec}&{other.spec}", finite, progressions)


MAX_PROGRESSIONS = 12  # 2**12 inclusion-exclusion terms; configurations have one or two


def rung_set(spec: str, finite: Iterable[int], progressions: Iterable[Progression]) -> RungSet:
    """A `RungSet` over these rungs, its inclusion-exclusion terms worked out once."""
    kept: list[Progression] = []
    for p in sorted(set(progressions), key=lambda p: (p.step, p.first)):
        # a progression inside another adds nothing
        if not any(p.step % q.step == 0 and p.first in q for q in kept):
            kept.append(p)
    if len(kept) > MAX_PROGRESSIONS:
        raise LadderError(
            "{spec}: more than {limit} unbounded ladders at once",
            spec=repr(spec),
            limit=MAX_PROGRESSIONS,
        )
    terms: list[tuple[int, Progression]] = []
    for p in kept:
        terms += [(-sign, m) for sign, q in terms if (m := q.meet(p)) is not None]
        terms.append((1, p))
    alone = tuple(sorted({t for t in finite if not any(t in p for p in kept)}))
    return RungSet(spec, alone, tuple(kept), tuple(terms))


@lru_cache(maxsize=256)
def ladder_rungs(ladder: Ladder) -> RungSet:
    """A ladder's rungs as a `RungSet`."""
    tail = [Progression(ladder.base + ladder.step, ladder.step)] if ladder.step else []
    return rung_set(ladder.spec, ladder.prefix, tail)


def union_rungs(ladders: Sequence[Ladder]) -> RungSet:
    """The rungs of any of `ladders` (the set detection works over)."""
    if len(ladders) == 1:
        return ladder_rungs(ladders[0])
    sets = [ladder_rungs(ladder) for ladder in ladders]
    return rung_set(
        ";".join(s.spec for s in sets),
        [t for s in sets for t in s.finite],
        [p for s in sets for p in s.progressions],
    )


_HAND_BUILT = re.compile(r"^(?P<prefix>[0-9,]*),\+(?P<step>[0-9]+)\.\.\.$")


@lru_cache(maxsize=256)
def rungs_of(spec: str) -> RungSet:
    """The rungs a `RungRange.ladder` names: a ladder's spec, several joined by `;` (their
    union), two such joined by `&` (the rungs in both)."""
    sides = []
    for side in spec.split("&"):
        ladders = []
        for part in side.split(";"):
            hand = _HAND_BUILT.match(part)
            if hand:
                prefix = tuple(int(t) for t in hand["prefix"].split(",") if t)
                ladders.append(Ladder(part, prefix, int(hand["step"])))
            else:
                ladders.append(parse_ladder(part, part))
        sides.append(union_rungs(ladders))
    out = sides[0]
    for other in sides[1:]:
        out = out.meet(other)
    return out


@dataclass(frozen=True, slots=True)
class RungRange:
    """A run of thresholds crossed at once: the `count` rungs of `ladder` (a spec `rungs_of`
    reads) from `lowest` to `highest`, both rungs. Stored, carried and told as one."""

    ladder: str
    lowest: int
    highest: int
    count: int

    def rungs(self, limit: int) -> list[int]:
        """The lowest `limit` rungs of the range, ascending (the ends when the ladder cannot
        be read, as from an event stored by an older version)."""
        try:
            found = rungs_of(self.ladder).first(self.lowest - 1, self.highest, limit)
        except LadderError:
            found = []
        if not found:
            found = sorted({self.lowest, self.highest})[:limit]
        return found

    def __contains__(self, threshold: object) -> bool:
        """Whether `threshold` is one of the range's rungs (by arithmetic)."""
        if not isinstance(threshold, int) or not self.lowest <= threshold <= self.highest:
            return False
        if threshold in (self.lowest, self.highest):
            return True
        try:
            return threshold in rungs_of(self.ladder)
        except LadderError:
            return False

    def within(self, ladder: Ladder) -> RungRange | None:
        """The range's rungs that are also rungs of `ladder` (a subscription's), or None."""
        own = ladder_rungs(ladder)
        try:
            # a ladder detection ran over: its rungs in the range are all in the range
            inside = "&" not in self.ladder and ladder.spec in self.ladder.split(";")
            rungs = own if inside else rungs_of(f"{ladder.spec}&{self.ladder}")  # cached
        except LadderError:
            rungs = own
        found = rungs.crossed(self.lowest - 1, self.highest)
        if found is None:
            return None
        return RungRange(rungs.spec, found.lowest, found.highest, found.count)

    def describe(self, loc: str = "en") -> str:
        """ "1,000" or "1,000 to 5,000 (3 thresholds)", for logs and explanations (in the
        language of `loc`, its numbers formatted for it)."""
        if self.count == 1:
            return fast_units(self.highest, loc)
        return tn(
            loc,
            "{lowest} to {highest} ({count} threshold)",
            "{lowest} to {highest} ({count} thresholds)",
            self.count,
            lowest=fast_units(self.lowest, loc),
            highest=fast_units(self.highest, loc),
            count=fast_units(self.count, loc),
        )


def listed_range(thresholds: Iterable[int]) -> RungRange:
    """A range of exactly these thresholds (they name their own ladder), for events stored
    by an older version as a list, and for tests."""
    rungs = sorted({int(t) for t in thresholds})
    if not rungs:
        raise LadderError("a range of thresholds needs at least one")
    return RungRange(",".join(str(t) for t in rungs), rungs[0], rungs[-1], len(rungs))
