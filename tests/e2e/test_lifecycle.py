"""The whole lifecycle as `make demo` plays it: its own sandbox and Prefect server, every
deployment served, one engagement from Negotiating to Completed through the served deployments,
the people's forms answered as they would; it ends with the engagement's state in every system and
every process it started stopped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_the_demo_takes_an_engagement_from_negotiating_to_completed(tmp_path: Path) -> None:
    played = subprocess.run(
        [sys.executable, "-m", "psflow.cli", "demo", "--data-dir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=480,
        check=False,
    )
    out = played.stdout
    assert played.returncode == 0, out[-3000:] + played.stderr[-3000:]
    for phase in ("Pre-Initiate", "Execute", "A change request", "Validate", "Deploy & Close"):
        assert f"▶ {phase}" in out
    assert "ps.phase.completed (validate), the event Close starts on" in out
    assert "signed off by wile.coyote@acme.example" in out
    assert "Revenue recognised: 42,000.00 USD" in out
    assert "ps.phase.completed (close): the engagement's lifecycle is over" in out
    # the final state, system by system
    assert "Salesforce  PS Engagement Completed, completed 20" in out
    assert "(SOW-2026-041): Completed" in out
    assert "GitLab      epic closed; 5 of 5 issues closed" in out
    assert "Calendar    Project closure: Acme Corporation – SOW-2026-041 at 20" in out
    assert "Slack       1 closeout report in #ps_leadership" in out
    runs = [line for line in out.splitlines() if line.startswith("  Completed ")]
    assert len(runs) == 15, out[-3000:]  # every run of the story, each Completed
    assert "every process it started is stopped" in out
