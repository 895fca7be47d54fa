"""A command's subject and region, read against the read model: free words to a subject, a region
name to a region with figures, and how a region is named after a subject."""

from __future__ import annotations

import difflib

from bot.commands.arguments import ArgumentError
from bot.commands.context import CommandContext
from bot.domain.series import WORLD
from bot.domain.subjects import ALL, Resolved, UnknownSubject, unknown_subject


def resolve_subject(ctx: CommandContext, text: str | None) -> Resolved:
    """The subject the words name, or all when there are none (UnknownSubject when unknown,
    suggesting the names autocomplete would offer first: a whole word or a prefix of a name
    before a misspelling, a make or group before a model, a bigger model before a smaller)."""
    if not text or not text.strip():
        return Resolved(ALL)
    try:
        return ctx.model.catalog.resolve(text)
    except UnknownSubject as exc:
        raise unknown_subject(text, ctx.names().suggest(text)) from exc


def resolve_region(ctx: CommandContext, resolved: Resolved, text: str | None) -> str:
    """The region asked for (else the one the subject's words named, else the world), refused
    with close names when it has no figures: neither its own nor, for a continent or a
    configured parent, a region inside it (the catalog lists those: `load_catalog`)."""
    if not text:
        return resolved.region or WORLD
    catalog = ctx.model.catalog
    region = catalog.region(text)
    known = (
        set(catalog.regions)
        | {WORLD}
        | set(ctx.model.tree.aggregates)
        | set(ctx.model.tree.parents)
        | set(ctx.model.tree.parents.values())
        | set(catalog.region_aliases.values())
    )
    if region in known:
        return region
    close = difflib.get_close_matches(region, sorted(known), n=3, cutoff=0.5)
    if close:
        raise ArgumentError(
            "region: no figures for {text}. Did you mean {names}?",
            text=repr(text),
            names=", ".join(close),
        )
    raise ArgumentError("region: no figures for {text}.", text=repr(text))
