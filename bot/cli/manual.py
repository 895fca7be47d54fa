"""`evbot --help` read as a manual: every command's page opens with what it does and ends with
an example to type; the top page says where to start."""

from __future__ import annotations

import argparse

START = """where to start:
  evbot demo                              watch the demo's milestones arrive, no tokens needed
  evbot import sales.csv --source kba     import figures (all or nothing)
  evbot total "nissan leaf" --as-of 2015  ask what the figures say
  evbot subscribe alliance                make a channel follow a subject
  evbot run                               run the bot; evbot check-config first
every command: evbot COMMAND --help; chat's slash commands: README's "Slash commands\""""

# One example a command, typed as a user would: the last line of its --help.
EXAMPLES = {
    "evbot import": "evbot import sales.csv --source kba --dry-run; evbot import --demo",
    "evbot held": "evbot held --all",
    "evbot release": "evbot release 3",
    "evbot total": 'evbot total "nissan leaf" --region USA --as-of "june 2015"; '
    "evbot total alliance --period 2015-Q2 --locale fr",
    "evbot check-config": "evbot check-config --config evbot.toml",
    "evbot demo": "evbot demo --speed 4",
    "evbot replay": 'evbot replay --from 2014 --to "june 2015" --kinds milestone',
    "evbot share": "evbot share norway --period 2020; evbot share alliance --period 2015",
    "evbot detect": "evbot detect",
    "evbot milestones": "evbot milestones --corrections",
    "evbot subscribe": "evbot subscribe alliance --platform discord --workspace 1234 "
    "--channel 5678 --mode weekly",
    "evbot unsubscribe": "evbot unsubscribe --id 3; "
    'evbot unsubscribe "nissan leaf" --region Norway',
    "evbot test-message": "evbot test-message --platform discord --workspace 1234 --channel 5678",
    "evbot mute": 'evbot mute "nissan leaf" --for 7d --then drop --platform discord '
    "--workspace 1234 --channel 5678",
    "evbot unmute": 'evbot unmute "nissan leaf" --platform discord --workspace 1234 --channel 5678',
    "evbot mutes": "evbot mutes --json",
    "evbot resume": "evbot resume --platform slack --workspace T123 --channel C456",
    "evbot subscriptions": "evbot subscriptions --json",
    "evbot deliveries": "evbot deliveries --failed; evbot deliveries --show 12; "
    "evbot deliveries retry --failed",
    "evbot chart": "evbot chart alliance --kind shares --out alliance.png",
    "evbot ask": 'evbot ask "/ev-total leaf region:USA as-of:2015-06"',
    "evbot migrate-store": "evbot migrate-store --from sqlite:evbot.sqlite3 "
    "--to postgresql://evbot@db.internal/evbot",
    "evbot sources": "evbot sources --json",
    "evbot fetch": "evbot fetch kba --dry-run; evbot fetch",
    "evbot template": "evbot template set newsroom milestone milestone.txt --platform discord "
    "--workspace 1234",
    "evbot template set": "evbot template set newsroom milestone milestone.txt --platform discord "
    "--workspace 1234",
    "evbot templates": "evbot templates --platform discord --workspace 1234",
    "evbot backup": "evbot backup /var/backups/evbot/evbot-2026-12-07.sqlite3",
    "evbot restore": "evbot restore /var/backups/evbot/evbot-2026-12-01.sqlite3",
    "evbot export": "evbot export audit/ --format json",
    "evbot run": "evbot run --config evbot.toml --ops 127.0.0.1:9108",
    "evbot discord": "evbot discord sync",
    "evbot discord sync": "evbot discord sync --force",
    "evbot discord invite-url": "DISCORD_TOKEN=... evbot discord invite-url",
    "evbot slack": "evbot slack manifest > manifest.json",
    "evbot slack manifest": "evbot slack manifest --url https://bot.example.org > manifest.json",
}


def commands(
    parser: argparse.ArgumentParser, name: str = "evbot"
) -> list[tuple[str, argparse.ArgumentParser, str]]:
    """Every command under `parser`, with its name and its one-line help."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for command, sub in action.choices.items():
                full = f"{name} {command}"
                found.append((full, sub, helps.get(command, "")))
                found += commands(sub, full)
    return found


def as_manual(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give each command's page its one-line help as description and its example as epilog."""
    parser.epilog = START
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for name, sub, text in commands(parser):
        if not sub.description and text:
            sub.description = text[0].upper() + text[1:] + "."
        example = EXAMPLES.get(name)
        if example and not (sub.epilog or "").startswith("e.g. "):
            # an example first, then what the command's own epilog says
            sub.epilog = f"e.g. {example}" + (f"; {sub.epilog}" if sub.epilog else "")
    return parser
