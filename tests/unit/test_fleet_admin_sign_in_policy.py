"""The org policy's `[admin-sign-in]` tables: what is accepted, what is refused with its fix, and
which users use it (SPEC §1 bulk management, §9 secrets never in settings files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rgsync.credentials import CredentialStore
from rgsync.fleet.signin import AdminSignInError, OrgSecrets, parse_admin_sign_in, plan_sign_in
from rgsync.settings import load_policy

POLICY = """
[forced.sync]
max-deletes = 20

[admin-sign-in.salesforce]
consumer-key = "3MVG9key"
private-key-file = "/etc/rgsync/sf.key"
login-url = "https://acme.my.salesforce.com"

[admin-sign-in.exchange]
username = "svc-rgsync@acme.com"
password-file = "{password}"
ews-url = "https://mail.acme.com/EWS/Exchange.asmx"
"""

USER = """
[mailbox]
provider = "exchange"
address = "ann@acme.com"

[salesforce]
username = "ann@acme.com"
"""


@pytest.fixture
def policy(tmp_path: Path) -> str:
    secret = tmp_path / "ews-password"
    secret.write_text("s3cret\n", encoding="utf-8")
    return POLICY.replace("{password}", str(secret))


def test_the_policy_file_with_admin_sign_in_loads_as_a_policy(tmp_path: Path, policy: str) -> None:
    path = tmp_path / "org-policy.toml"
    path.write_text(policy, encoding="utf-8")
    assert load_policy(path).forced  # the other tables still apply
    assert sorted(parse_admin_sign_in(policy)) == ["exchange", "salesforce"]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[admin-sign-in.gmail]\nservice-account-file = "key.json"', "must be an absolute path"),
        ('[admin-sign-in.salesforce]\nconsumer-key = "k"', "private-key-file is missing"),
        (
            '[admin-sign-in.exchange]\nusername = "svc"\npassword = "hunter2"',
            "Secrets never go into the policy",
        ),
        ('[admin-sign-in.microsoft365]\nclient-id = "c"\ntenant-id = "t"', "give one of certificate-file"),
        ('[admin-sign-in.salesforce]\nmethod = "password"', "use method = 'jwt'"),
        ('[admin-sign-in.notes]\nx = "y"', "is not a service"),
    ],
)
def test_a_bad_admin_table_is_refused_with_the_fix(table: str, message: str) -> None:
    with pytest.raises(AdminSignInError, match=message):
        parse_admin_sign_in(table)


def test_a_user_without_their_own_sign_in_gets_the_admin_one_layered_in(tmp_path: Path, policy: str) -> None:
    store = CredentialStore("ann", tmp_path / "credentials.json")
    plan = plan_sign_in(USER, policy, store)
    assert sorted(plan.admins) == ["exchange", "salesforce"]
    assert 'auth = "jwt"' in plan.settings_text and "impersonate = true" in plan.settings_text
    assert "s3cret" not in plan.settings_text  # only where the secret is, never the secret
    served = OrgSecrets(store, plan.admins)
    assert served.get("exchange.password") == "s3cret"
    served.set("salesforce.session", "00D!token")  # a token issued for ann stays in ann's store
    assert store.get("salesforce.session") == "00D!token" and store.get("exchange.password") is None


def test_a_user_with_their_own_sign_in_keeps_it(tmp_path: Path, policy: str) -> None:
    store = CredentialStore("ann", tmp_path / "credentials.json")
    store.set("exchange.password", "ann's own")
    own = USER.replace('username = "ann@acme.com"', 'username = "ann@acme.com"\nauth = "oauth"')
    plan = plan_sign_in(own, policy, store)
    assert plan.admins == {} and plan.settings_text == own
