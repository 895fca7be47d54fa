"""Which series a poll's changed cells move: from the change journal's entries to the touched
series, each with the earliest month a news change moved it from and the earliest any did.

A model's change moves its model, its make, the groups its make belonged to from that month on,
and everything, in its region, the region's parents and the world (`bot.domain.hierarchy`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping

from bot.detection.steps import SeriesKey
from bot.domain.events import Metric, Subject
from bot.domain.hierarchy import Hierarchy, NameBook
from bot.domain.periods import Month
from bot.domain.records import ModelName, SourceInfo
from bot.domain.subjects import ALL, Catalog, SubjectKey


class PollNames:
    """The names a poll needs, without building the whole catalog's name index (costly with
    thousands of models) unless an event needs it (a make's or group's leading model)."""

    def __init__(
        self,
        makes: Mapping[str, str],
        models: Mapping[tuple[str, str], ModelName],
        load: Callable[[], Awaitable[Catalog]],
    ) -> None:
        self.makes = makes
        self._models = models
        self._load = load
        self._catalog: Catalog | None = None

    def model(self, make_key: str, model_key: str) -> ModelName | None:
        """A model's display names."""
        return self._models.get((make_key, model_key))

    async def catalog(self) -> Catalog:
        """The whole catalog, loaded once."""
        if self._catalog is None:
            self._catalog = await self._load()
        return self._catalog


NameRows = tuple[list[tuple[str, str]], list[tuple[str, str, str]]]
Triple = tuple[str, str, Metric]  # subject key, region, metric


class TouchedMemo:
    """What `touched_series` builds under one set of names, kept for the next poll under the
    same names (`KeptNames.memo`): a poll of 10,000 models spent tens of milliseconds building
    the same subjects and series keys again."""

    def __init__(self) -> None:
        self.subjects: dict[str, Subject] = {ALL.key: ALL}  # by key
        self.series: dict[Triple, SeriesKey] = {}
        # (make key, model key) -> the make's and the model's subject keys, once named
        self.pairs: dict[tuple[str, str], tuple[str, str]] = {}


class KeptNames:
    """The makes' and models' names kept between polls (building 10,000 models' names cost a
    poll tens of milliseconds): rebuilt whenever the stored rows (`BotStore.name_rows`)
    differ from the kept copy in any way, so a rename by an import in this process or
    another is seen at the next poll. The rows are read only when the store's names version
    (`BotStore.names_version`) is not the one they were kept at (reading 11,000 rows to
    find them unchanged cost a poll 25-35 ms)."""

    def __init__(self) -> None:
        self._rows: NameRows | None = None
        self._version: int | None = None
        self.makes: dict[str, str] = {}
        self.models: dict[tuple[str, str], ModelName] = {}
        self.models_of: dict[str, list[str]] = {}  # each make's model keys
        self.memo = TouchedMemo()  # named by these names

    def current(self, version: int | None) -> bool:
        """Whether the kept names are the store's at names version `version` (None: a store
        that keeps no version, whose rows must be compared)."""
        return version is not None and version == self._version and self._rows is not None

    def update(self, rows: NameRows, version: int | None = None) -> None:
        """Keep the names of `rows`, read at names version `version` (read before the rows),
        unless they are the rows kept already."""
        self._version = version
        if rows == self._rows:
            return
        makes = dict(rows[0])
        self.models = {
            (make, model): ModelName(make, model, makes.get(make, make), display)
            for make, model, display in rows[1]
        }
        models_of: dict[str, list[str]] = {}
        for make, model, _ in rows[1]:
            models_of.setdefault(make, []).append(model)
        self.makes, self._rows, self.memo = makes, rows, TouchedMemo()
        self.models_of = models_of


def touched_series(
    cells: Iterable[tuple[int, str, str, str, Month, Month | None]],
    sources: Mapping[int, SourceInfo],
    names: NameBook,
    hierarchy: Hierarchy,
    memo: TouchedMemo | None = None,
) -> tuple[dict[SeriesKey, Month | None], dict[SeriesKey, Month]]:
    """Every series the changed cells (`BotStore.journal_changes`) move, with the
    earliest month a news (not history) change moved it from (None: history only), and
    the earliest month any change did. What it builds is kept in `memo` for the next call
    under the same names (`KeptNames.memo`)."""
    if memo is None:
        memo = TouchedMemo()
    subjects, pairs = memo.subjects, memo.pairs
    # keyed by (subject key, region, metric) while collecting: cheap to hash; each holds
    # [moved from, news from]
    found: dict[Triple, list[Month | None]] = {}
    regions: dict[str, list[str]] = {}
    metrics: dict[int, Metric] = {
        i: "stock" if s.metric == "stock" else "sales" for i, s in sources.items()
    }
    memberships = hierarchy.memberships
    everything = ALL.key
    for source_id, region, make_key, model_key, earliest, news_from in cells:
        metric = metrics[source_id]
        where = regions.get(region)
        if where is None:
            where = regions[region] = hierarchy.regions_of(region)
        moves: Iterable[tuple[str, Month, Month | None]]
        if make_key in memberships or not (make_key and model_key):
            moves = moved_subjects(
                hierarchy, make_key, model_key, earliest, news_from, names, subjects
            )
        else:
            # the usual cell, of a model whose make is in no group: `moved_subjects` inline
            pair = pairs.get((make_key, model_key))
            if pair is None:
                pair = pairs[(make_key, model_key)] = usual_pair(
                    make_key, model_key, names, subjects
                )
            moves = (
                (everything, earliest, news_from),
                (pair[0], earliest, news_from),
                (pair[1], earliest, news_from),
            )
        for subject_key, moved, news in moves:
            for place in where:
                triple = (subject_key, place, metric)
                was = found.get(triple)
                if was is None:
                    found[triple] = [moved, news]
                    continue
                # months parsed once are shared: the same month is usually the same object
                first = was[0]
                if moved is not first and moved < first:  # type: ignore[operator]
                    was[0] = moved
                if news is not None:
                    told = was[1]
                    if told is None or (news is not told and news < told):
                        was[1] = news
    series = memo.series
    out_touched: dict[SeriesKey, Month | None] = {}
    out_changed: dict[SeriesKey, Month] = {}
    for triple, (since, news_since) in found.items():
        key = series.get(triple)
        if key is None:
            key = series[triple] = SeriesKey(subjects[triple[0]], triple[1], triple[2])
        out_touched[key] = news_since
        out_changed[key] = since  # type: ignore[assignment]  # never None
    return out_touched, out_changed


def usual_pair(
    make_key: str, model_key: str, names: NameBook, subjects: dict[str, Subject]
) -> tuple[str, str]:
    """The subject keys of a model of a make in no group and of its make, each remembered in
    `subjects` (as `moved_subjects` names them)."""
    make = SubjectKey.for_make(make_key)
    if make not in subjects:
        subjects[make] = Subject("make", make, names.makes.get(make_key, make_key))
    model = SubjectKey.for_model(make_key, model_key)
    if model not in subjects:
        found = names.model(make_key, model_key)
        name = f"{found.make} {found.model}" if found else model_key
        subjects[model] = Subject("model", model, name)
    return make, model


def moved_subjects(
    hierarchy: Hierarchy,
    make_key: str,
    model_key: str,
    earliest: Month,
    news_from: Month | None,
    names: NameBook,
    subjects: dict[str, Subject],
) -> list[tuple[str, Month, Month | None]]:
    """The subjects one cell's change moves, as (subject key, moved from, news from); each
    subject is remembered in `subjects`."""
    moves = [(ALL.key, earliest, news_from)]
    if make_key:
        key = SubjectKey.for_make(make_key)
        if key not in subjects:
            subjects[key] = Subject("make", key, names.makes.get(make_key, make_key))
        moves.append((key, earliest, news_from))
        if make_key in hierarchy.memberships:
            news_groups = hierarchy.groups_from(make_key, news_from) if news_from else {}
            for group, joined in hierarchy.groups_from(make_key, earliest).items():
                subjects[group.key] = group
                moves.append((group.key, joined, news_groups.get(group)))
    if model_key:
        key = SubjectKey.for_model(make_key, model_key)
        model = names.model(make_key, model_key)
        name = f"{model.make} {model.model}" if model else model_key
        subjects[key] = Subject("model", key, name)
        moves.append((key, earliest, news_from))
    return moves
