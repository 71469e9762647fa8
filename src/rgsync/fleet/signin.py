"""Admin sign-in: one sign-in per service for the whole org, used for every fleet user who has none.

The org policy names it, per service, in `[admin-sign-in.KIND]` tables (KIND: salesforce, gmail,
microsoft365, exchange). The policy holds no secret: only identifiers, and where each secret is
(a file readable by the worker account, or an environment variable of the worker):

```toml
[admin-sign-in.salesforce]          # JWT bearer with the connected app's certificate
method = "jwt"
consumer-key = "3MVG9…"
private-key-file = "/etc/rgsync/salesforce-jwt.key"
login-url = "https://acme.my.salesforce.com"

[admin-sign-in.gmail]               # a service account with domain-wide delegation
method = "service-account"
service-account-file = "/etc/rgsync/google-service-account.json"

[admin-sign-in.microsoft365]        # app-only: client credentials, certificate or secret
method = "app-only"
tenant-id = "…"
client-id = "…"
certificate-file = "/etc/rgsync/entra-app.pem"    # or client-secret-env / client-secret-file

[admin-sign-in.exchange]            # an account with the ApplicationImpersonation role
method = "impersonation"
username = "svc-rgsync@acme.com"
password-env = "RGSYNC_EWS_PASSWORD"              # or password-file
ews-url = "https://mail.acme.com/EWS/Exchange.asmx"
```

Before each session the fleet decides, per service, whether the user has their own sign-in (what
`rgsync connect` stores for them, see `own_sign_in`); when not and the policy has a table for that
service, the session signs in with the admin sign-in: its connection keys are layered into the
profile the session reads (the same keys `rgsync connect` writes for one user), and its secrets
are read from their file or variable when the adapter asks the credentials store for them, never
copied into any user's store. Tokens issued for a user (a Salesforce session for that username)
are cached in that user's own store as usual.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rgsync.credentials import CredentialStore
from rgsync.errors import UsageError
from rgsync.logs import remember_secret
from rgsync.paths import Paths
from rgsync.providers.descriptor import Finding

log = logging.getLogger("rgsync.fleet")

TABLE = "admin-sign-in"
SERVICES = ("salesforce", "gmail", "microsoft365", "exchange")


@dataclass(frozen=True)
class _Kind:
    """What an `[admin-sign-in.KIND]` table may hold and what becomes of it."""

    method: str
    section: str  # the settings table the connection keys go to
    required: tuple[str, ...]
    settings: Mapping[str, str]  # policy key -> settings key (leaf) in `section`
    fixed: Mapping[str, object] = field(default_factory=dict)  # settings always set
    secrets: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # store name -> (env key, file key)
    one_of: tuple[tuple[str, ...], ...] = ()  # at least one of each group
    files: tuple[str, ...] = ()  # keys naming files (absolute paths)
    describe: str = ""


_KINDS: dict[str, _Kind] = {
    "salesforce": _Kind(
        method="jwt",
        section="salesforce",
        required=("consumer-key", "private-key-file"),
        settings={
            "consumer-key": "consumer-key",
            "private-key-file": "private-key-file",
            "login-url": "login-url",
            "ca-file": "ca-file",
        },
        fixed={"auth": "jwt"},
        files=("private-key-file", "ca-file"),
        describe="JWT bearer (connected app certificate)",
    ),
    "gmail": _Kind(
        method="service-account",
        section="mailbox",
        required=("service-account-file",),
        settings={"service-account-file": "service-account-file"},
        files=("service-account-file",),
        describe="service account with domain-wide delegation",
    ),
    "microsoft365": _Kind(
        method="app-only",
        section="mailbox",
        required=("client-id", "tenant-id"),
        settings={
            "client-id": "client-id",
            "tenant-id": "tenant-id",
            "authority-url": "authority-url",
            "ca-file": "ca-file",
        },
        secrets={"microsoft365.client-secret": ("client-secret-env", "client-secret-file")},
        one_of=(("certificate-file", "client-secret-env", "client-secret-file"),),
        files=("certificate-file", "client-secret-file", "ca-file"),
        describe="app-only client credentials (application permissions)",
    ),
    "exchange": _Kind(
        method="impersonation",
        section="mailbox",
        required=("username",),
        settings={
            "username": "username",
            "ews-url": "ews-url",
            "auth-type": "auth-type",
            "ca-file": "ca-file",
        },
        fixed={"impersonate": True},
        secrets={"exchange.password": ("password-env", "password-file")},
        one_of=(("password-env", "password-file"),),
        files=("password-file", "ca-file"),
        describe="impersonation account (ApplicationImpersonation role)",
    ),
}


class AdminSignInError(UsageError):
    """An `[admin-sign-in]` table that cannot be used: names the key and the fix."""


@dataclass(frozen=True)
class AdminSignIn:
    """One service's admin sign-in as the org policy gives it (identifiers and secret locations)."""

    service: str
    values: Mapping[str, str]

    @property
    def kind(self) -> _Kind:
        return _KINDS[self.service]

    @property
    def description(self) -> str:
        """How it signs in, for messages (no secret)."""
        return self.kind.describe

    def connection_settings(self) -> dict[str, object]:
        """The keys layered into the user's `[mailbox]` or `[salesforce]` table."""
        out: dict[str, object] = dict(self.kind.fixed)
        for key, leaf in self.kind.settings.items():
            if self.values.get(key):
                out[leaf] = self.values[key]
        return out

    def secret_sources(self) -> dict[str, str]:
        """Store name -> where its value comes from (an environment variable or a file), for doctor."""
        out: dict[str, str] = {}
        for name, (env_key, file_key) in self.kind.secrets.items():
            if self.values.get(env_key):
                out[name] = f"environment variable {self.values[env_key]}"
            elif self.values.get(file_key):
                out[name] = f"file {self.values[file_key]}"
        if self.service == "microsoft365" and self.values.get("certificate-file"):
            out["microsoft365.client-certificate"] = f"file {self.values['certificate-file']}"
        return out

    def secret(self, name: str) -> str | None:
        """The secret the adapter asks the store for, read now from its file or variable.

        AdminSignInError (one line, what to fix) when its source is missing or unreadable.
        """
        if self.service == "microsoft365" and name == "microsoft365.client-certificate":
            file = self.values.get("certificate-file")
            return certificate_credential(Path(file)) if file else None
        sources = self.kind.secrets.get(name)
        if sources is None:
            return None
        env_key, file_key = sources
        if self.values.get(env_key):
            variable = self.values[env_key]
            value = os.environ.get(variable)
            if not value:
                raise AdminSignInError(
                    f"admin sign-in ({self.service}): environment variable {variable} is not set for the worker; "
                    f"set it in the worker's environment (systemd: Environment= or EnvironmentFile=)"
                )
            remember_secret(value)
            return value
        if self.values.get(file_key):
            value = _read(Path(self.values[file_key]), self.service, file_key).strip()
            remember_secret(value)
            return value
        return None

    def problems(self) -> list[str]:
        """What stops this sign-in on this machine (files missing, variables unset): one line each."""
        found: list[str] = []
        for key in self.kind.files:
            value = self.values.get(key)
            if value and not Path(value).is_file():
                found.append(
                    f"admin sign-in ({self.service}): {key} {value} does not exist on this machine; "
                    f"copy the file there (readable by the worker account only)"
                )
        for name in self.kind.secrets:
            try:
                self.secret(name)
            except AdminSignInError as exc:
                found.append(exc.message)
        if self.service == "microsoft365" and self.values.get("certificate-file"):
            try:
                self.secret("microsoft365.client-certificate")
            except AdminSignInError as exc:
                found.append(exc.message)
        return list(dict.fromkeys(found))


def _read(path: Path, service: str, key: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AdminSignInError(
            f"admin sign-in ({service}): {key} {path} does not exist on this machine; copy the file there"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AdminSignInError(
            f"admin sign-in ({service}): {key} {path} cannot be read ({exc}); "
            f"make it readable by the worker account"
        ) from None


def certificate_credential(path: Path) -> str:
    """msal's certificate credential (private key PEM and SHA-1 thumbprint) from one PEM file
    holding the app's private key and its certificate, as JSON (the shape the store keeps)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    text = _read(path, "microsoft365", "certificate-file")
    data = text.encode("utf-8")
    try:
        key = serialization.load_pem_private_key(data, password=None)
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise AdminSignInError(
            f"admin sign-in (microsoft365): certificate-file {path} must hold the private key and the "
            f"certificate (PEM, unencrypted key); put both in one file"
        ) from None
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    thumbprint = certificate.fingerprint(hashes.SHA1()).hex().upper()
    remember_secret(private_pem)
    return json.dumps({"private_key": private_pem, "thumbprint": thumbprint})


def parse_admin_sign_in(policy_text: str | None) -> dict[str, AdminSignIn]:
    """The `[admin-sign-in.*]` tables of an org policy, checked; empty when there are none."""
    if not policy_text:
        return {}
    try:
        data = tomllib.loads(policy_text)
    except tomllib.TOMLDecodeError as exc:
        raise AdminSignInError(f"the org policy is not valid TOML ({exc})") from None
    return parse_tables(data.get(TABLE))


def parse_tables(tables: object) -> dict[str, AdminSignIn]:
    """Check the `[admin-sign-in]` table's content (see the module docstring)."""
    if tables is None:
        return {}
    if not isinstance(tables, dict):
        raise AdminSignInError(f"[{TABLE}] must be a table of services: {', '.join(SERVICES)}")
    out: dict[str, AdminSignIn] = {}
    for service, table in tables.items():
        where = f"[{TABLE}.{service}]"
        kind = _KINDS.get(service)
        if kind is None:
            raise AdminSignInError(f"{where} is not a service; use one of {', '.join(SERVICES)}")
        if not isinstance(table, dict):
            raise AdminSignInError(f"{where} must be a table")
        allowed = {"method", *kind.required, *kind.settings, *kind.files}
        for env_key, file_key in kind.secrets.values():
            allowed |= {env_key, file_key}
        for group in kind.one_of:
            allowed |= set(group)
        values: dict[str, str] = {}
        for key, value in table.items():
            if key not in allowed:
                raise AdminSignInError(
                    f"{where}: unknown key {key!r}; it may hold {', '.join(sorted(allowed))}. "
                    f"Secrets never go into the policy: name their file or environment variable"
                )
            if not isinstance(value, str) or not value.strip():
                raise AdminSignInError(f"{where}: {key} must be a non-empty string")
            values[key] = value.strip()
        method = values.get("method", kind.method)
        if method != kind.method:
            raise AdminSignInError(f"{where}: method {method!r} is not offered; use method = {kind.method!r}")
        for key in kind.required:
            if key not in values:
                raise AdminSignInError(f"{where}: {key} is missing; add it")
        for group in kind.one_of:
            if not any(k in values for k in group):
                raise AdminSignInError(f"{where}: give one of {', '.join(group)}")
        for key in kind.files:
            if key in values and not Path(values[key]).expanduser().is_absolute():
                raise AdminSignInError(
                    f"{where}: {key} {values[key]!r} must be an absolute path (workers run from anywhere)"
                )
            if key in values:
                values[key] = str(Path(values[key]).expanduser())
        out[service] = AdminSignIn(service, values)
    return out


# --- who signs in how ----------------------------------------------------------------------------

_OWN_SECRETS = {
    "gmail": ("gmail.token", "gmail.access-token"),
    "microsoft365": (
        "microsoft365.token-cache",
        "microsoft365.client-secret",
        "microsoft365.client-certificate",
    ),
    "exchange": ("exchange.password", "exchange.token"),
    "salesforce": ("salesforce.refresh-token", "salesforce.password"),
}


def own_sign_in(service: str, layer: Mapping[str, Any], store: CredentialStore) -> bool:
    """Whether the user has a sign-in of their own for `service` (what `rgsync connect` leaves).

    Salesforce: the user's own settings name a sign-in method (`salesforce.auth`), or their store
    holds a refresh token or password. A mailbox: their store holds its token or password (or, for
    Gmail, their own settings name a service account key). A Salesforce session cached for the
    user by the admin sign-in does not count: it is renewed through the admin sign-in.
    """
    section = "salesforce" if service == "salesforce" else "mailbox"
    table = layer.get(section)
    table = table if isinstance(table, dict) else {}
    if service == "salesforce" and table.get("auth"):
        return True
    if service == "gmail" and table.get("service-account-file"):
        return True
    try:
        return any(store.get(name) for name in _OWN_SECRETS.get(service, ()))
    except Exception:  # an unreadable store is no sign-in; the session reports it
        return False


class OrgSecrets(CredentialStore):
    """A user's credentials store with the admin sign-in's secrets served from their file or variable.

    Reads of an admin secret name go to the admin sign-in (never to the user's store); everything
    else, writes included (tokens issued for this user), goes to the user's own store.
    """

    def __init__(self, store: CredentialStore, admins: Mapping[str, AdminSignIn]) -> None:
        # Wraps an open store: nothing of the parent's set-up (keyring choice) is repeated.
        self._store = store
        self.profile = store.profile
        self.fallback_file = store.fallback_file
        self.service = store.service
        self._admin_of: dict[str, AdminSignIn] = {}
        for admin in admins.values():
            for name in (
                *admin.kind.secrets,
                *(("microsoft365.client-certificate",) if admin.service == "microsoft365" else ()),
            ):
                self._admin_of[name] = admin

    @property
    def backend_name(self) -> str:
        """Where the secrets are, for messages."""
        return f"{self._store.backend_name} and the org's admin sign-in"

    def get(self, name: str) -> str | None:
        """The admin secret for an admin name, else the user's own."""
        admin = self._admin_of.get(name)
        if admin is not None:
            try:
                return admin.secret(name)
            except AdminSignInError as exc:
                # The adapter then reports the sign-in as missing (MAIL-AUTH / SF-AUTH) and the
                # fleet stops the user with that reason; the log says what to fix.
                log.warning("%s", exc.message)
                return None
        return self._store.get(name)

    def set(self, name: str, secret: str) -> None:
        """Into the user's own store (admin secrets are never written)."""
        if name not in self._admin_of:
            self._store.set(name, secret)

    def delete(self, name: str) -> None:
        """From the user's own store (admin secrets are never removed from here)."""
        if name not in self._admin_of:
            self._store.delete(name)


@dataclass(frozen=True)
class SessionSignIn:
    """How one session of a fleet user signs in: the settings layer to write and the admin sign-ins."""

    settings_text: str
    admins: Mapping[str, AdminSignIn]  # service -> the admin sign-in it uses (own sign-in: absent)
    mailbox_kind: str = ""

    def uses_admin(self, service: str) -> bool:
        """Whether `service` signs in with the org's admin sign-in in this session."""
        return service in self.admins

    @contextlib.contextmanager
    def applied(self, paths: Paths) -> Iterator[None]:
        """While inside, the profile's credentials store serves the admin secrets."""
        from rgsync import registry

        if not self.admins:
            yield
            return
        admins = dict(self.admins)
        registry.layer_store(paths.credentials_file, lambda store: OrgSecrets(store, admins))
        try:
            yield
        finally:
            registry.layer_store(paths.credentials_file, None)


def plan_sign_in(settings_text: str, policy_text: str | None, store: CredentialStore) -> SessionSignIn:
    """Decide, per service, own sign-in or the admin one, and layer the admin one's keys in.

    `settings_text` is the user's own layer (as the fleet database holds it), `store` the user's
    credentials store on this machine.
    """
    import tomlkit

    admins = parse_admin_sign_in(policy_text)
    layer = tomllib.loads(settings_text) if settings_text.strip() else {}
    mailbox = layer.get("mailbox") if isinstance(layer.get("mailbox"), dict) else {}
    mailbox_kind = str((mailbox or {}).get("provider") or "")
    used: dict[str, AdminSignIn] = {}
    for service in ("salesforce", mailbox_kind):
        admin = admins.get(service)
        if admin is None or own_sign_in(service, layer, store):
            continue
        used[service] = admin
    if not used:
        return SessionSignIn(settings_text, {}, mailbox_kind)
    doc = tomlkit.parse(settings_text)
    for admin in used.values():
        table = doc.get(admin.kind.section)
        if table is None:
            table = tomlkit.table()
            doc[admin.kind.section] = table
        for key, value in admin.connection_settings().items():
            table[key] = value
    return SessionSignIn(tomlkit.dumps(doc), used, mailbox_kind)


def sign_in_for_user(home: Path, name: str, settings_text: str, policy_text: str | None) -> SessionSignIn:
    """`plan_sign_in` for fleet user `name` with their credentials store under `home`."""
    from rgsync.fleet.home import user_paths

    paths = user_paths(home, name)
    return plan_sign_in(settings_text, policy_text, CredentialStore(paths.profile, paths.credentials_file))


# --- `rgsync doctor --user NAME` --------------------------------------------------------------------


_SERVICE_NAMES = {
    "salesforce": "Salesforce",
    "gmail": "Gmail",
    "microsoft365": "Microsoft 365",
    "exchange": "Exchange",
}


def sign_in_findings(
    plan: SessionSignIn, policy_text: str | None, *, username: str, address: str
) -> list[Finding]:
    """Which sign-in each of the user's services uses, and what stops an admin sign-in on this machine.

    The end-to-end checks (a token issued for the user, one cheap read per API) are the services'
    own doctor findings, run afterwards with the admin secrets served as the session gets them.
    """
    out: list[Finding] = []
    configured = parse_admin_sign_in(policy_text)
    for service in ("salesforce", plan.mailbox_kind):
        if not service:
            continue
        check = f"{_SERVICE_NAMES.get(service, service)} sign-in for the fleet"
        subject = username if service == "salesforce" else address
        admin = plan.admins.get(service)
        if admin is None:
            if service in configured:
                out.append(
                    Finding(
                        "notice",
                        check,
                        f"{subject} has a sign-in of their own; the admin sign-in is not used",
                    )
                )
            else:
                out.append(
                    Finding(
                        "ok",
                        check,
                        f"{subject} signs in on their own (no [{TABLE}.{service}] in the org policy)",
                    )
                )
            continue
        problems = admin.problems()
        if not problems:
            sources = sorted(set(admin.secret_sources().values()))
            where = f"; secret from {', '.join(sources)}" if sources else ""
            out.append(
                Finding("ok", check, f"org admin sign-in: {admin.description}, acting as {subject}{where}")
            )
        for problem in problems:
            detail, _, fix = problem.partition("; ")
            out.append(Finding("error", check, detail, fix))
    return out
