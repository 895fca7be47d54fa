"""The `[platforms.NAME]` tables: each platform's options and their checks, and its secrets, named
by an environment variable or a file (never written in the file)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bot.config.reader import Reader, kind_text, number_text
from bot.domain.settings import PLATFORM_SECRETS, PlatformConfig

PLATFORM_OPTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "discord": {
        "application_id": (str, int),
        "guilds": list,
        "shard_count": int,
        "shard_ids": list,
        "api_base": str,  # test-only: the local fake Discord's REST base
        "gateway_url": str,  # test-only: the local fake Discord's gateway
        "rate_per_second": (int, float),
        "channel_rate_per_second": (int, float),
        "timeout": (int, float),
    },
    "slack": {
        "mode": str,
        "host": str,
        "port": int,
        "api_base_url": str,
        "admins": list,
        "client_id": str,
        "rate_per_second": (int, float),
        "channel_rate_per_second": (int, float),
    },
    "matrix": {
        "homeserver": str,
        "user_id": str,
        "join_on_invite": bool,
        "rate_per_second": (int, float),
        "channel_rate_per_second": (int, float),
        "timeout": (int, float),
        "sync_timeout": (int, float),
    },
    "webhook": {
        "rate_per_second": (int, float),
        "channel_rate_per_second": (int, float),
        "timeout": (int, float),
    },
    # the platforms' own webhooks; their channels are `[webhooks.NAME]` tables
    "discord_webhook": {
        "rate_per_second": (int, float),
        "channel_rate_per_second": (int, float),
        "timeout": (int, float),
    },
    "slack_webhook": {
        "rate_per_second": (int, float),
        "channel_rate_per_second": (int, float),
        "timeout": (int, float),
        "chart_base_url": str,  # where chart_dir is served publicly: charts go as links
        "chart_dir": str,
    },
    "teams": {
        "rate_per_second": (int, float),
        "channel_rate_per_second": (int, float),
        "timeout": (int, float),
        "chart_base_url": str,
        "chart_dir": str,
    },
}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# which secrets an enabled platform cannot start without (slack: depends on its mode)
_REQUIRED_SECRETS: dict[str, Callable[[Mapping[str, Any]], tuple[str, ...]]] = {
    "discord": lambda o: ("token",),
    # slack: HTTP mode with a client_id installs through OAuth (tokens come from the store)
    "slack": lambda o: (
        ("bot_token", "app_token")
        if o.get("mode", "socket") != "http"
        else ("signing_secret", "client_secret")
        if o.get("client_id")
        else ("bot_token", "signing_secret")
    ),
    "matrix": lambda o: ("access_token",),
    "webhook": lambda o: (),
    "discord_webhook": lambda o: (),
    "slack_webhook": lambda o: (),
    "teams": lambda o: (),
}


def read_platform(
    r: Reader, name: str, data: Any, base: Path, environ: Mapping[str, str]
) -> PlatformConfig:
    path = f"platforms.{name}"
    p = r.table(data, path)
    known = PLATFORM_SECRETS[name]
    secrets = dict(known)
    files: dict[str, str] = {}
    options: dict[str, Any] = {}
    enabled = r.boolean(p, "enabled", f"{path}.enabled", False)
    for key, value in p.items():
        if key == "enabled":
            continue
        secret = key.removesuffix("_env").removesuffix("_file")
        if secret in known and key == f"{secret}_env":
            var = r.string(p, key, f"{path}.{key}")
            if not _ENV_NAME.match(var):
                # never repeat the value: it may be the secret itself, pasted in the wrong place
                raise r.fail(
                    f"{path}.{key}",
                    "must be the NAME of an environment variable (letters, digits, _), "
                    "not its value",
                )
            secrets[secret] = var
        elif secret in known and key == f"{secret}_file":
            f = r.string(p, key, f"{path}.{key}")
            files[secret] = f if Path(f).is_absolute() else str(base / f)
        elif key in known:
            raise r.fail(
                f"{path}.{key}",
                f"secrets never go in the file: set {key}_env (an environment variable name) "
                f"or {key}_file",
            )
        elif key in PLATFORM_OPTIONS[name]:
            options[key] = _option(r, f"{path}.{key}", value, PLATFORM_OPTIONS[name][key])
        else:
            allowed = sorted(
                ["enabled", *PLATFORM_OPTIONS[name]]
                + [f"{k}_env" for k in known]
                + [f"{k}_file" for k in known]
            )
            raise r.fail(f"{path}.{key}", f"unknown key (expected one of: {', '.join(allowed)})")
    _check_options(r, path, options)
    if "chart_dir" in options and not Path(options["chart_dir"]).is_absolute():
        options["chart_dir"] = str(base / options["chart_dir"])  # relative to the file
    platform = PlatformConfig(name, enabled, secrets, files, options)
    if enabled:
        for needed in _REQUIRED_SECRETS[name](options):
            if platform.secret(needed, environ) is None:
                where = (
                    f"file {r.shown(files[needed], quote=False)} is missing or empty"
                    if needed in files
                    else f"environment variable {r.shown(secrets[needed], quote=False)} is not set"
                )
                raise r.fail(f"{path}.{needed}", f"missing secret: {where}")
    return platform


# numeric platform options: (lowest, highest, lowest itself excluded)
_OPTION_RANGES: dict[str, tuple[float, float, bool]] = {
    "rate_per_second": (0, 1_000_000, True),
    "channel_rate_per_second": (0, 1_000_000, True),
    "timeout": (0, 600, True),
    "sync_timeout": (0, 600, True),
    "shard_count": (1, 100_000, False),
    "port": (0, 65535, False),  # 0: any free port (what the tests' servers use)
}
SLACK_MODES = ("socket", "http")


def _snowflake(value: Any) -> bool:
    """A Discord id: a positive 64-bit number, or its digits."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,20}", value.strip()):
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**64


def _check_options(r: Reader, path: str, options: Mapping[str, Any]) -> None:
    """Ranges, enumerations and list items of a platform's options, whatever their order."""
    for key, value in options.items():
        where = f"{path}.{key}"
        if key in _OPTION_RANGES:
            low, high, above = _OPTION_RANGES[key]
            if key == "port":  # says what it is, in the words the Slack settings use
                if not low <= value <= high:
                    port = value if abs(value) < 10**9 else number_text(value)  # no 5,000 digits
                    raise r.fail(where, f"{port} is not a TCP port (1-65535, or 0: any free one)")
            elif key == "shard_count":
                r.integer(options, key, where, 0, int(low), int(high))
            else:
                r.number(options, key, where, 0, low, high, above=above)
        elif key == "mode" and value not in SLACK_MODES:
            raise r.fail(where, f"{r.shown(value)} is not one of {', '.join(SLACK_MODES)}")
        elif key == "host" and not value.strip():
            raise r.fail(where, "must name an address to listen on, e.g. 0.0.0.0")
        elif key == "application_id" and not _snowflake(value):
            raise r.fail(where, f"must be a Discord id (digits), not {r.shown(value)}")
        elif key == "guilds":
            for i, guild in enumerate(value):
                if not _snowflake(guild):
                    raise r.fail(
                        f"{where}[{i}]", f"must be a Discord id (digits), not {r.shown(guild)}"
                    )
        elif key == "homeserver" and not re.match(r"^https?://[^/\s]+", value):
            raise r.fail(where, f"{r.shown(value)} is not an http(s) URL, e.g. https://matrix.org")
        elif key == "user_id" and value and not re.match(r"^@[^:\s]+:\S+$", value):
            raise r.fail(where, f"{r.shown(value)} is not a Matrix user id, e.g. @evbot:matrix.org")
        elif key == "admins" and not all(isinstance(a, str) for a in value):
            raise r.fail(where, 'must be a list of user ids, e.g. ["U012AB"]')
        elif key == "chart_base_url" and not value.startswith("https://"):
            # Slack and Teams fetch an image from the public internet, over https only
            raise r.fail(where, "must be a public https:// URL")
    if ("chart_base_url" in options) != ("chart_dir" in options):
        raise r.fail(path, "chart_base_url and chart_dir go together (the one serves the other)")
    if "shard_ids" in options:
        count = options.get("shard_count")
        if count is None:
            raise r.fail(f"{path}.shard_ids", "needs shard_count as well")
        ids = options["shard_ids"]
        if not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < count for i in ids):
            raise r.fail(
                f"{path}.shard_ids", f"must be a list of shard numbers from 0 to {count - 1}"
            )
        if len(set(ids)) != len(ids):
            raise r.fail(f"{path}.shard_ids", "names a shard twice")


def _option(r: Reader, path: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    if isinstance(value, bool) and kind is not bool:
        raise r.fail(path, "must not be true/false")
    if not isinstance(value, kind):
        names = {
            str: "a string",
            int: "a whole number",
            float: "a number",
            bool: "true or false",
            list: "a list",
        }
        wanted = " or ".join(
            names.get(k, k.__name__) for k in (kind if isinstance(kind, tuple) else (kind,))
        )
        raise r.fail(path, f"must be {wanted}, not {kind_text(value)}")
    return value
