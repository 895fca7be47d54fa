"""Secrets kept out of what the bot shows: `redact_secrets` over any text on its way out, and
`redacted`, the effective settings with every secret shown only as set or unset."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from bot.domain.settings import PLATFORM_SECRETS, Config

# `scheme://user:` and the rest of the word. Every repeat is possessive and a scheme starts only
# where a run of scheme characters does, so no character is scanned twice: linear in the text
# (a backtracking pattern here took minutes over a 5 MB value). The password is then cut at the
# word's last "@" (a password may hold one; over-redacting a query is harmless).
_DSN_PASSWORD = re.compile(
    r"(?<![A-Za-z0-9+.-])(?P<head>[A-Za-z0-9+.-]++://[^:/@\s]*+:)(?P<rest>[^\s'\"]*+)"
)
_KV_PASSWORD = re.compile(r"(?P<head>\b(?:password|passwd|pwd|sslpassword)=)[^&\s'\"]*+", re.I)
MIN_SECRET = 4  # shorter values would blank out ordinary words
# the credential part of a platform's webhook URL: Discord's token, Slack's last path segment,
# a Teams (Power Automate) trigger's signature
_WEBHOOK_CREDENTIAL = re.compile(
    r"(?P<head>/api(?:/v[0-9]+)?/webhooks/[0-9]++/|/services/[A-Za-z0-9]++/[A-Za-z0-9]++/"
    r"|[?&]sig=)[^\s'\"&?#/]++"
)


def redact_secrets(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` with the password of any URL (`postgresql://user:***@host/db`), any `password=`
    value, the credential of a platform webhook URL (Discord's token, Slack's last segment, a
    Teams trigger's `sig`), and the value of every platform secret set in the environment
    replaced by `***`.

    For the places a secret could slip through on its way out: check-config, error messages,
    crash output.
    """
    env = os.environ if environ is None else environ
    if "://" in text:
        text = _DSN_PASSWORD.sub(_hide_dsn_password, text)
    if "=" in text:
        text = _KV_PASSWORD.sub(r"\g<head>***", text)
    if "/webhooks/" in text or "/services/" in text or "sig=" in text:
        text = _WEBHOOK_CREDENTIAL.sub(r"\g<head>***", text)
    names = {var for secrets in PLATFORM_SECRETS.values() for var in secrets.values()}
    names.add("PGPASSWORD")  # the database password, which PostgreSQL clients read
    values = sorted({env[n] for n in names if len(env.get(n, "")) >= MIN_SECRET}, key=len)
    for value in reversed(values):  # longest first: one secret may contain another
        text = text.replace(value, "***")
    return text


def _hide_dsn_password(match: re.Match[str]) -> str:
    rest = match["rest"]
    at = rest.rfind("@")
    return match[0] if at < 0 else f"{match['head']}***{rest[at:]}"


def redacted(config: Config, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The effective settings as plain data, with every secret shown only as set or unset."""
    env = os.environ if environ is None else environ
    return {
        "config": config.path or "(defaults)",
        "database": redact_secrets(config.database, env),
        "locale": config.locale,
        "schedule": {"poll_seconds": config.poll_seconds},
        "logging": {"level": config.log_level, "format": config.log_format},
        "delivery": {
            "retry_warning_seconds": config.retry_warning_seconds,
            "stop_grace_seconds": config.stop_grace_seconds,
        },
        "ops": {
            "channel": config.ops.channel.safe() if config.ops.channel is not None else None,
            "alert_after": config.ops.alert_after,
        },
        "groups": [
            {
                "name": g.name,
                "aliases": list(g.aliases),
                "members": [
                    {
                        "make": m.make,
                        **({"from": str(m.valid_from)} if m.valid_from else {}),
                        **({"to": str(m.valid_to)} if m.valid_to else {}),
                    }
                    for m in g.members
                ],
            }
            for g in config.groups
        ],
        "aliases": dict(config.aliases),
        "regions": {
            "aggregates": sorted(config.region_aggregates),
            "parents": dict(config.region_parents),
            "aliases": dict(config.region_aliases),
        },
        "ladders": {k: list(v) if isinstance(v, tuple) else v for k, v in config.ladders.items()},
        "milestones": {
            "ladders": list(config.milestones.ladders),
            "share_band": config.milestones.share_band,
            "share_hysteresis": config.milestones.share_hysteresis,
            "min_months": config.milestones.min_months,
            "min_parent_total": config.milestones.min_parent_total,
            "hold_factor": config.milestones.hold_factor,
            "hold_min_periods": config.milestones.hold_min_periods,
            "hold_ceiling": config.milestones.hold_ceiling,
        },
        "sources": {
            name: {
                "file": s.file,
                "format": s.format,
                "metric": s.metric,
                "figures": s.figures,
                "priority": s.priority,
                **(
                    {"url": s.fetch.shown, "refresh": s.fetch.refresh}
                    if s.fetch is not None
                    else {}
                ),
            }
            for name, s in config.sources.items()
        },
        "platforms": {
            name: {
                "enabled": p.enabled,
                **{
                    k: ("set" if p.secret(k, env) else "unset")
                    + (f" (file {p.secret_files[k]})" if k in p.secret_files else f" (${v})")
                    for k, v in p.secrets.items()
                },
                **{k: v for k, v in p.options.items()},
            }
            for name, p in config.platforms.items()
        },
        # each channel's URL only as set or unset, and where it is read from
        "webhooks": {
            name: {
                "kind": target.kind,
                "url": ("set" if target.url(env) else "unset")
                + (f" (file {target.url_file})" if target.url_file else f" (${target.url_env})"),
                **dict(target.options),
            }
            for p in config.platforms.values()
            for name, target in p.webhooks.items()
        },
    }
