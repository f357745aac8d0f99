"""Hostile data that Salesforce accepts and psflow's gates let through, run through Pre-Initiate
(approved) and Initiate on the real Prefect server: every object is made, and made right.
The refusals (a clean error naming the field, zero writes): tests/integration/test_bad_input.py."""

from __future__ import annotations

import re
from email.message import Message

import pytest
from prefect.client.schemas.objects import StateType

from sandbox.client import SandboxClient
from testkit.expect import EXPECTED, objects_of, sent
from testkit.factories import new_opportunity
from testkit.phases import approve
from testkit.runs import FINAL, run_of, wait_for_state
from testkit.stack import PrefectStack

pytestmark = pytest.mark.e2e

HOSTILE = "O'Brien'; DROP TABLE x; -- <script>alert(1)</script> ../../etc {company} 💥"
FIRST_NAME = "{company} O'Brien <b>"  # a placeholder of the e-mail template, as a name
ADDRESS = "o'brien+ps@acme.example"  # valid, and quotes and plus signs break naive code


def test_hostile_but_valid_records_make_every_object_right(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    opportunity = new_opportunity(sandbox, amount=1e15)  # absurd, but a positive amount
    contact = next(
        r["ContactId"]
        for r in sandbox.state("salesforce", "OpportunityContactRole")
        if r["OpportunityId"] == opportunity and r["IsPrimary"]
    )
    sandbox.edit("salesforce", f"/sobjects/Contact/{contact}", FirstName=FIRST_NAME, Email=ADDRESS)
    sandbox.edit(
        "salesforce",
        f"/sobjects/Opportunity/{opportunity}",
        Name=HOSTILE,
        SOW_Number__c="SOW'; <b>../x",
        CloseDate="3999-12-30",  # the meetings follow the close date
    )
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="5-Negotiating")
    pre = run_of("pre-initiate", opportunity)
    approve(pre)
    done = wait_for_state(pre, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message

    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
    done = wait_for_state(run_of("initiate", opportunity), *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message
    # over $50k: Pre-Initiate also opened the TA review issue
    assert objects_of(sandbox, opportunity) == {**EXPECTED, "gitlab issues": 4}

    (message,) = sent(sandbox)
    assert message["To"] == ADDRESS
    assert message["Bcc"] is None
    # a long subject is folded (a line break, then white space); any other break starts a header
    unfolded = re.sub(r"\r?\n[ \t]", " ", str(message["Subject"]))
    assert "\r" not in unfolded
    assert "\n" not in unfolded
    part = message.get_payload(0) if message.is_multipart() else message
    assert isinstance(part, Message)
    body = part.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert FIRST_NAME in body.decode()  # as typed, not filled in as a placeholder
    for project in sandbox.state("gitlab", "project"):
        assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*", project["path"]), project["path"]
    (record,) = [
        r
        for r in sandbox.state("salesforce", "PS_Engagement__c")
        if r["Opportunity_Id__c"] == opportunity
    ]
    assert record["Opportunity_Amount__c"] == 1e15
