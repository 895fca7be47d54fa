"""The command table: every command with its options, handler, whether it manages the channel,
and an example; every adapter registers these. /ev-help reads the table aloud in the reader's
language (`bot.commands.help`, given the table).

Descriptions are English, as the platforms register them, and marked for the catalogs with
`N_("help", ...)`; the reading commands take `locale:`, the language of one answer."""

from __future__ import annotations

from collections.abc import Mapping

from bot.charts.data import KINDS as CHART_KINDS
from bot.commands.channels import cmd_subscribe, cmd_subscriptions, cmd_unsubscribe
from bot.commands.chart import cmd_chart
from bot.commands.context import CommandContext
from bot.commands.help import help_reply
from bot.commands.mutes import cmd_mute, cmd_unmute
from bot.commands.preview import cmd_preview
from bot.commands.reading import cmd_milestones, cmd_share, cmd_total
from bot.commands.sample import cmd_test
from bot.commands.types import N_, Command, Invocation, OptionSpec, Reply
from bot.domain.i18n import LANGUAGES
from bot.domain.powertrains import CHOICES as POWERTRAIN_CHOICES
from bot.domain.subscriptions import MODES


async def cmd_help(ctx: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
    """Every command with what it does, its options and an example, in the reader's language;
    with `command:`, one command's options, each with what it does."""
    return help_reply(COMMANDS, inv.locale, args.get("command", ""))


# a reading command's answer in another language than the caller's, for once
_LOCALE = OptionSpec(
    "locale",
    N_("help", "the language of this answer: en, nb, de, fr, nl, es or ja (default: yours)"),
    "locale",
    choices=LANGUAGES,
)
_SUBJECT = OptionSpec(
    "subject", N_("help", "a model, make, group or region, e.g. nissan leaf"), "subject"
)
_REGION = OptionSpec("region", N_("help", "a region, e.g. US (default: World)"), "region")
_METRIC = OptionSpec(
    "metric",
    N_("help", "sales (default): units sold; stock: vehicles registered, a level"),
    choices=("sales", "stock"),
)
_POWERTRAIN = OptionSpec(
    "powertrain",
    N_(
        "help",
        "electric (default): BEV + PHEV; bev, phev, or fcev (fuel-cell, never in the default)",
    ),
    choices=POWERTRAIN_CHOICES,
)

COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "ev-total",
            N_(
                "help",
                "Cumulative total (or sold in a period:), the month it runs to, a make's top "
                "models",
            ),
            [
                _SUBJECT,
                _REGION,
                OptionSpec(
                    "as-of",
                    N_(
                        "help",
                        "up to a period: 2015, 2015-06, june 2015, 2015-Q2, ytd, 2019..2021 or all",
                    ),
                    "period",
                ),
                OptionSpec(
                    "period",
                    N_(
                        "help",
                        "sold in a period, not cumulative: 2015, 2015-06, june 2015, 2015-Q2, "
                        "ytd, 2019..2021 or all",
                    ),
                    "period",
                ),
                OptionSpec(
                    "explain",
                    N_("help", "yes: which regions, sources and years made the figure"),
                    choices=("yes", "no"),
                ),
                _METRIC,
                _POWERTRAIN,
                _LOCALE,
            ],
            cmd_total,
            False,
            "/ev-total nissan leaf region:US as-of:2015-06",
        ),
        Command(
            "ev-share",
            N_(
                "help",
                "Each model's share of a make or group; or a region's EV share of new cars, as a "
                "source gives it",
            ),
            [
                OptionSpec(
                    "subject",
                    N_("help", "a make or group (e.g. alliance), or a region (e.g. norway)"),
                    "subject",
                    required=True,
                ),
                OptionSpec(
                    "period",
                    N_(
                        "help",
                        "a period: 2015, 2015-06, june 2015, 2015-Q2, ytd, 2019..2021 or all",
                    ),
                    "period",
                ),
                _REGION,
                OptionSpec(
                    "as-of",
                    N_("help", "a region's latest share by then (default: its latest year)"),
                    "period",
                ),
                OptionSpec(
                    "metric",
                    N_(
                        "help",
                        "a region's share of new cars: sales (default), or of cars on the road: "
                        "stock",
                    ),
                    choices=("sales", "stock"),
                ),
                _POWERTRAIN,
                _LOCALE,
            ],
            cmd_share,
            False,
            "/ev-share alliance period:2015",
        ),
        Command(
            "ev-milestones",
            N_(
                "help",
                "Recent milestones with their months, the next one and when it is projected",
            ),
            [_SUBJECT, _REGION, _METRIC, _POWERTRAIN, _LOCALE],
            cmd_milestones,
            False,
            "/ev-milestones nissan leaf",
        ),
        Command(
            "ev-chart",
            N_(
                "help",
                "A chart: the running total with its milestones, a make's or group's model "
                "shares, or each month against a year earlier",
            ),
            [
                OptionSpec(
                    "subject", N_("help", "e.g. alliance or nissan leaf"), "subject", required=True
                ),
                OptionSpec(
                    "kind",
                    N_("help", "cumulative (default), shares (of a make or group) or monthly"),
                    choices=CHART_KINDS,
                ),
                _REGION,
                _METRIC,
                _POWERTRAIN,
                _LOCALE,
            ],
            cmd_chart,
            False,
            "/ev-chart alliance kind:shares",
        ),
        Command(
            "ev-subscribe",
            N_("help", "Make this channel follow a subject"),
            [
                OptionSpec(
                    "subject", N_("help", "what to follow, e.g. alliance"), "subject", required=True
                ),
                OptionSpec(
                    "kinds",
                    N_("help", "comma-separated, of milestone,share,growth,record (default: all)"),
                ),
                OptionSpec(
                    "ladder",
                    N_(
                        "help",
                        "a configured threshold ladder (default: default)",
                    ),
                ),
                OptionSpec("mode", N_("help", "when to send"), choices=MODES),
                OptionSpec(
                    "locale", N_("help", "language, numbers and months, e.g. en, nb, de, fr, ja")
                ),
                OptionSpec(
                    "charts",
                    N_("help", "a chart with milestones: on or off"),
                    choices=("on", "off"),
                ),
                OptionSpec(
                    "template", N_("help", "this workspace's message template, e.g. newsroom")
                ),
                OptionSpec(
                    "corrections",
                    N_("help", "tell corrections of milestones this channel heard: on or off"),
                    choices=("on", "off"),
                ),
                _REGION,
                OptionSpec(
                    "metric",
                    N_(
                        "help",
                        "sales (default): news of units sold; stock: of vehicles registered",
                    ),
                    choices=("sales", "stock"),
                ),
            ],
            cmd_subscribe,
            True,
            "/ev-subscribe alliance kinds:milestone,share mode:instant",
        ),
        Command(
            "ev-test",
            N_(
                "help",
                "Post a sample announcement here, as this channel's subscription renders it, "
                "marked as a test (not recorded; once a minute)",
            ),
            [],
            cmd_test,
            True,
            "/ev-test",
        ),
        Command(
            "ev-unsubscribe",
            N_("help", "Stop this channel following a subject (or all)"),
            [
                OptionSpec("subject", N_("help", "a subject, or all"), "subject", required=True),
                OptionSpec(
                    "metric",
                    N_(
                        "help",
                        "only the subscriptions of this metric: sales or stock (default: both)",
                    ),
                    choices=("sales", "stock"),
                ),
            ],
            cmd_unsubscribe,
            True,
            "/ev-unsubscribe alliance",
        ),
        Command(
            "ev-mute",
            N_(
                "help",
                "Silence a subject (or all) in this channel for a while; news is still recorded",
            ),
            [
                OptionSpec("subject", N_("help", "a subject, or all"), "subject", required=True),
                OptionSpec(
                    "for",
                    N_("help", "how long: 30m, 12h, 7d, 2w (at most 90 days)"),
                    required=True,
                ),
                OptionSpec(
                    "then",
                    N_(
                        "help",
                        "what would have been posted meanwhile: digest (default: the next digest) "
                        "or drop",
                    ),
                    choices=("digest", "drop"),
                ),
            ],
            cmd_mute,
            True,
            "/ev-mute nissan leaf for:7d then:drop",
        ),
        Command(
            "ev-unmute",
            N_("help", "End this channel's mute of a subject (all: every mute)"),
            [
                OptionSpec(
                    "subject",
                    N_(
                        "help",
                        "a muted subject, or all",
                    ),
                    "subject",
                    required=True,
                )
            ],
            cmd_unmute,
            True,
            "/ev-unmute nissan leaf",
        ),
        Command(
            "ev-subscriptions",
            N_("help", "What this channel follows"),
            [_LOCALE],
            cmd_subscriptions,
            False,
            "/ev-subscriptions",
        ),
        Command(
            "ev-preview",
            N_(
                "help",
                "What would be announced next here, and why recent events were or were not sent",
            ),
            [
                OptionSpec("subject", N_("help", "e.g. nissan leaf"), "subject", required=True),
                _REGION,
                _LOCALE,
            ],
            cmd_preview,
            False,
            "/ev-preview nissan leaf",
        ),
        Command(
            "ev-help",
            N_("help", "Every command with its options and an example"),
            [
                OptionSpec("command", N_("help", "one command's options, e.g. ev-total")),
                _LOCALE,
            ],
            cmd_help,
            False,
            "/ev-help",
        ),
    )
}
