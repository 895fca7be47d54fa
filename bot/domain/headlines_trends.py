"""Growth on a year earlier and monthly or yearly records, each told as a headline, a sentence
and its key figures, in the message's language (whole-sentence messages, `bot.domain.i18n`).
"""

from __future__ import annotations

from bot.domain.events import GrowthEvent, RecordEvent
from bot.domain.formatting import (
    format_change,
    format_month,
    format_percent,
    format_period,
    format_units,
    format_year,
)
from bot.domain.i18n import t, tp
from bot.domain.messages import Field, Message
from bot.domain.news_words import (
    alone_phrase,
    cap,
    footer,
    in_period,
    months_window,
    named,
    owner,
    titled,
    where_phrase,
)


def _growth_leads(e: GrowthEvent, loc: str) -> tuple[str, str]:
    """Who grew, starting the body and the title: "Sales of the Nissan Leaf", "Nissan Leaf
    sales"; "Electric car sales" for all of them."""
    stock = e.metric == "stock"
    if e.subject.kind == "all":
        lead = (
            tp(loc, "growth", "Electric vehicle registrations")
            if stock
            else tp(loc, "growth", "Electric car sales")
        )
        return lead, lead
    if e.subject.kind == "model":
        subject = named(e, loc)
        if stock:
            lead = t(loc, "Registrations of {subject}", subject=subject)
        else:
            lead = t(loc, "Sales of {subject}", subject=subject)
    else:
        whose = {"owner": owner(e.subject, loc), "alone": alone_phrase(e, loc)}
        if stock:
            lead = t(loc, "Registrations of {owner} electric vehicles{alone}", **whose)
        else:
            lead = t(loc, "Sales of {owner} electric cars{alone}", **whose)
    if stock:
        return lead, tp(loc, "growth", "{subject} registrations", subject=titled(e, loc))
    return lead, tp(loc, "growth", "{subject} sales", subject=titled(e, loc))


def growth_message(e: GrowthEvent, loc: str) -> Message:
    """Sales of the year so far against the same months a year earlier."""
    yearly = e.granularity == "year"
    year = format_year(e.period.year, loc)
    last_year = format_year(e.period.year - 1, loc)
    lead, title_lead = _growth_leads(e, loc)
    v = {
        "lead": lead,
        "where": where_phrase(e, loc),
        "value": format_units(e.value, loc),
        "previous": format_units(e.previous, loc),
        "year": year,
        "last_year": last_year,
        "window": t(loc, "in {year}", year=year) if yearly else months_window(e.period, loc),
        "amount": format_percent(abs(e.change), loc, digits=1),
    }
    title_v = {**v, "lead": title_lead}
    if e.previous == 0:
        if yearly:
            title = t(loc, "{lead}{where} reach {value} in {year}", **title_v)
            body = t(loc, "{lead}{where} reached {value} {window}, with none in {last_year}.", **v)
        else:
            title = t(loc, "{lead}{where} reach {value} in {year} so far", **title_v)
            body = t(
                loc,
                "{lead}{where} reached {value} {window}, with none in the same months last year.",
                **v,
            )
    elif round(abs(e.change) * 100, 1) == 0:
        if yearly:
            title = t(loc, "{lead}{where} level with {last_year}", **title_v)
            body = t(
                loc,
                "{lead}{where} reached {value} {window}, level with {last_year}'s {previous}.",
                **v,
            )
        else:
            title = t(loc, "{lead}{where} level with last year", **title_v)
            body = t(
                loc,
                "{lead}{where} reached {value} {window}, level with last year's {previous}.",
                **v,
            )
    elif e.change > 0:
        if yearly:
            title = t(loc, "{lead}{where} up {amount} on {last_year}", **title_v)
            body = t(
                loc,
                "{lead}{where} reached {value} {window}, up {amount} on {last_year}'s {previous}.",
                **v,
            )
        else:
            title = t(loc, "{lead}{where} up {amount} on last year", **title_v)
            body = t(
                loc,
                "{lead}{where} reached {value} {window}, up {amount} on last year's {previous}.",
                **v,
            )
    elif yearly:
        title = t(loc, "{lead}{where} down {amount} on {last_year}", **title_v)
        body = t(
            loc,
            "{lead}{where} reached {value} {window}, down {amount} on {last_year}'s {previous}.",
            **v,
        )
    else:
        title = t(loc, "{lead}{where} down {amount} on last year", **title_v)
        body = t(
            loc,
            "{lead}{where} reached {value} {window}, down {amount} on last year's {previous}.",
            **v,
        )
    fields = (
        Field(tp(loc, "field", "Year") if yearly else tp(loc, "field", "Year to date"), v["value"]),
        Field(last_year if yearly else tp(loc, "field", "Last year"), v["previous"]),
        Field(
            tp(loc, "field", "Change"),
            format_change(e.change, loc) if e.previous else tp(loc, "field value", "new"),
        ),
        Field(
            tp(loc, "field", "Period"), year if yearly else months_window(e.period, loc, bare=True)
        ),
    )
    return Message(
        title=title,
        body=body,
        fields=fields,
        footer=footer(e.source, year if yearly else format_month(e.period, loc), loc),
        accent="growth",
        locale=loc,
        kind="growth",
    )


def _record_sentences(e: RecordEvent, loc: str, v: dict[str, str]) -> tuple[str, str]:
    """A record's title and the start of its body, for its subject, metric and granularity."""
    yearly = e.granularity == "year"
    if e.subject.kind != "all":
        if yearly:
            return (
                t(loc, "{subject} sets a yearly record{where}: {value} in {when}", **v),
                t(loc, "{named} had its best year yet{where}: {value} in {when}", **v),
            )
        return (
            t(loc, "{subject} sets a monthly record{where}: {value} {in_when}", **v),
            t(loc, "{named} had its best month yet{where}: {value} {in_when}", **v),
        )
    if e.metric == "stock":
        if yearly:
            return (
                t(
                    loc,
                    "Electric vehicle registrations set a yearly record{where}: {value} in {when}",
                    **v,
                ),
                t(
                    loc,
                    "Electric vehicle registrations had their best year yet{where}:"
                    " {value} in {when}",
                    **v,
                ),
            )
        return (
            t(
                loc,
                "Electric vehicle registrations set a monthly record{where}: {value} {in_when}",
                **v,
            ),
            t(
                loc,
                "Electric vehicle registrations had their best month yet{where}: {value} {in_when}",
                **v,
            ),
        )
    if yearly:
        return (
            t(loc, "Electric car sales set a yearly record{where}: {value} in {when}", **v),
            t(loc, "Electric car sales had their best year yet{where}: {value} in {when}", **v),
        )
    return (
        t(loc, "Electric car sales set a monthly record{where}: {value} {in_when}", **v),
        t(loc, "Electric car sales had their best month yet{where}: {value} {in_when}", **v),
    )


def record_message(e: RecordEvent, loc: str) -> Message:
    """A month's (or a year's) best figure yet, with the best it beat."""
    value = format_units(e.value, loc)
    month = format_period(e.period, e.granularity, loc)
    v = {
        "where": where_phrase(e, loc),
        "value": t(loc, "{value} registered", value=value) if e.metric == "stock" else value,
        "when": month,
        "in_when": in_period(e.period, e.granularity, loc),
        "subject": titled(e, loc),
        "named": cap(named(e, loc)),
    }
    title, body = _record_sentences(e, loc, v)
    best = (
        tp(loc, "field", "Best year") if e.granularity == "year" else tp(loc, "field", "Best month")
    )
    fields = [Field(best, value), Field(tp(loc, "field", "Period"), month)]
    if e.previous_best_period is not None or e.previous_best:
        previous = format_units(e.previous_best, loc)
        if e.previous_best_period is None:
            body += t(loc, " (previous best {previous})", previous=previous)
            fields.append(Field(tp(loc, "field", "Previous best"), previous))
        else:
            previous_month = format_period(e.previous_best_period, e.granularity, loc)
            body += t(
                loc,
                " (previous best {previous} {in_when})",
                previous=previous,
                in_when=in_period(e.previous_best_period, e.granularity, loc),
            )
            fields.append(
                Field(tp(loc, "field", "Previous best"), f"{previous} ({previous_month})")
            )
    return Message(
        title=title,
        body=tp(loc, "sentence", "{sentence}.", sentence=body),
        fields=tuple(fields),
        footer=footer(e.source, month, loc),
        accent="record",
        locale=loc,
        kind="record",
    )
