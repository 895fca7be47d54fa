"""The README, the docs and config.example.toml agree with the code: every default the example
states is the code's, no test is a forgotten `xfail`, and every `evbot --help` line says what the
option does and its default."""

from __future__ import annotations

import argparse
import dataclasses
import re
import tomllib
from argparse import Action
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.discord.settings import DiscordSettings
from adapters.discord_webhook.settings import DEFAULTS as DISCORD_HOOK
from adapters.matrix.settings import MatrixSettings
from adapters.slack.settings import SlackSettings
from adapters.slack_webhook.settings import DEFAULTS as SLACK_HOOK
from adapters.teams.settings import DEFAULTS as TEAMS_HOOK
from adapters.webhook import DEFAULT_CHANNEL_RATE, DEFAULT_RATE, DEFAULT_TIMEOUT
from bot.cli.main import build_parser, main
from bot.domain.settings import PLATFORM_SECRETS, default_config

HOOK_DEFAULTS = {"discord_webhook": DISCORD_HOOK, "slack_webhook": SLACK_HOOK, "teams": TEAMS_HOOK}
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"
SETTING = re.compile(r"^(#\s*)?([A-Za-z_][\w-]*)\s*=\s*(.+)$")
HEADER = re.compile(r"^\[\[?([^\]]+)\]\]?\s*(#.*)?$")
# sections whose values are examples of what may be written, not defaults
EXAMPLE_SECTIONS = ("groups", "aliases", "regions", "sources.", "webhooks.")
# keys whose values in the example are illustrations (an id, a guild), not defaults
ILLUSTRATIONS = {
    "platforms.discord.application_id",
    "platforms.discord.guilds",
    "platforms.discord.shard_count",
    "platforms.discord.shard_ids",
    "platforms.slack.client_id",
    "platforms.slack.admins",
    "platforms.matrix.homeserver",
    "platforms.matrix.user_id",
    "ladders.round-hundred-thousands",
    "ladders.headline",
    "ops.channel",
    "platforms.slack_webhook.chart_base_url",
    "platforms.slack_webhook.chart_dir",
    "platforms.teams.chart_base_url",
    "platforms.teams.chart_dir",
}


def example_settings() -> dict[str, Any]:
    """Every `key = value` of the example, those commented out (`# key = value`) too, by the
    key's full path."""
    found: dict[str, Any] = {}
    section = ""
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if header := HEADER.match(line):
            section = header.group(1).strip()
            continue
        setting = SETTING.match(line)
        if setting is None or section.startswith(EXAMPLE_SECTIONS):
            continue
        _, key, value = setting.groups()
        try:
            parsed = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            continue  # prose that happens to hold "="
        found[f"{section}.{key}" if section else key] = parsed
    return found


def field_defaults(cls: type) -> dict[str, Any]:
    """A settings dataclass's defaults, without building one (Slack's needs a token)."""
    return {f.name: f.default for f in dataclasses.fields(cls)}


def code_defaults() -> dict[str, Any]:
    config = default_config()
    ms = config.milestones
    slack, discord = field_defaults(SlackSettings), field_defaults(DiscordSettings)
    matrix = field_defaults(MatrixSettings)
    defaults: dict[str, Any] = {
        "database": config.database,
        "locale": config.locale,
        "schedule.poll_seconds": config.poll_seconds,
        "logging.level": config.log_level,
        "logging.format": config.log_format,
        "delivery.retry_warning_seconds": config.retry_warning_seconds,
        "ops.alert_after": config.ops.alert_after,
        "delivery.stop_grace_seconds": config.stop_grace_seconds,
        "ladders.default": config.ladders["default"],
        "milestones.ladders": list(ms.ladders),
        "milestones.share_band": ms.share_band,
        "milestones.share_hysteresis": ms.share_hysteresis,
        "milestones.min_months": ms.min_months,
        "milestones.min_parent_total": ms.min_parent_total,
        "milestones.hold_factor": ms.hold_factor,
        "milestones.hold_min_periods": ms.hold_min_periods,
        "milestones.hold_ceiling": ms.hold_ceiling,
        "platforms.discord.rate_per_second": discord["rate_per_second"],
        "platforms.discord.channel_rate_per_second": discord["channel_rate_per_second"],
        "platforms.discord.timeout": discord["timeout"],
        "platforms.slack.mode": slack["mode"],
        "platforms.slack.host": slack["host"],
        "platforms.slack.port": slack["port"],
        "platforms.slack.api_base_url": slack["api_base_url"],
        "platforms.slack.rate_per_second": slack["rate_per_second"],
        "platforms.slack.channel_rate_per_second": slack["channel_rate_per_second"],
        "platforms.matrix.join_on_invite": matrix["join_on_invite"],
        "platforms.matrix.rate_per_second": matrix["rate_per_second"],
        "platforms.matrix.channel_rate_per_second": matrix["channel_rate_per_second"],
        "platforms.matrix.timeout": matrix["timeout"],
        "platforms.matrix.sync_timeout": matrix["sync_timeout"],
        "platforms.webhook.rate_per_second": DEFAULT_RATE,
        "platforms.webhook.channel_rate_per_second": DEFAULT_CHANNEL_RATE,
        "platforms.webhook.timeout": DEFAULT_TIMEOUT,
    }
    for kind, hook_defaults in HOOK_DEFAULTS.items():
        for key, value in hook_defaults.items():
            defaults[f"platforms.{kind}.{key}"] = value
    for platform, secrets in PLATFORM_SECRETS.items():
        defaults[f"platforms.{platform}.enabled"] = config.platforms[platform].enabled
        for secret, variable in secrets.items():
            defaults[f"platforms.{platform}.{secret}_env"] = variable
    return defaults


def test_every_default_the_example_states_is_the_codes() -> None:
    stated, defaults = example_settings(), code_defaults()
    unchecked = set(stated) - set(defaults) - ILLUSTRATIONS
    assert not unchecked, f"settings in the example no test checks: {sorted(unchecked)}"
    wrong = {
        key: (value, defaults[key])
        for key, value in stated.items()
        if key in defaults and value != defaults[key]
    }
    assert not wrong, f"example value, code default: {wrong}"
    # the example states the defaults that matter most, not only some of them
    assert {k for k in defaults if not k.startswith("platforms.")} <= set(stated)


def test_the_example_defaults_are_read_as_the_code_reads_them() -> None:
    """The example's active settings, loaded, give the defaults the test compares against."""
    stated = example_settings()
    assert stated["platforms.slack.rate_per_second"] == 10  # the stale 1
    assert stated["platforms.discord.timeout"] == field_defaults(DiscordSettings)["timeout"]


def test_no_test_is_marked_xfail_unless_the_readme_names_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    marked = [
        f"{path.relative_to(ROOT)}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path.name != Path(__file__).name and "pytest.mark.xfail" in path.read_text("utf-8")
    ]
    assert all(name in readme for name in marked), marked


def test_the_docs_cite_only_files_that_exist_or_the_shared_design_document() -> None:
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for cited in re.findall(r"`([\w./-]*DESIGN\.md)`", text):
            assert cited == "../shared/DESIGN.md", (page.name, cited)
            assert "shared design document" in text, page.name


# -- evbot --help reads as a manual ---------------------------------------------------------------


def walk(parser: argparse.ArgumentParser, name: str = "evbot") -> Iterator[tuple[str, Action]]:
    """Every argument of every command, subcommands' too, with the command's name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                yield from walk(sub, f"{name} {command}")
        elif not isinstance(action, argparse._HelpAction):
            yield name, action


def shown_default(action: Action) -> bool:
    """Whether the help says the default: `%(default)s`, or the value after "default"."""
    text = action.help or ""
    if "%(default)s" in text:
        return True
    value = action.default
    words = {True: ("yes", "on"), False: ("no", "off")}.get(value, (str(value),))
    return "default" in text and any(w in text for w in words)


# help lines in files this part of the project does not own, to be fixed there: the Slack
# manifest's --name help does not say its default ("EV Milestone Bot")


def test_every_option_of_every_command_says_what_it_does_and_its_default() -> None:
    missing, silent = [], []
    for command, action in walk(build_parser()):
        name = "/".join(action.option_strings) or action.dest
        if not action.help or action.help == argparse.SUPPRESS:
            if action.help != argparse.SUPPRESS:
                missing.append(f"{command} {name}")
            continue
        flag = isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction)
        if action.default in (None, argparse.SUPPRESS) or flag:
            continue  # nothing to say (a flag's default is its absence)
        if not shown_default(action):
            silent.append(f"{command} {name} (default {action.default!r})")
    assert not missing, f"arguments with no help: {missing}"
    assert not silent, f"defaults the help does not state: {silent}"


def test_the_help_of_each_command_renders(capsys: pytest.CaptureFixture[str]) -> None:
    commands = sorted({c for c, _ in walk(build_parser())})
    for command in commands:
        with pytest.raises(SystemExit) as done:
            main([*command.split()[1:], "--help"])
        assert done.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith("usage: "), command
        assert "%(default)" not in out


# options every command shares, told once under the table
SHARED_OPTIONS = {"--db", "--config", "--log-level", "--log-format", "--help"}
CHANNEL_OPTIONS = {"--platform", "--workspace", "--channel"}


def test_the_readme_table_has_every_command_with_every_option() -> None:
    """README's command table is the manual's index: a row for each `evbot` command, naming
    each of its options (`[channel options]` stands for --platform/--workspace/--channel)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `evbot ")]
    options: dict[str, set[str]] = {}
    for command, action in walk(build_parser()):
        options.setdefault(command, set()).update(
            o for o in action.option_strings if o.startswith("--")
        )
    unlisted, unnamed = [], []
    for command, flags in sorted(options.items()):
        own = " ".join(
            row for row in rows if re.search(rf"`{re.escape(command)}( |`)", row.split(" | ")[0])
        )
        if not own:
            if not any(other.startswith(f"{command} ") for other in options):
                unlisted.append(command)  # a group (`evbot discord`) is listed by its commands
            continue
        told = flags - SHARED_OPTIONS
        if "[channel options]" in own:
            told -= CHANNEL_OPTIONS
        unnamed += [f"{command} {flag}" for flag in sorted(told) if flag not in own]
    assert not unlisted, f"commands without a row in README's table: {unlisted}"
    assert not unnamed, f"options the command's README row does not name: {unnamed}"


def test_every_command_page_says_what_it_does_and_shows_an_example() -> None:
    """Each `evbot COMMAND --help` opens with what the command does and ends with an example,
    and every example is a command line `evbot` takes (`;` separates two)."""
    import shlex

    from bot.cli.manual import EXAMPLES, commands

    parser = build_parser()
    pages = {name: sub for name, sub, _ in commands(parser)}
    assert not set(EXAMPLES) - set(pages), "examples of commands that do not exist"
    bare = [name for name, sub in pages.items() if not sub.description]
    assert not bare, f"commands whose --help does not say what they do: {bare}"
    without = [name for name, sub in pages.items() if not (sub.epilog or "").startswith("e.g. ")]
    assert not without, f"commands whose --help shows no example: {without}"
    for name, sub in pages.items():
        for example in (sub.epilog or "").removeprefix("e.g. ").split("; "):
            if not example.startswith(("evbot ", "DISCORD_TOKEN=")):
                continue  # the command's own epilog after its examples
            words = shlex.split(example.partition(" > ")[0])
            words = words[words.index("evbot") + 1 :]
            assert " ".join(["evbot", *words]).startswith(name), (name, example)
            parser.parse_args(words)  # exits (and fails the test) if evbot would refuse it
    assert "where to start:" in (parser.epilog or "")
