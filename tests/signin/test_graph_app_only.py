"""Microsoft 365 admin sign-in: app-only client credentials (msal, certificate or secret) against
`/users/{id}/…`, limited by the app's application permissions and the application access policy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jwt
import msal
import pytest
import requests

from rgsync.credentials import CredentialStore
from rgsync.fleet.signin import OrgSecrets, certificate_credential, parse_tables
from rgsync.providers.microsoft365.config import Microsoft365Connection
from rgsync.providers.microsoft365.doctor import microsoft365_findings
from rgsync.sandbox.graph import RunningGraph, start_graph
from rgsync.sandbox.graph.emulator import GraphEmulator
from rgsync.sandbox.graph.state import GraphState
from tests.signin.keys import certificate_pem

RIGHTS = {"Mail.ReadWrite", "Calendars.ReadWrite", "Contacts.ReadWrite", "Tasks.ReadWrite.All"}


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGraph]:
    folder = tmp_path_factory.mktemp("graph")
    with start_graph(folder, scenario={"user": {"address": "ann@acme.com", "name": "Ann Lee"}}) as running:
        emulator = running.server.emulator
        assert isinstance(emulator, GraphEmulator)
        bob = GraphState("bob@acme.com", name="Bob Ray")
        emulator.add_mailbox(bob)
        running.state.add_message({"subject": "For Ann"})
        bob.add_message({"subject": "For Bob"})
        yield running


@pytest.fixture
def certificate(tmp_path: Path, graph: RunningGraph) -> Iterator[Path]:
    path, public = certificate_pem(tmp_path)
    identity = graph.state.identity
    identity.certificate_public_pem = public
    identity.app_roles = set(RIGHTS)
    identity.app_access_policy = None
    yield path
    identity.app_roles = set(RIGHTS)
    identity.app_access_policy = None


def _session(graph: RunningGraph) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would replace the emulator's CA
    session.verify = str(graph.ca_file)
    return session


def _app_token(graph: RunningGraph, credential: object) -> str:
    app = msal.ConfidentialClientApplication(
        graph.client_id,
        client_credential=credential,
        authority=graph.authority,
        http_client=_session(graph),
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert "access_token" in result, result
    return str(result["access_token"])


def _findings(tmp_path: Path, graph: RunningGraph, certificate: Path) -> dict[str, tuple[str, str, str]]:
    """`rgsync doctor`'s Microsoft 365 lines for ann with the org's admin sign-in (no own secret)."""
    admin = parse_tables(
        {
            "microsoft365": {
                "client-id": graph.client_id,
                "tenant-id": graph.tenant_id,
                "certificate-file": str(certificate),
            }
        }
    )
    store = OrgSecrets(CredentialStore("ann", tmp_path / "credentials.json"), admin)
    config = Microsoft365Connection(
        address="ann@acme.com",
        client_id=graph.client_id,
        tenant_id=graph.tenant_id,
        authority_url=graph.url,
        graph_url=graph.graph_url,
        ca_file=str(graph.ca_file),
    )
    return {f.check: (f.status, f.detail, f.fix) for f in microsoft365_findings(config, store)}


def test_a_certificate_app_token_carries_its_roles_and_reads_a_users_mailbox(
    graph: RunningGraph, certificate: Path
) -> None:
    token = _app_token(graph, json.loads(certificate_credential(certificate)))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims["roles"]) == RIGHTS and claims["idtyp"] == "app"
    inbox = _session(graph).get(
        graph.graph_url + "/users/ann@acme.com/mailFolders/inbox",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert inbox.status_code == 200


def test_one_app_token_reaches_each_users_own_mailbox_at_users_id(
    graph: RunningGraph, certificate: Path
) -> None:
    token = _app_token(graph, json.loads(certificate_credential(certificate)))
    bob_id = graph.state.identity.other_users["bob@acme.com"]
    for user, subject in (("ann@acme.com", "For Ann"), ("bob@acme.com", "For Bob"), (bob_id, "For Bob")):
        answer = _session(graph).get(
            f"{graph.graph_url}/users/{user}/mailFolders/inbox/messages",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert [m["subject"] for m in answer.json()["value"]] == [subject]
    unknown = _session(graph).get(
        graph.graph_url + "/users/zed@acme.com/mailFolders/inbox/messages",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "ErrorInvalidUser"


def test_doctor_with_the_org_certificate_checks_every_resource(
    tmp_path: Path, graph: RunningGraph, certificate: Path
) -> None:
    """SPEC §9: the org's certificate, never in the user's store, signs ann in; one read per resource."""
    found = _findings(tmp_path, graph, certificate)
    assert {check: status for check, (status, _d, _f) in found.items()} == {
        "Microsoft 365 sign-in": "ok",
        "Microsoft 365 mailbox": "ok",
        "Microsoft 365 Mail": "ok",
        "Microsoft 365 Calendar": "ok",
        "Microsoft 365 To Do": "ok",
        "Microsoft 365 Contacts": "ok",
    }
    assert not (tmp_path / "credentials.json").exists()  # nothing of the org's was copied


def test_an_app_without_a_permission_is_told_which_application_permission_to_grant(
    tmp_path: Path, graph: RunningGraph, certificate: Path
) -> None:
    graph.state.identity.app_roles = RIGHTS - {"Calendars.ReadWrite", "Tasks.ReadWrite.All"}
    found = _findings(tmp_path, graph, certificate)
    assert found["Microsoft 365 Mail"][0] == "ok"
    status, detail, fix = found["Microsoft 365 Calendar"]
    assert status == "error" and "ErrorAccessDenied" in detail
    assert "Calendars.ReadWrite application permission" in fix
    assert "Tasks.ReadWrite.All application permission" in found["Microsoft 365 To Do"][2]


def test_the_application_access_policy_limits_the_mailboxes(
    tmp_path: Path, graph: RunningGraph, certificate: Path
) -> None:
    graph.state.identity.app_access_policy = {"bob@acme.com"}
    token = _app_token(graph, json.loads(certificate_credential(certificate)))
    allowed = _session(graph).get(
        graph.graph_url + "/users/bob@acme.com/mailFolders/inbox/messages",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert allowed.status_code == 200
    answer = _session(graph).get(
        graph.graph_url + "/users/ann@acme.com/mailFolders/inbox/messages",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "ErrorAccessDenied"
    assert "AccessPolicy" in answer.json()["error"]["message"]
    # To Do's application permission is tenant-wide: the mailbox policy does not limit it.
    todo = _session(graph).get(
        graph.graph_url + "/users/ann@acme.com/todo/lists", headers={"Authorization": f"Bearer {token}"}
    )
    assert todo.status_code == 200
    status, detail, _fix = _findings(tmp_path, graph, certificate)["Microsoft 365 mailbox"]
    assert status == "error" and "AccessPolicy" in detail


def test_an_assertion_signed_by_another_key_is_refused(
    tmp_path: Path, graph: RunningGraph, certificate: Path
) -> None:
    other, _public = certificate_pem(tmp_path, "other")
    app = msal.ConfidentialClientApplication(
        graph.client_id,
        client_credential=json.loads(certificate_credential(other)),
        authority=graph.authority,
        http_client=_session(graph),
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert result.get("error") == "invalid_client" and 700027 in result.get("error_codes", [])


def test_a_client_secret_from_the_environment_signs_in(
    tmp_path: Path, graph: RunningGraph, certificate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORG_GRAPH_SECRET", graph.client_secret)
    admin = parse_tables(
        {
            "microsoft365": {
                "client-id": graph.client_id,
                "tenant-id": graph.tenant_id,
                "client-secret-env": "ORG_GRAPH_SECRET",
            }
        }
    )
    store = OrgSecrets(CredentialStore("ann", tmp_path / "credentials.json"), admin)
    assert store.get("microsoft365.client-secret") == graph.client_secret
    assert store.get("microsoft365.client-certificate") is None
    monkeypatch.delenv("ORG_GRAPH_SECRET")
    problems = admin["microsoft365"].problems()
    assert problems == [
        "admin sign-in (microsoft365): environment variable ORG_GRAPH_SECRET is not set for the worker; "
        "set it in the worker's environment (systemd: Environment= or EnvironmentFile=)"
    ]
