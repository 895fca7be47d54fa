"""`/ev-total`'s running total (to date, or as of a month): the figure told with its
coverage, sources and leading models; a total to date told once per answer and locale."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.commands.answer_words import (
    counted_tag,
    counted_total,
    headed,
    leads,
    no_total,
    note,
    unconfirmed_note,
    unconfirmed_tag,
)
from bot.commands.arguments import parse_period
from bot.commands.context import CommandContext, TotalWords
from bot.domain.coverage import Basis, Told, explain, told
from bot.domain.events import Subject
from bot.domain.formatting import fast_percent, fast_units, format_month, format_period
from bot.domain.i18n import t, tp
from bot.domain.messages import Field, Message
from bot.domain.news_words import footer as data_footer
from bot.domain.periods import Month
from bot.domain.places import where_in
from bot.domain.powertrains import measure
from bot.domain.subjects import shown_name
from bot.reading.queries import TotalAnswer

TOP_MODELS = 5


def _as_of(text: str | None, latest: Month | None) -> Month | None:
    if not text:
        return None
    return parse_period(text).end(latest)


def running_total(
    ctx: CommandContext,
    subject: Subject,
    region: str,
    text: str | None,
    loc: str,
    explained: bool = False,
    metric: str = "sales",
    powertrain: str = "",
) -> tuple[Message, Mapping[str, Any]]:
    """/ev-total's running total of a subject in a region (as of the month `text` names, or
    to date) in the language of `loc`: its message and data."""
    key = measure(metric, powertrain)
    series = ctx.model.series(subject, region, key)
    as_of = _as_of(text, series.latest)
    answer = ctx.model.total(subject, region, as_of, key)
    if explained or text:
        # a model's answer as of a month is made anew by the read model (a million could be
        # asked), and an explanation is asked rarely: neither is worth keeping
        words = _total_words(ctx, subject, region, answer, as_of, loc, explained, powertrain)
    else:
        words = _kept_total_words(ctx, subject, region, answer, loc, powertrain)
    told_answer, message = words
    data = told_answer.as_json()
    if told_answer.as_of is None:
        return message, data
    title, body = message.title, message.body
    unconfirmed = unconfirmed_note(ctx, subject, region, told_answer.metric, told_answer.as_of, loc)
    if unconfirmed:
        title += unconfirmed_tag(loc)
        body += f" {unconfirmed}"
        data["unconfirmed"] = True
    if told_answer.explanation:
        body += "\n" + "\n".join(f"• {line}" for line in told_answer.explanation)
    if body != message.body:
        message = replace(message, title=title, body=body)
    return message, data


def _kept_total_words(
    ctx: CommandContext,
    subject: Subject,
    region: str,
    answer: TotalAnswer,
    loc: str,
    powertrain: str,
) -> TotalWords:
    """`_total_words` of a total to date, kept per answer and locale: the read model keeps
    that answer until its figures change (a load or a refresh makes new ones, and bumps the
    version, which the sources' facts are of), so a kept answer's words are its words. Most
    commands ask one, and telling it anew is most of their cost."""
    memo_key = (id(answer), loc)
    version = ctx.model.version
    found = ctx.total_memo.get(memo_key)
    if found is not None and found[0] is answer and found[1] == version:
        return found[2]
    words = _total_words(ctx, subject, region, answer, None, loc, False, powertrain)
    if len(ctx.total_memo) > 100_000:
        ctx.total_memo.clear()
    # the answer is held too, so that its id is not another's while the entry lives
    ctx.total_memo[memo_key] = (answer, version, words)
    return words


def kept_told(
    ctx: CommandContext,
    basis: Basis,
    region: str,
    last: Month | None,
    asked: Month | None,
    loc: str,
) -> Told:
    """`told` under the read model's facts (`CommandContext.facts`), kept per basis (one object
    shared by every series that has it: `bot.reading.series_arrays.shared_basis`), region,
    month told, year asked and locale: of the month asked it reads only the year, and that
    only when the month is not a December. Most series share a few bases, and the months are
    few, so a total as of a month (a million could be asked) is mostly told from here."""
    facts = ctx.facts()
    asked_year = asked.year if asked is not None and asked.month != 12 else None
    memo_key = (id(basis), region, last.index if last is not None else None, asked_year, loc)
    found = ctx.told_memo.get(memo_key)
    if found is not None and found[0] is basis and found[1] is facts:
        return found[2]
    how = told(basis, region, last, asked, facts, loc)
    if len(ctx.told_memo) > 100_000:
        ctx.told_memo.clear()
    # the basis is held too, so that its id is not another's while the entry lives
    ctx.told_memo[memo_key] = (basis, facts, how)
    return how


def _total_words(
    ctx: CommandContext,
    subject: Subject,
    region: str,
    answer: TotalAnswer,
    as_of: Month | None,
    loc: str,
    explained: bool,
    powertrain: str,
) -> TotalWords:
    """A running total told in the language of `loc`: the answer told (its coverage, sources
    and explanation) and the message `_total` answers when no figure under it is held and no
    explanation was asked (the holds change without the figures)."""
    series = ctx.model.series(subject, region, measure(answer.metric, powertrain))
    facts = ctx.facts()
    how = kept_told(ctx, series.basis, region, answer.as_of, as_of, loc)
    lines = (
        explain(region, answer.metric, series.basis, facts, (), answer.as_of, loc)
        if explained
        else []
    )
    answer = TotalAnswer(
        answer.subject,
        answer.region,
        answer.metric,
        answer.as_of,
        answer.total,
        answer.breakdown,
        how,
        lines,
        answer.powertrain,
    )
    where = where_in(region, how.covers, loc)
    counted = counted_tag(answer.metric, powertrain, loc)
    v = {"subject": shown_name(subject, loc), "where": where}
    if answer.as_of is None:
        when = format_month(as_of, loc) if as_of else ""
        body = no_total(answer.metric, powertrain, as_of is not None, loc, **v, when=when)
        title = headed(shown_name(subject, loc), where, loc) + counted
        return answer, Message(title=title, body=body, accent="info", locale=loc)
    through = format_period(answer.as_of, how.granularity, loc)
    total = fast_units(answer.total, loc)
    # stock is a level: the vehicles registered at a date, not a sum of a period's sales
    body = counted_total(answer.metric, powertrain, loc, **v, total=total, when=through)
    fields = [
        Field(tp(loc, "field", "Total"), total),
        Field(tp(loc, "field", "Through"), through),
    ]
    if answer.breakdown:
        top = answer.breakdown[0]
        body += leads(top.name, fast_units(top.units, loc), fast_percent(top.share, loc), loc)
        for share in answer.breakdown[:TOP_MODELS]:
            fields.append(
                Field(
                    share.name, f"{fast_units(share.units, loc)} ({fast_percent(share.share, loc)})"
                )
            )
    if how.note:
        body += note(how.note, loc)
    return answer, Message(
        title=t(loc, "{subject}{where}: {total}", **v, total=total) + counted,
        body=body,
        fields=tuple(fields),
        footer=data_footer(how.source, through, loc),
        accent="info",
        locale=loc,
    )
