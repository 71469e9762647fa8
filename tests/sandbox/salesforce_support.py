"""Shared set-up for the Salesforce emulator tests: a fixed clock, a small org, and clients.

Imported by the test modules as `tests.sandbox.salesforce_support`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from simple_salesforce import Salesforce

from rgsync.sandbox.salesforce import RunningSalesforce, start_salesforce
from rgsync.sandbox.salesforce.clock import ManualClock

# Saturday 2026-11-28, 11:00 UTC: the "today" of the shared test world.
NOW = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
API_VERSION = "59.0"

SCENARIO: dict[str, Any] = {
    "org": {
        "external_id_fields": {
            "Task": "rgsync_Key__c",
            "Event": "rgsync_Key__c",
            "EmailMessage": "rgsync_Key__c",
        }
    },
    "users": [
        {
            "key": "ann",
            "Name": "Ann Lee",
            "Email": "ann@acme.com",
            "Username": "ann@acme.com",
            "password": "pw",
            "security_token": "TOK",
        },
        {"key": "frank", "Name": "Frank Fox", "Email": "frank@acme.com", "Username": "frank@acme.com"},
    ],
    "records": {
        "Account": [
            {"key": "globex", "Name": "Globex", "Website": "www.globex.com"},
            {"key": "initech", "Name": "Initech", "Website": "initech.com", "OwnerId": "@frank"},
        ],
        "Contact": [
            {
                "key": "bob",
                "FirstName": "Bob",
                "LastName": "Stone",
                "Email": "bob@globex.com",
                "AccountId": "@globex",
                "OwnerId": "@ann",
            },
            {
                "key": "carol",
                "FirstName": "Carol",
                "LastName": "Reed",
                "Email": "carol@globex.com",
                "AccountId": "@globex",
            },
            {
                "key": "dave",
                "FirstName": "Dave",
                "LastName": "Mills",
                "Email": "dave@initech.com",
                "AccountId": "@initech",
            },
        ],
        "Lead": [
            {
                "key": "erin",
                "FirstName": "Erin",
                "LastName": "Hale",
                "Company": "Hale Ltd",
                "Email": "erin@hale.io",
            }
        ],
        "Opportunity": [
            {
                "key": "o1",
                "Name": "Globex renewal",
                "AccountId": "@globex",
                "StageName": "Prospecting",
                "CloseDate": "2026-12-31",
            }
        ],
    },
    "list_views": [
        {
            "object": "Contact",
            "label": "Globex people",
            "developer_name": "Globex_people",
            "where": "AccountId = '@globex'",
        }
    ],
    "validation_rules": [
        {"object": "Task", "field": "Subject", "contains": "REJECT", "message": "Subjects may not say REJECT"}
    ],
}


def start(directory: Path, clock: ManualClock, scenario: dict[str, Any] | None = None) -> RunningSalesforce:
    """An emulator with SCENARIO (or `scenario`) and the given clock."""
    return start_salesforce(directory, scenario=SCENARIO if scenario is None else scenario, clock=clock)


def client(running: RunningSalesforce) -> Salesforce:
    """simple-salesforce pointed at the emulator as the adapter will be."""
    return Salesforce(
        instance_url=running.url,
        session_id=running.token,
        session=running.requests_session(),
        version=API_VERSION,
    )


class Api:
    """Plain `requests` against /services/data/v59.0/ with the Bearer token."""

    def __init__(self, running: RunningSalesforce, token: str | None = None) -> None:
        self.running = running
        self.session = running.requests_session()
        self.session.headers["Authorization"] = f"Bearer {token or running.token}"
        self.base = f"{running.url}/services/data/v{API_VERSION}/"

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = (
            path
            if path.startswith("https://")
            else (self.running.url + path if path.startswith("/") else self.base + path)
        )
        return self.session.request(method, url, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)
