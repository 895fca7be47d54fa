"""The hand-made name index autocomplete used before suggestions were ranked (bot/commands/
completion.py at integ2's f7ec92c), kept verbatim as the baseline `bench/commands.py` prints the
ranked index against. Not used by the bot."""

from __future__ import annotations

import difflib
from bisect import bisect_left
from dataclasses import dataclass, field

from bot.domain.names import loose_key
from bot.domain.settings import Config
from bot.domain.subjects import Catalog

MAX_CHOICES = 25


@dataclass
class NameIndex:
    """Every name a user can type, sorted by loose key for prefix lookups."""

    keys: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    words: list[tuple[str, int]] = field(default_factory=list)  # (word key, entry), sorted
    popular: list[str] = field(default_factory=list)  # for an empty prefix
    grams: dict[str, list[int]] = field(default_factory=dict)  # letter pair -> entries

    @classmethod
    def build(cls, catalog: Catalog, config: Config) -> NameIndex:
        """The index of the catalog's subject names and the configured groups' and aliases'."""
        entries: dict[str, str] = {}
        for name in catalog.subject_names():
            entries.setdefault(loose_key(name), name)
        for group in config.groups:
            for alias in group.aliases:
                entries.setdefault(loose_key(alias), alias)
        for alias in config.aliases:
            entries.setdefault(loose_key(alias), alias)
        entries.pop("", None)
        ordered = sorted(entries.items())
        index = cls([k for k, _ in ordered], [v for _, v in ordered])
        words: list[tuple[str, int]] = []
        for i, shown in enumerate(index.shown):
            for word in shown.split()[1:]:
                key = loose_key(word)
                if key:
                    words.append((key, i))
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
        """Prefix matches first (shortest first), then names with a word starting so, then
        names containing it, then close misspellings; at most `limit`."""
        key = loose_key(prefix[:100])
        if not key:
            return self.popular[:limit]
        out: list[str] = []
        seen: set[int] = set()

        def add(i: int) -> bool:
            if i not in seen:
                seen.add(i)
                out.append(self.shown[i])
            return len(out) >= limit

        lo = bisect_left(self.keys, key)
        hi = bisect_left(self.keys, key + "\uffff", lo)
        span = range(lo, hi)
        chosen = sorted(span, key=lambda i: (len(self.keys[i]), i)) if hi - lo <= 2000 else span
        for i in chosen:
            if add(i):
                return out
        w = bisect_left(self.words, (key, -1))
        while w < len(self.words) and self.words[w][0].startswith(key):
            if add(self.words[w][1]):
                return out
            w += 1
        if len(key) >= 2:
            for i, k in enumerate(self.keys):
                if key in k and add(i):
                    return out
        if len(key) >= 3:
            for i in self._fuzzy(key, limit):
                if add(i):
                    return out
        return out

    def _fuzzy(self, key: str, limit: int) -> list[int]:
        """Close misspellings: candidates share the rarer letter pairs, then difflib ranks."""
        common = max(50, len(self.keys) // 4)
        hits: dict[int, int] = {}
        for gram in {key[j : j + 2] for j in range(len(key) - 1)}:
            posting = self.grams.get(gram, ())
            if len(posting) > common:
                continue
            for i in posting:
                hits[i] = hits.get(i, 0) + 1
        pool = sorted(hits, key=lambda i: -hits[i])[:200]
        scored = []
        matcher = difflib.SequenceMatcher(b=key)
        for i in pool:
            matcher.set_seq1(self.keys[i])
            if matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6:
                ratio = matcher.ratio()
                if ratio >= 0.6:
                    scored.append((-ratio, i))
        return [i for _, i in sorted(scored)[:limit]]
