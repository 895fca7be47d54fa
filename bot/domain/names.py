"""Name keys: how makes, models, groups and aliases compare, whatever their case or accents."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[\s\-_./]+")


@lru_cache(maxsize=65_536)  # an import repeats a few thousand names a million times
def name_key(text: str) -> str:
    """Case-, accent- and spacing-insensitive key: `"  Renault  ZOÉ "` -> `"renault zoe"`."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACE.sub(" ", stripped.casefold()).strip()


def loose_key(text: str) -> str:
    """A looser key for matching typed names: also ignores hyphens, dots and slashes."""
    return _PUNCT.sub("", name_key(text))


def slug(text: str) -> str:
    """A stable identifier: `"Renault-Nissan Alliance"` -> `"renault-nissan-alliance"`."""
    return re.sub(r"[^a-z0-9]+", "-", name_key(text)).strip("-")


def better_display(current: str | None, candidate: str) -> str:
    """Which spelling to show: keep the first, unless it is shouted and the new one is not."""
    candidate = _SPACE.sub(" ", candidate).strip()
    if current is None:
        return candidate
    if current.isupper() and not candidate.isupper():
        return candidate
    return current


@lru_cache(maxsize=65_536)
def clean_label(text: str) -> str:
    """Collapse white space in a label read from data."""
    return _SPACE.sub(" ", text).strip()


class Spellings:
    """One spelling per `name_key`: the first seen (or given beforehand) stands for every other,
    so that `Chile` and `chile` are one region, whichever a row says."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        self.by_key: dict[str, str] = {}
        for spelling in known:
            self.by_key.setdefault(name_key(spelling), spelling)

    def __call__(self, text: str) -> str:
        """The spelling that stands for `text`'s key."""
        return self.by_key.setdefault(name_key(text), text)
