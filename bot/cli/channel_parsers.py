"""The parsers of the channel commands: `evbot subscribe`, `unsubscribe`, `test-message`,
`mute`, `unmute`, `mutes`, `resume` and `subscriptions`, and the options naming a channel."""

from __future__ import annotations

import argparse

from adapters.registry import PLATFORMS, Subcommands
from bot.cli import channels, mutes, sample
from bot.cli.common import add_common
from bot.domain.subscriptions import KINDS, METRICS, MODES


def channel_args(p: argparse.ArgumentParser) -> None:
    """--platform, --workspace and --channel: the channel options."""
    p.add_argument(
        "--platform",
        default="console",
        help=f"the channel's platform: {', '.join(PLATFORMS)} (default: %(default)s)",
    )
    p.add_argument(
        "--workspace",
        help="workspace or guild id (default: local; webhook platforms, matrix: default)",
    )
    p.add_argument(
        "--channel",
        default="terminal",
        help="channel id (webhook: the URL; discord_webhook, slack_webhook, teams: the "
        "[webhooks.NAME]; default: %(default)s)",
    )


def add_parsers(sub: Subcommands) -> None:
    """The channel commands, in the order `evbot --help` lists them."""
    p = sub.add_parser("subscribe", help="make a channel follow a subject")
    p.add_argument("subject", help='a model, make, group or region, e.g. "nissan leaf"')
    channel_args(p)
    p.add_argument(
        "--region",
        metavar="R",
        help="the region followed (default: the subject's own if a region, else World)",
    )
    p.add_argument(
        "--kinds", metavar="K,K", help=f"events sent, of {','.join(KINDS)} (default: all)"
    )
    p.add_argument("--instant", metavar="K,K", help="kinds sent at once (default: milestone,share)")
    p.add_argument(
        "--ladder",
        default="default",
        help="a ladder named in the configuration (default: %(default)s)",
    )
    p.add_argument(
        "--mode",
        default="instant",
        choices=MODES,
        help="send each event at once, or gather them (default: %(default)s)",
    )
    p.add_argument(
        "--at", default="09:00", metavar="HH:MM", help="digest time of day (default: %(default)s)"
    )
    p.add_argument(
        "--timezone",
        default="UTC",
        metavar="TZ",
        help="the digest time's time zone, e.g. Europe/Paris (default: %(default)s)",
    )
    p.add_argument(
        "--locale", help="announcement language, e.g. en, fr, de (default: the configuration's)"
    )
    p.add_argument("--by", metavar="WHO", help="who is subscribing (default: $USER)")
    p.add_argument("--template", metavar="NAME", help="a saved message template (default: none)")
    p.add_argument(
        "--charts",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="attach the cumulative chart to milestones (default: yes)",
    )
    p.add_argument(
        "--corrections",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="tell corrections of the milestones the channel heard (default: yes)",
    )
    p.add_argument(
        "--metric",
        default="sales",
        choices=METRICS,
        help="follow news of units sold, or of vehicles registered (stock); a channel may follow "
        "both, as two subscriptions (default: %(default)s)",
    )
    add_common(p)
    p.set_defaults(run=channels.cmd_subscribe)

    p = sub.add_parser(
        "unsubscribe",
        help="stop a channel following a subject (or all), or one subscription by --id",
    )
    p.add_argument("subject", nargs="?", help='a subject, or "all" (omit it when giving --id)')
    channel_args(p)
    p.add_argument(
        "--region",
        metavar="R",
        help="only the subscriptions in this region (default: every region)",
    )
    p.add_argument(
        "--metric",
        choices=METRICS,
        help="only the subscriptions of this metric: sales or stock (default: both)",
    )
    p.add_argument(
        "--id",
        type=int,
        metavar="N",
        help="remove subscription #N, whatever its channel (ids: `evbot subscriptions`; "
        "default: none)",
    )
    add_common(p)
    p.set_defaults(run=channels.cmd_unsubscribe)

    p = sub.add_parser(
        "test-message",
        help="post a sample announcement to a channel, as its subscription renders it, marked "
        "as a test (never recorded)",
    )
    channel_args(p)
    add_common(p)
    p.set_defaults(run=sample.cmd_test_message)

    mutes.add_parsers(sub, channel_args)

    p = sub.add_parser("resume", help="resume a channel's paused subscriptions")
    p.add_argument("subject", nargs="?", help="one subject (default: all the channel's)")
    channel_args(p)
    add_common(p)
    p.set_defaults(run=channels.cmd_resume)

    p = sub.add_parser(
        "subscriptions", help="list subscriptions with their ids, status and last error"
    )
    p.add_argument("--json", action="store_true", help="one JSON object a line (default: text)")
    add_common(p)
    p.set_defaults(run=channels.cmd_subscriptions)
