"""Platform-neutral messages: what the announcer says, before any platform's markup.

All text here is plain text. Renderers in `adapters/` escape it for their platform, so data from
sources or users can never become markup or a mention.
"""

from __future__ import annotations

from dataclasses import dataclass

ACCENTS: frozenset[str] = frozenset({"milestone", "share", "growth", "record", "info", "error"})


@dataclass(frozen=True, slots=True)
class Field:
    """One key figure shown beside the body, e.g. `Total: 251,100`."""

    name: str
    value: str
    inline: bool = True


# slots: the command layer keeps a message per subject it was asked of
@dataclass(frozen=True, slots=True)
class Message:
    """A message ready to render for any platform.

    `accent` picks the colour (one of ACCENTS); `image` is an optional PNG attached as
    `image_name` and told in words by `image_alt`; `kind` says what the message is about (an
    event kind, "group", "digest", "following", "info" or "error").
    """

    title: str
    body: str
    fields: tuple[Field, ...] = ()
    footer: str = ""
    accent: str = "milestone"
    image: bytes | None = None
    image_name: str | None = None
    locale: str = "en"
    kind: str = "info"
    corrects: tuple[str, ...] = ()  # delivery keys of the messages this one corrects
    image_alt: str = ""  # the image in words (alt text)

    def __post_init__(self) -> None:
        if self.accent not in ACCENTS:
            raise ValueError(
                f"unknown accent {self.accent!r}: expected one of {', '.join(sorted(ACCENTS))}"
            )
        if self.image is not None and not self.image_name:
            raise ValueError("a message with an image needs an image_name, e.g. 'chart.png'")
