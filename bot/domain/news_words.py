"""The newsroom's words an event's message is made of: who (with "the" where English reads so),
where, which thresholds, which months, from which source, in the message's language.

English is the source text (`bot.domain.i18n`): its articles and possessives ("the Nissan
Leaf", "Nissan's") are made here; other languages name a subject as it is written and write the
rest in their own messages.
"""

from __future__ import annotations

import math
from functools import lru_cache

from bot.domain.events import Event, Metric, MilestoneEvent, Subject
from bot.domain.formatting import (
    fast_units,
    format_month,
    format_month_name,
    format_percent,
    format_units,
    format_year,
)
from bot.domain.i18n import is_english, t, tn, tp
from bot.domain.periods import Month
from bot.domain.places import and_list, covered_in, in_place, is_world, where_in, worldwide
from bot.domain.rungs import RungRange

# Group names that read as common nouns take "the" ("the Renault-Nissan Alliance"); brand-like
# group names ("Stellantis", "Geely") do not.
_ARTICLE_WORDS = frozenset(
    {"alliance", "group", "consortium", "partnership", "association", "corporation", "company"}
)


def milestone_noun(subject: Subject, metric: Metric, loc: str) -> str:
    """What a milestone counts: a model's "sales" or "on the road", else cars sold or registered."""
    stock = metric == "stock"
    if subject.kind == "model":
        if stock:
            return tp(loc, "milestone noun", "on the road")
        return tp(loc, "milestone noun", "sales")
    if stock:
        return tp(loc, "milestone noun", "electric vehicles registered")
    return tp(loc, "milestone noun", "electric cars sold")


def the_model(name: str, loc: str) -> str:
    """A leading model inside a sentence: "the Nissan Leaf" (the name alone but in English)."""
    if not is_english(loc) or name.casefold().startswith("the "):
        return name
    return f"the {name}"


# kept: every answer has one, and the answers of a store mostly share a few (one text each,
# where the command layer keeps thousands of answers)
@lru_cache(maxsize=4096)
def footer(source: str, when: str, loc: str) -> str:
    """ "Source: Press · data through June 2015", or "Data through June 2015" without a source."""
    if source:
        return t(loc, "Source: {source} · data through {when}", source=source, when=when)
    return t(loc, "Data through {when}", when=when)


def in_period(month: Month, granularity: str, loc: str) -> str:
    """ "in June 2015", or "in 2015" for a yearly figure: a phrase of its own for each, as a
    language may say them differently (German "im Juni 2015" but "im Jahr 2015")."""
    if granularity == "year":
        return t(loc, "in {year}", year=format_year(month.year, loc))
    return t(loc, "in {month}", month=format_month(month, loc))


def around_period(month: Month, granularity: str, loc: str) -> str:
    """ "around June 2015", or "around 2015" for a yearly figure (each its own phrase)."""
    if granularity == "year":
        return t(loc, "around {year}", year=format_year(month.year, loc))
    return t(loc, "around {month}", month=format_month(month, loc))


def next_value(
    threshold: int, projected: Month | None, loc: str, granularity: str = "month"
) -> str:
    """A next threshold, with when the recent pace reaches it: "300,000 (around January 2016)"."""
    # every /ev-milestones answer tells one, and Babel takes ~15 us a number
    text = fast_units(threshold, loc)
    if projected is None:
        return text
    return t(
        loc,
        "{value} ({around_when})",
        value=text,
        around_when=around_period(projected, granularity, loc),
    )


LISTED_RUNGS = 3  # a longer run names its first few and counts the rest


def passed_rungs(thresholds: RungRange, loc: str) -> str:
    """ "250,000"; "200,000 and 250,000"; or, for a long run, "10,000, 25,000, 50,000 and 4
    more up to 250,000" (the rungs are counted, never listed one by one)."""
    if thresholds.count <= LISTED_RUNGS + 1:
        return and_list([format_units(r, loc) for r in thresholds.rungs(thresholds.count)], loc)
    first = tp(loc, "list", ", ").join(format_units(r, loc) for r in thresholds.rungs(LISTED_RUNGS))
    more = thresholds.count - LISTED_RUNGS
    return tn(
        loc,
        "{first} and {more} more up to {highest}",
        "{first} and {more} more up to {highest}",
        more,
        first=first,
        more=format_units(more, loc),
        highest=format_units(thresholds.highest, loc),
    )


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
        return month if bare else t(loc, "in {month}", month=month)
    first, last = format_month_name(Month(end.year, 1), loc), format_month(end, loc)
    if bare:
        return t(loc, "{first} to {last}", first=first, last=last)
    return t(loc, "from {first} to {last}", first=first, last=last)


def figures_as_of(metric: Metric, value: str, when: str, loc: str) -> str:
    """ "251,100 through June 2015" (sales run through a month), "1,000 as of June 2015" (a
    stock is as of it)."""
    if metric == "stock":
        return t(loc, "{value} as of {when}", value=value, when=when)
    return t(loc, "{value} through {when}", value=value, when=when)


def where_phrase(e: Event, loc: str) -> str:
    """ " in Norway"; what a partial figure covers ("in the USA", never worldwide); for the
    world, when its figures are one region's alone, that region (a World subscription still
    hears the world's news)."""
    if isinstance(e, MilestoneEvent) and e.since and not e.covers:
        here = worldwide(loc) if is_world(e.region) else in_place(e.region, loc)
        return t(
            loc,
            "{where} since {since} ({covered} only before)",
            where=here,
            since=e.since,
            covered=covered_in(e.before, loc),
        )
    if e.covers or not is_world(e.region):
        return where_in(e.region, e.covers, loc)
    alone = sorted(r for s, r in e.same_as if s.key == e.subject.key and not is_world(r))
    return in_place(alone[0], loc) if alone else ""


def alone_phrase(e: Event, loc: str) -> str:
    """ ", all of Nissan's EVs so far," where the event is told to a subscription to Nissan
    and its figures are all of Nissan's."""
    told = e.told_as
    if told is None:
        return ""
    if told.kind == "all":
        return t(loc, ", all EVs so far,")
    if told.kind == "model":
        return t(loc, ", all of {subject} so far,", subject=in_sentence(told, loc))
    return t(loc, ", all of {owner} EVs so far,", owner=owner(told, loc))


def named(e: Event, loc: str) -> str:
    """The event's subject inside a sentence, with what it stands for in this channel."""
    return f"{in_sentence(e.subject, loc)}{alone_phrase(e, loc)}"


def titled(e: Event, loc: str) -> str:
    """The event's subject in a title, with what it stands for in this channel."""
    return f"{e.subject.name}{alone_phrase(e, loc)}"


def in_sentence(subject: Subject, loc: str) -> str:
    """The subject's name inside a sentence: English "the Nissan Leaf", "Nissan"; other
    languages the name as written."""
    return the_name(subject) if is_english(loc) else subject.name


def owner(subject: Subject, loc: str) -> str:
    """Whose: English "Nissan's", "Stellantis'", "the Alliance's"; other languages the name
    (their messages place it)."""
    return possessive(the_name(subject)) if is_english(loc) else subject.name


def the_name(subject: Subject) -> str:
    """The subject's name as used inside an English sentence: "the Nissan Leaf", "Nissan"."""
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
