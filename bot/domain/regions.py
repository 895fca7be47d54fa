"""Which regions contain which: the shipped membership table, the configuration on top of it,
and what an import's regions mean for the totals.

The table (`bot/data/regions.csv`, built by `scripts/build_regions.py` from country_converter)
places every country in one region: a member of the European Union in EU27, EU27 in EU28, EU28
in Europe, a continent in the world. It is a tree, so a total that takes, below the region asked,
the outermost regions that have figures counts every vehicle once and leaves none out. The
configuration wins over it: `[regions.parents]` (WA = "USA"), more residual names
(`[regions] residuals`), and `[regions] aggregates` for names the table does not know that must
never be summed into a larger region. A name neither knows is a region of its own in the world.

Names are compared by `bot.domain.names.name_key`; a region is identified by the key of its table
name
(so "Czech Republic" and "Czechia" are one region), or of its own name when the table does not
know it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.domain.names import name_key

WORLD = "World"
WORLD_KEY = name_key(WORLD)
COUNTRY_LEVEL = "countries"  # `[sources.X] regions`: its two-letter names are country codes
_CODE = re.compile(r"^[A-Za-z]{2}$")
_RESIDUAL = re.compile(r"^(?:other|others|rest of(?: the)?)\s+(.+?)(?:\s+countries)?$")
_KIDS_CACHED = 4096  # distinct sets of regions remembered per tree
_TOLD_KINDS = frozenset({"continent", "region"})  # summed from their parts, asked and announced


@dataclass(frozen=True, slots=True)
class Region:
    """One region of the table: its display name, kind and the key of the region holding it."""

    name: str
    kind: str  # world, continent, aggregate, country or residual
    parent: str | None


@dataclass(frozen=True)
class RegionTable:
    """The membership table: regions by key, every spelling's key, and country codes."""

    regions: Mapping[str, Region]
    spellings: Mapping[str, str]  # name_key of a name or alias -> region key
    codes: Mapping[str, str]  # ISO 3166 alpha-2 code -> region key
    digest: str = ""  # of the table's text: a state computed under another table is stale

    def find(self, name: str) -> str | None:
        """The key of the region a name stands for, or None when the table does not know it."""
        return self.spellings.get(name_key(name))


def read_table(text: str) -> RegionTable:
    """A membership table from its CSV text (`name,kind,parent,code,aliases`)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    spellings: dict[str, str] = {}
    for row in rows:
        key = name_key(row["name"])
        for spelling in (row["name"], *filter(None, row["aliases"].split("|"))):
            spellings.setdefault(name_key(spelling), key)
    regions = {
        name_key(row["name"]): Region(
            row["name"], row["kind"], spellings[name_key(row["parent"])] if row["parent"] else None
        )
        for row in rows
    }
    codes = {row["code"].upper(): name_key(row["name"]) for row in rows if row["code"]}
    return RegionTable(regions, spellings, codes, hashlib.sha256(text.encode()).hexdigest()[:16])


@lru_cache(maxsize=1)
def shipped_table() -> RegionTable:
    """The table shipped in the package (read once, about 270 regions)."""
    return read_table(
        (Path(__file__).parent.parent / "data" / "regions.csv").read_text(encoding="utf-8")
    )


def country_name(code: str, table: RegionTable | None = None) -> str | None:
    """The country a two-letter code names (`FR` -> `France`), None when it is no country code."""
    if not _CODE.match(code):
        return None
    table = table or shipped_table()
    key = table.codes.get(code.upper())
    return table.regions[key].name if key is not None else None


class RegionTree:
    """How regions nest: the shipped table, with the configuration's rules winning.

    `aggregates`: names the table does not know that overlap others in ways no tree can say;
    they are never summed into a larger region (a table name listed there is ignored).
    `parents`: sub-region -> region (WA = "USA"); a name here is the configuration's, whatever
    the table says of it. `residuals`: more names of "the rest" (a leaf inside its parent: the
    region its name says, "Other Nordics" -> Nordics, or its configured parent, or the world).
    """

    def __init__(
        self,
        aggregates: Collection[str] = frozenset({WORLD}),
        parents: Mapping[str, str] | None = None,
        residuals: Collection[str] = frozenset(),
        table: RegionTable | None = None,
    ) -> None:
        self.aggregates = frozenset(aggregates)
        self.parents: Mapping[str, str] = dict(parents or {})
        self.residuals = frozenset(residuals)
        self.table = table or shipped_table()
        # keyed as the region they name: "United States" in the configuration is the table's USA
        self._own_parents = {self._named(k): v for k, v in self.parents.items()}
        self._own_residuals = frozenset(self._named(r) for r in self.residuals)
        self._own_aggregates = (
            frozenset(name_key(a) for a in self.aggregates if self.table.find(a) is None)
            - self._own_parents.keys()
        )
        self._memo: dict[str, _Place] = {}
        self._kids: dict[frozenset[str], dict[str, list[str]]] = {}

    @property
    def shape(self) -> str:
        """Everything that decides how regions add up, for fingerprints of kept states."""
        return repr(
            (
                self.table.digest,
                sorted(self._own_aggregates),
                sorted(self._own_parents.items()),
                sorted(self._own_residuals),
            )
        )

    def __repr__(self) -> str:
        return (
            f"RegionTree(aggregates={sorted(self.aggregates)!r}, parents={dict(self.parents)!r}, "
            f"residuals={sorted(self.residuals)!r})"
        )

    # -- one region ---------------------------------------------------------------------------

    def key(self, name: str) -> str:
        """The region a name stands for (its key): the configuration's, else the table's."""
        return self._place(name).key

    def parent(self, name: str) -> str | None:
        """The key of the region that holds `name` in every total (None for the world, and for
        a configured aggregate the table does not know: it is never summed into anything)."""
        return self._place(name).parent

    def kind(self, name: str) -> str:
        """world, continent, aggregate, country or residual (as the table or a residual's name
        says), region (placed by the configuration) or unknown (a region of its own)."""
        return self._place(name).kind

    def knows(self, name: str) -> bool:
        """Whether the table or the configuration says where `name` belongs."""
        return self.kind(name) != "unknown"

    def is_residual(self, name: str) -> bool:
        """Whether `name` is "the rest" of its parent (Rest of the world, Other Europe)."""
        return self.kind(name) == "residual"

    def display(self, key: str) -> str:
        """A region's name to show, from its key."""
        region = self.table.regions.get(key)
        if region is not None:
            return region.name
        for name in (*self.parents, *self.parents.values(), *self.aggregates, *self.residuals):
            if name_key(name) == key:
                return name
        return key

    def containers(self, name: str) -> list[str]:
        """The keys of the regions that contain `name` in totals, innermost first, to the world."""
        out: list[str] = []
        seen = {self.key(name)}
        parent = self.parent(name)
        while parent is not None and parent not in seen:
            out.append(parent)
            seen.add(parent)
            parent = self.parent(parent)
        return out

    def cycle(self, name: str) -> list[str]:
        """The regions (names) of a cycle through `name`, which the configuration made against
        the table (Europe = "France"); empty when there is none."""
        start = self.key(name)
        chain = [start]
        parent = self.parent(name)
        while parent is not None and parent not in chain:
            chain.append(parent)
            parent = self.parent(parent)
        return [self.display(k) for k in [*chain, start]] if parent == start else []

    def told_holders(self, name: str) -> list[str]:
        """The keys of the regions holding `name` that are told of even with no figure of their
        own, innermost first: continents and the configuration's regions. Not the world (told
        apart), nor the table's inner aggregates (EU27, EU28: told where a source names them)."""
        return [c for c in self.containers(name) if self.kind(c) in _TOLD_KINDS]

    def contains(self, outer: str, inner: str) -> bool:
        """Whether region `outer` holds region `inner` (names or keys), itself excluded."""
        return self.key(outer) in self.containers(inner)

    # -- many regions -------------------------------------------------------------------------

    def kids(self, present: Collection[str]) -> dict[str, list[str]]:
        """For the region keys that have figures, each region's sub-regions that have figures
        in or below them: what a region with no figure of its own is the sum of."""
        frozen = present if isinstance(present, frozenset) else frozenset(present)
        found = self._kids.get(frozen)
        if found is not None:
            return found
        links: dict[str, set[str]] = {}
        linked: set[str] = set()
        for start in frozen:
            node = start
            while node not in linked:
                linked.add(node)
                place = self._place(node)
                if place.also is not None:
                    # a configured aggregate the table does not know: its parts make it up
                    # when it is asked for, and count where the table puts them elsewhere
                    links.setdefault(place.also, set()).add(node)
                if place.parent is None:
                    break
                links.setdefault(place.parent, set()).add(node)
                node = place.parent
        out = {k: sorted(v) for k, v in links.items()}
        if len(self._kids) >= _KIDS_CACHED:
            self._kids.clear()
        self._kids[frozen] = out
        return out

    # -- internals ----------------------------------------------------------------------------

    def _place(self, name: str) -> _Place:
        placed = self._memo.get(name)
        if placed is None:
            placed = self._memo[name] = self._locate(name)
        return placed

    def _named(self, name: str) -> str:
        return self.table.find(name) or name_key(name)

    def _locate(self, name: str) -> _Place:
        found = self.table.find(name)
        k = found or name_key(name)
        if k == WORLD_KEY:
            return _Place(WORLD_KEY, None, None, "world")
        if k in self._own_aggregates:
            return _Place(k, None, None, "region")
        if k in self._own_parents:
            parent = self.key(self._own_parents[k])
            kind = "residual" if k in self._own_residuals else "region"
            if parent in self._own_aggregates:
                return _Place(k, self._table_parent(k), parent, kind)
            return _Place(k, parent, None, kind)
        if k in self._own_residuals:
            return _Place(k, self._residual_parent(k) or WORLD_KEY, None, "residual")
        if found is not None:
            region = self.table.regions[found]
            return _Place(found, region.parent, None, region.kind)
        whole = self._residual_parent(k)
        if whole is not None:
            return _Place(k, whole, None, "residual")
        return _Place(k, WORLD_KEY, None, "unknown")

    def _table_parent(self, k: str) -> str:
        found = self.table.spellings.get(k)
        parent = self.table.regions[found].parent if found is not None else None
        return parent or WORLD_KEY

    def _residual_parent(self, k: str) -> str | None:
        """The region an "Other X" / "Rest of X" name is the rest of, when X is a known one."""
        match = _RESIDUAL.match(k)
        if match is None:
            return None
        whole = match.group(1)
        if whole in self._own_parents or whole in self._own_aggregates:
            return whole
        found = self.table.spellings.get(whole)
        if found is None and any(name_key(v) == whole for v in self._own_parents.values()):
            return whole  # a configured parent the table does not know ("Other Nordics")
        return found


@dataclass(frozen=True, slots=True)
class _Place:
    key: str
    parent: str | None  # the region holding it in totals
    also: str | None  # a configured aggregate (unknown to the table) it is a part of
    kind: str


@dataclass(frozen=True)
class Coverage:
    """What one year of a region's figure is made of: the regions whose own figures were
    summed (as the data names them), their sources, and whether it is known to miss some of
    the region (built from parts while a residual outside it may hold more of it)."""

    regions: frozenset[str]
    sources: frozenset[int]
    partial: bool


def region_warnings(
    regions: Mapping[str, Collection[str]],
    tree: RegionTree,
    country_level: Collection[str] = (),
) -> list[str]:
    """What an import's regions mean for totals, said in plain words: names nothing places,
    two-letter names that are not read as countries, one region under two names, regions
    counted instead of the regions inside them, and continents summed from countries next to
    a residual (partial). `regions` holds each source's region names; `country_level` the
    sources declared country-level."""
    out: list[str] = []
    for source in sorted(regions):
        names = sorted(set(regions[source]))
        unknown = [n for n in names if not tree.knows(n)]
        codes = [n for n in unknown if _CODE.match(n) and country_name(n, tree.table)]
        others = [n for n in unknown if n not in codes]
        if others:
            out.append(
                f"{source}: regions the region table does not know, each counted as a region "
                f"of its own inside the world (if one holds another, say so in "
                f"[regions.parents]): {_listed(others)}"
            )
        if codes:
            hint = (
                ""
                if source in country_level
                else f' (if they are, set [sources.{source}] regions = "{COUNTRY_LEVEL}")'
            )
            out.append(
                f"{source}: two-letter regions not read as countries, each counted as a region "
                f"of its own{hint}: {_listed(codes)}"
            )
        by_key: dict[str, list[str]] = {}
        for n in names:
            by_key.setdefault(tree.key(n), []).append(n)
        for spellings in by_key.values():
            if len(spellings) > 1:
                out.append(
                    f"{source}: {_listed(spellings)} name one region: a total counts only "
                    f"{spellings[0]} where both have figures"
                )
        keys = set(by_key)
        inside: dict[str, list[str]] = {}
        for spellings in by_key.values():
            for outer in tree.containers(spellings[0]):
                if outer in keys:
                    inside.setdefault(outer, []).append(spellings[0])
        if inside:
            outers = sorted(inside, key=lambda o: (-len(inside[o]), o))
            if len(outers) == 1 and len(inside[outers[0]]) <= 3:
                held = f"holds {_listed(sorted(inside[outers[0]]))}"
            else:
                counts = _listed(str(len(inside[o])) for o in outers)
                held = f"hold other regions of the file ({counts})"
            out.append(
                f"{source}: {_listed(by_key[o][0] for o in outers)} {held}: a total counts "
                "a region's own figure where it has one, never with the regions inside it"
            )
        # a continent summed from its parts (it has no figure of its own here) while a residual
        # outside it, in a region that holds it, may hold more of it: partial
        rests = [ks for ks in keys if tree.is_residual(by_key[ks][0])]
        built = {c for ks in keys for c in tree.told_holders(by_key[ks][0])} - keys
        partial: list[str] = []
        beside: set[str] = set()
        for whole in sorted(built, key=tree.display):
            holders = set(tree.containers(whole))
            outside = [by_key[r][0] for r in rests if tree.parent(r) in holders]
            if outside:
                partial.append(tree.display(whole))
                beside.update(outside)
        if partial:
            out.append(
                f"{source}: {_listed(partial)} have no figure of their own here: summed from "
                f"their parts, they are partial ({_listed(sorted(beside))} may hold more of them)"
            )
    return out


def _listed(names: Iterable[str], most: int = 12) -> str:
    items = list(names)
    if len(items) > most:
        return ", ".join(items[:most]) + f" and {len(items) - most} more"
    if len(items) > 1:
        return ", ".join(items[:-1]) + f" and {items[-1]}"
    return "".join(items)
