"""The store's side of message templates (`bot.domain.templates`)."""

from __future__ import annotations

from typing import Protocol

from bot.domain.templates import Template


class TemplateRows(Protocol):
    """Templates kept per workspace, name and kind of event."""

    async def set_template(self, template: Template) -> bool:
        """Save a template, replacing one of the same workspace, name and kind; returns whether
        it is new."""
        ...

    async def templates(self, platform: str, workspace: str) -> list[Template]:
        """A workspace's templates, by name and kind."""
        ...
