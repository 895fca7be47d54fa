"""Slash commands, platform-neutral: one table of plain functions that every adapter registers.

An adapter turns its platform's command into `run_command(ctx, invocation, name, args)` (typed
options, as Discord passes them) or `run_text(ctx, invocation, text)` (`/ev-total nissan leaf
region:US`), says whether the user may manage the channel (`Invocation.can_manage`), and renders
the `Reply`: an ephemeral reply is shown only to the caller where the platform allows. Reading
commands answer from the in-memory read model (`bot.reading.read_model`), never from the sales rows.
"""

from __future__ import annotations

import asyncio
import difflib
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from bot.charts.render import KINDS as CHART_KINDS
from bot.commands.arguments import (
    PERIOD_EXAMPLES,
    ArgumentError,
    PeriodSpec,
    check_length,
    option_name,
    parse_command,
    parse_period,
)
from bot.detection.detector import Detector, configured_ladders
from bot.domain.channels import Channel
from bot.domain.coverage import explain, told, unlike_years
from bot.domain.deliveries import DeliveryRow
from bot.domain.events import Event, MilestoneEvent, Subject
from bot.domain.formatting import (
    fast_month,
    fast_percent,
    fast_units,
    format_percent,
    format_period,
    in_region,
    validate_locale,
)
from bot.domain.ladders import Ladder, union_next_above, union_rungs
from bot.domain.messages import Field, Message
from bot.domain.names import loose_key
from bot.domain.periods import Month
from bot.domain.plausibility import Hold
from bot.domain.projection import project
from bot.domain.series import WORLD
from bot.domain.settings import Config
from bot.domain.subjects import ALL, Resolved, UnknownSubject
from bot.domain.subscriptions import (
    INSTANT_BY_DEFAULT,
    KINDS,
    MODES,
    Subscription,
    SubscriptionError,
    SubscriptionSpec,
    admit,
    ladder_objects,
    most_specific,
    parse_charts,
)
from bot.ports.store import BotStore
from bot.reading.read_model import ReadModel, Series

MAX_CHOICES = 25
TOP_MODELS = 5
RECENT_MILESTONES = 5
PREVIEW_EVENTS = 5
PACE_MONTHS = 12  # bot.domain.projection.project's default window
REFRESH_SECONDS = 1.0  # a command refreshes the read model when it is older than this


# -- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionSpec:
    """One option of a command; `kind` is string, subject (autocompleted), region or period."""

    name: str
    description: str
    kind: str = "string"
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Invocation:
    """Who runs a command, where: the adapter says whether the user can manage the channel."""

    channel: Channel
    user: str
    can_manage: bool = False
    locale: str = "en"


@dataclass(frozen=True)
class Reply:
    """The answer: a message, shown only to the caller when `ephemeral`; `data` for --json."""

    message: Message
    ephemeral: bool = False
    data: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.message.kind != "error"


Handler = Callable[["CommandContext", Invocation, Mapping[str, str]], Awaitable[Reply]]


@dataclass(frozen=True)
class Command:
    name: str
    description: str
    options: list[OptionSpec]
    handler: Handler
    manages_channel: bool
    example: str

    def option(self, name: str) -> OptionSpec | None:
        return next((o for o in self.options if o.name == name), None)


class CommandContext:
    """What commands need: the store (for subscriptions), the configuration and the read model."""

    def __init__(
        self,
        store: BotStore,
        config: Config,
        model: ReadModel,
        clock: Callable[[], float] = time.time,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self.store = store
        self.config = config
        self.model = model
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self.ladders: list[Ladder] = configured_ladders(config)
        self.subscription_ladders: dict[str, Ladder] = ladder_objects(config.ladders)
        self.detector = Detector(store, config, clock)
        self.last_refresh = clock()
        # told each command's time, e.g. the /metrics latency histogram
        self.latency_observers: list[Callable[[float], None]] = []
        self._refreshing: asyncio.Task[int] | None = None
        self._names: NameIndex | None = None
        self._names_version = -1
        self.milestone_memo: dict[int, tuple[Series, _MilestoneFacts]] = {}
        self.holds: list[Hold] = []  # figures held as implausible: answers say "unconfirmed"

    async def refresh(self) -> int:
        """Bring the read model up to the journal's head now."""
        self.last_refresh = self.clock()
        version = await self.model.refresh()
        self.holds = await self.store.holds()
        return version

    def unconfirmed(self, subject: Subject, region: str, metric: str, month: Month) -> str:
        """What a figure through `month` says of the held figures it sums ("" when none)."""
        held = self.detector.holds_under(subject.key, region, metric, month, self.holds)
        if not held:
            return ""
        ids = ", ".join(str(h.id) for h in held)
        return (
            f"Unconfirmed: it counts {len(held)} figure{'s' if len(held) > 1 else ''} held as "
            f"implausible, not yet confirmed (hold {ids})."
        )

    async def maybe_refresh(self) -> None:
        """Refresh when stale; concurrent commands do not wait for a refresh under way."""
        if self.clock() - self.last_refresh < self.refresh_seconds:
            return
        if self._refreshing is not None and not self._refreshing.done():
            return
        self._refreshing = asyncio.ensure_future(self.refresh())
        await self._refreshing

    def names(self) -> NameIndex:
        if self._names is None or self._names_version != self.model.version:
            self._names = NameIndex.build(self)
            self._names_version = self.model.version
        return self._names


async def open_context(
    store: BotStore, config: Config, clock: Callable[[], float] = time.time
) -> CommandContext:
    """A context over an open store: loads the read model."""
    model = ReadModel(store, config)
    await model.load()
    ctx = CommandContext(store, config, model, clock)
    ctx.holds = await store.holds()
    return ctx


# -- running --------------------------------------------------------------------------------


def error_reply(text: str, locale: str = "en") -> Reply:
    return Reply(
        Message(title="Cannot do that", body=text, accent="error", locale=locale, kind="error"),
        ephemeral=True,
    )


def find_command(name: str) -> Command | None:
    key = name.strip().lstrip("/").lower()
    return COMMANDS.get(key) or COMMANDS.get(f"ev-{key}")


async def run_command(
    ctx: CommandContext, invocation: Invocation, name: str, args: Mapping[str, str]
) -> Reply:
    """Run one command with typed options; every failure is an ephemeral error reply."""
    if not ctx.latency_observers:
        return await _run_command(ctx, invocation, name, args)
    start = time.perf_counter()
    try:
        return await _run_command(ctx, invocation, name, args)
    finally:
        elapsed = time.perf_counter() - start
        for observe in ctx.latency_observers:
            observe(elapsed)


async def _run_command(
    ctx: CommandContext, invocation: Invocation, name: str, args: Mapping[str, str]
) -> Reply:
    locale = _locale(invocation.locale, ctx.config.locale)
    command = find_command(name)
    if command is None:
        close = difflib.get_close_matches(name.lstrip("/").lower(), list(COMMANDS), n=1)
        hint = f" Did you mean /{close[0]}?" if close else ""
        return error_reply(f"There is no command /{name.lstrip('/')}.{hint} See /ev-help.", locale)
    try:
        clean = _check_args(command, args)
    except ArgumentError as exc:
        return error_reply(str(exc), locale)
    if command.manages_channel and not invocation.can_manage:
        return error_reply(
            f"/{command.name} changes what this channel receives, so it needs permission to "
            "manage this channel, which you do not have here. Ask someone who can manage the "
            "channel, or use /ev-subscriptions and /ev-preview to see what it follows.",
            locale,
        )
    await ctx.maybe_refresh()
    try:
        if invocation.locale != locale:
            invocation = replace(invocation, locale=locale)
        return await command.handler(ctx, invocation, clean)
    except (ArgumentError, SubscriptionError) as exc:
        return error_reply(str(exc), locale)
    except UnknownSubject as exc:
        return error_reply(str(exc), locale)


async def run_text(ctx: CommandContext, invocation: Invocation, text: str) -> Reply:
    """Run a command typed as text: `/ev-total nissan leaf region:US as-of:2015-06`."""
    try:
        name, args = _text_call(text)
    except ArgumentError as exc:
        return error_reply(str(exc), _locale(invocation.locale, ctx.config.locale))
    return await run_command(ctx, invocation, name, args)


@lru_cache(maxsize=4096)
def _text_call(text: str) -> tuple[str, Mapping[str, str]]:
    """A typed command's name and arguments, the subject's words as `subject` (kept per text:
    parsing is a pure function of it; the arguments are read-only, as they are shared)."""
    call = parse_command(text)
    args = dict(call.options)
    if call.words:
        if "subject" in args:
            raise ArgumentError(
                "The subject is given twice: as words and as subject:; give it once."
            )
        args["subject"] = call.subject
    return call.name, MappingProxyType(args)


def _check_args(command: Command, args: Mapping[str, str]) -> dict[str, str]:
    clean: dict[str, str] = {}
    for raw, value in args.items():
        key = option_name(raw)
        option = command.option(key)
        if option is None:
            if key == "subject":
                raise ArgumentError(f"/{command.name} takes no subject. Example: {command.example}")
            known = ", ".join(f"{o.name}:" for o in command.options) or "none"
            raise ArgumentError(
                f"/{command.name} has no option {key}: (its options: {known}). "
                f"Example: {command.example}"
            )
        check_length(value, f"The value of {key}")
        value = " ".join(str(value).split())
        if option.choices and value.lower() not in option.choices:
            raise ArgumentError(f"{key}: {value!r} is not one of {', '.join(option.choices)}.")
        if value:
            clean[key] = value.lower() if option.choices else value
    for option in command.options:
        if option.required and option.name not in clean:
            raise ArgumentError(
                f"/{command.name} needs {option.name} ({option.description}). "
                f"Example: {command.example}"
            )
    return clean


@lru_cache(maxsize=256)
def _locale(asked: str, fallback: str) -> str:
    try:
        return validate_locale(asked)
    except ValueError:
        return validate_locale(fallback)


# -- names and autocomplete -----------------------------------------------------------------


@dataclass
class NameIndex:
    """Every name a user can type, sorted by loose key for prefix lookups."""

    keys: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    words: list[tuple[str, int]] = field(default_factory=list)  # (word key, entry), sorted
    popular: list[str] = field(default_factory=list)  # for an empty prefix
    grams: dict[str, list[int]] = field(default_factory=dict)  # letter pair -> entries

    @classmethod
    def build(cls, ctx: CommandContext) -> NameIndex:
        catalog = ctx.model.catalog
        entries: dict[str, str] = {}
        for name in catalog.subject_names():
            entries.setdefault(loose_key(name), name)
        for group in ctx.config.groups:
            for alias in group.aliases:
                entries.setdefault(loose_key(alias), alias)
        for alias in ctx.config.aliases:
            entries.setdefault(loose_key(alias), alias)
        entries.pop("", None)
        ordered = sorted(entries.items())
        index = cls([k for k, _ in ordered], [v for _, v in ordered])
        words: list[tuple[str, int]] = []
        for i, shown in enumerate(index.shown):
            for word in shown.split()[1:]:
                key = loose_key(word)
                if key:
                    words.append((key, i))
        index.words = sorted(words)
        grams: dict[str, list[int]] = {}
        for i, key in enumerate(index.keys):
            for gram in {key[j : j + 2] for j in range(len(key) - 1)}:
                grams.setdefault(gram, []).append(i)
        index.grams = grams
        index.popular = (
            ["all"]
            + [g.name for g in ctx.config.groups]
            + sorted(catalog.makes.values(), key=str.casefold)
        )[:MAX_CHOICES]
        return index

    def complete(self, prefix: str, limit: int = MAX_CHOICES) -> list[str]:
        """Prefix matches first (shortest first), then names with a word starting so, then
        names containing it, then close misspellings; at most `limit`."""
        key = loose_key(prefix[:100])
        if not key:
            return self.popular[:limit]
        out: list[str] = []
        seen: set[int] = set()

        def add(i: int) -> bool:
            if i not in seen:
                seen.add(i)
                out.append(self.shown[i])
            return len(out) >= limit

        lo = bisect_left(self.keys, key)
        hi = bisect_left(self.keys, key + "\uffff", lo)
        span = range(lo, hi)
        chosen = sorted(span, key=lambda i: (len(self.keys[i]), i)) if hi - lo <= 2000 else span
        for i in chosen:
            if add(i):
                return out
        w = bisect_left(self.words, (key, -1))
        while w < len(self.words) and self.words[w][0].startswith(key):
            if add(self.words[w][1]):
                return out
            w += 1
        if len(key) >= 2:
            for i, k in enumerate(self.keys):
                if key in k and add(i):
                    return out
        if len(key) >= 3:
            for i in self._fuzzy(key, limit):
                if add(i):
                    return out
        return out

    def _fuzzy(self, key: str, limit: int) -> list[int]:
        """Close misspellings: candidates share the rarer letter pairs, then difflib ranks."""
        common = max(50, len(self.keys) // 4)
        hits: dict[int, int] = {}
        for gram in {key[j : j + 2] for j in range(len(key) - 1)}:
            posting = self.grams.get(gram, ())
            if len(posting) > common:
                continue
            for i in posting:
                hits[i] = hits.get(i, 0) + 1
        pool = sorted(hits, key=lambda i: -hits[i])[:200]
        scored = []
        matcher = difflib.SequenceMatcher(b=key)
        for i in pool:
            matcher.set_seq1(self.keys[i])
            if matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6:
                ratio = matcher.ratio()
                if ratio >= 0.6:
                    scored.append((-ratio, i))
        return [i for _, i in sorted(scored)[:limit]]


def autocomplete(ctx: CommandContext, prefix: str) -> list[str]:
    """Subject names for what has been typed so far: prefix matches first, then fuzzy, ≤ 25."""
    return ctx.names().complete(prefix)


# -- shared pieces --------------------------------------------------------------------------


def _resolve(ctx: CommandContext, text: str | None) -> Resolved:
    if not text or not text.strip():
        return Resolved(ALL)
    return ctx.model.catalog.resolve(text)


def _region(ctx: CommandContext, resolved: Resolved, text: str | None) -> str:
    if not text:
        return resolved.region or WORLD
    catalog = ctx.model.catalog
    region = catalog.region(text)
    known = (
        set(catalog.regions)
        | {WORLD}
        | set(ctx.model.tree.aggregates)
        | set(ctx.model.tree.parents)
        | set(ctx.model.tree.parents.values())
        | set(catalog.region_aliases.values())
    )
    if region in known:
        return region
    close = difflib.get_close_matches(region, sorted(known), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ArgumentError(f"region: no figures for {text!r}.{hint}")


def _as_of(text: str | None, latest: Month | None) -> Month | None:
    if not text:
        return None
    return parse_period(text).end(latest)


def _where(region: str) -> str:
    return "" if region == WORLD else f" in {region}"


def _sold(metric: str) -> str:
    return "registered" if metric == "stock" else "sold"


# -- reading commands -----------------------------------------------------------------------


_Answer = tuple[Message, Mapping[str, Any]]


def _reply(answer: _Answer) -> Reply:
    message, data = answer
    return Reply(message, data=data)


async def cmd_total(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    resolved = _resolve(ctx, args.get("subject"))
    region = _region(ctx, resolved, args.get("region"))
    explained = args.get("explain", "no") == "yes"
    return _reply(_total(ctx, resolved.subject, region, args.get("as-of"), inv.locale, explained))


def _total(
    ctx: CommandContext,
    subject: Subject,
    region: str,
    text: str | None,
    loc: str,
    explained: bool = False,
) -> _Answer:
    series = ctx.model.series(subject, region)
    as_of = _as_of(text, series.latest)
    answer = ctx.model.total(subject, region, as_of)
    facts = ctx.model.facts
    how = told(series.basis, region, answer.as_of, as_of, facts)
    lines = explain(region, "sales", series.basis, facts, (), answer.as_of) if explained else []
    answer = replace(answer, told=how, explanation=lines)
    where = in_region(region, how.covers)
    if answer.as_of is None:
        return (
            Message(
                title=f"{subject.name}{where}",
                body=f"No figures for {subject.name}{where}"
                + (f" up to {fast_month(as_of, loc)}." if as_of else " yet."),
                accent="info",
                locale=loc,
            ),
            answer.as_json(),
        )
    through = format_period(answer.as_of, how.granularity, loc)
    body = (
        f"{subject.name}{where}: {fast_units(answer.total, loc)} electric vehicles "
        f"{_sold(answer.metric)} through {through}."
    )
    fields = [Field("Total", fast_units(answer.total, loc)), Field("Through", through)]
    if answer.breakdown:
        top = answer.breakdown[0]
        body += (
            f" The {top.name} leads with {fast_units(top.units, loc)}, "
            f"{fast_percent(top.share, loc)}."
        )
        for share in answer.breakdown[:TOP_MODELS]:
            fields.append(
                Field(
                    share.name, f"{fast_units(share.units, loc)} ({fast_percent(share.share, loc)})"
                )
            )
    if how.note:
        body += f" Note: {how.note}."
    unconfirmed = ctx.unconfirmed(subject, region, answer.metric, answer.as_of)
    data = answer.as_json()
    if unconfirmed:
        body += f" {unconfirmed}"
        data["unconfirmed"] = True
    if lines:
        body += "\n" + "\n".join(f"• {line}" for line in lines)
    footer = f"Data through {through}"
    if how.source:
        footer = f"Source: {how.source} · data through {through}"
    return (
        Message(
            title=f"{subject.name}{where}: {fast_units(answer.total, loc)}"
            + (" (unconfirmed)" if unconfirmed else ""),
            body=body,
            fields=tuple(fields),
            footer=footer,
            accent="info",
            locale=loc,
        ),
        data,
    )


async def cmd_share(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    resolved = _resolve(ctx, args.get("subject"))
    subject = resolved.subject
    if subject.kind not in ("make", "group"):
        what = "a model" if subject.kind == "model" else "not a make or group"
        raise ArgumentError(
            f"/ev-share shows the models of a make or a group; {subject.name} is {what}. "
            "Example: /ev-share nissan period:2015"
        )
    region = _region(ctx, resolved, args.get("region"))
    period = parse_period(args.get("period", "all"))
    return _reply(_share(ctx, subject, region, period, inv.locale))


def _share(
    ctx: CommandContext, subject: Subject, region: str, period: PeriodSpec, loc: str
) -> _Answer:
    series = ctx.model.series(subject, region)
    window = period.bounds(series.latest)
    first, last = window if window else (None, None)
    parent = series.window(first, last)
    shares = ctx.model.breakdown(subject, region, first, last)
    label = period.label(series.latest)
    where = _where(region)
    if parent <= 0:
        body = f"No figures for {subject.name}{where} in {label}."
    else:
        lines = [
            f"• {s.name}: {fast_percent(s.share, loc)} ({fast_units(s.units, loc)})"
            for s in shares[:MAX_CHOICES]
        ]
        if len(shares) > MAX_CHOICES:
            lines.append(f"…and {len(shares) - MAX_CHOICES} more")
        body = "\n".join(lines) or f"No model figures for {subject.name}{where}."
    data = {
        "subject": subject.name,
        "region": region,
        "period": label,
        "first": str(first) if first else None,
        "last": str(last) if last else None,
        "total": parent,
        "shares": [{"model": s.name, "units": s.units, "share": round(s.share, 4)} for s in shares],
    }
    return (
        Message(
            title=f"Model shares of {subject.name}{where}, {label}",
            body=body,
            fields=(Field("Total", fast_units(parent, loc)), Field("Period", label)),
            accent="share",
            locale=loc,
        ),
        data,
    )


_MilestoneFacts = tuple[list[tuple[int, tuple[Month, int]]], int, int | None, Month | None]


def _milestone_facts(ctx: CommandContext, series: Series) -> _MilestoneFacts:
    """Recent crossings, the total, the next threshold and its projected month (kept per
    series: a refresh makes a new series, so a stale answer is never found)."""
    found = ctx.milestone_memo.get(id(series))
    if found is not None and found[0] is series:
        return found[1]
    # as first_crossings over the whole series, for the newest thresholds only: the running
    # peak reaches every threshold up to the peak, first where a value does
    peaks = series.peaks()
    rungs = union_rungs(ctx.ladders)
    recent: list[tuple[int, tuple[Month, int]]] = []
    # the newest thresholds counted down from the peak by arithmetic, however high it is
    threshold = rungs.at_or_below(peaks[-1]) if peaks else None
    while threshold is not None and len(recent) < RECENT_MILESTONES:
        i = bisect_left(peaks, threshold)
        if i < len(peaks):
            recent.append((threshold, (series.months[i], series.cum[i])))
        threshold = rungs.at_or_below(threshold - 1)
    latest = series.cum[-1] if series.cum else 0
    upcoming = union_next_above(ctx.ladders, latest)
    # the projection reads only the trailing pace window
    projected = (
        project(series.recent_points(PACE_MONTHS), upcoming, PACE_MONTHS) if upcoming else None
    )
    facts = (recent, latest, upcoming, projected)
    if len(ctx.milestone_memo) > 100_000:
        ctx.milestone_memo.clear()
    ctx.milestone_memo[id(series)] = (series, facts)
    return facts


async def cmd_milestones(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    resolved = _resolve(ctx, args.get("subject"))
    subject = resolved.subject
    region = _region(ctx, resolved, args.get("region"))
    return _reply(_milestones(ctx, subject, region, inv.locale))


def _milestones(ctx: CommandContext, subject: Subject, region: str, loc: str) -> _Answer:
    series = ctx.model.series(subject, region)
    where = _where(region)
    recent, latest, upcoming, projected = _milestone_facts(ctx, series)
    lines = [f"• {fast_units(t, loc)}: {fast_month(m, loc)}" for t, (m, _) in recent]
    fields = [Field("Total", fast_units(latest, loc))]
    if upcoming is not None:
        nxt = fast_units(upcoming, loc)
        if projected is not None:
            nxt += f" (around {fast_month(projected, loc)})"
        fields.append(Field("Next milestone", nxt))
    body = "\n".join(lines) if lines else f"No milestones yet for {subject.name}{where}."
    data = {
        "subject": subject.name,
        "region": region,
        "total": latest,
        "milestones": [{"threshold": t, "month": str(m), "value": v} for t, (m, v) in recent],
        "next": upcoming,
        "projected": str(projected) if projected else None,
    }
    return (
        Message(
            title=f"Milestones: {subject.name}{where}",
            body=body,
            fields=tuple(fields),
            footer=f"Data through {fast_month(series.latest, loc)}" if series.latest else "",
            accent="milestone",
            locale=loc,
        ),
        data,
    )


async def cmd_chart(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    """A subject's chart as a PNG. The figures are read from the read model here; the drawing
    runs in a worker thread, so the loop keeps answering other commands meanwhile."""
    from bot.charts.render import ChartError, describe, model_chart_data, render_off_loop

    text, kind = args.get("subject", ""), args.get("kind")
    words = text.split()
    if kind is None and len(words) > 1 and words[-1].lower() in CHART_KINDS:
        kind, text = words[-1].lower(), " ".join(words[:-1])  # /ev-chart alliance shares
    resolved = _resolve(ctx, text)
    subject = resolved.subject
    region = _region(ctx, resolved, args.get("region"))
    loc = inv.locale
    try:
        data = model_chart_data(
            ctx.model, kind or "cumulative", subject, region, ladders=ctx.ladders, locale=loc
        )
    except ChartError as exc:
        raise ArgumentError(str(exc)) from exc
    where = _where(region)
    if data.frame.as_of is None:
        return Reply(
            Message(
                title=f"{subject.name}{where}",
                body=f"No figures for {subject.name}{where} yet: nothing to draw.",
                accent="info",
                locale=loc,
            ),
            data={"subject": subject.name, "region": region, "kind": data.kind, "image": None},
        )
    try:
        chart = await render_off_loop(data)
    except ChartError as exc:
        raise ArgumentError(str(exc)) from exc
    accent = {"cumulative": "milestone", "shares": "share"}.get(data.kind, "growth")
    return Reply(
        Message(
            title=f"{subject.name}{where}: {data.kind} chart",
            body=describe(data),
            footer=f"Data through {fast_month(data.frame.as_of, loc)}",
            accent=accent,
            image=chart.png,
            image_name=chart.name,
            locale=loc,
        ),
        data={
            "subject": subject.name,
            "region": region,
            "kind": data.kind,
            "image": chart.name,
            "bytes": len(chart.png),
            "width": chart.width,
            "height": chart.height,
        },
    )


async def cmd_help(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    fields = tuple(
        Field(
            f"/{c.name}" + (" (channel managers)" if c.manages_channel else ""),
            f"{c.description}. Example: {c.example}",
            inline=False,
        )
        for c in COMMANDS.values()
    )
    return Reply(
        Message(
            title="EV Milestone Bot commands",
            body=(
                "The subject is free words (a model, make, group, region or all); options are "
                f"name:value. Periods: {PERIOD_EXAMPLES}."
            ),
            fields=fields,
            accent="info",
            locale=inv.locale,
        ),
        ephemeral=True,
        data={"commands": [{"name": c.name, "example": c.example} for c in COMMANDS.values()]},
    )


# -- subscriptions --------------------------------------------------------------------------


def _csv(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if not text:
        return default
    return tuple(p.strip().lower() for p in text.replace(" ", ",").split(",") if p.strip())


async def cmd_subscribe(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    from bot.delivery.following import subscribe

    resolved = _resolve(ctx, args.get("subject"))
    region = _region(ctx, resolved, args.get("region"))
    locale = args.get("locale") or inv.locale
    try:
        locale = validate_locale(locale)
    except ValueError as exc:
        raise ArgumentError(f"locale: {exc}") from exc
    kinds = _csv(args.get("kinds"), KINDS)
    spec = SubscriptionSpec(
        channel=inv.channel,
        subject=resolved.subject,
        region=region,
        kinds=kinds,
        instant_kinds=tuple(k for k in INSTANT_BY_DEFAULT if k in kinds) or kinds,
        ladder=args.get("ladder", "default"),
        locale=locale,
        mode=args.get("mode", "instant"),
        created_by=inv.user,
        charts=parse_charts(args.get("charts")),
        corrections=parse_charts(args.get("corrections"), name="corrections"),
    )
    result = await subscribe(ctx.store, ctx.config, spec, ctx.clock())
    sub = result.subscription
    what = f"{sub.spec.subject.name}{_where(sub.spec.region)}"
    if result.unchanged:
        body = (
            f"This channel already follows {what} with these settings; nothing changed and "
            "nothing is posted."
        )
    elif result.created:
        body = (
            f"This channel now follows {what}: {', '.join(sub.spec.kinds)}, ladder "
            f"{sub.spec.ladder}, {sub.spec.mode}. It gets one status message now, then only news."
        )
    else:
        body = (
            f"This channel already followed {what}; its settings are updated and a status "
            "message under them follows."
        )
    for other in result.overlaps:
        body += (
            f"\nNote: this channel also follows {other.spec.subject.name}, which overlaps. Each "
            "event is sent once, with the most specific subscription's settings."
        )
    # only to the caller: the channel hears the outbox's "now following" message, once
    return Reply(
        Message(title=f"Following {what}", body=body, accent="info", locale=inv.locale),
        ephemeral=True,
        data={
            "id": sub.id,
            "created": result.created,
            "unchanged": result.unchanged,
            "overlaps": [o.id for o in result.overlaps],
        },
    )


async def cmd_unsubscribe(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    text = args.get("subject", "")
    key: str | None = None
    what = "anything"
    if text.strip().lower() != "all":
        subject = _resolve(ctx, text).subject
        key, what = subject.key, subject.name
    removed = await ctx.store.unsubscribe(inv.channel, key)
    if not removed:
        raise ArgumentError(
            f"This channel does not follow {what}. /ev-subscriptions lists what it follows."
        )
    plural = "s" if removed != 1 else ""
    return Reply(
        Message(
            title="Unsubscribed",
            body=f"Removed {removed} subscription{plural}"
            + (f" to {what}." if key else " from this channel."),
            accent="info",
            locale=inv.locale,
        ),
        data={"removed": removed},
    )


def _describe(sub: Subscription) -> str:
    s = sub.spec
    status = "" if sub.active else f" [paused: {sub.paused_reason}]"
    return (
        f"• {s.subject.name}{_where(s.region)}: {','.join(s.kinds)}, ladder {s.ladder}, "
        f"{s.mode}, {s.locale}{'' if s.charts else ', no charts'}"
        f"{'' if s.corrections else ', no corrections'}{status} "
        f"(by {s.created_by or '?'})"
    )


async def cmd_subscriptions(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    subs = await ctx.store.subscriptions(inv.channel)
    body = "\n".join(_describe(s) for s in subs) or (
        "This channel follows nothing yet. Example: /ev-subscribe alliance"
    )
    return Reply(
        Message(title="This channel's subscriptions", body=body, accent="info", locale=inv.locale),
        ephemeral=True,
        data={"subscriptions": [{"id": s.id, "subject": s.spec.subject.name} for s in subs]},
    )


# -- preview --------------------------------------------------------------------------------


def _covering_subs(
    ctx: CommandContext, subs: Sequence[Subscription], subject: Subject, month: Month, region: str
) -> list[Subscription]:
    keys = ctx.detector.covering(subject, month, ctx.model.catalog)
    return [s for s in subs if s.spec.subject.key in keys and s.spec.region == region]


def why(
    ctx: CommandContext,
    event_id: int,
    event: Event,
    subs: Sequence[Subscription],
    deliveries: Mapping[int, DeliveryRow],
) -> str:
    """Why an event was or was not delivered to this channel."""
    delivery = deliveries.get(event_id)
    if delivery is not None:
        if delivery.status == "posted":
            return "already announced here"
        if delivery.status in ("pending", "inflight"):
            return "queued for delivery here"
        return f"{delivery.status} here ({delivery.reason or delivery.last_error or 'no reason'})"
    covering = _covering_subs(ctx, subs, event.subject, event.period, event.region)
    if not covering:
        return "no subscription in this channel covers it"
    sub = most_specific(covering)
    if not sub.active:
        return f"the channel is paused ({sub.paused_reason or 'no reason given'})"
    if event.kind not in sub.spec.kinds:
        return (
            f"outside the subscription's kinds ({event.kind} is not in {','.join(sub.spec.kinds)})"
        )
    if isinstance(event, MilestoneEvent) and admit(event, sub, ctx.subscription_ladders) is None:
        crossed = event.thresholds.describe()
        return f"below the ladder: {crossed} is not on the {sub.spec.ladder!r} ladder"
    if sub.spec.mode != "instant" or event.kind not in sub.spec.instant_kinds:
        mode = sub.spec.mode if sub.spec.mode != "instant" else "weekly"
        return f"held for the {mode} digest"
    return "recorded before this channel subscribed (a new subscription is not sent history)"


async def _recent_events(
    ctx: CommandContext, subject: Subject, region: str
) -> list[tuple[int, Event]]:
    stored = await ctx.store.events_about(subject.key, region, PREVIEW_EVENTS)
    return [(s.id, s.event) for s in stored]


async def cmd_preview(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    resolved = _resolve(ctx, args.get("subject"))
    subject = resolved.subject
    region = _region(ctx, resolved, args.get("region"))
    loc = inv.locale
    series = ctx.model.series(subject, region)
    subs = await ctx.store.subscriptions(inv.channel)
    latest_month = series.latest or Month(1970, 1)
    covering = _covering_subs(ctx, subs, subject, latest_month, region)
    lines: list[str] = []
    where = _where(region)
    total = series.cum[-1] if series.cum else 0
    if not covering:
        lines.append(
            f"Next: nothing. This channel follows nothing that covers {subject.name}{where}; "
            f"/ev-subscribe {subject.name} would follow it."
        )
    else:
        sub = most_specific(covering)
        ladder = ctx.subscription_ladders.get(sub.spec.ladder)
        upcoming = ladder.next_above(total) if ladder else None
        via = "" if sub.spec.subject.key == subject.key else f" (via {sub.spec.subject.name})"
        if not sub.active:
            lines.append(
                f"Next: nothing while the channel is paused ({sub.paused_reason}); subscribing "
                "again resumes it."
            )
        elif "milestone" not in sub.spec.kinds:
            lines.append(f"Next: no milestones; the subscription{via} takes {sub.spec.kinds}.")
        elif upcoming is not None:
            when = project(series.points(), upcoming)
            how = told(series.basis, region, series.latest, None, ctx.model.facts)
            around = (
                f", around {format_period(when, how.granularity, loc)} at the recent pace"
                if when
                else ""
            )
            lines.append(
                f"Next: {subject.name}{where} passing {fast_units(upcoming, loc)} on the "
                f"{sub.spec.ladder!r} ladder{via}{around} (now {fast_units(total, loc)})."
            )
        if sub.active and subject.kind == "model" and "share" in sub.spec.kinds:
            lines.extend(await _share_lines(ctx, subject, region, total, loc))
        latest = series.latest
        if sub.active and "growth" in sub.spec.kinds and latest is not None:
            unlike = unlike_years(series.basis, latest.year, ctx.model.facts)
            if unlike:
                lines.append(f"Growth in {latest.year}: not told ({unlike}).")
    events = await _recent_events(ctx, subject, region)
    deliveries = await ctx.store.channel_deliveries(inv.channel, [i for i, _ in events])
    reasons = []
    if events:
        lines.append("Recent events:")
    for event_id, event in events:
        reason = why(ctx, event_id, event, subs, deliveries)
        reasons.append({"event": event_id, "kind": event.kind, "reason": reason})
        lines.append(f"• {event.kind} {event.period}: {reason}")
    if not events:
        lines.append(f"No events recorded yet about {subject.name}{where}.")
    return Reply(
        Message(
            title=f"Preview for this channel: {subject.name}{where}",
            body="\n".join(lines),
            accent="info",
            locale=loc,
        ),
        ephemeral=True,
        data={"subject": subject.name, "events": reasons},
    )


async def _share_lines(
    ctx: CommandContext, model: Subject, region: str, total: int, loc: str
) -> list[str]:
    ms = ctx.config.milestones
    band, gap = ms.share_band / 100, ms.share_hysteresis / 100
    latest = ctx.model.series(model, region).latest
    if latest is None:
        return []
    out = []
    for parent in ctx.detector._parents(model, ctx.model.catalog, latest):
        parent_total, _ = ctx.model.series(parent, region).at(latest)
        if parent_total <= 0:
            continue
        share = total / parent_total
        level = await ctx.store.share_level((model.key, parent.key, region, "sales"))
        if level is None:
            continue
        up, down = level + band, level - gap
        out.append(
            f"Share of {parent.name}: {fast_percent(share, loc)}, within the hysteresis band: no "
            f"share news until it reaches {format_percent(up, loc)} or falls below "
            f"{format_percent(max(down, 0.0), loc)}."
        )
    return out


# -- the table ------------------------------------------------------------------------------

_SUBJECT = OptionSpec("subject", "a model, make, group or region, e.g. nissan leaf", "subject")
_REGION = OptionSpec("region", "a region, e.g. US (default: World)", "region")

COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "ev-total",
            "Cumulative total, the month it runs to, and for a make or group its top models",
            [
                _SUBJECT,
                _REGION,
                OptionSpec("as-of", f"up to a period: {PERIOD_EXAMPLES}", "period"),
                OptionSpec(
                    "explain",
                    "yes: which regions, sources and years made the figure",
                    choices=("yes", "no"),
                ),
            ],
            cmd_total,
            False,
            "/ev-total nissan leaf region:US as-of:2015-06",
        ),
        Command(
            "ev-share",
            "Each model's share of a make or group, for all time, a year or year to date",
            [
                OptionSpec("subject", "a make or group, e.g. alliance", "subject", required=True),
                OptionSpec("period", f"a period: {PERIOD_EXAMPLES}", "period"),
                _REGION,
            ],
            cmd_share,
            False,
            "/ev-share alliance period:2015",
        ),
        Command(
            "ev-milestones",
            "Recent milestones with their months, the next one and when it is projected",
            [_SUBJECT, _REGION],
            cmd_milestones,
            False,
            "/ev-milestones nissan leaf",
        ),
        Command(
            "ev-chart",
            "A chart: the running total with its milestones, a make's or group's model shares, "
            "or each month against a year earlier",
            [
                OptionSpec("subject", "e.g. alliance or nissan leaf", "subject", required=True),
                OptionSpec(
                    "kind",
                    "cumulative (default), shares (of a make or group) or monthly",
                    choices=CHART_KINDS,
                ),
                _REGION,
            ],
            cmd_chart,
            False,
            "/ev-chart alliance kind:shares",
        ),
        Command(
            "ev-subscribe",
            "Make this channel follow a subject",
            [
                OptionSpec("subject", "what to follow, e.g. alliance", "subject", required=True),
                OptionSpec("kinds", f"comma-separated, of {','.join(KINDS)} (default: all)"),
                OptionSpec("ladder", "a configured threshold ladder (default: default)"),
                OptionSpec("mode", "when to send", choices=MODES),
                OptionSpec("locale", "numbers and months, e.g. en, fr, de"),
                OptionSpec("charts", "a chart with milestones: on or off", choices=("on", "off")),
                OptionSpec(
                    "corrections",
                    "tell corrections of milestones this channel heard: on or off",
                    choices=("on", "off"),
                ),
                _REGION,
            ],
            cmd_subscribe,
            True,
            "/ev-subscribe alliance kinds:milestone,share mode:instant",
        ),
        Command(
            "ev-unsubscribe",
            "Stop this channel following a subject (or all)",
            [OptionSpec("subject", "a subject, or all", "subject", required=True)],
            cmd_unsubscribe,
            True,
            "/ev-unsubscribe alliance",
        ),
        Command(
            "ev-subscriptions",
            "What this channel follows",
            [],
            cmd_subscriptions,
            False,
            "/ev-subscriptions",
        ),
        Command(
            "ev-preview",
            "What would be announced next here, and why recent events were or were not sent",
            [OptionSpec("subject", "e.g. nissan leaf", "subject", required=True), _REGION],
            cmd_preview,
            False,
            "/ev-preview nissan leaf",
        ),
        Command("ev-help", "Every command with an example", [], cmd_help, False, "/ev-help"),
    )
}


@runtime_checkable
class CommandHost(Protocol):
    """An adapter that also takes slash commands from its platform (Discord, Slack).

    `serve` connects, answers commands through `commands` until `stopping` is set, then returns;
    the app runs it as a task beside the delivery worker.
    """

    async def serve(self, commands: CommandContext, stopping: asyncio.Event) -> None: ...
