"""`evbot deliveries`: the outbox listed (channel, subject, event, time, text), one delivery
shown whole (`--show ID`), and failed deliveries queued again (`retry ID` / `retry --failed`)."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from adapters.text import clean_text
from bot.cli.common import EXIT_OK, CliError, load_settings, print_json, store_for
from bot.domain.deliveries import DeliveryRow
from bot.domain.delivery_steps import settled_entries
from bot.domain.event_codec import message_from_dict
from bot.domain.events import Event
from bot.domain.messages import Message
from bot.domain.subscriptions import Subscription
from bot.ports.store import BotStore

TEXT_WIDTH = 72  # characters of a message's text a listing line shows


def when(epoch: float | None) -> str:
    """A stored time, in UTC to the minute (`-` when there is none)."""
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def message_of(row: DeliveryRow) -> Message | None:
    """The message a delivery sends (kept at its first claim), or None before that."""
    if row.rendered is None:
        return None
    return message_from_dict(json.loads(row.rendered)["message"])


def draft_of(row: DeliveryRow) -> Message | None:
    """A "now following" notice's text as queued (composed again when it is sent)."""
    if row.kind != "following" or not row.payload:
        return None
    data = json.loads(row.payload)
    return message_from_dict(data) if isinstance(data, dict) and "title" in data else None


def _one_line(text: str) -> str:
    return " ".join(clean_text(text).split())


def short_text(row: DeliveryRow) -> str:
    """A delivery's text, cut to a line."""
    message = message_of(row)
    prefix = ""
    if message is None:
        message, prefix = draft_of(row), "(as queued) "
    if message is None:
        return "(not rendered yet: composed when it is sent)"
    body = (
        message.body
        if message.body.startswith(message.title)
        else f"{message.title}: {message.body}"
    )
    text = prefix + _one_line(body)
    return text if len(text) <= TEXT_WIDTH else text[: TEXT_WIDTH - 1] + "…"


def subjects(
    row: DeliveryRow, events: Mapping[int, Event], subs: Mapping[int, Subscription]
) -> str:
    """What a delivery is about: its events' subjects, else its subscriptions'."""
    names: list[str] = []
    for event_id in row.event_ids:
        if (event := events.get(event_id)) is not None:
            names.append(f"{event.subject.name} ({event.region})")
    if not names:
        for sub_id in row.subscription_ids:
            if (sub := subs.get(sub_id)) is not None:
                names.append(f"{sub.spec.subject.name} ({sub.spec.region})")
    unique = list(dict.fromkeys(_one_line(n) for n in names))
    return ", ".join(unique) if unique else "-"


def event_labels(row: DeliveryRow, events: Mapping[int, Event]) -> str:
    """A delivery's events as `kind #id`; a notice with no event says its kind."""
    if not row.event_ids:
        return row.kind
    return ", ".join(
        f"{events[i].kind if i in events else 'event'} #{i}" for i in dict.fromkeys(row.event_ids)
    )


async def _context(
    store: BotStore, rows: Sequence[DeliveryRow]
) -> tuple[dict[int, Event], dict[int, Subscription]]:
    event_ids = sorted({i for row in rows for i in row.event_ids})
    events = await store.events_by_id(event_ids) if event_ids else {}
    subs = {s.id: s for s in await store.subscriptions()}
    return events, subs


async def cmd_deliveries(args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "retry":
        return await _retry(args, out)
    if args.target is not None:
        raise CliError(f"unexpected {args.target!r}: `evbot deliveries retry ID` re-queues one")
    if args.show is not None:
        return await _show(args, out)
    config = load_settings(args)
    status = "failed" if args.failed else args.status
    async with store_for(args, config, read=True) as store:
        rows = await store.deliveries(status, args.limit)
        counts = await store.delivery_counts()
        events, subs = await _context(store, rows)
    for d in rows:
        if args.json:
            message = message_of(d)
            print_json(
                {
                    "id": d.id,
                    "channel": d.channel.safe(),
                    "kind": d.kind,
                    "status": d.status,
                    "subjects": subjects(d, events, subs),
                    "events": list(d.event_ids),
                    "created_at": d.created_at,
                    "posted_at": d.posted_at,
                    "title": message.title if message else None,
                    "text": message.body if message else None,
                    "attempts": d.attempts,
                    "reason": d.reason,
                    "last_error": d.last_error,
                    "message_id": d.message_id,
                    "steps": list(d.steps_done),
                },
                out,
            )
            continue
        why = (
            f" {d.reason}: {d.last_error}" if d.status in ("failed", "pending") and d.reason else ""
        )
        if settled := settled_entries(d.steps_done):
            why += f"; not done: {', '.join(settled)}"
        print(
            f"#{d.id} {when(d.posted_at or d.created_at)} {d.channel.safe()} {d.kind} "
            f"{d.status} after {d.attempts} tries{why}",
            file=out,
        )
        print(
            f"    {subjects(d, events, subs)} · {event_labels(d, events)} · {short_text(d)}",
            file=out,
        )
    if not args.json:
        print(", ".join(f"{k} {v}" for k, v in counts.items()), file=out)
    return EXIT_OK


async def _show(args: argparse.Namespace, out: TextIO) -> int:
    config = load_settings(args)
    async with store_for(args, config, read=True) as store:
        row = await store.delivery(args.show)
        if row is None:
            raise CliError(f"--show {args.show}: no delivery #{args.show} (`evbot deliveries`)")
        events, subs = await _context(store, [row])
    message = message_of(row)
    if args.json:
        print_json(_whole(row, events, subs, message), out, indent=2)
        return EXIT_OK
    sub_ids = ", ".join(f"#{i}" + ("" if i in subs else " (gone)") for i in row.subscription_ids)
    posted = when(row.posted_at) + (f" as {row.message_id}" if row.message_id else "")
    attempts = str(row.attempts)
    if row.status == "pending":
        attempts += f" (next at {when(row.next_attempt_at)})"
    error = f"{row.reason}: {row.last_error}" if row.reason else row.last_error or "-"
    lines = [
        f"delivery #{row.id}: {row.kind}, {row.status}",
        f"channel:       {row.channel.safe()}",
        f"subjects:      {subjects(row, events, subs)}",
        f"subscriptions: {sub_ids or '-'}",
        f"queued:        {when(row.created_at)}",
        f"first claimed: {when(row.claimed_at)}",
        f"posted:        {posted}",
        f"attempts:      {attempts}",
        f"last error:    {error}",
        f"steps:         {', '.join(row.steps_done) or '-'}",
        "events:",
    ]
    for event_id in row.event_ids:
        event = events.get(event_id)
        lines.append(
            f"  #{event_id} "
            + (
                f"{event.kind} {_one_line(event.subject.name)} ({event.region}) "
                f"{getattr(event, 'period', '')}"
                if event is not None
                else "(no longer stored)"
            ).rstrip()
        )
    if not row.event_ids:
        lines.append("  - (a notice, not an event)")
    if message is None and (message := draft_of(row)) is not None:
        lines.append("message (as queued; composed again with the figures of when it is sent):")
    else:
        lines.append("message:")
    if message is None:
        lines.append("  (not rendered yet: composed from its events when it is sent)")
    else:
        lines.append(f"  {clean_text(message.title, keep_newlines=False)}")
        lines.extend(f"  {line}" for line in clean_text(message.body).splitlines())
        lines.extend(
            f"  {_one_line(f.name)}: {clean_text(f.value, keep_newlines=False)}"
            for f in message.fields
        )
        if message.footer:
            lines.append(f"  -- {clean_text(message.footer, keep_newlines=False)}")
    print("\n".join(lines), file=out)
    return EXIT_OK


def _whole(
    row: DeliveryRow,
    events: Mapping[int, Event],
    subs: Mapping[int, Subscription],
    message: Message | None,
) -> dict[str, Any]:
    return {
        "id": row.id,
        "channel": row.channel.safe(),
        "kind": row.kind,
        "status": row.status,
        "subjects": subjects(row, events, subs),
        "subscriptions": list(row.subscription_ids),
        "events": list(row.event_ids),
        "created_at": row.created_at,
        "claimed_at": row.claimed_at,
        "posted_at": row.posted_at,
        "message_id": row.message_id,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "reason": row.reason,
        "last_error": row.last_error,
        "steps": list(row.steps_done),
        "message": None
        if message is None
        else {
            "title": message.title,
            "body": message.body,
            "fields": [[f.name, f.value] for f in message.fields],
            "footer": message.footer,
        },
    }


async def _retry(args: argparse.Namespace, out: TextIO) -> int:
    if (args.target is None) == (not args.failed):
        raise CliError("retry takes one delivery id or --failed (every failed delivery)")
    try:
        wanted = None if args.target is None else int(args.target.lstrip("#"))
    except ValueError:
        raise CliError(f"retry {args.target!r}: a delivery id is a number, e.g. 12") from None
    config = load_settings(args)
    async with store_for(args, config) as store:
        if wanted is not None:
            row = await store.delivery(wanted)
            if row is None:
                raise CliError(f"retry {wanted}: no delivery #{wanted} (`evbot deliveries`)")
            if row.status != "failed":
                raise CliError(f"retry {wanted}: delivery #{wanted} is {row.status}, not failed")
            rows = [row]
        else:
            rows = await store.deliveries("failed", 1_000_000)
        subs = {s.id: s for s in await store.subscriptions()}
        ready: list[int] = []
        held: list[tuple[DeliveryRow, Subscription]] = []
        orphaned: list[DeliveryRow] = []
        for row in sorted(rows, key=lambda r: r.id):
            covering = [subs[i] for i in dict.fromkeys(row.subscription_ids) if i in subs]
            if not covering:
                orphaned.append(row)
            elif not any(s.active for s in covering):
                held.append((row, covering[0]))
            else:
                ready.append(row.id)
        done = await store.requeue(ready, time.time())
    if done:
        ids = ", ".join(f"#{i}" for i in done)
        print(
            f"re-queued {len(done)} deliver{'ies' if len(done) != 1 else 'y'} ({ids}): pending, "
            "attempts from 0, sent as first rendered",
            file=out,
        )
    elif not held and not orphaned:
        print("no failed deliveries to retry", file=out)
    for row in orphaned:
        print(
            f"not re-queued: #{row.id}: no subscription of {row.channel.safe()} covers it any "
            "more (unsubscribed)",
            file=out,
        )
    for row, sub in held:
        print(
            f"not re-queued: #{row.id}: {row.channel.safe()} is paused ({sub.paused_reason}); "
            "retrying does not resume it. Fix the cause, then `evbot resume` (with its channel "
            "options) resumes it and sends what the pause held back",
            file=out,
        )
    return EXIT_OK
