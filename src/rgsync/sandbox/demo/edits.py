"""The changes the demo makes between its two sessions, through the services' own APIs: an Event
renamed and a Task added in Salesforce, a reply from Bob delivered and a meeting moved in the
mailbox."""

from __future__ import annotations

import base64
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

from rgsync.sandbox.demo.readers import _GoogleReader
from rgsync.sandbox.scenario import Scenario
from rgsync.sandbox.serve import API_VERSION, Sandbox


def make_edits(sandbox: Sandbox) -> list[str]:
    """Change data on both sides as a user (or a colleague) would; returns what was done, in words.

    Salesforce (simple-salesforce): rename the down-synced Event and add a Task. Mailbox (Gmail and
    Calendar REST APIs): deliver a reply from Bob and move the Globex renewal review by an hour.
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
    if sandbox.mailbox_kind == "microsoft365":
        from rgsync.sandbox.graph.demo_side import mailbox_edits

        return edits + mailbox_edits(sandbox)
    if sandbox.mailbox_kind == "exchange":
        from rgsync.sandbox.ews.demo import mailbox_edits as ews_edits

        return edits + ews_edits(sandbox)
    google = _GoogleReader(sandbox)
    message = bob_reply(scenario)
    raw = base64.urlsafe_b64encode(message.as_bytes()).decode("ascii")
    google.send("POST", "/gmail/v1/users/me/messages", {"raw": raw, "labelIds": ["INBOX", "UNREAD"]})
    edits.append(f"Gmail: a new email from Bob arrived: “{message['Subject']}” (Gmail API messages.insert)")
    review = next((e for e in scenario.calendar if e.get("key") == "renewal-review"), None)
    if review is not None:
        found = (
            google.get("/calendar/v3/calendars/primary/events", iCalUID=review["iCalUID"]).get("items") or []
        )
        if found:
            event = found[0]
            start = datetime.fromisoformat(event["start"]["dateTime"]) + timedelta(hours=1)
            end = datetime.fromisoformat(event["end"]["dateTime"]) + timedelta(hours=1)
            google.send(
                "PATCH",
                f"/calendar/v3/calendars/primary/events/{event['id']}",
                {
                    "start": {"dateTime": start.isoformat(), "timeZone": scenario.user.time_zone},
                    "end": {"dateTime": end.isoformat(), "timeZone": scenario.user.time_zone},
                    "location": "Globex HQ, room 4.12",
                },
                sendUpdates="none",
            )
            edits.append(
                f"Calendar: “{event.get('summary')}” moved to {start.astimezone(zone):%a %H:%M}, new room (Calendar API events.patch)"
            )
    return edits


def bob_reply(scenario: Scenario) -> EmailMessage:
    """The email the demo delivers between sessions: Bob answers the pricing thread (every mailbox kind)."""
    zone = ZoneInfo(scenario.user.time_zone)
    pricing = next((e for e in scenario.emails if e.key == "pricing"), None)
    message = EmailMessage(policy=SMTP)
    message["From"] = "Bob Baker <bob@globex.com>"
    message["To"] = f"{scenario.user.name} <{scenario.user.address}>"
    message["Subject"] = "Re: Globex renewal: signed order form"
    message["Date"] = format_datetime(datetime.now(zone))
    message["Message-ID"] = f"<demo-{int(time.time() * 1000)}@globex.com>"
    if pricing is not None:
        message["In-Reply-To"] = pricing.message_id
        message["References"] = pricing.message_id
    message.set_content("Hi Ann, the signed order form is attached. Bob")
    return message
