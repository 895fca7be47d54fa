"""Corrections told in the message's language: a milestone revised away, moved or restored; an
announcement corrected in place (its marker in every language); and a milestone chart's words
for people who cannot see it.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.events import CorrectionEvent, MilestoneEvent
from bot.domain.formatting import format_period, format_units, validate_locale
from bot.domain.i18n import t, tp
from bot.domain.messages import Field, Message
from bot.domain.news_words import (
    cap,
    figures_as_of,
    footer,
    in_period,
    in_sentence,
    milestone_noun,
    owner,
    where_phrase,
)
from bot.domain.places import where_in


def correction_message(e: CorrectionEvent, loc: str) -> Message:
    """A correction: a milestone that moved, no longer holds, or holds again."""
    when = format_period(e.period, e.granularity, loc)
    announced = format_period(e.old_period, e.granularity, loc)
    v = {
        "where": where_in(e.region, e.covers, loc),
        "threshold": format_units(e.threshold, loc),
        "noun": milestone_noun(e.subject, e.metric, loc),
        "name": e.subject.name,
        "subject": in_sentence(e.subject, loc),
        "now": figures_as_of(e.metric, format_units(e.value, loc), when, loc),
        "announced": announced,
    }
    fields = [
        Field(tp(loc, "field", "Total"), format_units(e.value, loc)),
        Field(tp(loc, "field", "Period"), when),
    ]
    if e.reason == "restored":
        passed = in_period(e.new_period or e.period, e.granularity, loc)
        title = t(loc, "{name} passes {threshold} {noun}{where} again", **v)
        body = t(
            loc,
            "{subject} has passed {threshold} {noun}{where} again, {in_passed} ({now}),"
            " after revised figures had taken it back below.",
            **{**v, "subject": cap(v["subject"]), "in_passed": passed},
        )
        accent = "milestone"
    elif e.reason == "moved" and e.new_period is not None:
        # the new period is a phrase ("in June 2015", "im Jahr 2015"); the announced one
        # stands bare after "not", so each language words that part around a bare period
        moved = in_period(e.new_period, e.granularity, loc)
        title = t(
            loc,
            "Correction: {name} passed {threshold} {noun}{where} {in_moved}",
            **v,
            in_moved=moved,
        )
        body = t(
            loc,
            "Correction: revised figures put {subject}'s {threshold} {noun}{where} {in_moved},"
            " not {announced} as announced ({now}).",
            **v,
            in_moved=moved,
        )
        fields.append(Field(tp(loc, "field", "Announced"), announced))
        accent = "info"
    else:
        title = t(loc, "Correction: {name} is below {threshold} {noun}{where}", **v)
        body = t(
            loc,
            "Correction: revised figures put {subject} at {now}{where}, below {threshold};"
            " the milestone announced for {announced} no longer holds.",
            **v,
        )
        fields.append(Field(tp(loc, "field", "Announced"), announced))
        accent = "info"
    return Message(
        title=title,
        body=body,
        fields=tuple(fields),
        footer=footer(e.source, when, loc),
        accent=accent,
        locale=loc,
        kind="correction",
    )


def correction_marker(loc: str) -> str:
    """How a correction's sentence starts in the language of `loc` ("Correction: "): the mark
    an announcement corrected in place keeps, which no template can take away."""
    return tp(loc, "marker", "Correction: ")


def corrected_title(title: str, loc: str) -> str:
    """An announcement's title marked corrected ("Corrected: …"), once."""
    marked = t(loc, "Corrected: {title}", title="")
    if title.startswith(marked):
        return title
    return t(loc, "Corrected: {title}", title=title)


def corrected(original: Message, corrections: Sequence[CorrectionEvent], locale: str) -> Message:
    """An announcement as edited in place after `corrections` made some of it untrue: marked
    corrected in its title, with each correction's sentence after its body."""
    loc = validate_locale(locale)
    notes = [correction_message(c, loc).body for c in corrections if c.reason != "restored"]
    if not notes:
        return original
    # an earlier note is replaced
    body = original.body.split("\n\n" + correction_marker(loc), 1)[0]
    return Message(
        title=corrected_title(original.title, loc),
        body="\n\n".join([body, *notes]),
        fields=original.fields,
        footer=original.footer,
        accent=original.accent,
        locale=original.locale,
        kind=original.kind,
    )


def chart_alt(e: MilestoneEvent, loc: str = "en") -> str:
    """A milestone's chart in words, for people who cannot see it: "Chart of the cumulative
    sales of the Nissan Leaf, passing 250,000 in June 2015"."""
    v = {
        "where": where_phrase(e, loc),
        "headline": format_units(e.headline, loc),
        "in_when": in_period(e.period, e.granularity, loc),
        "subject": in_sentence(e.subject, loc),
        "owner": owner(e.subject, loc),
    }
    stock = e.metric == "stock"
    if e.subject.kind == "all":
        if stock:
            return t(
                loc,
                "Chart of electric vehicles registered{where}, passing {headline} {in_when}",
                **v,
            )
        return t(
            loc, "Chart of cumulative electric car sales{where}, passing {headline} {in_when}", **v
        )
    if e.subject.kind == "model":
        if stock:
            return t(
                loc, "Chart of {subject} on the road{where}, passing {headline} {in_when}", **v
            )
        return t(
            loc,
            "Chart of the cumulative sales of {subject}{where}, passing {headline} {in_when}",
            **v,
        )
    if stock:
        return t(
            loc,
            "Chart of {owner} electric vehicles registered{where}, passing {headline} {in_when}",
            **v,
        )
    return t(
        loc,
        "Chart of {owner} cumulative electric car sales{where}, passing {headline} {in_when}",
        **v,
    )
