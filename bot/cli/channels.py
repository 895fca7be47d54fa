"""`evbot subscribe`, `unsubscribe`, `resume` and `subscriptions` (`deliveries`: its module)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TextIO

from adapters.registry import PLATFORMS
from bot.cli.common import EXIT_OK, CliError, channel_of, load_settings, print_json, store_for
from bot.commands.channels import counted
from bot.domain.series import WORLD
from bot.domain.subscriptions import (
    INSTANT_BY_DEFAULT,
    KINDS,
    Subscription,
    SubscriptionSpec,
    check_platform,
    waiting_reason,
)
from bot.reading.queries import load_catalog

# -- subscriptions and deliveries ------------------------------------------------------------


def _csv(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if text is None:
        return default
    return tuple(p.strip() for p in text.split(",") if p.strip())


async def cmd_subscribe(args: argparse.Namespace, out: TextIO) -> int:
    from bot.delivery.following import subscribe

    config = load_settings(args)
    # before the store: a refused subscription creates nothing. (The CLI is where a platform is
    # named by hand; a slash command's is the platform of the adapter that received it.)
    check_platform(args.platform, PLATFORMS)
    channel = channel_of(args, config)  # a platform webhook: a configured [webhooks.NAME]
    async with store_for(args, config) as store:
        await store.sync_groups(config.groups)
        catalog = await load_catalog(store, config)
        resolved = catalog.resolve(args.subject)
        region = catalog.region(args.region) if args.region else (resolved.region or WORLD)
        spec = SubscriptionSpec(
            channel=channel,
            subject=resolved.subject,
            region=region,
            kinds=_csv(args.kinds, KINDS),
            instant_kinds=_csv(args.instant, INSTANT_BY_DEFAULT),
            ladder=args.ladder,
            locale=args.locale or config.locale,
            mode=args.mode,
            digest_at=args.at,
            timezone=args.timezone,
            created_by=args.by or os.environ.get("USER", "cli"),
            charts=args.charts,
            corrections=args.corrections,
            metric=args.metric,
        )
        result = await subscribe(store, config, spec, time.time(), args.template or "")
    sub = result.subscription
    verb = (
        "now follows"
        if result.created
        else "already follows, with these settings,"
        if result.unchanged
        else "already followed; settings updated for"
    )
    print(
        f"{sub.channel} {verb} {sub.spec.subject.name} ({sub.spec.region})"
        f"{counted(sub.spec.metric)} [#{sub.id}]",
        file=out,
    )
    waiting = waiting_reason(sub.channel.platform, config.served_platforms, PLATFORMS)
    if waiting is not None:
        print(
            f"evbot subscribe: warning: {waiting}; its deliveries wait until `evbot run` serves it",
            file=sys.stderr,
        )
    for other in result.overlaps:
        print(
            f"note: this channel also follows {other.spec.subject.name}; each event is sent "
            "once, with the most specific subscription's settings",
            file=out,
        )
    return EXIT_OK


def _described(sub: Subscription) -> str:
    return (
        f"#{sub.id} {sub.channel.safe()}: {sub.spec.subject.name} ({sub.spec.region})"
        f"{counted(sub.spec.metric)}"
    )


async def cmd_unsubscribe(args: argparse.Namespace, out: TextIO) -> int:
    config = load_settings(args)
    if args.id is not None and (args.subject is not None or args.region or args.metric):
        raise CliError("--id names one subscription: give no subject, --region or --metric with it")
    if args.id is None and args.subject is None:
        raise CliError('name a subject (or "all") or a subscription with --id N')
    async with store_for(args, config, read=True) as store:
        if args.id is not None:
            gone = await store.unsubscribe_id(args.id)
            if gone is None:
                raise CliError(
                    f"--id {args.id}: no subscription #{args.id} (`evbot subscriptions` lists ids)"
                )
            removed = [gone]
        else:
            catalog = await load_catalog(store, config)
            key: str | None = None
            if args.subject.strip().lower() != "all":
                key = catalog.resolve(args.subject).subject.key
            region = catalog.region(args.region) if args.region else None
            if region is None and args.metric is None:
                before = await store.subscriptions(channel_of(args))
                count = await store.unsubscribe(channel_of(args), key)
                removed = [s for s in before if key is None or s.spec.subject.key == key]
                assert count == len(removed)
            else:
                removed = []
                for sub in await store.subscriptions(channel_of(args)):
                    same_region = region is None or sub.spec.region.casefold() == region.casefold()
                    if (
                        same_region
                        and args.metric in (None, sub.spec.metric)
                        and key in (None, sub.spec.subject.key)
                        and await store.unsubscribe_id(sub.id) is not None
                    ):
                        removed.append(sub)
    if not removed:
        where = f" in {args.region}" if args.region else ""
        where += " (registered stock)" if args.metric == "stock" else ""
        where += " (sales)" if args.metric == "sales" else ""
        raise CliError(f"{channel_of(args).safe()} does not follow {args.subject!r}{where}")
    print(f"removed {len(removed)} subscription{'s' if len(removed) != 1 else ''}", file=out)
    for sub in removed:
        print(f"  {_described(sub)}", file=out)
    return EXIT_OK


async def cmd_resume(args: argparse.Namespace, out: TextIO) -> int:
    config = load_settings(args)
    async with store_for(args, config, read=True) as store:
        key: str | None = None
        if args.subject:
            catalog = await load_catalog(store, config)
            key = catalog.resolve(args.subject).subject.key
        resumed = await store.resume(channel_of(args), key)
    print(f"resumed {resumed} subscription{'s' if resumed != 1 else ''}", file=out)
    return EXIT_OK


async def cmd_subscriptions(args: argparse.Namespace, out: TextIO) -> int:
    config = load_settings(args)
    async with store_for(args, config, read=True) as store:
        subs = await store.subscriptions()
    for sub in subs:
        spec = sub.spec
        if args.json:
            print_json(
                {
                    "id": sub.id,
                    "channel": spec.channel.safe(),
                    "subject": spec.subject.name,
                    "region": spec.region,
                    "metric": spec.metric,
                    "kinds": list(spec.kinds),
                    "ladder": spec.ladder,
                    "locale": spec.locale,
                    "mode": spec.mode,
                    "charts": spec.charts,
                    "corrections": spec.corrections,
                    "status": sub.status,
                    "paused_reason": sub.paused_reason,
                    "last_error": sub.last_error,
                    "created_by": spec.created_by,
                    "created_at": sub.created_at,
                },
                out,
            )
            continue
        status = sub.status if sub.active else f"PAUSED ({sub.paused_reason})"
        error = f"; last error: {sub.last_error}" if sub.last_error else ""
        print(
            f"#{sub.id} {spec.channel.safe()}: {spec.subject.name} ({spec.region})"
            f"{counted(spec.metric)} {','.join(spec.kinds)} ladder={spec.ladder} {spec.mode} "
            f"{spec.locale} "
            f"{'' if spec.charts else 'charts=off '}"
            f"{'' if spec.corrections else 'corrections=off '}"
            f"[{status}] by {spec.created_by or '?'} "
            f"at {sub.created_at}{error}",
            file=out,
        )
    if not subs and not args.json:
        print("no subscriptions", file=out)
    return EXIT_OK
