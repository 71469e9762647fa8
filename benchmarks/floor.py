"""The raw I/O floor of a first session: what any sync must spend, with rgsync's logic taken out.

Through the same client libraries and the same connections the adapters open (the Google API
client, msal + requests for Graph, exchangelib, simple-salesforce), against the same emulators:
list the mailbox's new emails and get each one (no parsing, no conversion), one people lookup per
300 addresses, and ceil(N/200) sObject Collections creates of 200 records of the type the session
saves (a bare EmailMessage, or a Task). A first session cannot do less I/O than this, so its time
divided by the floor's is rgsync's own overhead.

How it is measured, the same way as the session (see `run_benchmarks.py`): `python floor.py KIND
SETTINGS_FILE [SAVE_AS]` is a process of its own, timed from spawn to exit by the runner, so its
interpreter start-up, imports and sign-ins count as the session's do. It prints one JSON line:
`seconds`, the I/O alone (after sign-in, for a breakdown), and `read`, the emails it got. The
runner brackets each first session with two floors (one before, one after) on the same emulators
and rolls the floor's creates back, so both see the same mailbox and org.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from rgsync.providers.salesforce import soql

ADDRESSES_PER_LOOKUP = 300
COLLECTION = 200


def _gmail(mailbox: Any, since: int) -> int:
    from rgsync.providers.google.api import BATCH_SIZE, chunks

    emails = mailbox.emails
    gmail = emails.api.service("gmail")
    ids: list[str] = []
    for label in ("INBOX", "SENT"):
        token = None
        while True:
            request = (
                gmail.users()
                .messages()
                .list(userId="me", labelIds=[label], q=f"after:{since}", maxResults=500, pageToken=token)
            )
            answer = emails.api.execute(request, "list")
            ids += [str(m["id"]) for m in answer.get("messages", [])]
            token = answer.get("nextPageToken")
            if not token:
                break
    # One resource object for every get, as the adapter does: the discovery client builds every
    # method of a resource each time `users().messages()` is called (about 10 ms a call), which
    # once per message made this floor slower than the session it is the floor of.
    messages = gmail.users().messages()
    for group in chunks(ids, BATCH_SIZE):
        requests = {mid: messages.get(userId="me", id=mid, format="raw") for mid in group}
        emails.api.batch("gmail", requests, "get")
    return len(ids)


def _microsoft365(mailbox: Any, since: str) -> int:
    from rgsync.providers.microsoft365 import convert

    count = 0
    for folder in ("inbox", "sentitems"):
        link: str | None = f"{mailbox.prefix}/mailFolders/{folder}/messages/delta"
        params: dict[str, str] | None = {
            "$select": ",".join(convert.MESSAGE_FIELDS),
            "$filter": f"receivedDateTime ge {since}",
        }
        while link:
            page = mailbox.client.call(
                "GET",
                link,
                params=params,
                headers=mailbox._prefer_pages(),
                what="delta",
                kind="messages.delta",
            )
            count += len(page.get("value") or [])
            link, params = page.get("@odata.nextLink"), None
    return count


def _exchange(mailbox: Any) -> int:
    from exchangelib import Message

    from rgsync.providers.exchange import convert
    from rgsync.providers.exchange.access import EMAIL_FOLDERS

    count = 0
    for name, cls, _kind in EMAIL_FOLDERS:
        folder = mailbox.connection.distinguished(cls, name)
        state = None
        while True:
            changes, state, last = mailbox._sync_page(folder, state, Message, ("datetime_received",))
            changed, _deleted = mailbox._split(changes)
            count += len(list(mailbox._fetch(Message, [i.id for i in changed], convert.EMAIL_FIELDS)))
            if last:
                break
    return count


def _record(save_as: str, n: int, i: int, user_id: str) -> dict[str, Any]:
    if save_as == "task":
        return {"attributes": {"type": "Task"}, "Subject": f"floor {n}-{i}", "OwnerId": user_id}
    return {
        "attributes": {"type": "EmailMessage"},
        "Subject": f"floor {n}-{i}",
        "Status": "3",
        "FromAddress": "bob@globex.com",
        "ToAddress": "floor@example.com",
        "MessageDate": "2026-01-01T00:00:00.000+0000",
    }


def _salesforce(crm: Any, emails: int, addresses: list[str], user_id: str, save_as: str) -> int:
    client = crm.client
    calls_before = client.api_calls
    for start in range(0, len(addresses), ADDRESSES_PER_LOOKUP):
        chunk = addresses[start : start + ADDRESSES_PER_LOOKUP]
        client.queries(
            soql.chunked_in_queries(
                lambda values: f"SELECT Id, Email FROM Contact WHERE Email IN {values}", chunk
            )
        )
    for n in range(math.ceil(emails / COLLECTION)):
        size = min(COLLECTION, emails - n * COLLECTION)
        records = [_record(save_as, n, i, user_id) for i in range(size)]
        client.restful("composite/sobjects", method="POST", body={"allOrNone": False, "records": records})
    return int(client.api_calls - calls_before)


def measure_floor(
    kind: str,
    open_mailbox: Callable[[], Any],
    open_crm: Callable[[], Any],
    since: Any,
    addresses: list[str],
    save_as: str = "email-message",
) -> tuple[float, int]:
    """Seconds the floor took and how many emails it read (see the module docstring)."""
    mailbox, crm = open_mailbox(), open_crm()
    try:
        user_id = crm.org_info().user_id  # signing in is not part of the floor's time
        started = time.perf_counter()
        if kind == "gmail":
            read = _gmail(mailbox, int(since.timestamp()))
        elif kind == "microsoft365":
            read = _microsoft365(mailbox, since.strftime("%Y-%m-%dT%H:%M:%SZ"))
        else:
            read = _exchange(mailbox)
        _salesforce(crm, read, addresses, user_id, save_as)
        return time.perf_counter() - started, read
    finally:
        crm.close()
        mailbox.close()


def main() -> None:
    """`python floor.py KIND SETTINGS_FILE [SAVE_AS]`: measure the floor of that sandbox profile in
    this process (apart from the emulators, as the session runs) and print it as JSON."""
    import json
    import os
    import sys
    from datetime import UTC, datetime, timedelta

    from rgsync import registry
    from rgsync.paths import resolve_paths
    from rgsync.settings import load_settings

    os.environ.setdefault("RGSYNC_KEYRING", "file")
    kind, config = sys.argv[1], sys.argv[2]
    save_as = sys.argv[3] if len(sys.argv) > 3 else "email-message"
    paths = resolve_paths(config=config)
    settings = load_settings(paths.settings_file).effective()
    since = datetime.now(UTC) - timedelta(days=int(str(settings.rules["history_days"])))
    seconds, read = measure_floor(
        kind,
        lambda: registry.open_mailbox(settings, paths),
        lambda: registry.open_crm(settings, paths),
        since,
        ["bob@globex.com"],
        save_as,
    )
    print(json.dumps({"seconds": seconds, "read": read}))


if __name__ == "__main__":
    main()
