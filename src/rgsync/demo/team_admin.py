"""The team sandbox's admin sign-in: run the whole fleet without any per-user sign-in.

`add_admin_sign_in(team)` sets up, on a running team sandbox, what an admin sets up once for the
org, and writes it under `DIR/admin/`:

* Salesforce: a connected app with a certificate (`salesforce-jwt.crt`, its private key
  `salesforce-jwt.key`, 0600) whose admin-approved users are every rep: the JWT bearer flow signs
  each rep in by their Salesforce username;
* Google Workspace: a service account (`google-service-account.json`, 0600) whose client ID has
  domain-wide delegation for rgsync's four scopes; the token endpoint at the mailbox port's root
  (`/token`) issues a token for each rep's mailbox it impersonates;
* `org-policy.toml`: the `[admin-sign-in.*]` tables naming those files (no secret inside);
* `roster.csv` and `users/NAME.toml`: the reps with no sign-in of their own, for
  `rgsync fleet init --org-policy DIR/admin/org-policy.toml` and `rgsync fleet import DIR/admin/roster.csv`.

`register_graph_app` and `register_ews_impersonation` do the same for a Microsoft 365 tenant
(an app registration with a certificate and application permissions) and an Exchange server (an
account with the ApplicationImpersonation role), for sandboxes that serve those mailboxes.
"""

from __future__ import annotations

import csv
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import tomlkit

from rgsync.demo.team import TeamSandbox
from rgsync.sandbox.google.delegation import WorkspaceDirectory
from rgsync.sandbox.http import Request, Response

ADMIN_FOLDER = "admin"
GRAPH_APP_ROLES = ("Mail.ReadWrite", "Calendars.ReadWrite", "Contacts.ReadWrite", "Tasks.ReadWrite.All")


@dataclass
class AdminFlows:
    """What `add_admin_sign_in` made: the files, and the identifiers an admin console would show."""

    folder: Path
    policy_file: Path
    roster_file: Path
    salesforce_consumer_key: str
    google_client_email: str
    google_client_id: str
    directory: WorkspaceDirectory
    tables: dict[str, dict[str, str]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """What `rgsync sandbox serve --users N` prints about them."""
        return [
            f"  Admin sign-in  {self.policy_file}",
            f"    Salesforce connected app {self.salesforce_consumer_key[:16]}… (JWT, certificate), all reps pre-authorised",
            f"    Google service account {self.google_client_email} (client ID {self.google_client_id}), "
            "domain-wide delegation for gmail.modify, calendar.events, tasks, contacts",
            f"  Roster without per-user sign-in  {self.roster_file}",
        ]


class OrgSignInFront:
    """The mailbox port's root: `POST /token` is the Workspace token endpoint, the rest the tenants."""

    def __init__(self, inner: Any, directory: WorkspaceDirectory) -> None:
        self.inner = inner
        self.directory = directory

    def route_name(self, request: Request) -> str:
        if request.path == "/token":
            return "oauth.token"
        name: str = self.inner.route_name(request)
        return name

    def handle(self, request: Request) -> Response:
        if request.path == "/token" and request.method == "POST":
            return self.directory.token_endpoint(request)
        response: Response = self.inner.handle(request)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # the router's tenants and helpers


def _key_pair(common_name: str) -> tuple[str, str, Any]:
    """A fresh RSA key (PKCS#8 PEM), its self-signed certificate (PEM) and the public key object."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return private_pem, certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"), key.public_key()


def _private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name("." + path.name + ".tmp")
    temp.write_text(text, encoding="utf-8")
    temp.chmod(0o600)
    temp.replace(path)


def add_admin_sign_in(team: TeamSandbox) -> AdminFlows:
    """Set up the admin sign-in for every rep of `team` (see the module docstring)."""
    from rgsync.providers.google.auth import SCOPES
    from rgsync.sandbox.salesforce.oauth import ConnectedApp
    from rgsync.sandbox.tenants import Delayed

    folder = team.directory / ADMIN_FOLDER
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    # Salesforce: a connected app with a certificate, the reps pre-authorised.
    private_pem, certificate_pem, public_key = _key_pair("rgsync-sandbox-connected-app")
    consumer_key = "3MVG9sandbox." + secrets.token_urlsafe(30)
    team.salesforce.emulator.oauth.register_app(
        ConnectedApp(
            consumer_key,
            None,
            public_key,
            preauthorized_user_ids={m.salesforce_user_id for m in team.members},
        )
    )
    _private(folder / "salesforce-jwt.key", private_pem)
    (folder / "salesforce-jwt.crt").write_text(certificate_pem, encoding="utf-8")

    # Google Workspace: a delegated service account over every rep's mailbox.
    router = team.mailbox_server.emulator
    inner = getattr(router, "inner", router)
    directory = WorkspaceDirectory()
    for member in team.members:
        emulator = inner.tenants.get(member.name) if hasattr(inner, "tenants") else None
        if emulator is not None and hasattr(emulator, "sign_in"):
            directory.add_mailbox(member.address, emulator)
    account = directory.create_service_account("rgsync-fleet", SCOPES)
    team.mailbox_server.emulator = Delayed(OrgSignInFront(inner, directory), team.latency)
    key_file = folder / "google-service-account.json"
    _private(key_file, json.dumps(account.key_file(team.mailbox_url + "/token"), indent=2) + "\n")

    tables = {
        "salesforce": {
            "method": "jwt",
            "consumer-key": consumer_key,
            "private-key-file": str(folder / "salesforce-jwt.key"),
            "login-url": team.salesforce.url,
            "ca-file": str(team.salesforce.ca_file),
        },
        "gmail": {"method": "service-account", "service-account-file": str(key_file)},
    }
    policy = tomlkit.document()
    policy.add(tomlkit.comment("Written by `rgsync sandbox serve --users`: the org's admin sign-in."))
    policy.add(tomlkit.comment("Only identifiers and file paths; the keys are in the files (0600)."))
    admin = tomlkit.table(is_super_table=True)
    for service, values in tables.items():
        table = tomlkit.table()
        for key, value in values.items():
            table[key] = value
        admin[service] = table
    policy["admin-sign-in"] = admin
    policy_file = folder / "org-policy.toml"
    policy_file.write_text(tomlkit.dumps(policy), encoding="utf-8")

    roster_file = folder / "roster.csv"
    with roster_file.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("name", "mailbox", "address", "salesforce_username", "settings"))
        for member in team.members:
            settings = _without_own_sign_in(
                member.paths.settings_file, folder / "users" / f"{member.name}.toml"
            )
            writer.writerow((member.name, "gmail", member.address, member.address, str(settings)))
    return AdminFlows(
        folder=folder,
        policy_file=policy_file,
        roster_file=roster_file,
        salesforce_consumer_key=consumer_key,
        google_client_email=account.client_email,
        google_client_id=account.client_id,
        directory=directory,
        tables=tables,
    )


def _without_own_sign_in(source: Path, target: Path) -> Path:
    """The rep's settings with their own Salesforce sign-in method left out."""
    doc = tomlkit.parse(source.read_text(encoding="utf-8"))
    salesforce = doc.get("salesforce")
    if salesforce is not None:
        for key in ("auth", "instance-url"):
            if key in salesforce:
                del salesforce[key]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(tomlkit.dumps(doc), encoding="utf-8")
    return target


def register_graph_app(
    identity: Any, folder: Path, *, roles: tuple[str, ...] = GRAPH_APP_ROLES
) -> dict[str, str]:
    """An app registration with a certificate and application permissions on a Graph emulator's
    tenant (`RunningGraph.state.identity`); returns its `[admin-sign-in.microsoft365]` table.

    The certificate file (key and certificate, 0600) goes into `folder`.
    """
    private_pem, certificate_pem, public_key = _key_pair("rgsync-sandbox-app")
    from cryptography.hazmat.primitives import serialization

    identity.certificate_public_pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    identity.app_roles = set(roles)
    path = folder / "entra-app.pem"
    _private(path, private_pem + certificate_pem)
    return {
        "method": "app-only",
        "client-id": str(identity.client_id),
        "tenant-id": str(identity.tenant_id),
        "certificate-file": str(path),
    }


def register_ews_impersonation(
    emulator: Any, folder: Path, *, username: str = "svc-rgsync"
) -> dict[str, str]:
    """An account with the ApplicationImpersonation role (organisation-wide scope) on an EWS
    emulator; returns its `[admin-sign-in.exchange]` table. The password goes to a 0600 file."""
    password = secrets.token_urlsafe(18)
    emulator.service_accounts[username.lower()] = password
    emulator.impersonators[username.lower()] = None
    path = folder / "ews-password"
    _private(path, password + "\n")
    return {"method": "impersonation", "username": username, "password-file": str(path), "auth-type": "basic"}
