"""Why a figure's years are not compared: the reasons `bot.domain.coverage.tell` drops an event
and a period's total is not set against the year before, in words (`/ev-preview`, `replay
--explain`, `/ev-total period:`)."""

from __future__ import annotations

from bot.domain.coverage import Basis, SourceFacts, alike, cite, torn
from bot.domain.events import Event, GrowthEvent, RecordEvent
from bot.domain.i18n import t, tp


def why_not(event: Event, basis: Basis, facts: SourceFacts) -> str:
    """Why `tell` drops an event, for `/ev-preview` and `replay --explain`."""
    year = event.period.year
    pairs = basis.get(year, set())
    if torn(event, pairs, facts):
        return f"{year} sums whole years and months ({pairs_text(pairs, facts)}): not like for like"
    if isinstance(event, GrowthEvent):
        return unlike_years(basis, year, facts)
    if isinstance(event, RecordEvent):
        return f"no earlier period of {pairs_text(pairs, facts)} to compare with"
    return ""


def unlike_years(basis: Basis, year: int, facts: SourceFacts, loc: str = "en") -> str:
    """Why `year` is not compared with the year before ("" when it is, like for like), in the
    language of `loc`."""
    if alike(basis, year, year - 1, facts):
        return ""
    a, b = basis.get(year, set()), basis.get(year - 1, set())
    v = {"year": year, "before": year - 1}
    if not b:
        return t(loc, "no figures for {before} to compare with", **v)
    if a == b:
        return t(loc, "{year} and {before} are not of the same granularity: not like for like", **v)
    return t(
        loc,
        "{year} is taken from {taken} and {before} from {earlier}: not like for like",
        **v,
        taken=pairs_text(a, facts, loc),
        earlier=pairs_text(b, facts, loc),
    )


def pairs_text(pairs: set[tuple[str, int]], facts: SourceFacts, loc: str = "en") -> str:
    """The regions and sources of `pairs`, as the reasons name them."""
    if not pairs:
        return tp(loc, "figures taken from", "nothing")
    regions = ", ".join(sorted({r for r, _ in pairs}))
    return f"{regions} ({cite(pairs, facts)})"
