"""A loopback HTTPS emulator of the Salesforce REST API and OAuth endpoints.

`start_salesforce(directory, scenario=..., clock=...)` starts one on 127.0.0.1 with a throw-away
CA (its PEM is written into `directory`) and returns a `RunningSalesforce`: the URL, the CA file,
a Bearer token for the first scenario user, the server (call counters, faults) and the org (for
direct set-up and inspection). Stop it with `.stop()` or use it as a context manager.

Scenario shape (every part optional)::

    {"org": {"enhanced_email": true, "shared_activities": true, "api_limit": 15000,
             "api_used": 0, "external_id_fields": {"Task": "rgsync_Key__c"}},
     "users": [{"key": "ann", "Name": "Ann Lee", "Email": "ann@acme.com", "Username": "ann@acme.com",
                "password": "…", "security_token": "…"}],
     "records": {"Account": [{"key": "globex", "Name": "Globex", "Website": "www.globex.com"}],
                 "Contact": [{"key": "bob", "LastName": "Bob", "AccountId": "@globex", "OwnerId": "@ann"}]},
     "list_views": [{"object": "Contact", "label": "Globex people", "where": "AccountId = '@globex'"}],
     "validation_rules": [{"object": "Task", "field": "Subject", "contains": "REJECT", "message": "…"}],
     "connected_apps": [{"client_id": "…", "client_secret": "…", "public_key_pem": "…", "run_as": "@ann"}]}

A value "@key" is replaced by the Id of the earlier user or record with that key (inside a list
view's `where`, `'@key'` is replaced within the quotes). The first user is the API user.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from rgsync.sandbox.http import EmulatorServer, make_tls

from .clock import ManualClock
from .errors import RecordError, RequestError, SalesforceError
from .oauth import ConnectedApp, load_public_key
from .server import SalesforceEmulator
from .store import Org
from .store.state import DEFAULT_API_LIMIT

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_PASSWORD",
    "DEFAULT_SECURITY_TOKEN",
    "ManualClock",
    "Org",
    "RecordError",
    "RequestError",
    "RunningSalesforce",
    "SalesforceEmulator",
    "SalesforceError",
    "ScenarioError",
    "load_scenario",
    "start_salesforce",
]

DEFAULT_CLIENT_ID = "rgsync-sandbox"
DEFAULT_CLIENT_SECRET = "rgsync-sandbox-secret"
DEFAULT_PASSWORD = "sandbox-password"
DEFAULT_SECURITY_TOKEN = "SANDBOXTOKEN"
_KEY_REFERENCE = re.compile(r"^@([A-Za-z0-9_\-]+)$")
_QUOTED_REFERENCE = re.compile(r"'@([A-Za-z0-9_\-]+)'")


class ScenarioError(ValueError):
    """A scenario that can't be loaded: names the record or key and what is wrong."""


@dataclass
class RunningSalesforce:
    """A started emulator: where it is, how to trust and call it, and handles for tests."""

    url: str
    ca_file: Path
    token: str
    user_id: str
    server: EmulatorServer
    emulator: SalesforceEmulator
    org: Org
    keys: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        self.server.stop()

    def __enter__(self) -> RunningSalesforce:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def requests_session(self) -> Any:
        """A `requests.Session` that trusts the emulator's CA and ignores REQUESTS_CA_BUNDLE/proxies."""
        import requests

        session = requests.Session()
        session.verify = str(self.ca_file)
        session.trust_env = False
        return session


def start_salesforce(
    directory: Path,
    *,
    scenario: Mapping[str, Any] | None = None,
    clock: Callable[[], datetime] | None = None,
    port: int = 0,
) -> RunningSalesforce:
    """Start an emulated org on https://127.0.0.1:PORT with `scenario` loaded.

    The CA's PEM goes into `directory`. `clock` (aware datetimes) drives audit fields, date
    literals, replication windows and token expiry; default is the wall clock.
    """
    scenario = dict(scenario or {})
    settings = dict(scenario.get("org") or {})
    org = Org(
        clock=clock,
        enhanced_email=bool(settings.get("enhanced_email", True)),
        shared_activities=bool(settings.get("shared_activities", True)),
        api_limit=int(settings.get("api_limit", DEFAULT_API_LIMIT)),
        name=str(settings.get("name", "Sandbox Org")),
    )
    emulator = SalesforceEmulator(org)
    keys = load_scenario(emulator, scenario)
    tls = make_tls(Path(directory))
    server = EmulatorServer(emulator, tls=tls.context, port=port)
    emulator.attach(server)
    server.start()
    user_id = org.acting_user_id or ""
    token = f"{org.org_id[:15]}!{secrets.token_urlsafe(32)}"
    emulator.register_token(token, user_id)
    org.api_used = int(settings.get("api_used", 0))
    return RunningSalesforce(server.url, tls.ca_file, token, user_id, server, emulator, org, keys)


def load_scenario(emulator: SalesforceEmulator, scenario: Mapping[str, Any]) -> dict[str, str]:
    """Create the scenario's users, records, list views, rules and apps; returns key → Id."""
    org = emulator.org
    keys: dict[str, str] = {}
    settings = scenario.get("org") or {}
    for object_name, spec in (settings.get("external_id_fields") or {}).items():
        for entry in spec if isinstance(spec, list) else [spec]:
            options = entry if isinstance(entry, dict) else {"name": entry}
            _guard(
                partial(
                    org.add_custom_field,
                    object_name,
                    str(options["name"]),
                    external_id=bool(options.get("external_id", True)),
                    unique=bool(options.get("unique", True)),
                    length=int(options.get("length", 255)),
                ),
                f"external ID field {options.get('name')!r} on {object_name}",
            )
    users = list(scenario.get("users") or [])
    if not users:
        users = [
            {
                "key": "sandbox_user",
                "FirstName": "Sandbox",
                "LastName": "User",
                "Email": "sandbox.user@example.com",
            }
        ]
    for index, entry in enumerate(users):
        values = dict(entry)
        key = values.pop("key", None)
        password = str(values.pop("password", DEFAULT_PASSWORD))
        token = str(values.pop("security_token", DEFAULT_SECURITY_TOKEN))
        if "Name" in values and "LastName" not in values:
            first, _, last = str(values.pop("Name")).rpartition(" ")
            values["LastName"] = last
            if first:
                values.setdefault("FirstName", first)
        values.pop("Name", None)
        values.setdefault("Username", values.get("Email"))
        values.setdefault(
            "Alias", (str(values.get("FirstName", ""))[:1] + str(values.get("LastName", "")))[:8] or "user"
        )
        user_id = _guard(
            partial(org.insert, "User", _resolve(values, keys), audit=True), f"user {key or index}"
        )
        if index == 0:
            org.acting_user_id = user_id
            creator = dict(org.row(user_id) or {})
            creator.update(CreatedById=user_id, LastModifiedById=user_id)  # the first user created itself
            org._store(user_id, creator)
        if key:
            keys[str(key)] = user_id
        emulator.oauth.register_login(str(values["Username"]), user_id, password, token)
    for object_name, rows in (scenario.get("records") or {}).items():
        for index, entry in enumerate(rows):
            values = dict(entry)
            key = values.pop("key", None)
            label = f"{object_name} {key or index}"
            record_id = _guard(partial(_insert_record, org, object_name, values, keys), label)
            if key:
                if key in keys:
                    raise ScenarioError(f"scenario key {key!r} is used twice; give each record its own key")
                keys[str(key)] = record_id
    for entry in scenario.get("list_views") or []:
        where = entry.get("where")
        if where:
            where = _QUOTED_REFERENCE.sub(lambda m: f"'{_key(keys, m.group(1))}'", str(where))
        _guard(
            partial(
                org.add_list_view,
                str(entry.get("object")),
                str(entry.get("label")),
                developer_name=entry.get("developer_name"),
                where=where,
                columns=tuple(entry.get("columns") or ()),
                order_by=str(entry.get("order_by", "Name")),
            ),
            f"list view {entry.get('label')!r}",
        )
    for entry in scenario.get("validation_rules") or []:
        _guard(partial(_add_rule, org, entry), f"validation rule on {entry.get('object')}")
    apps = list(scenario.get("connected_apps") or [])
    emulator.oauth.register_app(
        ConnectedApp(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, run_as_user_id=org.acting_user_id)
    )
    for entry in apps:
        pem = entry.get("public_key_pem")
        if entry.get("public_key_file"):
            pem = Path(entry["public_key_file"]).read_text()
        run_as = entry.get("run_as")
        emulator.oauth.register_app(
            ConnectedApp(
                str(entry["client_id"]),
                entry.get("client_secret"),
                load_public_key(pem.encode() if isinstance(pem, str) else pem) if pem else None,
                tuple(entry.get("redirect_uris") or ("http://127.0.0.1", "http://localhost")),
                _resolve({"v": run_as}, keys)["v"] if run_as else org.acting_user_id,
            )
        )
    return keys


def _insert_record(org: Org, object_name: str, values: Mapping[str, Any], keys: Mapping[str, str]) -> str:
    # "@key" references are resolved here, inside the guard, so a dangling one names its record.
    return org.insert(object_name, _resolve(values, keys), audit=True)


def _add_rule(org: Org, entry: Mapping[str, Any]) -> None:
    field_name = entry.get("field")
    message = str(entry.get("message") or "This record was rejected by a validation rule.")
    if "contains" in entry:
        needle = str(entry["contains"])

        def rejects(record: Mapping[str, Any]) -> bool:
            return needle in str(record.get(field_name or "") or "")
    elif "equals" in entry:
        wanted = entry["equals"]

        def rejects(record: Mapping[str, Any]) -> bool:
            return bool(record.get(field_name or "") == wanted)
    elif entry.get("blank"):

        def rejects(record: Mapping[str, Any]) -> bool:
            return not record.get(field_name or "")
    else:
        raise ScenarioError("a validation rule needs one of 'contains', 'equals' or 'blank': true")
    org.add_validation_rule(str(entry["object"]), rejects, message, field_name)


def _key(keys: Mapping[str, str], key: str) -> str:
    if key not in keys:
        raise ScenarioError(
            f"scenario reference '@{key}' names no earlier user or record; define it before use"
        )
    return keys[key]


def _resolve(values: Mapping[str, Any], keys: Mapping[str, str]) -> dict[str, Any]:
    def one(value: Any) -> Any:
        if isinstance(value, str):
            match = _KEY_REFERENCE.match(value)
            return _key(keys, match.group(1)) if match else value
        if isinstance(value, list):
            return [one(v) for v in value]
        return value

    return {name: one(value) for name, value in values.items()}


def _guard(action: Callable[[], Any], label: str) -> Any:
    try:
        return action()
    except SalesforceError as refused:
        raise ScenarioError(f"scenario {label}: {refused.code}: {refused.errors[0].message}") from None
    except (KeyError, TypeError, ValueError) as problem:
        if isinstance(problem, ScenarioError):
            raise
        raise ScenarioError(f"scenario {label}: {problem}") from None
