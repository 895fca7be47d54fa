"""`evbot check-config`: every problem of the configuration at once, or the effective settings."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from bot.cli.common import EXIT_FAIL, EXIT_OK, load_settings, print_json, resolve_database
from bot.config.load import config_problems
from bot.config.secrets import redact_secrets, redacted
from bot.domain.defuse import map_strings


async def cmd_check_config(args: argparse.Namespace, out: TextIO) -> int:
    """Print the effective settings (secrets redacted); or, when the file has problems, every
    one of them on stderr, `FILE: key: reason` a line, and exit 1."""
    path = args.config or os.environ.get("EVBOT_CONFIG")
    if path is not None:
        _, problems = config_problems(path)
        if len(problems) == 1:
            print(f"evbot check-config: {redact_secrets(problems[0])}", file=sys.stderr)
            return EXIT_FAIL
        if problems:
            for problem in problems:
                print(redact_secrets(problem), file=sys.stderr)
            print(f"evbot check-config: {len(problems)} problems in {path}", file=sys.stderr)
            return EXIT_FAIL
    config = load_settings(args)
    settings = redacted(config)
    settings["database_used"] = resolve_database(args.db, config)
    # every text redacted, not only the database: a secret may be pasted anywhere in the file
    print_json(map_strings(settings, redact_secrets), out, ensure_ascii=False, indent=2)
    return EXIT_OK
