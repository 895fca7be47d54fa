"""`evbot mute`, `unmute` and `mutes`: chat's /ev-mute and /ev-unmute run for a channel named on
the command line, so both take and refuse the same things; and every mute in force."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Mapping
from typing import TextIO

from adapters.registry import Subcommands
from bot.cli.common import (
    EXIT_OK,
    CliError,
    add_common,
    as_flag,
    channel_of,
    load_settings,
    print_json,
    store_for,
)
from bot.commands.types import Handler


async def _as_chat(
    args: argparse.Namespace, out: TextIO, handler: Handler, options: Mapping[str, str]
) -> int:
    """Run a chat command for the channel the options name, as one who manages it."""
    from adapters.text import render_text
    from bot.app.bootstrap import open_commands
    from bot.commands.arguments import ArgumentError
    from bot.commands.types import Invocation

    config = load_settings(args)
    channel = channel_of(args, config)
    who = getattr(args, "by", None) or os.environ.get("USER", "cli")
    async with store_for(args, config, read=True) as store:
        await store.sync_groups(config.groups)
        ctx = await open_commands(store, config)
        invocation = Invocation(channel, who, can_manage=True, locale=config.locale)
        try:
            reply = await handler(ctx, invocation, options)
        except ArgumentError as exc:
            raise CliError(f"{channel.safe()}: {as_flag(str(exc))}") from exc
    print(render_text(reply.message).rstrip("\n"), file=out)
    return EXIT_OK


async def cmd_mute(args: argparse.Namespace, out: TextIO) -> int:
    from bot.commands.mutes import cmd_mute as chat_mute

    options = {"subject": args.subject, "for": args.for_, "then": args.then}
    return await _as_chat(args, out, chat_mute, options)


async def cmd_unmute(args: argparse.Namespace, out: TextIO) -> int:
    from bot.commands.mutes import cmd_unmute as chat_unmute

    return await _as_chat(args, out, chat_unmute, {"subject": args.subject})


async def cmd_mutes(args: argparse.Namespace, out: TextIO) -> int:
    from bot.commands.mutes import mute_line

    config = load_settings(args)
    now = time.time()
    async with store_for(args, config, read=True) as store:
        mutes = await store.mutes(None, now)
    for mute in mutes:
        if args.json:
            print_json(
                {
                    "channel": mute.channel.safe(),
                    "subject": mute.subject_key,
                    "subject_name": mute.subject_name,
                    "until": mute.until,
                    "then": mute.then,
                    "by": mute.created_by,
                },
                out,
            )
        else:
            print(f"{mute.channel.safe()}: {mute_line(mute, now)}", file=out)
    if not mutes and not args.json:
        print("no mutes in force", file=out)
    return EXIT_OK


def add_parsers(sub: Subcommands, channel_args: Callable[[argparse.ArgumentParser], None]) -> None:
    """`evbot mute`, `unmute` and `mutes`."""
    p = sub.add_parser(
        "mute",
        help="silence a subject (or all) in a channel for a while, as /ev-mute does",
    )
    p.add_argument("subject", help='a subject the channel follows (or inside one), or "all"')
    p.add_argument(
        "--for",
        dest="for_",
        required=True,
        metavar="DURATION",
        help="how long: a number and m, h, d or w, e.g. 12h, 7d, 2w; at most 90 days (required)",
    )
    p.add_argument(
        "--then",
        choices=("digest", "drop"),
        default="digest",
        help="what becomes of the news meanwhile: the next digest, or not posted (default: "
        "%(default)s)",
    )
    p.add_argument("--by", metavar="WHO", help="who is muting (default: $USER)")
    channel_args(p)
    add_common(p)
    p.set_defaults(run=cmd_mute)

    p = sub.add_parser(
        "unmute",
        help="end a channel's mute of a subject (all: every mute), as /ev-unmute does",
    )
    p.add_argument("subject", help='a muted subject, or "all"')
    channel_args(p)
    add_common(p)
    p.set_defaults(run=cmd_unmute)

    p = sub.add_parser("mutes", help="every mute in force, channel by channel, until when")
    p.add_argument("--json", action="store_true", help="one JSON object a line (default: text)")
    add_common(p)
    p.set_defaults(run=cmd_mutes)
