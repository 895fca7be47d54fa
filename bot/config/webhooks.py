"""The `[webhooks.NAME]` tables: channels reached through a platform's own webhook URL (Discord
channel webhooks, Slack incoming webhooks, Teams Workflows). The URL is the channel's credential,
so the file names where to read it (`url_env` or `url_file`), never the URL itself; subscriptions
name the channel by NAME."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.config.reader import Reader
from bot.domain.settings import WEBHOOK_KINDS, PlatformConfig, WebhookTarget

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# what each kind takes besides kind, url_env and url_file, with its type
KIND_OPTIONS: dict[str, dict[str, type]] = {
    "discord_webhook": {"thread_id": str, "username": str, "avatar_url": str},
    "slack_webhook": {},
    "teams": {},
}
MAX_USERNAME = 80  # Discord's limit for a webhook's username override


def read_webhooks(r: Reader, data: Any, base: Path) -> dict[str, WebhookTarget]:
    """Every `[webhooks.NAME]`, checked; the first problem found is the error."""
    table = r.table(data, "webhooks")
    found: dict[str, WebhookTarget] = {}
    for name, raw in table.items():
        found[name] = read_webhook(r, name, raw, base)
    return found


def read_webhook(r: Reader, name: str, data: Any, base: Path) -> WebhookTarget:
    """One `[webhooks.NAME]`."""
    path = f"webhooks.{name}"
    if not NAME.match(name):
        raise r.fail(
            path,
            "a webhook's name is letters, digits, '.', '_' and '-' (at most 64), starting "
            "with a letter or digit: subscriptions name the channel by it",
        )
    t = r.table(data, path)
    if "kind" not in t:
        raise r.fail(f"{path}.kind", f"missing: one of {', '.join(WEBHOOK_KINDS)}")
    kind = r.choice(t, "kind", f"{path}.kind", WEBHOOK_KINDS, "")
    allowed = {"kind", "url_env", "url_file", *KIND_OPTIONS[kind]}
    for key in t:
        if key == "url":
            # never repeat the value: it is the credential, pasted in the wrong place
            raise r.fail(
                f"{path}.url",
                "a webhook URL is a secret and never goes in the file: set url_env (an "
                "environment variable name) or url_file",
            )
        if key not in allowed:
            raise r.fail(
                f"{path}.{key}", f"unknown key (expected one of: {', '.join(sorted(allowed))})"
            )
    url_env = r.string(t, "url_env", f"{path}.url_env")
    url_file = r.string(t, "url_file", f"{path}.url_file")
    if bool(url_env) == bool(url_file):
        raise r.fail(path, "needs one of url_env (an environment variable name) or url_file")
    if url_env and not _ENV_NAME.match(url_env):
        raise r.fail(
            f"{path}.url_env",
            "must be the NAME of an environment variable (letters, digits, _), not its value",
        )
    if url_file and not Path(url_file).is_absolute():
        url_file = str(base / url_file)
    options: dict[str, Any] = {}
    for key, kind_of in KIND_OPTIONS[kind].items():
        if key in t:
            value = t[key]
            if not isinstance(value, kind_of):
                raise r.fail(f"{path}.{key}", "must be a string")
            options[key] = value
    _check_discord(r, path, options)
    return WebhookTarget(name, kind, url_env, url_file, options)


def _check_discord(r: Reader, path: str, options: Mapping[str, Any]) -> None:
    thread = options.get("thread_id")
    if thread is not None and not re.fullmatch(r"[0-9]{1,20}", thread):
        raise r.fail(f"{path}.thread_id", "must be a Discord thread id (digits)")
    username = options.get("username")
    if username is not None and not 1 <= len(username.strip()) <= MAX_USERNAME:
        raise r.fail(f"{path}.username", f"must be 1 to {MAX_USERNAME} characters")
    avatar = options.get("avatar_url")
    if avatar is not None and not avatar.startswith("https://"):
        raise r.fail(f"{path}.avatar_url", "must be an https:// URL")


def attach_webhooks(
    r: Reader,
    platforms: Mapping[str, PlatformConfig],
    webhooks: Mapping[str, WebhookTarget],
    environ: Mapping[str, str],
) -> tuple[dict[str, PlatformConfig], list[str]]:
    """Each webhook platform with its channels; and the problems: a channel of an enabled
    platform whose URL cannot be read (named by where it is read from, never by its value)."""
    out = dict(platforms)
    problems: list[str] = []
    for kind in WEBHOOK_KINDS:
        platform = out.get(kind, PlatformConfig(kind))
        mine = {name: t for name, t in webhooks.items() if t.kind == kind}
        out[kind] = PlatformConfig(
            platform.name,
            platform.enabled,
            platform.secrets,
            platform.secret_files,
            platform.options,
            mine,
        )
        if not platform.enabled:
            continue
        for name, target in mine.items():
            if target.url(environ) is None:
                where = (
                    f"file {r.shown(target.url_file, quote=False)} is missing or empty"
                    if target.url_file
                    else f"environment variable {r.shown(target.url_env, quote=False)} is not set"
                )
                problems.append(str(r.fail(f"webhooks.{name}", f"missing URL: {where}")))
    return out, problems
