"""Platform faults together (scaled: about half a minute): 429 storms, 5xx bursts, answers past
the client timeout and a receiver that goes down, during fan-outs while commands arrive. No
delivery is lost, none is shown twice, and every command is answered."""

from __future__ import annotations

from pathlib import Path

import pytest

import bot.delivery.worker
from tests.hostile.chaos import Plan, main_result_lines, run


@pytest.mark.slow
async def test_fault_mix_during_fanout_while_commands_arrive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Retries back off from 2 s in production; scaled down so the run takes seconds, as the
    # fake's limits are scaled up.
    monkeypatch.setattr(bot.delivery.worker, "BACKOFF_BASE", 0.05)
    plan = Plan(channels=30, rounds=3, commands=60, storm=16, give_up_seconds=120)
    result = await run(tmp_path, plan)
    report = "\n".join(main_result_lines(result, plan))
    assert result.deliveries == plan.channels * plan.rounds, report
    assert result.posted == result.deliveries and result.failed == 0, report
    assert result.lost == 0 and result.extra == 0, report
    assert result.command_errors == [], report
    assert result.answered == result.commands >= plan.commands, report
    # the faults really happened: each kind of answer was given, and a timed-out post that the
    # platform had accepted was sent again under its key and deduplicated
    assert result.statuses.get(429, 0) >= plan.storm, report
    assert result.statuses.get(503, 0) >= plan.storm, report
    assert result.statuses.get(500, 0) >= 1 and result.statuses.get(502, 0) >= 1, report
    assert result.wire_duplicates >= 1, report
