"""Reading a CSV file's physical lines: decoded a bounded piece at a time, each line checked
for control characters, undecodable bytes and its length before the CSV reader sees it."""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Callable, Iterator
from itertools import chain
from typing import IO

MAX_LINE = 1 << 20  # characters in one physical line
_READ = 1 << 16  # characters decoded at a time
_TELL = 1 << 20  # bytes read between two progress calls
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")
# C0 and C1 controls but tab and line ends, and the undecodable bytes (`_undecodable`)
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_ASCII_CONTROLS = bytes([*range(9), 11, 12, *range(14, 32), 127])  # _BAD's ASCII part
_ODD_ENDS = re.compile("[\x85\u2028\u2029]")  # line ends to `str.splitlines`, not to CSV

Progress = Callable[[int], None]  # called with the bytes read so far


def _undecodable(error: UnicodeError) -> tuple[str, int]:
    """Undecodable bytes become lone surrogates, which no decoder produces from good text: the
    line check finds them with the control characters, and says where they are."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(chr(0xDC00 + b) for b in bad), error.end


codecs.register_error("evbot-undecodable", _undecodable)

Report = Callable[[int, str], None]  # a problem on a physical line


def read_lines(
    raw: IO[bytes], encoding: str, report: Report, progress: Progress | None
) -> Iterator[str]:
    """Decoded physical lines, each with its line end (\r\n, \n or \r), read a bounded piece at
    a time: a line past `MAX_LINE` characters is reported and ends the reading, whatever the
    file holds (a binary file, /dev/zero). NUL and other control characters and undecodable
    bytes are found in the decoded text (a UTF-16 file's zero bytes are no NULs), reported, and
    taken out so that the rest of the line is still read. Both parse paths read through this."""
    text = io.TextIOWrapper(raw, encoding, errors="evbot-undecodable", newline="")
    return chain.from_iterable(_detached(text, _line_runs(raw, text, encoding, report, progress)))


def _detached(text: io.TextIOWrapper, runs: Iterator[list[str]]) -> Iterator[list[str]]:
    """`runs`, then `text` let go of the caller's file (which the caller closes): a reading cut
    short by an exception leaves the wrapper in its traceback, and a wrapper finalized there
    would warn of an unclosed file."""
    try:
        yield from runs
    finally:
        if not text.buffer.closed:
            text.detach()


def _line_runs(
    raw: IO[bytes],
    text: io.TextIOWrapper,
    encoding: str,
    report: Report,
    progress: Progress | None,
) -> Iterator[list[str]]:
    number = 0  # lines handed on
    carry = ""  # the start of a line whose end is not read yet
    told = 0
    while True:
        piece = text.read(_READ)
        held = carry + piece
        if not piece:
            if not held:
                break
            if not held.endswith(("\n", "\r")):
                held += "\n"  # the last line, without a line end of its own
        # a \r at the end of a piece may be the first half of a \r\n
        stop = len(held) - 1 if piece and held.endswith("\r") else len(held)
        end = max(held.rfind("\n", 0, stop), held.rfind("\r", 0, stop)) + 1
        complete, carry = held[:end], held[end:]
        lines = _split(complete, encoding, number, report)
        if (lines and len(lines[0]) > MAX_LINE) or len(carry) > MAX_LINE:
            report(number + 1, f"line too long (more than {MAX_LINE:,} characters)")
            return
        number += len(lines)
        if progress is not None and (not piece or raw.tell() - told >= _TELL):
            told = raw.tell()
            progress(told)
        if lines:
            yield lines
        if not piece:
            break
    if progress is not None:
        progress(raw.tell())


def _split(text: str, encoding: str, number: int, report: Report) -> list[str]:
    """Whole lines (`text` ends with a line end), checked; `number` lines came before them.

    Scanning text with a regular expression costs ten times what the bytes of ASCII text cost,
    and `str.splitlines` also splits on characters that are no line end in CSV (U+2028, and
    controls), so each is used only where the text is plain.
    """
    if text.isascii():  # known without reading the text
        data = text.encode("ascii")
        plain = len(data.translate(None, _ASCII_CONTROLS)) == len(data)
    else:
        # in UTF-8, C0 bytes are only C0 characters, and C1 controls (C2 80-9F), surrogates
        # (ED A0-BF) and U+2028/9 (E2 80 A8-A9) need one of these lead bytes
        data = text.encode("utf-8", "surrogatepass")
        plain = len(data.translate(None, _ASCII_CONTROLS)) == len(data) and not (
            b"\xc2" in data or b"\xed" in data or b"\xe2\x80" in data
        )
        if not plain:
            plain = _BAD.search(text) is None and not _ODD_ENDS.search(text)
    if plain:
        return text.splitlines(keepends=True)
    lines = _LINE.findall(text)
    return [_checked(t, number + i, encoding, report) for i, t in enumerate(lines, 1)]


def _checked(line: str, number: int, encoding: str, report: Report) -> str:
    bad = _BAD.search(line)
    if bad is None:
        return line
    char = bad.group()
    if "\ud800" <= char <= "\udfff":
        report(number, f"undecodable bytes at column {bad.start() + 1} (not {encoding} text)")
    elif char == "\x00":
        report(number, "contains a NUL character: this is not a text CSV file")
    else:
        report(number, f"control character U+{ord(char):04X} at column {bad.start() + 1}")
    return _BAD.sub(_replacement, line)


def _replacement(match: re.Match[str]) -> str:
    """Undecodable bytes read as U+FFFD, as a decoder would; control characters are dropped."""
    return "\ufffd" if match.group() >= "\ud800" else ""
