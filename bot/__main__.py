"""`python -m bot` works like `evbot`."""

import sys

from bot.cli import main

sys.exit(main())
