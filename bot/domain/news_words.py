"""The newsroom's words an event's message is made of: who (with "the" where it reads so),
where, which thresholds, which months, from which source.

The prose is English; numbers, percentages and months follow the message's locale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot.domain.events import Event, Metric, MilestoneEvent, Subject
from bot.domain.formatting import (
    covered,
    format_month,
    format_month_name,
    format_percent,
    format_period,
    format_units,
    in_region,
    place,
)
from bot.domain.periods import Month
from bot.domain.rungs import RungRange

# Group names that read as common nouns take "the" ("the Renault-Nissan Alliance"); brand-like
# group names ("Stellantis", "Geely") do not.
_ARTICLE_WORDS = frozenset(
    {"alliance", "group", "consortium", "partnership", "association", "corporation", "company"}
)


def milestone_noun(subject: Subject, metric: Metric) -> str:
    """What a milestone counts: a model's "sales" or "on the road", else cars sold or registered."""
    stock = metric == "stock"
    if subject.kind == "model":
        return "on the road" if stock else "sales"
    return "electric vehicles registered" if stock else "electric cars sold"


def the_model(name: str) -> str:
    """A leading model inside a sentence: "the Nissan Leaf"."""
    return name if name.casefold().startswith("the ") else f"the {name}"


def footer(source: str, when: str, loc: str) -> str:
    """ "Source: Press · data through June 2015", or "Data through June 2015" without a source."""
    through = f"data through {when}"
    return f"Source: {source} · {through}" if source else cap(through)


def next_value(
    threshold: int, projected: Month | None, loc: str, granularity: str = "month"
) -> str:
    """A next threshold, with when the recent pace reaches it: "300,000 (around January 2016)"."""
    text = format_units(threshold, loc)
    if projected is None:
        return text
    return f"{text} (around {format_period(projected, granularity, loc)})"


LISTED_RUNGS = 3  # a longer run names its first few and counts the rest


def passed_rungs(thresholds: RungRange, loc: str) -> str:
    """ "250,000"; "200,000 and 250,000"; or, for a long run, "10,000, 25,000, 50,000 and 4
    more up to 250,000" (the rungs are counted, never listed one by one)."""
    if thresholds.count <= LISTED_RUNGS + 1:
        return and_list([format_units(t, loc) for t in thresholds.rungs(thresholds.count)])
    first = ", ".join(format_units(t, loc) for t in thresholds.rungs(LISTED_RUNGS))
    more = format_units(thresholds.count - LISTED_RUNGS, loc)
    return f"{first} and {more} more up to {format_units(thresholds.highest, loc)}"


def and_list(items: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def share_text(share: float, boundary: float, direction: str, loc: str) -> str:
    """A share that crossed `boundary`, rounded so that it never contradicts the news."""
    # Rounding must not contradict the news: a share that fell below 70% is never shown as "70%".
    if direction == "up":
        return format_percent(share, loc)
    for digits in (0, 1):
        if round(share * 100, digits) / 100 < boundary:
            return format_percent(share, loc, digits)
    return format_percent(math.floor(share * 1000) / 1000, loc, 1)


def months_window(end: Month, loc: str, *, bare: bool = False) -> str:
    """ "from January to May 2015" (or "January to May 2015"); "in January 2015" for one month."""
    if end.month == 1:
        month = format_month(end, loc)
        return month if bare else f"in {month}"
    span = f"{format_month_name(Month(end.year, 1), loc)} to {format_month(end, loc)}"
    return span if bare else f"from {span}"


def as_of_word(metric: Metric) -> str:
    """A stock is "as of" a month, sales run "through" it."""
    return "as of" if metric == "stock" else "through"


def is_world(region: str) -> bool:
    """Whether the region is the whole world."""
    return region.strip().casefold() in ("", "world")


def region_field(region: str, covers: Sequence[str]) -> str:
    """The Region field: the region, with what a partial figure covers."""
    if not covers:
        return region
    return f"{covered(covers)} only" if is_world(region) else f"{region} ({covered(covers)} only)"


def where_phrase(e: Event) -> str:
    """ " in Norway"; what a partial figure covers ("in the USA", never worldwide); for the
    world, when its figures are one region's alone, that region (a World subscription still
    hears the world's news)."""
    if isinstance(e, MilestoneEvent) and e.since and not e.covers:
        here = " worldwide" if is_world(e.region) else f" in {place(e.region)}"
        return f"{here} since {e.since} ({covered(e.before)} only before)"
    if e.covers or not is_world(e.region):
        return in_region(e.region, e.covers)
    alone = sorted(r for s, r in e.same_as if s.key == e.subject.key and not is_world(r))
    return f" in {place(alone[0])}" if alone else ""


def alone_phrase(e: Event) -> str:
    """ ", all of Nissan's EVs so far," where the event is told to a subscription to Nissan
    and its figures are all of Nissan's."""
    told = e.told_as
    if told is None:
        return ""
    if told.kind == "all":
        whole = "all EVs"
    elif told.kind == "model":
        whole = f"all of {the_name(told)}"
    else:
        whole = f"all of {possessive(the_name(told))} EVs"
    return f", {whole} so far,"


def named(e: Event) -> str:
    """The event's subject inside a sentence, with what it stands for in this channel."""
    return f"{the_name(e.subject)}{alone_phrase(e)}"


def titled(e: Event) -> str:
    """The event's subject in a title, with what it stands for in this channel."""
    return f"{e.subject.name}{alone_phrase(e)}"


def the_name(subject: Subject) -> str:
    """The subject's name as used inside a sentence: "the Nissan Leaf", "Nissan"."""
    name = subject.name
    if name.casefold().startswith("the "):
        return name
    words = name.split()
    if subject.kind == "model" or (
        subject.kind == "group" and words and words[-1].casefold() in _ARTICLE_WORDS
    ):
        return f"the {name}"
    return name


def possessive(name: str) -> str:
    """ "Nissan's", "Stellantis'"."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def cap(text: str) -> str:
    """The text with its first letter capitalised."""
    return text[:1].upper() + text[1:]
