"""The changes the demo makes between its two sessions, through the services' own APIs: an Event
renamed and a Task added in Salesforce here; a reply from Bob delivered and a meeting moved in the
mailbox by the mailbox kind's own side (`rgsync.demo.kinds`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rgsync.demo.sandbox import API_VERSION, Sandbox


def make_edits(sandbox: Sandbox) -> list[str]:
    """Change data on both sides as a user (or a colleague) would; returns what was done, in words.

    Salesforce (simple-salesforce): rename the down-synced Event and add a Task. Mailbox (through
    its own APIs): deliver a reply from Bob and move the Globex renewal review by an hour.
    """
    from simple_salesforce.api import Salesforce

    keys = sandbox.keys
    scenario = sandbox.scenario
    zone = ZoneInfo(scenario.user.time_zone)
    edits: list[str] = []
    # Typed as Any: simple-salesforce builds `sf.Event`, `sf.Task` … dynamically.
    sf: Any = Salesforce(
        instance_url=sandbox.salesforce.url,
        session_id=sandbox.salesforce.token,
        session=sandbox.salesforce.requests_session(),
        version=API_VERSION,
    )
    if "qbr-prep" in keys:
        old = sf.Event.get(keys["qbr-prep"])
        new_subject = f"{old['Subject']} (moved online)"
        sf.Event.update(keys["qbr-prep"], {"Subject": new_subject, "Location": "Video call"})
        edits.append(f"Salesforce: Event “{old['Subject']}” renamed to “{new_subject}” (simple-salesforce)")
    due = (datetime.now(zone) + timedelta(days=3)).date().isoformat()
    task: dict[str, Any] = {
        "Subject": "Prepare the Globex contract draft",
        "ActivityDate": due,
        "Priority": "High",
        "OwnerId": sandbox.salesforce.user_id,
    }
    if "bob" in keys:
        task["WhoId"] = keys["bob"]
    if "o2" in keys:
        task["WhatId"] = keys["o2"]
    sf.Task.create(task)
    edits.append(f"Salesforce: new Task “{task['Subject']}” due {due} (simple-salesforce)")
    return edits + sandbox.kind.side().edit(sandbox)
