"""`evbot slack manifest`: a Slack app manifest for the bot, ready to paste at api.slack.com/apps.

Built from the command table, so a new command appears in the manifest by itself. Socket Mode
by default (no public URL); with `--url` the manifest points slash commands, interactivity and
the OAuth redirect at that address instead (HTTP mode).
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from bot.commands.table import COMMANDS

NAME = "EV Milestone Bot"
# commands: slash commands; chat:write: announcements and answers; files:write: charts;
# users:read: who may subscribe a channel; *:history: finding a post after a crash (metadata)
BOT_SCOPES = (
    "commands",
    "chat:write",
    "files:write",
    "users:read",
    "channels:history",
    "groups:history",
)
MAX_NAME = 35  # Slack's limit for an app's name
MAX_DESCRIPTION = 100  # what Slack shows of a slash command's description
EVENTS_PATH = "/slack/events"
REDIRECT_PATH = "/slack/oauth_redirect"


def manifest(name: str = NAME, url: str | None = None) -> dict[str, Any]:
    """The manifest: every command of the table, the scopes, Socket Mode unless `url` is given."""
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"--name: the app's name must be 1 to {MAX_NAME} characters")
    base = url.rstrip("/") if url else None
    if base is not None and not base.startswith("https://"):
        raise ValueError(f"--url: Slack only calls https:// addresses, not {url!r}")
    commands = []
    for command in COMMANDS.values():
        entry: dict[str, Any] = {
            "command": f"/{command.name}",
            "description": _cut(command.description, MAX_DESCRIPTION),
            "usage_hint": command.example.removeprefix(f"/{command.name}").strip() or "",
            "should_escape": False,  # the text as typed: our parser reads names, not mentions
        }
        if not entry["usage_hint"]:
            del entry["usage_hint"]
        if base is not None:
            entry["url"] = base + EVENTS_PATH
        commands.append(entry)
    interactivity: dict[str, Any] = {"is_enabled": True}  # the did-you-mean buttons
    oauth: dict[str, Any] = {"scopes": {"bot": list(BOT_SCOPES)}}
    if base is not None:
        interactivity["request_url"] = base + EVENTS_PATH
        oauth["redirect_urls"] = [base + REDIRECT_PATH]
    return {
        "display_information": {
            "name": name,
            "description": "Electric-vehicle sales milestones, told in your channels",
            "background_color": "#1d6b44",
        },
        "features": {
            "bot_user": {"display_name": name, "always_online": True},
            "slash_commands": commands,
        },
        "oauth_config": oauth,
        "settings": {
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": base is None,
            "token_rotation_enabled": False,
        },
    }


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


async def cmd_manifest(args: argparse.Namespace, out: TextIO) -> int:
    """Print the manifest as JSON (Slack's manifest editor takes JSON or YAML)."""
    print(json.dumps(manifest(args.name, args.url), indent=2, ensure_ascii=False), file=out)
    return 0
