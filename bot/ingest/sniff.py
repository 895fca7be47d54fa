"""What a file says of itself before its rows are read: the delimiter its header line uses
(`,`, `;` or a tab) and, from a byte-order mark, that it is UTF-16 (Excel's "Unicode text")."""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import IO

from bot.ingest.lines import read_lines

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


def header_of(path: Path, encoding: str = "utf-8-sig") -> list[str]:
    """The file's header cells, as the parse would read them; none when it cannot be read (the
    parse then says why)."""
    try:
        with path.open("rb") as raw:
            lines = read_lines(raw, encoding_of(raw, encoding), lambda line, reason: None, None)
            delimiter, rest = delimited(lines)
            for row in csv.reader(rest, delimiter=delimiter):
                if any(c.strip() for c in row) and not row[0].lstrip().startswith("#"):
                    return row
    except (OSError, csv.Error):
        pass
    return []
