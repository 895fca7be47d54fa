"""The command table: every command with its options, handler, whether it manages the channel,
and an example; every adapter registers these. /ev-help, which reads the table aloud, is here
too (a module of its own would import the table that imports it)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.charts.data import KINDS as CHART_KINDS
from bot.commands.arguments import PERIOD_EXAMPLES
from bot.commands.channels import cmd_subscribe, cmd_subscriptions, cmd_unsubscribe
from bot.commands.chart import cmd_chart
from bot.commands.context import CommandContext
from bot.commands.mutes import cmd_mute, cmd_unmute
from bot.commands.preview import cmd_preview
from bot.commands.reading import cmd_milestones, cmd_share, cmd_total
from bot.commands.sample import cmd_test
from bot.commands.types import Command, Invocation, OptionSpec, Reply
from bot.domain.messages import Field, Message
from bot.domain.powertrains import CHOICES as POWERTRAIN_CHOICES
from bot.domain.subscriptions import KINDS, MODES


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


_SUBJECT = OptionSpec("subject", "a model, make, group or region, e.g. nissan leaf", "subject")
_REGION = OptionSpec("region", "a region, e.g. US (default: World)", "region")
_METRIC = OptionSpec(
    "metric",
    "sales (default): units sold; stock: vehicles registered, a level",
    choices=("sales", "stock"),
)
_POWERTRAIN = OptionSpec(
    "powertrain",
    "electric (default): BEV + PHEV; bev, phev, or fcev (fuel-cell, never in the default)",
    choices=POWERTRAIN_CHOICES,
)

COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "ev-total",
            "Cumulative total (or sold in a period:), the month it runs to, a make's top models",
            [
                _SUBJECT,
                _REGION,
                OptionSpec("as-of", f"up to a period: {PERIOD_EXAMPLES}", "period"),
                OptionSpec(
                    "period",
                    f"sold in a period, not cumulative: {PERIOD_EXAMPLES}",
                    "period",
                ),
                OptionSpec(
                    "explain",
                    "yes: which regions, sources and years made the figure",
                    choices=("yes", "no"),
                ),
                _METRIC,
                _POWERTRAIN,
            ],
            cmd_total,
            False,
            "/ev-total nissan leaf region:US as-of:2015-06",
        ),
        Command(
            "ev-share",
            "Each model's share of a make or group; or a region's EV share of new cars, "
            "as a source gives it",
            [
                OptionSpec(
                    "subject",
                    "a make or group (e.g. alliance), or a region (e.g. norway)",
                    "subject",
                    required=True,
                ),
                OptionSpec("period", f"a period: {PERIOD_EXAMPLES}", "period"),
                _REGION,
                OptionSpec(
                    "as-of",
                    "a region's latest share by then (default: its latest year)",
                    "period",
                ),
                OptionSpec(
                    "metric",
                    "a region's share of new cars: sales (default), or of cars on the road: stock",
                    choices=("sales", "stock"),
                ),
                _POWERTRAIN,
            ],
            cmd_share,
            False,
            "/ev-share alliance period:2015",
        ),
        Command(
            "ev-milestones",
            "Recent milestones with their months, the next one and when it is projected",
            [_SUBJECT, _REGION, _METRIC, _POWERTRAIN],
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
                _METRIC,
                _POWERTRAIN,
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
                OptionSpec("locale", "language, numbers and months, e.g. en, nb, de, fr, ja"),
                OptionSpec("charts", "a chart with milestones: on or off", choices=("on", "off")),
                OptionSpec("template", "this workspace's message template, e.g. newsroom"),
                OptionSpec(
                    "corrections",
                    "tell corrections of milestones this channel heard: on or off",
                    choices=("on", "off"),
                ),
                _REGION,
                OptionSpec(
                    "metric",
                    "sales (default): news of units sold; stock: of vehicles registered",
                    choices=("sales", "stock"),
                ),
            ],
            cmd_subscribe,
            True,
            "/ev-subscribe alliance kinds:milestone,share mode:instant",
        ),
        Command(
            "ev-test",
            "Post a sample announcement here, as this channel's subscription renders it, "
            "marked as a test (not recorded; once a minute)",
            [],
            cmd_test,
            True,
            "/ev-test",
        ),
        Command(
            "ev-unsubscribe",
            "Stop this channel following a subject (or all)",
            [
                OptionSpec("subject", "a subject, or all", "subject", required=True),
                OptionSpec(
                    "metric",
                    "only the subscriptions of this metric: sales or stock (default: both)",
                    choices=("sales", "stock"),
                ),
            ],
            cmd_unsubscribe,
            True,
            "/ev-unsubscribe alliance",
        ),
        Command(
            "ev-mute",
            "Silence a subject (or all) in this channel for a while; news is still recorded",
            [
                OptionSpec("subject", "a subject, or all", "subject", required=True),
                OptionSpec("for", "how long: 30m, 12h, 7d, 2w (at most 90 days)", required=True),
                OptionSpec(
                    "then",
                    "what would have been posted meanwhile: digest (default: the next digest) "
                    "or drop",
                    choices=("digest", "drop"),
                ),
            ],
            cmd_mute,
            True,
            "/ev-mute nissan leaf for:7d then:drop",
        ),
        Command(
            "ev-unmute",
            "End this channel's mute of a subject (all: every mute)",
            [OptionSpec("subject", "a muted subject, or all", "subject", required=True)],
            cmd_unmute,
            True,
            "/ev-unmute nissan leaf",
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
