"""What a file says of itself before its rows are read: the delimiter its header line uses
(`,`, `;` or a tab) and, from a byte-order mark, that it is UTF-16 (Excel's "Unicode text")."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from itertools import chain
from typing import IO

DELIMITERS = (",", ";", "\t")
_QUOTED = re.compile(r'"[^"]*"')
_HEAD = 1000  # blank and comment lines looked past for the header, at most
_UTF8 = {"utf-8-sig", "utf-8", "utf8", "utf_8", "utf_8_sig", "utf-8_sig"}


def delimiter_of(header: str) -> str:
    """The delimiter a header line uses most, outside quotes; a comma when it uses none."""
    bare = _QUOTED.sub("", header)
    counts = {d: bare.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # the first, a comma, on a tie
    return best if counts[best] else ","


def delimited(lines: Iterator[str]) -> tuple[str, Iterator[str]]:
    """The delimiter of the first line that is neither blank nor a `#` comment, and the lines,
    all of them still to read."""
    held: list[str] = []
    for line in lines:
        held.append(line)
        text = line.strip()
        if (text and not text.startswith("#")) or len(held) >= _HEAD:
            return delimiter_of(text), chain(held, lines)
    return ",", iter(held)


def encoding_of(raw: IO[bytes], encoding: str) -> str:
    """UTF-16 when the file starts with its byte-order mark and the expected encoding is the
    default UTF-8: the mark says what the file is. Nothing is consumed from `raw`."""
    if encoding.lower() not in _UTF8:
        return encoding
    peek = getattr(raw, "peek", None)
    head = peek(4)[:4] if peek is not None else b""
    if head.startswith(codecs.BOM_UTF32_LE):
        return encoding  # no UTF-16 file starts with a NUL: left to be refused as it is
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return encoding
