"""The bot's sentences in the reader's language: gettext catalogs per locale, English as the
fallback.

The catalogs are `bot/locales/<lang>/LC_MESSAGES/evbot.po`, shipped in the package. Each is
compiled in memory on first use (Babel reads the .po and writes the .mo into a buffer), so a
checkout, a wheel and an edited catalog all read the same text without a build step; a locale
with no catalog (or a message a catalog lacks) reads English. Messages are whole sentences with
named placeholders (`{subject}`); `t`, `tn` and `tp` translate and fill them in one step.

Extraction keywords (README "Translations"): `t:2`, `tn:2,3`, `tp:2c,3`, `N_:1c,2`, and the
name of every `LocalizedError` class with `:1` (`ERROR_KEYWORDS`): an error is raised with its
message as written and its values, and told in the reader's language where it is answered.
"""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "evbot"
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
# the languages the bot writes; English is the source text, the others have catalogs
LANGUAGES = ("en", "nb", "de", "fr", "nl", "es", "ja")


def catalog_path(language: str) -> Path:
    """Where the catalog of `language` (`nb`, `de`…) lives in the package."""
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=256)
def language_of(locale: str) -> str:
    """The catalog a locale reads: `fr_CA` -> `fr`, `no`/`nn`/`nb_NO` -> `nb`, else `en`."""
    try:
        lang = Locale.parse(locale.strip().replace("-", "_")).language
    except (UnknownLocaleError, ValueError, TypeError, AttributeError):
        return "en"
    if lang in ("no", "nn"):
        lang = "nb"  # Norwegian newsrooms write Bokmål far more often; one catalog serves both
    return lang if lang in LANGUAGES else "en"


@lru_cache(maxsize=16)
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of `language`, or English (the messages as written) without one."""
    path = catalog_path(language)
    if language == "en" or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as f:
        catalog = read_po(f, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    # fuzzy entries are not used: a guess is worse than English for a newsroom
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def _fill(text: str, values: dict[str, object]) -> str:
    return text.format(**values) if values else text


def t(loc: str, message: str, /, **values: object) -> str:
    """`message` in the language of locale `loc`, its `{placeholders}` filled from `values`."""
    return _fill(translations(language_of(loc)).gettext(message), values)


def tn(loc: str, singular: str, plural: str, count: int, /, **values: object) -> str:
    """The plural form for `count` of a message in the language of `loc`, filled from `values`."""
    return _fill(translations(language_of(loc)).ngettext(singular, plural, count), values)


def tp(loc: str, context: str, message: str, /, **values: object) -> str:
    """A message with a context (a field's name, a region's phrase) in the language of `loc`."""
    return _fill(translations(language_of(loc)).pgettext(context, message), values)


class LocalizedError(ValueError):
    """An error a user is told, its text a catalog message: `str()` reads it in English and
    `text(loc)` in the language of `loc`. Raise a subclass with the message as written and its
    values, `ArgumentError("{key}: is not an option.", key=key)`; the subclass's name must be in
    `ERROR_KEYWORDS` so that extraction finds its messages (a test checks)."""

    def __init__(self, message: str = "", /, **values: object) -> None:
        super().__init__(_fill(message, values))
        self.message = message
        self.values = values

    def text(self, loc: str) -> str:
        """The error in the language of `loc`, its values filled in."""
        return t(loc, self.message, **self.values)


# the classes whose first argument is a message to translate (pybabel `-k NAME:1`)
ERROR_KEYWORDS = (
    "LocalizedError",
    "ArgumentError",
    "FollowsNothing",
    "SubscriptionError",
    "UnknownSubject",
    "ShareError",
    "MuteError",
    "LadderError",
    "ChartError",
)


def is_english(loc: str) -> bool:
    """Whether `loc` reads the English text (the source, with its own articles and possessives)."""
    return language_of(loc) == "en"
