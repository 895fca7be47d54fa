"""A 50 MB CSV imports in constant memory: the import runs in a child process whose peak
resident memory (its own high-water mark, VmHWM) must stay under a bound that a whole-file-in-memory
import (records, rows and parse state for 1.3 million lines) far exceeds, and must barely grow
from a 5 MB file to a 50 MB one. `bench/soak.py --import-gb 2` runs the same on 2 GB."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOUND_MB = 250
GROWTH_MB = 60  # holding 1.3 million parsed records at once would take far more than this
HEADER = "period,region,make,model,units\n"

_CHILD = textwrap.dedent(
    """
    import asyncio, resource, sys
    from bot.config.load import default_config
    from bot.ingest.importer import import_file
    from bot.store.sqlite.sales import SqliteStore

    async def main(db, csv):
        async with SqliteStore(db) as store:
            report = await import_file(store, default_config(), csv, source="big")
        return sum(s.records for s in report.summaries)

    def peak_mb():
        # VmHWM: the peak of this program's own memory. ru_maxrss would do on a fresh process,
        # but Linux carries it across exec, so a child of a big parent starts at the parent's.
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    records = asyncio.run(main(sys.argv[1], sys.argv[2]))
    # a large file is parsed in a process of its own: its peak counts too
    parser = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"records {records} peak_mb {max(peak_mb(), parser):.1f}", flush=True)
    """
)


def write_csv(path: Path, megabytes: float) -> int:
    """A canonical CSV of about `megabytes` MB with distinct keys; returns its data rows."""
    target = int(megabytes * 1_000_000)
    rows = 0
    size = len(HEADER)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        chunk: list[str] = []
        while size < target:
            i = rows
            line = (
                f"{2000 + (i // 12) % 25}-{i % 12 + 1:02d},Region {i // 300 % 97},"
                f"Make {i // 29_100 % 53},Model {i // 29_100},{i % 997}\n"
            )
            chunk.append(line)
            size += len(line)
            rows += 1
            if len(chunk) == 10_000:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))
    return rows


def import_in_child(tmp_path: Path, csv: Path) -> tuple[int, float]:
    db = tmp_path / f"{csv.stem}.sqlite3"
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(db), str(csv)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    assert child.returncode == 0, child.stderr[-3000:]
    _, records, _, peak = child.stdout.split()
    return int(records), float(peak)


@pytest.mark.slow
def test_a_50_mb_csv_imports_in_constant_memory(tmp_path: Path) -> None:
    """Ten times the file, (almost) the same peak: under BOUND_MB, and within GROWTH_MB of the
    peak for a 5 MB file imported the same way."""
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    small_rows, rows = write_csv(small, 5), write_csv(big, 50)
    assert big.stat().st_size >= 50_000_000
    small_records, small_peak = import_in_child(tmp_path, small)
    records, peak = import_in_child(tmp_path, big)
    assert (small_records, records) == (small_rows, rows)
    figures = f"5 MB: peak {small_peak:.0f} MB; 50 MB ({rows:,} rows): peak {peak:.0f} MB"
    assert peak < BOUND_MB, figures
    assert peak - small_peak < GROWTH_MB, figures
