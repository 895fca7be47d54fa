"""`evbot template set NAME KIND FILE` and `evbot templates`: a workspace's message templates
(`bot.domain.templates`), checked before they are saved."""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from adapters.registry import PLATFORMS
from bot.cli.common import CliError, load_settings, print_json, store_for
from bot.domain.templates import (
    PLACEHOLDERS,
    TEMPLATE_KINDS,
    Template,
    TemplateError,
    check_name,
    check_template,
)

EXIT_OK = 0


def add_commands(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `evbot template set` and `evbot templates` to the `evbot` parser."""
    p = sub.add_parser("template", help="save a message template for a kind of event")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = actions.add_parser(
        "set",
        help="save FILE as template NAME for KIND (checked first)",
        epilog="placeholders: " + ", ".join(f"{{{n}}}" for n in PLACEHOLDERS),
    )
    s.add_argument("name", help="the template's name, e.g. newsroom (a-z, 0-9, - and _)")
    s.add_argument("kind", choices=TEMPLATE_KINDS, help="the kind of event it writes")
    s.add_argument("file", help="a UTF-8 text file: the message's text with its placeholders")
    _scope_args(s)
    s.add_argument("--by", metavar="WHO", help="who saves it (default: $USER)")
    add_common(s)
    s.set_defaults(run=cmd_template_set)

    p = sub.add_parser("templates", help="a workspace's message templates")
    _scope_args(p)
    p.add_argument("--json", action="store_true", help="one JSON object a line (default: text)")
    add_common(p)
    p.set_defaults(run=cmd_templates)


def _scope_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--platform",
        default="console",
        help=f"the workspace's platform: {', '.join(PLATFORMS)} (default: %(default)s)",
    )
    p.add_argument("--workspace", help="workspace or guild id (default: local; webhook: default)")


def _workspace(args: argparse.Namespace) -> str:
    return str(args.workspace or ("default" if args.platform == "webhook" else "local"))


async def cmd_template_set(args: argparse.Namespace, out: TextIO) -> int:
    config = load_settings(args)
    path = Path(args.file)
    try:
        body = await asyncio.to_thread(path.read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read it as UTF-8 text: {exc}") from exc
    try:
        check_name(args.name, args.kind)
        check_template(body.rstrip("\n"))
    except TemplateError as exc:
        raise CliError(f"{path}: {exc}; nothing was saved") from exc
    template = Template(
        args.platform,
        _workspace(args),
        args.name,
        args.kind,
        body.rstrip("\n"),
        args.by or os.environ.get("USER", "cli"),
        time.time(),
    )
    async with store_for(args, config) as store:
        new = await store.set_template(template)
    verb = "saved" if new else "replaced"
    print(
        f"{verb} template {template.name!r} for {template.kind} in "
        f"{template.platform}/{template.workspace}",
        file=out,
    )
    return EXIT_OK


async def cmd_templates(args: argparse.Namespace, out: TextIO) -> int:
    config = load_settings(args)
    async with store_for(args, config, read=True) as store:
        found = await store.templates(args.platform, _workspace(args))
    for t in found:
        if args.json:
            print_json(
                {"name": t.name, "kind": t.kind, "body": t.body, "created_by": t.created_by}, out
            )
        else:
            print(f"{t.name} ({t.kind}): {t.body!r}", file=out)
    if not found and not args.json:
        print("no templates", file=out)
    return EXIT_OK
