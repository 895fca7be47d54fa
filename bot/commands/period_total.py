"""`/ev-total … period:P`: the units sold in a window (a year, a quarter, a month, year to date
or a range), not cumulative, against the same window a year earlier where that compares like with
like (docs/counting-rules.md, rules 2, 9 and 10)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.commands.answer_words import (
    counted_tag,
    headed,
    leads,
    no_period,
    note,
    sold_in,
    unconfirmed_note,
    unconfirmed_tag,
)
from bot.commands.arguments import ArgumentError, PeriodSpec
from bot.commands.context import CommandContext
from bot.domain.coverage import Basis, SourceFacts, cite, covers, granularity
from bot.domain.events import Subject
from bot.domain.formatting import (
    fast_percent,
    fast_units,
    format_month,
    format_month_name,
    format_year,
)
from bot.domain.i18n import is_english, t, tp
from bot.domain.messages import Field, Message
from bot.domain.news_words import footer as data_footer
from bot.domain.periods import Month
from bot.domain.places import covered_in, where_in
from bot.domain.powertrains import ELECTRIC, measure
from bot.domain.subjects import shown_name
from bot.domain.unlike_years import unlike_years

TOP_MODELS = 5


def window_label(first: Month, last: Month, loc: str) -> str:
    """A window in words: `2023`, `Q2 2023`, `June 2023`, `2019 to 2021`, `January to June 2023`."""
    whole_years = first.month == 1 and last.month == 12
    if whole_years:
        if first.year == last.year:
            return format_year(first.year, loc)
        first_year, last_year = format_year(first.year, loc), format_year(last.year, loc)
        return tp(loc, "period", "{first} to {last}", first=first_year, last=last_year)
    if first == last:
        return format_month(first, loc)
    if first.year == last.year and last.month == first.month + 2 and first.month % 3 == 1:
        return tp(loc, "period", "Q{quarter} {year}", quarter=last.month // 3, year=first.year)
    # "January to June 2023": the first month's name alone where both share a year
    start = format_month(first, loc)
    if first.year == last.year:
        start = format_month_name(first, loc)
    return tp(loc, "period", "{first} to {last}", first=start, last=format_month(last, loc))


def period_words(
    period: PeriodSpec, window: tuple[Month, Month] | None, latest: Month | None, loc: str
) -> str:
    """A period asked for, in words: English as typed ("Q2 2023", "all time"), else in the
    reader's language from its window."""
    if is_english(loc):
        return period.label(latest)
    if window is None:
        return tp(loc, "period", "all time")
    return window_label(window[0], window[1], loc)


def yearly_inside(basis: Basis, first: Month, last: Month, facts: SourceFacts) -> list[int]:
    """The years the window cuts into that are held only as whole years (a window finer than
    the figures held)."""
    cut = []
    for year in range(first.year, last.year + 1):
        whole = Month(year, 1) >= first and Month(year, 12) <= last
        pairs = basis.get(year)
        if not whole and pairs and granularity(pairs, year, facts) == "year":
            cut.append(year)
    return cut


def refuse_finer(
    subject: Subject, where: str, cut: list[int], asked: str, facts: SourceFacts, basis: Basis
) -> ArgumentError:
    """The error for a window finer than the figures held, naming the granularity held."""
    years = ", ".join(map(str, cut))
    sources = cite(set().union(*(basis[y] for y in cut)), facts)
    example = f"period:{cut[0]}" if len(cut) == 1 else f"period:{cut[0]}..{cut[-1]}"
    return ArgumentError(
        "period: {subject}{where} is held only as whole years in {years} (yearly figures from "
        "{sources}), so {asked} cannot be told; ask for whole years, e.g. {example}.",
        subject=subject.name,
        where=where,
        years=years,
        sources=sources,
        asked=asked,
        example=example,
    )


def period_answer(
    ctx: CommandContext,
    subject: Subject,
    region: str,
    period: PeriodSpec,
    loc: str,
    metric: str = "sales",
    powertrain: str = "",
) -> tuple[Message, Mapping[str, Any]]:
    """Units in the period asked (cut at the latest figures) and a year before, told truly;
    of one powertrain (BEV, PHEV, FCEV) or, by default, of electric cars (BEV + PHEV)."""
    if metric == "stock":
        raise ArgumentError(
            "period: counts what was sold in a period; registered stock is a level, not a sum "
            "of a period. Ask the level at a date instead, e.g. {example}",
            example="/ev-total WA metric:stock as-of:2023-06",
        )
    key = measure(metric, powertrain)
    series = ctx.model.series(subject, region, key)
    facts = ctx.facts()
    window = period.bounds(series.latest)
    asked = period_words(period, window, series.latest, loc)
    base = {
        "subject": subject.name,
        "kind": subject.kind,
        "region": region,
        "metric": metric,
        "powertrain": powertrain or ELECTRIC,
    }
    if window is None or series.latest is None or window[0] > series.latest:
        where = where_in(region, (), loc)
        body = no_period(
            powertrain, True, loc, subject=shown_name(subject, loc), where=where, period=asked
        )
        return _empty(subject, where, body, loc), {**base, "period": asked, "total": None}
    first, last = window
    cut_short = last > series.latest
    label = window_label(first, last, loc)
    last = min(last, series.latest)
    years = [y for y in range(first.year, last.year + 1) if series.basis.get(y)]
    pairs = set().union(*(series.basis[y] for y in years))
    where = where_in(region, covers(pairs, region), loc)
    v = {"subject": shown_name(subject, loc), "where": where}
    if not pairs:
        body = no_period(powertrain, False, loc, **v, period=asked)
        return _empty(subject, where, body, loc), {**base, "period": asked, "total": 0}
    cut = yearly_inside(series.basis, first, last, facts)
    if cut:
        raise refuse_finer(subject, where, cut, asked, facts, series.basis)
    answer = ctx.model.period_total(subject, region, first, last, key)
    if cut_short:
        label = t(
            loc, "{period} so far (through {when})", period=label, when=format_month(last, loc)
        )
    units = fast_units(answer.units, loc)
    body = sold_in(powertrain, loc, **v, total=units, period=label)
    if first < series.months[0]:
        start = series.months[0]
        yearly = granularity(series.basis.get(start.year, set()), start.year, facts) == "year"
        begin = str(start.year) if yearly else format_month(start, loc)
        body += note(t(loc, "the figures begin in {when}", when=begin), loc)
    # coverage named year by year where it narrows inside the window (counting rule 9)
    narrow = {y: covers(series.basis[y], region) for y in years}
    if any(narrow.values()) and not all(narrow.values()):
        body += "".join(
            note(t(loc, "{year} counts {covered} only", year=y, covered=covered_in(c, loc)), loc)
            for y, c in narrow.items()
            if c
        )
    fields = [Field(tp(loc, "field", "Sold"), units), Field(tp(loc, "field", "Period"), label)]
    change = _change(series.basis, first, last, facts, period, loc)
    before = window_label(first.plus(-12), last.plus(-12), loc)
    data: dict[str, Any] = {
        **base,
        "period": asked,
        "first": str(first),
        "last": str(last),
        "total": answer.units,
        "previous": None,
        "change": None,
        "covers": sorted(covers(pairs, region)),
        "source": cite(pairs, facts),
    }
    if change == "" and answer.previous > 0:
        pct = answer.change or 0.0
        c = {"change": fast_percent(abs(pct), loc), "before": before}
        c["previous"] = fast_units(answer.previous, loc)
        if pct >= 0:
            body += t(loc, " Up {change} on {before} ({previous}).", **c)
        else:
            body += t(loc, " Down {change} on {before} ({previous}).", **c)
        fields.append(Field(before, fast_units(answer.previous, loc)))
        data["previous"], data["change"] = answer.previous, round(pct, 4)
    elif change:
        body += t(loc, " No comparison with {before}: {why}.", before=before, why=change)
        data["no_comparison"] = change
    if subject.kind in ("make", "group") and answer.units > 0:
        shares = ctx.model.breakdown(subject, region, first, last, key, answer.units)
        if shares:
            top = shares[0]
            body += leads(top.name, fast_units(top.units, loc), fast_percent(top.share, loc), loc)
            for s in shares[:TOP_MODELS]:
                fields.append(
                    Field(s.name, f"{fast_units(s.units, loc)} ({fast_percent(s.share, loc)})")
                )
        data["breakdown"] = [
            {"model": s.name, "units": s.units, "share": round(s.share, 4)} for s in shares
        ]
    unconfirmed = unconfirmed_note(ctx, subject, region, metric, last, loc, first)
    if unconfirmed:
        body += f" {unconfirmed}"
        data["unconfirmed"] = True
    source = cite(pairs, facts)
    title = t(loc, "{subject}{where}, {period}: {total}", **v, period=label, total=units)
    return (
        Message(
            title=title
            + counted_tag("sales", powertrain, loc)
            + (unconfirmed_tag(loc) if unconfirmed else ""),
            body=body,
            fields=tuple(fields),
            footer=data_footer(source, format_month(series.latest, loc), loc),
            accent="info",
            locale=loc,
        ),
        data,
    )


def _change(
    basis: Basis, first: Month, last: Month, facts: SourceFacts, period: PeriodSpec, loc: str
) -> str | None:
    """ "" when the window compares like with like with a year earlier; why not otherwise;
    None for a range (its "year earlier" is no question anyone asked)."""
    if period.kind == "range":
        return None
    for year in range(first.year, last.year + 1):
        why = unlike_years(basis, year, facts, loc)
        if why:
            return why
    return ""


def _empty(subject: Subject, where: str, body: str, loc: str) -> Message:
    return Message(title=headed(subject.name, where, loc), body=body, accent="info", locale=loc)
