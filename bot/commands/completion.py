"""Autocomplete and "did you mean" of subject names: one entry a subject (or region), found by any
name it answers to, ranked by how the typed text matches, then by the subject's kind and size."""

from __future__ import annotations

import difflib
import heapq
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.domain.events import Subject
from bot.domain.names import loose_key
from bot.domain.settings import Config
from bot.domain.subjects import Catalog, UnknownSubject

MAX_CHOICES = 25
SUGGESTIONS = 3
# how the typed text matches a name, best first
EXACT, PREFIX, WORD, WORD_PREFIX, INSIDE, CLOSE = range(6)
# broad subjects before narrow ones, at the same match
KIND_ORDER = {"all": 0, "group": 1, "make": 2, "region": 3, "model": 4}
FUZZY_CUTOFF = 0.6

Size = Callable[[Subject], int]


@dataclass
class NameIndex:
    """Every name a user can type, sorted by loose key for prefix lookups; each points at the
    entry (the subject's shown name) it completes to."""

    shown: list[str] = field(default_factory=list)  # entry -> the name offered
    rank: list[tuple[int, int, int, str]] = field(default_factory=list)  # entry -> order key
    keys: list[str] = field(default_factory=list)  # every name's loose key, sorted
    owner: list[int] = field(default_factory=list)  # keys[i] names entry owner[i]
    words: list[tuple[str, int]] = field(default_factory=list)  # (word key, entry), sorted
    popular: list[str] = field(default_factory=list)  # for an empty prefix
    grams: dict[str, list[int]] = field(default_factory=dict)  # letter pair -> key positions

    @classmethod
    def build(cls, catalog: Catalog, config: Config, size: Size | None = None) -> NameIndex:
        """The index of the catalog's names and the configured groups' and aliases'; `size`
        (a subject's sales) orders subjects of one kind, the bigger first."""
        names = list(catalog.subject_names())
        for group in config.groups:
            names.extend(group.aliases)
        names.extend(config.aliases)
        index = cls()
        entry_of: dict[str, int] = {}  # shown name's loose key -> entry
        pairs: dict[str, int] = {}  # a name's loose key -> entry
        for name in names:
            key = loose_key(name)
            if not key or key in pairs:
                continue
            shown, kind, subject = _answer(catalog, name)
            entry = entry_of.get(loose_key(shown))
            if entry is None:
                entry = entry_of[loose_key(shown)] = len(index.shown)
                index.shown.append(shown)
                weight = size(subject) if size is not None and subject is not None else 0
                index.rank.append((KIND_ORDER.get(kind, 5), -weight, len(shown), shown.casefold()))
            pairs[key] = entry
        ordered = sorted(pairs.items())
        index.keys = [k for k, _ in ordered]
        index.owner = [e for _, e in ordered]
        words: set[tuple[str, int]] = set()
        for name in names:
            entry = pairs.get(loose_key(name))
            for word in name.replace("-", " ").split()[1:] if entry is not None else ():
                key = loose_key(word)
                if key:
                    words.add((key, entry))  # type: ignore[arg-type]
        index.words = sorted(words)
        grams: dict[str, list[int]] = {}
        for i, key in enumerate(index.keys):
            for gram in {key[j : j + 2] for j in range(len(key) - 1)}:
                grams.setdefault(gram, []).append(i)
        index.grams = grams
        index.popular = (
            ["all"]
            + [g.name for g in config.groups]
            + sorted(catalog.makes.values(), key=str.casefold)
        )[:MAX_CHOICES]
        return index

    def complete(self, prefix: str, limit: int = MAX_CHOICES) -> list[str]:
        """Names for what was typed: a name that is it, then names starting so, then names with
        a word that is it, then with a word starting so, then containing it, then close
        misspellings; within each, groups and makes before models, bigger before smaller."""
        key = loose_key(prefix[:100])
        if not key:
            return self.popular[:limit]
        best: dict[int, tuple[int, float]] = {}

        def note(entry: int, how: int, closeness: float = 0.0) -> None:
            if (how, closeness) < best.get(entry, (CLOSE + 1, 0.0)):
                best[entry] = (how, closeness)

        lo = bisect_left(self.keys, key)
        hi = bisect_left(self.keys, key + "\uffff", lo)
        for i in range(lo, min(hi, lo + 5000)):
            if self.keys[i] == key:
                note(self.owner[i], EXACT)
            else:  # a name the text is most of ("renaul": Renault) before a longer one
                note(self.owner[i], PREFIX, -1.0 if 2 * len(key) >= len(self.keys[i]) else 0.0)
        w = bisect_left(self.words, (key, -1))
        while w < len(self.words) and self.words[w][0].startswith(key) and len(best) < 5000:
            note(self.words[w][1], WORD if self.words[w][0] == key else WORD_PREFIX)
            w += 1
        if len(key) >= 2 and len(best) < limit:
            for i, k in enumerate(self.keys):
                if key in k:
                    note(self.owner[i], INSIDE)
                    if len(best) >= 5000:
                        break
        if len(key) >= 3 and len(best) < limit:
            for i, ratio in self._fuzzy(key):
                note(self.owner[i], CLOSE, -round(ratio, 1))
        ranked = heapq.nsmallest(limit, best, key=lambda e: (best[e], self.rank[e]))
        return [self.shown[e] for e in ranked]

    def suggest(self, text: str, limit: int = SUGGESTIONS) -> list[str]:
        """The few names "did you mean" offers for a name that matched nothing."""
        return self.complete(text, limit)

    def _fuzzy(self, key: str) -> list[tuple[int, float]]:
        """Close misspellings (key position, similarity): candidates share the rarer letter
        pairs, then difflib measures."""
        common = max(50, len(self.keys) // 4)
        hits: dict[int, int] = {}
        for gram in {key[j : j + 2] for j in range(len(key) - 1)}:
            posting = self.grams.get(gram, ())
            if len(posting) > common:
                continue
            for i in posting:
                hits[i] = hits.get(i, 0) + 1
        pool = sorted(hits, key=lambda i: -hits[i])[:200]
        out = []
        matcher = difflib.SequenceMatcher(b=key)
        for i in pool:
            matcher.set_seq1(self.keys[i])
            if matcher.real_quick_ratio() >= FUZZY_CUTOFF and matcher.quick_ratio() >= FUZZY_CUTOFF:
                ratio = matcher.ratio()
                if ratio >= FUZZY_CUTOFF:
                    out.append((i, ratio))
        return out


def _answer(catalog: Catalog, name: str) -> tuple[str, str, Subject | None]:
    """The name a typed name is offered as (the subject's own, or the region's), its kind and
    the subject whose size ranks it."""
    try:
        resolved = catalog.resolve(name)
    except UnknownSubject:  # an alias to nothing known: offered as itself
        return name, "model", None
    if resolved.region is not None:
        return resolved.region, "region", None
    subject = resolved.subject
    if subject.kind == "all":
        return "all", "all", None
    return subject.name, subject.kind, subject


class Named(Protocol):
    """What autocomplete reads: the name index of the read model as it is now (a
    `CommandContext`, which keeps one per read model version)."""

    def names(self) -> NameIndex: ...


def autocomplete(ctx: Named, prefix: str) -> list[str]:
    """Subject names for what has been typed so far: best matches first, ≤ 25."""
    return ctx.names().complete(prefix)
