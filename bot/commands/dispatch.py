"""Running a command: by name with typed options (`run_command`, as Discord passes them) or
typed as text (`run_text`: `/ev-total nissan leaf region:US`); every failure is an ephemeral
error reply.

The answer's language: a reading command's `locale:` option (one answer), else the caller's
platform locale (`Invocation.locale`), else the configuration's. A `locale:` the bot does not
write is refused in the caller's language; any other error is told in the answer's."""

from __future__ import annotations

import difflib
import time
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from functools import lru_cache

from bot.commands.arguments import (
    MAX_LENGTH,
    ArgumentError,
    answer_locale,
    check_length,
    option_name,
    parse_command,
)
from bot.commands.context import CommandContext
from bot.commands.table import COMMANDS
from bot.commands.types import HELP, Command, Invocation, Reply, error_reply
from bot.domain.formatting import validate_locale
from bot.domain.i18n import LocalizedError, t, tp


def find_command(name: str) -> Command | None:
    key = name.strip().lstrip("/").lower()
    return COMMANDS.get(key) or COMMANDS.get(f"ev-{key}")


async def run_command(
    ctx: CommandContext, invocation: Invocation, name: str, args: Mapping[str, str]
) -> Reply:
    """Run one command with typed options; every failure is an ephemeral error reply."""
    if not ctx.latency_observers:
        return await _run_command(ctx, invocation, name, args)
    return await _observed(ctx, _run_command(ctx, invocation, name, args))


async def _observed(ctx: CommandContext, call: Awaitable[Reply]) -> Reply:
    """`call`'s reply, its time told to the latency observers."""
    start = time.perf_counter()
    try:
        return await call
    finally:
        elapsed = time.perf_counter() - start
        for observe in ctx.latency_observers:
            observe(elapsed)


async def _run_command(
    ctx: CommandContext, invocation: Invocation, name: str, args: Mapping[str, str]
) -> Reply:
    locale = _locale(invocation.locale, ctx.config.locale)
    try:
        checked = _checked(name, tuple(args.items()), locale)
    except _Refused as refused:
        return error_reply(refused.text, refused.locale)
    return await _run_checked(ctx, invocation, checked)


async def _run_checked(ctx: CommandContext, invocation: Invocation, checked: _Checked) -> Reply:
    """Run a checked call (`_checked`): its command's name, its answer's locale, its arguments."""
    command_name, locale, pairs = checked
    command = COMMANDS[command_name]
    if command.manages_channel and not invocation.can_manage:
        return error_reply(
            t(
                locale,
                "/{command} changes what this channel receives, so it needs permission to "
                "manage this channel, which you do not have here. Ask someone who can manage "
                "the channel, or use /ev-subscriptions and /ev-preview to see what it follows.",
                command=command.name,
            ),
            locale,
        )
    await ctx.maybe_refresh()
    try:
        if invocation.locale != locale:
            invocation = replace(invocation, locale=locale)
        return await command.handler(ctx, invocation, dict(pairs))
    except LocalizedError as exc:  # ArgumentError, SubscriptionError, UnknownSubject…
        return error_reply(exc.text(locale), locale)


async def run_text(ctx: CommandContext, invocation: Invocation, text: str) -> Reply:
    """Run a command typed as text: `/ev-total nissan leaf region:US as-of:2015-06`."""
    locale = _locale(invocation.locale, ctx.config.locale)
    try:
        checked = _text_checked(text, locale)
    except ArgumentError as exc:  # not a command's call
        return error_reply(exc.text(locale), locale)
    except _Refused:  # refused as run_command refuses it (and times it)
        name, args = _text_call(text)
        return await run_command(ctx, invocation, name, args)
    if not ctx.latency_observers:
        return await _run_checked(ctx, invocation, checked)
    return await _observed(ctx, _run_checked(ctx, invocation, checked))


# a checked call: the command's name, the locale of its answer, its arguments by their
# canonical names
_Checked = tuple[str, str, tuple[tuple[str, str], ...]]


@lru_cache(maxsize=8192)
def _text_checked(text: str, locale: str) -> _Checked:
    """`_checked` of a typed command (raises ArgumentError where it is no command's call),
    kept per text and caller's locale: most texts were typed before, and a text is hashed
    once, where its arguments' pairs would be hashed whole."""
    name, pairs = _parsed.__wrapped__(text)
    if pairs and pairs[-1][0] == "subject":
        found = _with_subject(name, pairs, locale)
        if found is not None:
            return found
    return _checked.__wrapped__(name, pairs, locale)


# what stands for a typed subject while the rest of a call is checked (`_with_subject`)
_ANY_SUBJECT = "x"


def _with_subject(name: str, pairs: tuple[tuple[str, str], ...], locale: str) -> _Checked | None:
    """`_checked` of a call whose last argument is its subject, from the kept check of the
    call with any subject (the typed ones are many, the rest of the calls few: a text seen
    for the first time is mostly a known call about another subject); None when the subject
    could change more than its own value (an empty or overlong one, a command that takes
    none or refuses the call), which `_checked` then tells in full."""
    typed = pairs[-1][1]
    words = " ".join(typed.split())
    if not words or len(typed) > MAX_LENGTH:
        return None
    try:
        command_name, answer_locale, clean = _checked(
            name, (*pairs[:-1], ("subject", _ANY_SUBJECT)), locale
        )
    except _Refused:
        return None
    # the subject's value is checked as any other (its length, its spaces), and is last, so
    # it is the value of the checked "subject" whatever else was named so
    return (
        command_name,
        answer_locale,
        tuple((key, words if key == "subject" else value) for key, value in clean),
    )


class _Refused(Exception):
    """A call refused before its command runs: the error's text and the locale it is in."""

    def __init__(self, text: str, locale: str) -> None:
        super().__init__(text)
        self.text = text
        self.locale = locale


@lru_cache(maxsize=4096)
def _checked(name: str, pairs: tuple[tuple[str, str], ...], locale: str) -> _Checked:
    """The command a call names, the locale of its answer (`locale`, the caller's, unless a
    `locale:` asks another) and its arguments checked, by their canonical names (raises
    `_Refused`). Kept per call, of which it is a pure function, as strings alone (which the
    garbage collector stops tracking): most calls were made before; refusals are not kept."""
    command = find_command(name)
    if command is None:
        raise _Refused(_no_command(name, locale), locale)
    args = dict(pairs)
    try:
        locale = _asked_locale(command, args) or locale
    except ArgumentError as exc:
        raise _Refused(exc.text(locale), locale) from None
    try:
        clean = _check_args(command, args, locale)
    except ArgumentError as exc:
        raise _Refused(exc.text(locale), locale) from None
    return command.name, locale, tuple(clean.items())


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


def _no_command(name: str, locale: str) -> str:
    typed = name.lstrip("/")
    close = difflib.get_close_matches(typed.lower(), list(COMMANDS), n=1)
    if close:
        return t(
            locale,
            "There is no command /{name}. Did you mean /{suggestion}? See /ev-help.",
            name=typed,
            suggestion=close[0],
        )
    return t(locale, "There is no command /{name}. See /ev-help.", name=typed)


@lru_cache(maxsize=64)
def _answer_option(name: str) -> str | None:
    """The name of the option that asks command `name`'s answer in a language, if it has one
    (kept per command: the table does not change)."""
    command = COMMANDS.get(name)
    found = command and next((o for o in command.options if o.kind == "locale"), None)
    return found.name if found else None


def _asked_locale(command: Command, args: Mapping[str, str]) -> str | None:
    """The locale the `locale:` option of a reading command asks its answer in, if given."""
    wanted = _answer_option(command.name)
    if wanted is None:
        return None
    for raw, value in args.items():
        if option_name(raw) == wanted and value.strip():
            check_length(value, "value", wanted)
            return answer_locale(value.strip())
    return None


def _check_args(command: Command, args: Mapping[str, str], locale: str) -> dict[str, str]:
    """The arguments by their canonical names, each checked against the command's options (an
    answer's `locale:` is read by `_asked_locale`, not passed on); errors in `locale`'s
    language."""
    clean: dict[str, str] = {}
    for raw, value in args.items():
        key = option_name(raw)
        option = command.option(key)
        if option is None:
            raise _unknown_option(command, key)
        if option.kind == "locale":
            continue
        check_length(value, "value", key)
        value = " ".join(str(value).split())
        if option.choices and value.lower() not in option.choices:
            raise ArgumentError(
                "{key}: {value} is not one of {choices}.",
                key=key,
                value=repr(value),
                choices=", ".join(option.choices),
            )
        if value:
            clean[key] = value.lower() if option.choices else value
    for option in command.options:
        if option.required and option.name not in clean:
            raise ArgumentError(
                "/{command} needs {option} ({description}). Example: {example}",
                command=command.name,
                option=option.name,
                description=tp(locale, HELP, option.description),
                example=command.example,
            )
    return clean


def _unknown_option(command: Command, key: str) -> ArgumentError:
    if key == "subject":
        return ArgumentError(
            "/{command} takes no subject. Example: {example}",
            command=command.name,
            example=command.example,
        )
    if not command.options:
        return ArgumentError(
            "/{command} has no option {key}: (it takes no options). Example: {example}",
            command=command.name,
            key=key,
            example=command.example,
        )
    return ArgumentError(
        "/{command} has no option {key}: (its options: {options}). Example: {example}",
        command=command.name,
        key=key,
        options=", ".join(f"{o.name}:" for o in command.options),
        example=command.example,
    )


@lru_cache(maxsize=256)
def _locale(asked: str, fallback: str) -> str:
    try:
        return validate_locale(asked)
    except ValueError:
        return validate_locale(fallback)
