"""The one logging set-up of every `evbot` command: the standard `logging` module, one handler
on stderr, as plain text or, for a log collector, one JSON object a line (python-json-logger's
`pythonjsonlogger.json`): time, level, logger, message and the fields a record carries
(platform, channel, delivery_id, source, poll_id), every secret redacted from each value
before it is written.

In JSON mode every line the process writes is such an object: warnings are logged (not printed),
and the lines a command would print for the person at the terminal (`say`, `complain`, a crash's
traceback: `report_crash`) are logged too.
"""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

from bot.config.secrets import redact_secrets

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DEFAULT_LOG_LEVEL = "info"
# libraries whose INFO lines are chatter (APScheduler logs every job run): warnings only,
# unless debugging
QUIET_LIBRARIES = ("apscheduler",)
CLI_LOG = logging.getLogger("evbot.cli")


class JsonLines(JsonFormatter):
    """One JSON object a record, its time in UTC ISO 8601, every string in it redacted."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        redacted: dict[str, Any] = _redacted(log_data)
        return redacted


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, dict):
        return {str(k): _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    return value


class StderrLog(logging.Handler):
    """Log lines to whatever `sys.stderr` is when they are written (tests swap it), with every
    secret the environment holds redacted."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            if not isinstance(self.formatter, JsonLines):  # JSON redacts each value itself
                line = redact_secrets(line)
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except Exception:  # logging must never take the bot down
            self.handleError(record)


def configure_logging(level: str | None = None, form: str | None = None) -> None:
    """Set up the standard `logging` module once per process (one handler, on stderr), set its
    level by name and its format (`text` or `json`); calling it again changes only those."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, StderrLog)), None)
    if handler is None:
        handler = StderrLog()
        root.addHandler(handler)
    json_lines = form == "json" or (form is None and json_logs())
    handler.setFormatter(JsonLines() if json_lines else logging.Formatter(TEXT_FORMAT))
    logging.captureWarnings(json_lines)  # a warning is then a log line like any other
    name = (level or DEFAULT_LOG_LEVEL).upper()
    root.setLevel(name)
    for library in QUIET_LIBRARIES:
        logging.getLogger(library).setLevel("DEBUG" if name == "DEBUG" else "WARNING")


def json_logs() -> bool:
    """Whether this process logs JSON lines."""
    return any(
        isinstance(h, StderrLog) and isinstance(h.formatter, JsonLines)
        for h in logging.getLogger().handlers
    )


def say(out: TextIO, text: str) -> None:
    """A line for the person running the command, on `out`; a JSON log line in JSON mode."""
    if json_logs():
        CLI_LOG.info(text)
    else:
        print(text, file=out, flush=True)


def complain(text: str) -> None:
    """An error line on stderr (secrets redacted); a JSON log line in JSON mode."""
    if json_logs():
        CLI_LOG.error(text)
    else:
        print(redact_secrets(text), file=sys.stderr)


def report_crash(exc: BaseException, text: str) -> None:
    """A bug: its traceback for the report, with no password or token in it, then `text`."""
    if json_logs():
        CLI_LOG.error(text, exc_info=exc)
        return
    crash = "".join(traceback.format_exception(exc))
    print(redact_secrets(crash), file=sys.stderr, end="")
    print(text, file=sys.stderr)
