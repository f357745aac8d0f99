"""`psflow` arguments and the operator's error messages; what `status` says each state waits for."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prefect.client.schemas.objects import FlowRun, State
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import AwaitingRetry, Completed, Crashed, Failed, Scheduled, Suspended

from core.events import CUSTOMER_LABEL, OPPORTUNITY_ID_LABEL, OPPORTUNITY_NEGOTIATING
from deployments.definitions import phase_trigger
from psflow import operate
from psflow.cli import main, parser
from psflow.local import free_port

ACME = "006Dn0000000002IAA"  # a seeded opportunity; its 15-character form is ACME[:15]


def fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code and stderr of a command line argparse refuses."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    return int(exit_.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize("command", ["status", "retry"])
@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("006Dn00000000", "15 or 18 letters and digits"),  # too short
        ("001Dn0000000002IAA", "starts with '001'"),  # an Account id
        ("006Dn0000000002XYZ", "checksum"),  # a mistyped suffix
        ("006dn0000000002IAA", "checksum"),  # letter case lost
        ("006'); DROP --", "15 or 18 letters and digits"),
    ],
)
def test_a_malformed_opportunity_id_is_refused_naming_it(
    command: str, given: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = fails([command, given], capsys)
    assert code == 2
    assert "argument opportunity:" in err
    assert repr(given) in err
    assert said in err
    assert "Salesforce Opportunity id" in err


def test_an_unknown_event_is_refused_with_the_known_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, err = fails(["emit", "won", ACME], capsys)
    assert code == 2
    assert "argument event: unknown event 'won'" in err
    for name in ("negotiating", "closed-won", "closed-lost", "ps.opportunity.closed-won"):
        assert name in err
    # a phase's own event is not a lifecycle event an operator fires
    code, err = fails(["emit", "ps.phase.completed", ACME], capsys)
    assert code == 2
    assert "unknown event 'ps.phase.completed'" in err


@pytest.mark.parametrize(
    ("given", "event"),
    [
        ("negotiating", "ps.opportunity.negotiating"),
        ("closed-won", "ps.opportunity.closed-won"),
        ("closed-lost", "ps.opportunity.closed-lost"),
        ("ps.opportunity.closed-won", "ps.opportunity.closed-won"),
    ],
)
def test_events_by_short_or_full_name_and_ids_in_either_form(given: str, event: str) -> None:
    args = parser().parse_args(["emit", given, ACME[:15]])
    assert args.event == event
    assert args.opportunity == ACME  # the 15-character id, in its case-safe 18-character form


def test_retry_takes_a_known_phase_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert parser().parse_args(["retry", ACME, "--phase", "initiate"]).phase == "initiate"
    assert parser().parse_args(["retry", ACME]).phase is None
    code, err = fails(["retry", ACME, "--phase", "kickoff"], capsys)
    assert code == 2
    assert "argument --phase: invalid choice: 'kickoff'" in err


def test_the_demo_flags() -> None:
    args = parser().parse_args(["demo", "--keep-open", "--interactive"])
    assert (args.keep_open, args.interactive) == (True, True)
    args = parser().parse_args(["demo"])
    assert (args.keep_open, args.interactive) == (False, False)


@pytest.mark.parametrize("argv", [["status", ACME], ["retry", ACME], ["emit", "negotiating", ACME]])
def test_without_a_prefect_api_url_the_commands_say_so(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # not Prefect's temporary in-process server: an empty one would answer "nothing ever ran"
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"psflow {argv[0]}: error: PREFECT_API_URL is not set" in err


def test_an_unreachable_server_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    api = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    with temporary_settings(updates={PREFECT_API_URL: api}):
        assert main(["status", ACME]) == 1
    assert f"cannot reach the Prefect API at {api}" in capsys.readouterr().err


# --- what status says -----------------------------------------------------------------------------


def test_a_suspended_phase_run_waits_for_the_coordinators_approval() -> None:
    state: State[Any] = Suspended(pause_key="staffing-decision", timeout_seconds=3600)
    said = operate.waits_for("pre-initiate", state, ACME)
    assert said.startswith(
        "waits for the PS Project Coordinator's staffing approval (form in the UI)"
    )
    assert "it fails at" in said  # the approval's timeout
    # whatever the key (an older run's), Initiate suspends for the same approval
    assert operate.APPROVAL in operate.waits_for("initiate", Suspended(), ACME)


def test_a_failed_run_shows_the_first_line_of_its_message_and_how_to_retry() -> None:
    message = (
        "Opportunity 006 is not ready for Initiate; fix in Salesforce:\n  - SOW_Link__c is empty"
    )
    states: list[State[Any]] = [Failed(message=message), Crashed(message=message)]
    for state in states:
        said = operate.waits_for("initiate", state, ACME).splitlines()
        assert said[0].endswith(": Opportunity 006 is not ready for Initiate; fix in Salesforce:")
        assert said[1] == f"fix the cause, then: psflow retry {ACME} --phase initiate"


def test_scheduled_and_awaiting_retry_runs_say_so() -> None:
    assert "retry was requested" in operate.waits_for("initiate", AwaitingRetry(), ACME)
    later = datetime.now(UTC) + timedelta(minutes=10)
    said = operate.waits_for("initiate", Scheduled(scheduled_time=later), ACME)
    assert said.startswith("scheduled for ")
    assert "(in 10 min)" in said
    assert operate.waits_for("initiate", Completed(message="Staffed: a@b.c"), ACME) == (
        "done: Staffed: a@b.c"
    )


def test_runs_are_matched_to_the_opportunity_exactly() -> None:
    def run(name: str) -> FlowRun:
        return FlowRun(name=name, flow_id=uuid.uuid4())

    assert operate._is_about(run(f"initiate · Acme Corporation · {ACME}"), ACME)
    assert operate._is_about(run(f"initiate · Acme Corporation · {ACME[:15]}"), ACME)
    # the server's LIKE ignores case; an id differing only in case is another opportunity
    assert not operate._is_about(run(f"initiate · Acme · {ACME[:15].lower()}"), ACME)
    assert operate.phase_of(run(f"pre-initiate · Acme · {ACME}")) == "pre-initiate"
    # a run named after a part of the engagement is listed under it
    assert operate.phase_key(run(f"close · Acme · {ACME}"), ACME) == "close"
    assert operate.phase_key(run("accept · Acme · PS-MIG"), ACME) == "accept PS-MIG"
    assert operate.phase_key(run("reply · Acme · sign-off"), ACME) == "reply sign-off"


def test_a_run_waiting_at_closes_forms_says_whose_answer_it_waits_for() -> None:
    said = operate.waits_for("close", Suspended(pause_key="closeout-approval"), ACME)
    assert said.startswith("waits for the Project Owner's approval of the closeout report")
    said = operate.waits_for("close", Suspended(pause_key="billing-done"), ACME)
    assert said.startswith("waits for the PS Project Coordinator's word that billing is done")


# --- what emit sends ------------------------------------------------------------------------------


def test_a_hand_fired_event_is_labelled_like_the_watchers_and_always_new() -> None:
    labels = operate.OpportunityLabels("Acme – CI/CD Modernisation", "Acme Corporation", "5-N")
    first = operate.lifecycle_event(OPPORTUNITY_NEGOTIATING, ACME, labels)
    again = operate.lifecycle_event(OPPORTUNITY_NEGOTIATING, ACME, labels)
    assert first.id != again.id  # deliberate: the trigger service must not drop it as a repeat
    assert first.resource.id == f"ps.opportunity.{ACME}"
    assert first.resource[OPPORTUNITY_ID_LABEL] == ACME
    assert first.resource[CUSTOMER_LABEL] == "Acme Corporation"  # the run's name comes from it
    assert first.resource["prefect.resource.name"] == "Acme – CI/CD Modernisation"
    # the labels are the ones the phase's trigger templates into its parameters
    parameters = phase_trigger(OPPORTUNITY_NEGOTIATING).parameters or {}
    assert OPPORTUNITY_ID_LABEL in parameters["opportunity_id"]
    assert CUSTOMER_LABEL in parameters["customer"]
    assert operate.triggered_by(OPPORTUNITY_NEGOTIATING) == ["pre-initiate"]
