"""What the benches share: the process's peak memory, and the best of several timings."""

from __future__ import annotations

import resource
from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MB (since the last `reset_peak` where the
    kernel allows one, else since the start)."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """The process's resident memory now, in MB (0 where /proc is absent)."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def reset_peak() -> bool:
    """Start the peak anew from the memory in use now (Linux 4.0 and later); False where not."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True
