"""Running a command: by name with typed options (`run_command`, as Discord passes them) or
typed as text (`run_text`: `/ev-total nissan leaf region:US`); every failure is an ephemeral
error reply."""

from __future__ import annotations

import difflib
import time
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache

from bot.commands.arguments import ArgumentError, check_length, option_name, parse_command
from bot.commands.context import CommandContext
from bot.commands.table import COMMANDS
from bot.commands.types import Command, Invocation, Reply, error_reply
from bot.domain.formatting import validate_locale
from bot.domain.subjects import UnknownSubject
from bot.domain.subscriptions import SubscriptionError


def find_command(name: str) -> Command | None:
    key = name.strip().lstrip("/").lower()
    return COMMANDS.get(key) or COMMANDS.get(f"ev-{key}")


async def run_command(
    ctx: CommandContext, invocation: Invocation, name: str, args: Mapping[str, str]
) -> Reply:
    """Run one command with typed options; every failure is an ephemeral error reply."""
    if not ctx.latency_observers:
        return await _run_command(ctx, invocation, name, args)
    start = time.perf_counter()
    try:
        return await _run_command(ctx, invocation, name, args)
    finally:
        elapsed = time.perf_counter() - start
        for observe in ctx.latency_observers:
            observe(elapsed)


async def _run_command(
    ctx: CommandContext, invocation: Invocation, name: str, args: Mapping[str, str]
) -> Reply:
    locale = _locale(invocation.locale, ctx.config.locale)
    command = find_command(name)
    if command is None:
        close = difflib.get_close_matches(name.lstrip("/").lower(), list(COMMANDS), n=1)
        hint = f" Did you mean /{close[0]}?" if close else ""
        return error_reply(f"There is no command /{name.lstrip('/')}.{hint} See /ev-help.", locale)
    try:
        clean = _check_args(command, args)
    except ArgumentError as exc:
        return error_reply(str(exc), locale)
    if command.manages_channel and not invocation.can_manage:
        return error_reply(
            f"/{command.name} changes what this channel receives, so it needs permission to "
            "manage this channel, which you do not have here. Ask someone who can manage the "
            "channel, or use /ev-subscriptions and /ev-preview to see what it follows.",
            locale,
        )
    await ctx.maybe_refresh()
    try:
        if invocation.locale != locale:
            invocation = replace(invocation, locale=locale)
        return await command.handler(ctx, invocation, clean)
    except (ArgumentError, SubscriptionError) as exc:
        return error_reply(str(exc), locale)
    except UnknownSubject as exc:
        return error_reply(str(exc), locale)


async def run_text(ctx: CommandContext, invocation: Invocation, text: str) -> Reply:
    """Run a command typed as text: `/ev-total nissan leaf region:US as-of:2015-06`."""
    try:
        name, args = _text_call(text)
    except ArgumentError as exc:
        return error_reply(str(exc), _locale(invocation.locale, ctx.config.locale))
    return await run_command(ctx, invocation, name, args)


def _text_call(text: str) -> tuple[str, Mapping[str, str]]:
    """A typed command's name and arguments, the subject's words as `subject`."""
    name, pairs = _parsed(text)
    return name, dict(pairs)


@lru_cache(maxsize=4096)
def _parsed(text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    # kept per text (parsing is a pure function of it) as tuples of strings, which the garbage
    # collector stops tracking: kept dicts would be walked by every full collection, which with
    # the read model's caches is a large part of a command's cost
    call = parse_command(text)
    args = dict(call.options)
    if call.words:
        if "subject" in args:
            raise ArgumentError(
                "The subject is given twice: as words and as subject:; give it once."
            )
        args["subject"] = call.subject
    return call.name, tuple(args.items())


def _check_args(command: Command, args: Mapping[str, str]) -> dict[str, str]:
    clean: dict[str, str] = {}
    for raw, value in args.items():
        key = option_name(raw)
        option = command.option(key)
        if option is None:
            if key == "subject":
                raise ArgumentError(f"/{command.name} takes no subject. Example: {command.example}")
            known = ", ".join(f"{o.name}:" for o in command.options) or "none"
            raise ArgumentError(
                f"/{command.name} has no option {key}: (its options: {known}). "
                f"Example: {command.example}"
            )
        check_length(value, f"The value of {key}")
        value = " ".join(str(value).split())
        if option.choices and value.lower() not in option.choices:
            raise ArgumentError(f"{key}: {value!r} is not one of {', '.join(option.choices)}.")
        if value:
            clean[key] = value.lower() if option.choices else value
    for option in command.options:
        if option.required and option.name not in clean:
            raise ArgumentError(
                f"/{command.name} needs {option.name} ({option.description}). "
                f"Example: {command.example}"
            )
    return clean


@lru_cache(maxsize=256)
def _locale(asked: str, fallback: str) -> str:
    try:
        return validate_locale(asked)
    except ValueError:
        return validate_locale(fallback)
