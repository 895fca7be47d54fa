"""Subjects people name (models, makes, groups, regions, everything), aliases, "did you mean"."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.domain.events import Subject, SubjectKind
from bot.domain.i18n import LocalizedError, tp
from bot.domain.names import loose_key, name_key, slug
from bot.domain.records import GroupSpec, ModelName

ALL = Subject("all", "all", "all EVs")
_ALL_WORDS = ("all", "everything", "all evs", "all ev", "evs", "*")
_RESOLVED_LIMIT = 50_000  # remembered resolutions of typed names


@dataclass(frozen=True, slots=True)
class SubjectKey:
    """A subject's stable key, parsed: the one place keys are built and parsed.

    `all`; `model:MAKE/MODEL` and `make:MAKE`, MAKE and MODEL the name keys the store files
    figures under (`bot.domain.names.name_key`); `group:SLUG`, SLUG the group's name slugged.
    Keys are kept as text (`Subject.key`, the store's columns): the builders return the text,
    `parse` takes it apart and `str` puts it back together.
    """

    kind: SubjectKind
    make: str = ""  # the make's key: a make's own, or a model's make's
    model: str = ""  # a model's key within its make
    group: str = ""  # a group's slug

    @staticmethod
    def for_model(make: str, model: str) -> str:
        """The key of a model, by its make's key and its own: `model:nissan/leaf`."""
        return f"model:{make}/{model}"

    @staticmethod
    def for_make(make: str) -> str:
        """The key of a make, by its key: `make:nissan`."""
        return f"make:{make}"

    @staticmethod
    def for_group(name: str) -> str:
        """The key of a group, by its name: `group:renault-nissan-alliance`."""
        return f"group:{slug(name)}"

    @classmethod
    def parse(cls, key: str) -> SubjectKey:
        """A key's parts; raises ValueError for text that is not a subject key."""
        if key == ALL.key:
            return cls("all")
        kind, colon, rest = key.partition(":")
        if colon and kind == "model":
            make, slash, model = rest.partition("/")
            if slash:
                return cls("model", make=make, model=model)
        elif colon and kind == "make":
            return cls("make", make=rest)
        elif colon and kind == "group":
            return cls("group", group=rest)
        raise ValueError(f"not a subject key: {key!r}")

    def __str__(self) -> str:
        if self.kind == "model":
            return self.for_model(self.make, self.model)
        if self.kind == "make":
            return self.for_make(self.make)
        if self.kind == "group":
            return f"group:{self.group}"
        return ALL.key


def shown_name(subject: Subject, loc: str) -> str:
    """A subject's name as an answer shows it: all EVs in the reader's language, others as named."""
    return tp(loc, "subject", "all EVs") if subject.kind == "all" else subject.name


class UnknownSubject(LocalizedError, LookupError):
    """A name that matches nothing; carries the closest names for "did you mean"
    (`unknown_subject` makes one)."""

    suggestions: list[str]


def unknown_subject(text: str, suggestions: Sequence[str]) -> UnknownSubject:
    """The error for `text`, naming the closest names when there are some."""
    if suggestions:
        names = ", ".join(repr(s) for s in suggestions)
        error = UnknownSubject(
            "No subject called {text}. Did you mean {names}?", text=repr(text), names=names
        )
    else:
        error = UnknownSubject("No subject called {text}.", text=repr(text))
    error.suggestions = list(suggestions)
    return error


@dataclass(frozen=True)
class Resolved:
    """A subject, and the region the name implied (a region's name means all EVs there)."""

    subject: Subject
    region: str | None = None


@dataclass
class Catalog:
    """Every name the bot knows, built from the store's names and the configuration."""

    models: list[ModelName] = field(default_factory=list)
    makes: dict[str, str] = field(default_factory=dict)
    groups: list[GroupSpec] = field(default_factory=list)
    aliases: Mapping[str, str] = field(default_factory=dict)
    regions: list[str] = field(default_factory=list)
    region_aliases: Mapping[str, str] = field(default_factory=dict)
    _index: dict[str, Resolved] = field(default_factory=dict, init=False)
    _names: dict[str, str] = field(default_factory=dict, init=False)  # loose key -> shown name
    _models: dict[tuple[str, str], ModelName] = field(default_factory=dict, init=False)
    _alias_keys: dict[str, str] = field(default_factory=dict, init=False)  # loose key -> target
    _resolved: dict[str, Resolved] = field(default_factory=dict, init=False)  # text -> answer

    def __post_init__(self) -> None:
        self.rebuild()

    def rebuild(self) -> None:
        """Recompute the lookup tables after a change to the names."""
        index: dict[str, Resolved] = {}
        names: dict[str, str] = {}

        def add(text: str, resolved: Resolved, shown: str | None = None) -> None:
            key = loose_key(text)
            if key and key not in index:
                index[key] = resolved
                names[key] = shown or text

        for word in _ALL_WORDS:
            add(word, Resolved(ALL), "all")
        for group in self.groups:
            subject = Subject("group", SubjectKey.for_group(group.name), group.name)
            add(group.name, Resolved(subject))
            for alias in group.aliases:
                add(alias, Resolved(subject), group.name)
        for make_key, display in self.makes.items():
            if make_key:
                add(display, Resolved(Subject("make", SubjectKey.for_make(make_key), display)))
        by_model: dict[str, list[ModelName]] = {}
        for m in self.models:
            full = f"{m.make} {m.model}"
            subject = Subject("model", SubjectKey.for_model(m.make_key, m.model_key), full)
            add(full, Resolved(subject))
            by_model.setdefault(loose_key(m.model), []).append(m)
        for key, same in by_model.items():
            if len(same) == 1 and key not in index:  # a bare model name, when it is unambiguous
                m = same[0]
                subject = Subject(
                    "model", SubjectKey.for_model(m.make_key, m.model_key), f"{m.make} {m.model}"
                )
                index[key] = Resolved(subject)
                names[key] = m.model
        for region in self.regions:
            add(region, Resolved(ALL, region))
        for alias, region in self.region_aliases.items():
            add(alias, Resolved(ALL, region), region)
        self._index, self._names = index, names
        self._models = {(m.make_key, m.model_key): m for m in self.models}
        alias_keys: dict[str, str] = {}
        for alias, target in self.aliases.items():
            alias_keys.setdefault(loose_key(alias), target)  # the first spelling wins, as before
        self._alias_keys = alias_keys
        self._resolved = {}

    def model(self, make_key: str, model_key: str) -> ModelName | None:
        """A model's names by its keys."""
        return self._models.get((make_key, model_key))

    def resolve(self, text: str) -> Resolved:
        """The subject a name means; raises `UnknownSubject` with suggestions."""
        found = self._resolved.get(text)
        if found is not None:
            return found
        seen: set[str] = set()
        current = text
        while True:
            key = loose_key(current)
            if not key:
                return Resolved(ALL)
            target = self._alias_keys.get(key)
            if target is None or key in seen:
                break
            seen.add(key)
            current = target
        found = self._index.get(key)
        if found is None:
            raise unknown_subject(text, self.suggest(text))
        if len(self._resolved) >= _RESOLVED_LIMIT:
            self._resolved.clear()
        self._resolved[text] = found  # names only change by rebuilding, which forgets these
        return found

    def suggest(self, text: str, limit: int = 3) -> list[str]:
        """The closest known names to a misspelt one."""
        key = loose_key(text)
        keys = list(self._names)
        close = difflib.get_close_matches(key, keys, n=limit, cutoff=0.6)
        if len(close) < limit:
            close += [k for k in keys if k.startswith(key) and k not in close][: limit - len(close)]
        return [self._names[k] for k in close]

    def region(self, text: str) -> str:
        """A region's stored name from what was typed (aliases, any case), else as typed."""
        wanted = name_key(text)
        for alias, region in self.region_aliases.items():
            if name_key(alias) == wanted:
                return region
        for region in self.regions:
            if name_key(region) == wanted:
                return region
        return text.strip()

    def subject_names(self) -> list[str]:
        """Every name a user can type, for autocomplete."""
        return sorted(set(self._names.values()))
