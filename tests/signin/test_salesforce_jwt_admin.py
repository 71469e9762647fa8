"""Salesforce admin sign-in: the connected app's certificate signs a JWT bearer assertion for each
user's username (rgsync's Salesforce adapter, simple-salesforce, against the org emulator).
SPEC §11 "Admin sign-in: Salesforce JWT bearer per user", §9 (a refusal says what to fix)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rgsync import registry
from rgsync.credentials import CredentialStore
from rgsync.demo.team import TeamSandbox, start_team_sandbox
from rgsync.demo.team_admin import AdminFlows, add_admin_sign_in
from rgsync.fleet.signin import OrgSecrets, parse_tables
from rgsync.providers.salesforce.auth import SalesforceConfig


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TeamSandbox, AdminFlows]]:
    with start_team_sandbox(tmp_path_factory.mktemp("team"), users=2) as running:
        yield running, add_admin_sign_in(running)


def _findings(
    tmp_path: Path, flows: AdminFlows, username: str, **changes: str
) -> dict[str, tuple[str, str, str]]:
    table = {**flows.tables["salesforce"], **changes}
    admin = parse_tables({"salesforce": table})
    settings = {**admin["salesforce"].connection_settings(), "username": username}
    config = SalesforceConfig.from_table(settings)
    store = OrgSecrets(CredentialStore("rep", tmp_path / "credentials.json"), admin)
    crm = registry.crm_descriptor()
    return {
        f.check: (f.status, f.detail, f.fix) for f in crm.doctor(config, store, registry.ProfileOptions())
    }


def test_each_pre_authorised_user_gets_a_session_of_their_own(
    tmp_path: Path, team: tuple[TeamSandbox, AdminFlows]
) -> None:
    sandbox, flows = team
    for member in sandbox.members:
        status, detail, _fix = _findings(tmp_path / member.name, flows, member.address)["Sign-in"]
        assert status == "ok" and member.salesforce_user_id in detail


def test_a_user_not_pre_authorised_for_the_app_is_refused_with_the_fix(
    tmp_path: Path, team: tuple[TeamSandbox, AdminFlows]
) -> None:
    sandbox, flows = team
    member = sandbox.members[1]
    app = sandbox.salesforce.emulator.oauth.apps[flows.salesforce_consumer_key]
    app.preauthorized_user_ids.discard(member.salesforce_user_id)
    try:
        status, detail, fix = _findings(tmp_path, flows, member.address)["Sign-in"]
    finally:
        app.preauthorized_user_ids.add(member.salesforce_user_id)
    assert status == "error" and "approved" in detail
    assert fix.startswith(f"pre-authorise {member.address} for the connected app")


def test_a_key_that_is_not_the_apps_certificate_is_refused(
    tmp_path: Path, team: tuple[TeamSandbox, AdminFlows]
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    sandbox, flows = team
    other = tmp_path / "other.key"
    other.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    status, detail, fix = _findings(
        tmp_path, flows, sandbox.members[0].address, **{"private-key-file": str(other)}
    )["Sign-in"]
    assert status == "error" and "invalid assertion" in detail and "upload the certificate" in fix
