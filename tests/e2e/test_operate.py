"""The operator's commands against the served deployments: `psflow status` says what a phase waits
for, `psflow emit` starts a phase by hand, `psflow retry` does what the UI's Retry button does; and
what the operator is told unasked: a failed phase run, in the ops channel with its link."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.states import Cancelled

from psflow.cli import main
from psflow.operate import APPROVAL
from sandbox.client import SandboxClient
from testkit.factories import new_opportunity
from testkit.phases import approve, negotiated
from testkit.runs import FINAL, flow_runs, run_of, wait_for_state, wait_until
from testkit.stack import PrefectStack

pytestmark = pytest.mark.e2e


def link(served: PrefectStack, run: FlowRun) -> str:
    return f"{served.api_url.removesuffix('/api')}/runs/flow-run/{run.id}"


def cancel(run_id: UUID) -> None:
    """A suspended run would wait for its approval for days; end it with the test."""
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run_id, state=Cancelled(message="test over"), force=True)


def test_status_shows_a_suspended_pre_initiate_run_waiting_for_the_approval(
    served: PrefectStack, sandbox: SandboxClient, capsys: pytest.CaptureFixture[str]
) -> None:
    opportunity = new_opportunity(sandbox, amount=20_000)
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="5-Negotiating")
    run = run_of("pre-initiate", opportunity)
    wait_for_state(run, StateType.PAUSED, timeout=45)

    assert main(["status", opportunity[:15]]) == 0  # the 15-character id finds it too
    lines = capsys.readouterr().out.splitlines()
    cancel(run.id)
    assert lines[0] == f"Opportunity {opportunity}:"
    phase, state = lines[1].split()[:2]
    assert (phase, state) == ("pre-initiate", "Suspended")
    assert lines[1].endswith(f"pre-initiate · Acme Corporation · {opportunity}")
    assert lines[2].strip().startswith(f"waits for {APPROVAL}; it fails at ")
    assert lines[3].strip() == link(served, run)
    assert len(lines) == 4  # no other phase has run


def test_emit_negotiating_by_hand_starts_pre_initiate_named_with_its_customer(
    served: PrefectStack, sandbox: SandboxClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # imported in Negotiating a week ago: nothing new for the watcher to see, as when it was down
    created = sandbox.act(
        "salesforce",
        "/opportunities/bulk",
        count=1,
        details=True,
        stage="5-Negotiating",
        created_days_ago=7,
    )
    opportunity = str(created["ids"][0])

    assert main(["emit", "negotiating", opportunity]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Emitted ps.opportunity.negotiating (id ")
    assert f"resource: ps.opportunity.{opportunity}" in out
    assert "name:     Acme Corporation – Engagement 1" in out
    assert "customer: Acme Corporation" in out
    assert "starts:   pre-initiate" in out

    run = run_of(
        "pre-initiate", opportunity, timeout=30
    )  # one run, though the watcher keeps polling
    try:
        assert run.name == f"pre-initiate · Acme Corporation · {opportunity}"
        assert run.parameters == {"opportunity_id": opportunity, "customer": "Acme Corporation"}
        # a working phase run: it found the opportunity ready and asks for the approval
        wait_for_state(run, StateType.PAUSED, timeout=45)
    finally:
        cancel(run.id)


def test_retry_puts_a_failed_run_back_and_it_completes_once_the_fault_is_gone(
    served: PrefectStack, sandbox: SandboxClient, capsys: pytest.CaptureFixture[str]
) -> None:
    opportunity = new_opportunity(sandbox, amount=75_000)  # over $50k: a TA review issue
    # GitLab refuses the issue once (a permanent error: Prefect does not retry it by itself)
    sandbox.add_fault(r"/gitlab/api/v4/projects/[^/]+/issues", method="POST", status=403)
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="5-Negotiating")
    run = run_of("pre-initiate", opportunity)
    failed = wait_for_state(run, *FINAL, timeout=45)
    assert failed.type == StateType.FAILED, failed.message

    assert main(["status", opportunity]) == 0
    status = capsys.readouterr().out
    assert "pre-initiate  Failed" in status
    assert "failed: " in status
    assert "GitLab" in status  # the state message's first line names the system
    assert f"psflow retry {opportunity} --phase pre-initiate" in status

    assert main(["retry", opportunity]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"Retrying {run.name}: AwaitingRetry (was Failed: ")
    assert out[1].strip() == link(served, run)
    with get_client(sync_client=True) as client:
        names = [state.name for state in client.read_flow_run_states(run.id)]
    assert names[names.index("Failed") + 1] == "AwaitingRetry"

    approve(run)  # the retried run gets past the issue and asks for the approval
    done = wait_for_state(run, *FINAL, timeout=45)
    assert done.type == StateType.COMPLETED, done.message
    reviews = [i for i in sandbox.state("gitlab", "issue") if opportunity in i["description"]]
    assert len(reviews) == 1

    assert main(["retry", opportunity]) == 1
    err = capsys.readouterr().err
    assert f"nothing to retry for opportunity {opportunity}: pre-initiate is Completed" in err


def test_a_retry_after_the_field_is_fixed_reads_the_fixed_record(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    opportunity = new_opportunity(sandbox, amount=20_000)
    record = f"/sobjects/Opportunity/{opportunity}"
    (row,) = [o for o in sandbox.state("salesforce", "Opportunity") if o["Id"] == opportunity]
    sandbox.edit("salesforce", record, PS_Expected_Start__c=None)
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="5-Negotiating")
    run = run_of("pre-initiate", opportunity)
    failed = wait_for_state(run, *FINAL, timeout=45)
    assert failed.type == StateType.FAILED
    assert "PS_Expected_Start__c is empty" in failed.message

    # the person fixes the field, as `psflow status` told them, and retries the run
    sandbox.edit("salesforce", record, PS_Expected_Start__c=row["PS_Expected_Start__c"])
    assert main(["retry", opportunity, "--phase", "pre-initiate"]) == 0
    try:
        # the retried run read the record again: it is ready, and asks for the approval
        paused = wait_for_state(run, StateType.PAUSED, *FINAL, timeout=60)
        assert paused.type == StateType.PAUSED, paused.message
    finally:
        cancel(run.id)


# What `psflow demo --keep-open` does after the story, with two stand-in children (the real story
# takes a minute): a process can only be sent a signal from outside, so this one is a subprocess.
KEEP_OPEN = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from psflow.demo import children_stopped_on_signals, stay_open
    from psflow.local import running, start

    sleep = [sys.executable, "-c", "import time; time.sleep(600)"]
    with children_stopped_on_signals() as stack:
        children = [
            stack.enter_context(running(start(f"child {i}", sleep, Path(sys.argv[1]) / f"{i}.log")))
            for i in range(2)
        ]
        print("children", *(child.process.pid for child in children), flush=True)
        code = stay_open(children, "http://sandbox", "http://prefect/api", "http://prefect")
    sys.exit(code)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_keep_open_stops_every_child_on_ctrl_c_or_sigterm(tmp_path: Path, signum: int) -> None:
    argv = [sys.executable, "-c", KEEP_OPEN, str(tmp_path)]
    cwd = Path(__file__).parents[2]
    children: list[int] = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=cwd) as demo:
        assert demo.stdout is not None
        try:
            children = [int(pid) for pid in demo.stdout.readline().split()[1:]]
            said = ""
            while "Press Ctrl-C to stop everything" not in said and (
                line := demo.stdout.readline()
            ):
                said += line
            assert "Press Ctrl-C to stop everything" in said
            assert len(children) == 2
            assert all(_alive(pid) for pid in children)

            demo.send_signal(signum)
            assert demo.wait(30) == 0
            assert "Stopping every process the demo started" in demo.stdout.read()
            assert not [pid for pid in children if _alive(pid)]
        finally:  # a failure here must not leave the stand-ins running
            demo.kill()
            for pid in children:
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_failed_phase_run_is_reported_to_the_ops_channel_with_its_link(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    account = sandbox.state("salesforce", "Account")[0]["Id"]  # the one `negotiated` sells to
    sandbox.edit("salesforce", f"/sobjects/Account/{account}", Name="Acme <!channel> & Co")
    (opportunity,) = negotiated(sandbox)
    sandbox.add_fault(r"/mavenlink/api/v1/stories(\.json)?", method="POST", status=403)
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
    run = wait_until(
        lambda: next((r for r in flow_runs(opportunity) if r.name.startswith("initiate")), None),
        60,
        "the initiate run",
    )
    assert wait_for_state(run, *FINAL, timeout=120).type == StateType.FAILED

    def alerts() -> list[str]:
        channel = next(
            c for c in sandbox.state("slack", "channels") if c["name"] == "ps_ops_alerts"
        )
        return [
            m["text"]
            for m in sandbox.state("slack", "messages")
            if m.get("channel") == channel["id"] and opportunity in m["text"]
        ]

    (alert,) = wait_until(alerts, 60, "the ops channel's alert")
    assert "Failed" in alert
    assert "Mavenlink" in alert
    assert str(run.id) in alert  # the link to the run in the UI
    # the customer's name is shown as typed, and pings nobody
    (shown,) = [r for r in sandbox.state("slack", "rendered") if r["text"] == _unescaped(alert)]
    assert "Acme <!channel> & Co" in shown["text"]
    assert shown["notifies"] == []


def _unescaped(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
