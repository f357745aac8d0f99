"""psflow's Drive tasks against the sandbox, through googleapiclient: look-ups, and creates that
happen once however often (and however badly) they are retried."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest

from blocks import PsflowSettings
from engagement.keys import Folder, Kind, drive_name, natural_key
from sandbox import seed
from sandbox.client import SandboxClient
from tasks import calls
from tasks.calls import PermanentError, TransientError
from tasks.clients import systems
from tasks.drive import ensure_copy, ensure_shared, ensure_upload, find_folder, template_id
from testkit.outside import use_templates

ACME_NEW = seed.OPPORTUNITIES[1]
COPY_PATH = r"/google/drive/v3/files/[^/]+/copy"
EM = "marcus.webb@northwind.example"
FOLDER_TYPE = "application/vnd.google-apps.folder"


def files(outside: SandboxClient) -> list[dict[str, Any]]:
    return list(outside.state("google", "file"))


def with_key(outside: SandboxClient, kind: Kind, record_id: str) -> list[dict[str, Any]]:
    key = natural_key(kind, record_id)
    return [f for f in files(outside) if f["appProperties"].get("psflow_key") == key]


def template(outside: SandboxClient, key: str) -> dict[str, Any]:
    """The seeded template `key`: the file of its name in the templates folder."""
    [folder] = [f["id"] for f in files(outside) if f["name"] == seed.TEMPLATES_FOLDER]
    name = next(t.name for t in seed.TEMPLATES if t.key == key)
    [found] = [f for f in files(outside) if f["name"] == name and f["parents"] == [folder]]
    return found


def copy_estimate(folders: Sequence[Folder] = ()) -> Any:
    """Acme's new cost estimate, made in the last of `folders` under the engagements folder."""
    name = drive_name("Cost Estimate", ACME_NEW.account.name, ACME_NEW.sow_number)
    return ensure_copy.fn("cost-estimate", Kind.COST_ESTIMATE, ACME_NEW.id, name, folders)


# --- look-ups ------------------------------------------------------------------------------------


def test_find_folder_by_exact_name_and_parent(outside: SandboxClient) -> None:
    engagements = find_folder(seed.ENGAGEMENTS_FOLDER)
    acme = find_folder(seed.ACME.name, engagements)
    [folder] = [f for f in files(outside) if f["id"] == acme]
    assert folder["parents"] == [engagements]
    assert outside.writes() == 0
    assert len(outside.requests()) == 2  # one query each


@pytest.mark.parametrize("name", ["PS Templat", "ps templates", "No ' such \\ folder"])
def test_a_missing_folder_is_a_permanent_error_naming_it(outside: SandboxClient, name: str) -> None:
    with pytest.raises(
        PermanentError, match=re.escape(f"Google Drive: folder {name!r}: not found")
    ):
        find_folder(name)


def test_a_folder_is_looked_for_only_in_its_parent(outside: SandboxClient) -> None:
    templates = find_folder(seed.TEMPLATES_FOLDER)
    with pytest.raises(PermanentError, match=f"folder 'Acme Corporation' in folder {templates}"):
        find_folder(seed.ACME.name, templates)


def test_a_template_is_found_by_its_name_in_the_templates_folder(outside: SandboxClient) -> None:
    """The seeded templates were uploaded by a person: no appProperties, only a name."""
    expected = template(outside, "cost-estimate")
    assert expected["appProperties"] == {}
    # A person's copy of the same name elsewhere is not taken for the template.
    sows = find_folder(seed.SOWS_FOLDER)
    body = {"name": expected["name"], "parents": [sows]}
    systems().drive().files().copy(fileId=expected["id"], body=body).execute()
    outside.clear_requests()
    assert template_id("cost-estimate") == expected["id"]
    assert len(outside.requests()) == 2  # the folder by name, the template by name in it


def test_a_template_is_found_by_the_file_id_in_its_setting(
    outside: SandboxClient, sandbox_url: str
) -> None:
    """A person pastes the id from the file's URL: one files.get, wherever the file lies."""
    moved = template(outside, "cost-estimate")
    systems().drive().files().update(
        fileId=moved["id"], body={"name": "Estimate (2027)"}, removeParents=moved["parents"][0]
    ).execute()
    use_templates(sandbox_url, **{"cost-estimate": moved["id"]})
    outside.clear_requests()
    assert template_id("cost-estimate") == moved["id"]
    [got] = outside.requests()
    assert (got["method"], got["path"]) == ("GET", f"/google/drive/v3/files/{moved['id']}")

    made = copy_estimate()
    assert estimate_tab(made.id) == estimate_tab(moved["id"])


def test_a_template_renamed_in_drive_is_found_once_its_setting_says_the_new_name(
    outside: SandboxClient, sandbox_url: str
) -> None:
    source = template(outside, "cost-estimate")
    systems().drive().files().update(fileId=source["id"], body={"name": "Estimate v2"}).execute()
    with pytest.raises(
        PermanentError,
        match=re.escape(
            "Google Drive: template 'cost-estimate' named 'Cost Estimate Template' in folder "
            "'PS Templates' (setting PsflowSettings.templates['cost-estimate']): not found"
        ),
    ):
        template_id("cost-estimate")
    use_templates(sandbox_url, **{"cost-estimate": "Estimate v2"})
    assert template_id("cost-estimate") == source["id"]


def test_two_templates_of_one_name_are_a_permanent_error_naming_the_setting(
    outside: SandboxClient,
) -> None:
    source = template(outside, "cost-estimate")
    body = {"name": source["name"]}  # a person's copy, left in the templates folder
    systems().drive().files().copy(fileId=source["id"], body=body).execute()
    with pytest.raises(PermanentError) as err:
        ensure_copy.fn("cost-estimate", Kind.COST_ESTIMATE, ACME_NEW.id, "x", [SOW_FOLDER])
    message = str(err.value)
    assert "template 'cost-estimate' named 'Cost Estimate Template'" in message
    assert "in folder 'PS Templates'" in message
    assert "PsflowSettings.templates['cost-estimate']" in message
    assert "more than one" in message
    assert outside.writes() == 1  # the person's copy; psflow wrote nothing


def test_a_template_not_in_the_settings_is_a_permanent_error_naming_the_setting(
    outside: SandboxClient,
) -> None:
    with pytest.raises(
        PermanentError,
        match=re.escape("template 'budget-sheet': not in PsflowSettings.templates"),
    ):
        template_id("budget-sheet")
    assert outside.requests() == []


def test_a_wrong_or_trashed_template_id_is_a_permanent_error_naming_the_setting(
    outside: SandboxClient, sandbox_url: str
) -> None:
    use_templates(sandbox_url, **{"cost-estimate": "1NoSuchFileWasEverMadeHere0123456789abc"})
    with pytest.raises(
        PermanentError, match=r"PsflowSettings.templates\['cost-estimate'\].*HTTP 404"
    ):
        template_id("cost-estimate")

    source = template(outside, "cost-estimate")
    systems().drive().files().update(fileId=source["id"], body={"trashed": True}).execute()
    use_templates(sandbox_url, **{"cost-estimate": source["id"]})
    with pytest.raises(PermanentError, match=r"PsflowSettings.templates\['cost-estimate'\].*trash"):
        template_id("cost-estimate")


def test_the_default_template_names_are_the_seeded_files() -> None:
    assert PsflowSettings().templates == {t.key: t.name for t in seed.TEMPLATES}


# --- the folders a copy is made in --------------------------------------------------------------

GLOBEX_FOLDER = Folder(kind=Kind.CUSTOMER_FOLDER, record_id=seed.GLOBEX.id, name="Globex")
SOW_FOLDER = Folder(kind=Kind.SOW_FOLDER, record_id=ACME_NEW.id, name="SOW-2026-041")


def parent_of(outside: SandboxClient, file_id: str) -> str:
    [file] = [f for f in files(outside) if f["id"] == file_id]
    return str(file["parents"][0])


def test_the_folders_of_a_copy_are_made_once_each_in_the_one_before(
    outside: SandboxClient,
) -> None:
    engagements = find_folder(seed.ENGAGEMENTS_FOLDER)
    outside.clear_requests()
    made = copy_estimate([GLOBEX_FOLDER, SOW_FOLDER])
    assert made.created
    assert outside.writes(service="drive") == 3  # two folders, the copy
    [customer] = with_key(outside, Kind.CUSTOMER_FOLDER, seed.GLOBEX.id)
    [sow] = with_key(outside, Kind.SOW_FOLDER, ACME_NEW.id)
    assert (customer["name"], customer["mimeType"]) == ("Globex", FOLDER_TYPE)
    assert customer["parents"] == [engagements]
    assert (sow["name"], sow["parents"]) == ("SOW-2026-041", [customer["id"]])
    assert parent_of(outside, made.id) == sow["id"]

    mark = outside.last_request_id()
    again = copy_estimate([GLOBEX_FOLDER, SOW_FOLDER])
    assert (again.id, again.created) == (made.id, False)
    assert outside.writes(since=mark) == 0
    assert len(outside.requests(since=mark)) == 1  # the copy's key look-up: no folder is asked


def test_an_existing_folder_is_found_by_key_wherever_it_was_moved(outside: SandboxClient) -> None:
    # The seed has Acme's customer folder; a person renamed it: the key still finds it.
    [seeded] = with_key(outside, Kind.CUSTOMER_FOLDER, seed.ACME.id)
    systems().drive().files().update(fileId=seeded["id"], body={"name": "ACME (old)"}).execute()
    outside.clear_requests()
    acme = Folder(kind=Kind.CUSTOMER_FOLDER, record_id=seed.ACME.id, name="Acme Corporation")
    made = copy_estimate([acme])
    assert parent_of(outside, made.id) == seeded["id"]
    assert outside.writes() == 1  # the copy
    assert len(with_key(outside, Kind.CUSTOMER_FOLDER, seed.ACME.id)) == 1


def test_a_trashed_folder_is_made_again(outside: SandboxClient) -> None:
    [seeded] = with_key(outside, Kind.CUSTOMER_FOLDER, seed.ACME.id)
    systems().drive().files().update(fileId=seeded["id"], body={"trashed": True}).execute()
    made = copy_estimate([Folder(kind=Kind.CUSTOMER_FOLDER, record_id=seed.ACME.id, name="Acme")])
    parent = parent_of(outside, made.id)
    assert parent != seeded["id"]
    assert [f["id"] for f in with_key(outside, Kind.CUSTOMER_FOLDER, seed.ACME.id)] == [
        seeded["id"],
        parent,
    ]


# --- ensure_copy ---------------------------------------------------------------------------------


def test_the_cost_estimate_is_copied_once(outside: SandboxClient) -> None:
    folder = find_folder(seed.ENGAGEMENTS_FOLDER)
    source = template(outside, "cost-estimate")
    outside.clear_requests()
    made = copy_estimate()
    assert made.created
    assert outside.writes(service="drive") == 1
    [copy] = with_key(outside, Kind.COST_ESTIMATE, ACME_NEW.id)
    assert copy["id"] == made.id
    assert copy["parents"] == [folder]
    assert copy["name"] == "Cost Estimate – Acme Corporation – SOW-2026-041"
    assert copy["appProperties"] == {"psflow_key": natural_key(Kind.COST_ESTIMATE, ACME_NEW.id)}
    assert copy["mimeType"] == source["mimeType"]
    assert made.url == f"{outside.url}/google/spreadsheets/d/{made.id}/edit"  # its webViewLink
    # the copy's content is the template's
    assert estimate_tab(made.id) == estimate_tab(source["id"])
    assert estimate_tab(made.id)[10] == ["Activity", "Unit", "Effort", "Hours", "Notes"]

    mark = outside.last_request_id()
    again = copy_estimate()
    assert (again.id, again.created) == (made.id, False)
    assert outside.writes(since=mark) == 0
    assert len(outside.requests(since=mark)) == 1  # the key look-up, nothing else


def estimate_tab(spreadsheet_id: str) -> list[list[Any]]:
    values = systems().sheets().spreadsheets().values()
    answer = values.get(spreadsheetId=spreadsheet_id, range="'Estimate'").execute()
    return list(answer.get("values", []))


@pytest.mark.parametrize("kind", ["status", "drop"])
def test_a_copy_whose_answer_is_lost_is_found_on_the_retry(
    outside: SandboxClient, kind: str
) -> None:
    outside.add_fault(COPY_PATH, kind=kind, status=500, after_commit=True)
    with pytest.raises(TransientError, match="Google Drive: copy of template 'cost-estimate'"):
        copy_estimate()
    assert len(with_key(outside, Kind.COST_ESTIMATE, ACME_NEW.id)) == 1  # it was made

    retried = copy_estimate()
    assert not retried.created
    [copy] = with_key(outside, Kind.COST_ESTIMATE, ACME_NEW.id)
    assert copy["id"] == retried.id
    assert outside.writes(service="drive") == 1


def test_a_copy_refused_for_a_missing_template_is_permanent(outside: SandboxClient) -> None:
    outside.add_fault(COPY_PATH, status=404)  # deleted between the look-up and the copy
    with pytest.raises(PermanentError, match=r"template 'cost-estimate'.*HTTP 404") as err:
        copy_estimate()
    assert err.value.status == 404
    assert with_key(outside, Kind.COST_ESTIMATE, ACME_NEW.id) == []


def test_copying_an_unknown_template_writes_nothing(outside: SandboxClient) -> None:
    with pytest.raises(PermanentError, match="template 'no-such-template': not in PsflowSettings"):
        ensure_copy.fn("no-such-template", Kind.COST_ESTIMATE, ACME_NEW.id, "x", [SOW_FOLDER])
    assert outside.writes() == 0


def test_copies_of_one_kind_are_told_apart_by_part(outside: SandboxClient) -> None:
    kind = Kind.ACCEPTANCE_REQUEST
    made = [
        ensure_copy.fn("acceptance-request", kind, ACME_NEW.id, code, [SOW_FOLDER], part=code)
        for code in ("PS-CICD", "PS-K8S", "PS-CICD")
    ]
    assert [m.created for m in made] == [True, True, False]
    assert made[0].id == made[2].id != made[1].id


# --- ensure_shared -------------------------------------------------------------------------------


def _grants(outside: SandboxClient, file_id: str) -> dict[str, str]:
    [file] = [f for f in files(outside) if f["id"] == file_id]
    return {p.get("emailAddress", ""): p["role"] for p in file["permissions"]}


def test_sharing_is_idempotent(outside: SandboxClient) -> None:
    copy = copy_estimate()
    outside.clear_requests()
    assert ensure_shared.fn(copy.id, [EM]) == 1
    assert _grants(outside, copy.id)[EM] == "writer"
    assert outside.writes() == 1
    [grant] = outside.requests(write=True)
    assert grant["method"] == "POST"
    assert grant["path"].endswith("/permissions")
    assert ensure_shared.fn(copy.id, [EM]) == 0
    assert outside.writes() == 1


def test_several_people_are_shared_with_after_one_listing(outside: SandboxClient) -> None:
    copy = copy_estimate()
    assert ensure_shared.fn(copy.id, [EM]) == 1
    people = [EM, "ana.pse@example.com", "bo.pse@example.com", "Ana.PSE@example.com"]
    mark = outside.last_request_id()
    assert ensure_shared.fn(copy.id, people) == 2  # EM had it; Ana once, whatever the case
    assert outside.writes(since=mark) == 2
    assert len(outside.requests(since=mark)) == 3  # one listing, two grants
    assert set(_grants(outside, copy.id)) >= {EM, "ana.pse@example.com", "bo.pse@example.com"}
    mark = outside.last_request_id()
    assert ensure_shared.fn(copy.id, people) == 0
    assert len(outside.requests(since=mark)) == 1


def test_a_second_share_makes_no_write(outside: SandboxClient) -> None:
    copy = copy_estimate()
    assert ensure_shared.fn(copy.id, [EM])
    mark = outside.last_request_id()
    assert ensure_shared.fn(copy.id, ["Marcus.Webb@Northwind.example"]) == 0
    assert ensure_shared.fn(copy.id, [EM], role="reader") == 0  # writer includes reader
    assert ensure_shared.fn(copy.id, [seed.PS_MAILBOX]) == 0  # the owner
    assert outside.writes(since=mark) == 0


def test_a_lower_grant_is_raised(outside: SandboxClient) -> None:
    copy = copy_estimate()
    assert ensure_shared.fn(copy.id, [EM], role="reader")
    assert ensure_shared.fn(copy.id, [EM], role="writer")
    assert _grants(outside, copy.id)[EM] == "writer"


def test_sharing_refuses_ownership_and_bad_addresses(outside: SandboxClient) -> None:
    with pytest.raises(ValueError, match="role must be one of"):
        ensure_shared.fn("any", [EM], role="owner")
    with pytest.raises(ValueError, match="bare address"):
        ensure_shared.fn("any", [EM, "Marcus <marcus.webb@northwind.example>"])
    assert outside.requests() == []


def upload_chart(data: bytes) -> Any:
    return ensure_upload.fn(
        Kind.BURN_DOWN_CHART,
        ACME_NEW.id,
        "Burn-down 2027-W02.png",
        [GLOBEX_FOLDER, SOW_FOLDER],
        data,
        "image/png",
        part="2027-W02",
    )


def content(file_id: str) -> bytes:
    return bytes(systems().drive().files().get_media(fileId=file_id).execute())


def test_an_upload_is_made_once_and_its_content_replaced_only_when_it_changed(
    outside: SandboxClient,
) -> None:
    first = b"\x89PNG\r\n\x1a\n week two"
    made = upload_chart(first)
    assert made.created
    assert made.url
    assert content(made.id) == first
    [sow] = with_key(outside, Kind.SOW_FOLDER, ACME_NEW.id)
    assert parent_of(outside, made.id) == sow["id"]

    mark = outside.last_request_id()
    again = upload_chart(first)
    assert (again.id, again.created) == (made.id, False)
    assert outside.writes(since=mark) == 0
    assert len(outside.requests(since=mark)) == 1  # the key's look-up

    mark = outside.last_request_id()
    more_hours = b"\x89PNG\r\n\x1a\n week two, more hours"
    replaced = upload_chart(more_hours)
    assert (replaced.id, replaced.created) == (made.id, False)
    assert outside.writes(since=mark) == 1
    assert content(made.id) == more_hours
    key = natural_key(Kind.BURN_DOWN_CHART, ACME_NEW.id, "2027-W02")
    assert [f["id"] for f in files(outside) if f["appProperties"].get("psflow_key") == key] == [
        made.id
    ]


def test_googles_retry_after_is_read_from_its_lowercased_headers(
    outside: SandboxClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # httplib2 keeps header names lowercased; `calling` waits the Retry-After out (kept short)
    monkeypatch.setattr(calls, "MAX_RETRY_AFTER_SECONDS", 0.01)
    outside.add_fault(COPY_PATH, status=429, retry_after=7)
    with pytest.raises(TransientError) as throttled:
        copy_estimate()
    assert (throttled.value.status, throttled.value.retry_after) == (429, 7.0)
