"""The Gmail emulator driven through the real google-api-python-client."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httplib2
import pytest
from googleapiclient.errors import HttpError

from rgsync.sandbox.google import RunningGoogle, start_google
from tests.sandbox.google_harness import Clock, error_json, service

MULTIPART = (
    b"From: =?ISO-8859-1?Q?J=FCrgen_M=FCller?= <juergen@globex.com>\r\n"
    b"To: Ann Lee <ann@acme.com>,\r\n"
    b"  Carol <carol@globex.com>\r\n"
    b"Subject: =?UTF-8?B?UXVvdGUgZsO8ciBHbG9iZXg=?=\r\n"
    b"Date: Tue, 24 Nov 2026 09:30:00 +0100\r\n"
    b"Message-ID: <q1@globex.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="inner"\r\n'
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Gr=C3=BC=C3=9Fe Ann, here's the quote.\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Gr\xc3\xbc\xc3\x9fe Ann, here's the quote.</p>\r\n"
    b"--inner--\r\n"
    b"--outer\r\n"
    b'Content-Type: application/pdf; name="quote.pdf"\r\n'
    b'Content-Disposition: attachment; filename="quote.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"JVBERi0xLjQK\r\n"
    b"--outer--\r\n"
)


def plain(subject: str, day: int, *, sender: str = "bob@globex.com", extra: str = "") -> str:
    return (
        f"From: {sender}\r\nTo: ann@acme.com\r\nSubject: {subject}\r\n"
        f"Date: {day:02d} Nov 2026 12:00:00 +0000\r\n{extra}\r\nBody of {subject}\r\n"
    )


@pytest.fixture(scope="module")
def server() -> Iterator[RunningGoogle]:
    running = start_google()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def google(server: RunningGoogle) -> RunningGoogle:
    server.reset(scenario={"user": {"address": "ann@acme.com"}}, clock=Clock())
    return server


@pytest.fixture
def gmail(google: RunningGoogle) -> Any:
    return service(google, "gmail").users()


def list_all(gmail: Any, **params: Any) -> list[str]:
    ids: list[str] = []
    token = None
    while True:
        page = gmail.messages().list(userId="me", pageToken=token, **params).execute()
        ids += [m["id"] for m in page.get("messages", [])]
        token = page.get("nextPageToken")
        if not token:
            return ids


def test_listing_pages_newest_first_and_respects_max_results(google: RunningGoogle, gmail: Any) -> None:
    ids = [google.state.add_message(plain(f"m{day}", day)) for day in range(1, 8)]
    first = gmail.messages().list(userId="me", maxResults=3).execute()
    assert [m["id"] for m in first["messages"]] == ids[::-1][:3]
    assert first["resultSizeEstimate"] == 7 and "nextPageToken" in first
    assert list_all(gmail, maxResults=3) == ids[::-1]
    assert google.server.calls["gmail.messages.list"] == 1 + 3


def test_label_ids_are_anded_and_spam_trash_hidden_unless_asked(google: RunningGoogle, gmail: Any) -> None:
    both = google.state.add_message(plain("both", 1), ["INBOX", "UNREAD"])
    google.state.add_message(plain("inbox only", 2), ["INBOX"])
    spam = google.state.add_message(plain("spam", 3), ["SPAM"])
    assert list_all(gmail, labelIds=["INBOX", "UNREAD"]) == [both]
    assert spam not in list_all(gmail)
    assert spam in list_all(gmail, includeSpamTrash=True)
    assert list_all(gmail, labelIds=["SPAM"]) == [spam]


def test_query_after_before_in_and_label(google: RunningGoogle, gmail: Any) -> None:
    deals = google.state.gmail.create_label("Deals/Globex")
    old = google.state.add_message(plain("old", 1), ["INBOX"])
    mid = google.state.add_message(plain("mid", 10), ["INBOX", deals])
    new = google.state.add_message(plain("new", 20), ["SENT"])
    epoch = int(datetime(2026, 11, 5, tzinfo=UTC).timestamp())
    assert set(list_all(gmail, q=f"after:{epoch}")) == {mid, new}
    assert list_all(gmail, q=f"before:{epoch}") == [old]
    assert set(list_all(gmail, q="after:2026/11/05 before:2026/11/15")) == {mid}
    assert list_all(gmail, q="in:sent") == [new]
    assert list_all(gmail, q="label:deals-globex") == [mid]
    assert set(list_all(gmail, q="-in:sent")) == {old, mid}


def test_full_format_builds_the_part_tree_with_decoded_headers(google: RunningGoogle, gmail: Any) -> None:
    message_id = google.state.add_message(MULTIPART, ["INBOX"])
    message = gmail.messages().get(userId="me", id=message_id, format="full").execute()
    payload = message["payload"]
    headers = {h["name"]: h["value"] for h in payload["headers"]}
    assert headers["Subject"] == "Quote für Globex"
    assert headers["From"] == "Jürgen Müller <juergen@globex.com>"
    assert headers["To"] == "Ann Lee <ann@acme.com>,  Carol <carol@globex.com>"
    assert payload["partId"] == "" and payload["mimeType"] == "multipart/mixed"
    alternative, attachment = payload["parts"]
    assert [p["partId"] for p in alternative["parts"]] == ["0.0", "0.1"]
    text = alternative["parts"][0]
    assert base64.urlsafe_b64decode(text["body"]["data"]).decode("utf-8") == "Grüße Ann, here's the quote."
    assert attachment["filename"] == "quote.pdf" and "data" not in attachment["body"]
    fetched = (
        gmail.messages()
        .attachments()
        .get(userId="me", messageId=message_id, id=attachment["body"]["attachmentId"])
        .execute()
    )
    assert base64.urlsafe_b64decode(fetched["data"]) == b"%PDF-1.4\n"
    assert message["snippet"] == "Grüße Ann, here&#39;s the quote."
    assert message["internalDate"] == str(int(datetime(2026, 11, 24, 8, 30, tzinfo=UTC).timestamp() * 1000))


def test_raw_format_returns_the_stored_bytes(google: RunningGoogle, gmail: Any) -> None:
    message_id = google.state.add_message(MULTIPART)
    message = gmail.messages().get(userId="me", id=message_id, format="raw").execute()
    assert base64.urlsafe_b64decode(message["raw"]) == MULTIPART
    assert "payload" not in message


def test_metadata_format_keeps_only_the_asked_headers(google: RunningGoogle, gmail: Any) -> None:
    message_id = google.state.add_message(MULTIPART, ["INBOX", "UNREAD"])
    message = (
        gmail.messages()
        .get(userId="me", id=message_id, format="metadata", metadataHeaders=["subject", "Message-ID"])
        .execute()
    )
    assert message["labelIds"] == ["INBOX", "UNREAD"]
    assert message["payload"]["headers"] == [
        {"name": "Subject", "value": "Quote für Globex"},
        {"name": "Message-ID", "value": "<q1@globex.com>"},
    ]
    minimal = gmail.messages().get(userId="me", id=message_id, format="minimal").execute()
    assert set(minimal) == {
        "id",
        "threadId",
        "labelIds",
        "snippet",
        "sizeEstimate",
        "historyId",
        "internalDate",
    }


def test_missing_message_is_404_in_googles_error_shape(gmail: Any) -> None:
    with pytest.raises(HttpError) as caught:
        gmail.messages().get(userId="me", id="deadbeef").execute()
    assert caught.value.resp.status == 404
    error = error_json(caught.value)
    assert error["status"] == "NOT_FOUND" and error["errors"][0]["reason"] == "notFound"
    assert error["message"] == error["errors"][0]["message"] == "Requested entity was not found."


def test_replies_join_the_thread_and_scenario_aliases_name_threads(google: RunningGoogle, gmail: Any) -> None:
    first = google.state.add_message(plain("Hello", 1, extra="Message-ID: <h1@globex.com>\r\n"))
    reply = google.state.add_message(plain("Re: Hello", 2, extra="In-Reply-To: <h1@globex.com>\r\n"))
    assert gmail.messages().get(userId="me", id=reply).execute()["threadId"] == first
    a = google.state.add_message(plain("a", 3), thread_id="t1")
    b = google.state.add_message(plain("b", 4), thread_id="t1")
    assert google.state.gmail.thread_of("t1") == a
    assert gmail.messages().get(userId="me", id=b, format="minimal").execute()["threadId"] == a


def test_labels_system_user_and_duplicate_name_409(google: RunningGoogle, gmail: Any) -> None:
    created = gmail.labels().create(userId="me", body={"name": "Salesforce"}).execute()
    assert created["id"].startswith("Label_") and created["type"] == "user"
    with pytest.raises(HttpError) as caught:
        gmail.labels().create(userId="me", body={"name": "salesforce"}).execute()
    assert caught.value.resp.status == 409
    assert error_json(caught.value)["message"] == "Label name exists or conflicts"
    with pytest.raises(HttpError) as reserved:
        gmail.labels().create(userId="me", body={"name": "INBOX"}).execute()
    assert reserved.value.resp.status == 400
    labels = {label["id"]: label for label in gmail.labels().list(userId="me").execute()["labels"]}
    assert labels["INBOX"]["type"] == "system" and labels[created["id"]]["name"] == "Salesforce"
    google.state.add_message(plain("x", 1), ["INBOX", "UNREAD", created["id"]])
    counted = gmail.labels().get(userId="me", id=created["id"]).execute()
    assert (counted["messagesTotal"], counted["messagesUnread"]) == (1, 1)


def test_modify_and_batch_modify_change_labels(google: RunningGoogle, gmail: Any) -> None:
    label = google.state.gmail.create_label("Salesforce")
    ids = [google.state.add_message(plain(f"m{d}", d), ["INBOX", "UNREAD"]) for d in range(1, 4)]
    changed = (
        gmail.messages()
        .modify(userId="me", id=ids[0], body={"addLabelIds": [label], "removeLabelIds": ["UNREAD"]})
        .execute()
    )
    assert changed["labelIds"] == ["INBOX", label]
    gmail.messages().batchModify(userId="me", body={"ids": ids[1:], "addLabelIds": [label]}).execute()
    assert set(list_all(gmail, labelIds=[label])) == set(ids)
    with pytest.raises(HttpError) as too_many:
        gmail.messages().batchModify(
            userId="me", body={"ids": [str(i) for i in range(1001)], "addLabelIds": [label]}
        ).execute()
    assert too_many.value.resp.status == 400
    with pytest.raises(HttpError) as sent:
        gmail.messages().modify(userId="me", id=ids[0], body={"addLabelIds": ["SENT"]}).execute()
    assert sent.value.resp.status == 400


def test_history_ids_increase_and_records_name_the_change(google: RunningGoogle, gmail: Any) -> None:
    start = int(gmail.getProfile(userId="me").execute()["historyId"])
    added = google.state.add_message(plain("new", 1), ["INBOX", "UNREAD"])
    gmail.messages().modify(userId="me", id=added, body={"removeLabelIds": ["UNREAD"]}).execute()
    google.state.delete_message(added)
    history = gmail.history().list(userId="me", startHistoryId=str(start)).execute()
    records = history["history"]
    ids = [int(r["id"]) for r in records]
    assert ids == sorted(ids) and ids[0] > start and len(set(ids)) == 3
    assert records[0]["messagesAdded"][0]["message"]["id"] == added
    assert records[1]["labelsRemoved"][0]["labelIds"] == ["UNREAD"]
    assert records[2]["messagesDeleted"][0]["message"]["id"] == added
    assert int(history["historyId"]) == ids[-1] == int(gmail.getProfile(userId="me").execute()["historyId"])
    only_added = (
        gmail.history().list(userId="me", startHistoryId=str(start), historyTypes=["messageAdded"]).execute()
    )
    assert [r["id"] for r in only_added["history"]] == [records[0]["id"]]
    assert "history" not in gmail.history().list(userId="me", startHistoryId=str(ids[-1])).execute()


def test_history_pages_with_max_results(google: RunningGoogle, gmail: Any) -> None:
    start = gmail.getProfile(userId="me").execute()["historyId"]
    for day in range(1, 6):
        google.state.add_message(plain(f"m{day}", day))
    first = gmail.history().list(userId="me", startHistoryId=start, maxResults=2).execute()
    second = (
        gmail.history()
        .list(userId="me", startHistoryId=start, maxResults=2, pageToken=first["nextPageToken"])
        .execute()
    )
    assert len(first["history"]) == len(second["history"]) == 2
    assert int(second["history"][0]["id"]) > int(first["history"][-1]["id"])


def test_filtered_history_pages_list_every_match_once(google: RunningGoogle, gmail: Any) -> None:
    """Paging a filtered history (pages end past records the filter skips) loses and repeats
    nothing, and a record written between two pages comes on a later page."""
    start = gmail.getProfile(userId="me").execute()["historyId"]
    ids = [google.state.add_message(plain(f"m{day}", day)) for day in range(1, 8)]
    for mid in ids[::2]:
        google.state.gmail.modify_labels(mid, add=["STARRED"])
    pages, token = [], None
    while True:
        answer = (
            gmail.history()
            .list(userId="me", startHistoryId=start, maxResults=2, labelId="STARRED", pageToken=token)
            .execute()
        )
        pages.append([r["id"] for r in answer.get("history", [])])
        if len(pages) == 1:
            google.state.gmail.modify_labels(ids[1], add=["STARRED"])  # arrives while paging
        token = answer.get("nextPageToken")
        if not token:
            break
    every = gmail.history().list(userId="me", startHistoryId=start, labelId="STARRED").execute()
    assert [i for page in pages for i in page] == [r["id"] for r in every["history"]]
    assert all(len(page) == 2 for page in pages[:-1]) and len(every["history"]) == 5


def test_expired_history_answers_404_so_the_client_resyncs(google: RunningGoogle, gmail: Any) -> None:
    start = gmail.getProfile(userId="me").execute()["historyId"]
    google.state.add_message(plain("a", 1))
    google.state.expire_history()
    with pytest.raises(HttpError) as caught:
        gmail.history().list(userId="me", startHistoryId=start).execute()
    assert caught.value.resp.status == 404
    fresh = gmail.getProfile(userId="me").execute()["historyId"]
    assert "history" not in gmail.history().list(userId="me", startHistoryId=fresh).execute()


def test_insert_adds_a_message_and_a_history_record(google: RunningGoogle, gmail: Any) -> None:
    start = gmail.getProfile(userId="me").execute()["historyId"]
    raw = base64.urlsafe_b64encode(plain("inserted", 3).encode()).decode()
    inserted = gmail.messages().insert(userId="me", body={"raw": raw, "labelIds": ["INBOX"]}).execute()
    assert gmail.getProfile(userId="me").execute()["messagesTotal"] == 1
    history = gmail.history().list(userId="me", startHistoryId=start).execute()["history"]
    assert history[0]["messagesAdded"][0]["message"]["id"] == inserted["id"]


def test_requests_without_a_valid_bearer_token_get_401(google: RunningGoogle) -> None:
    anonymous = service(google, "gmail", token="").users()
    with pytest.raises(HttpError) as caught:
        anonymous.getProfile(userId="me").execute()
    assert caught.value.resp.status == 401
    error = error_json(caught.value)
    assert error["status"] == "UNAUTHENTICATED" and error["errors"][0]["reason"] == "required"
    # A wrong token, sent without the credential refresh AuthorizedHttp would attempt on a 401.
    response, content = httplib2.Http().request(
        google.url + "/gmail/v1/users/me/profile", headers={"Authorization": "Bearer not-the-token"}
    )
    assert response.status == 401 and response["www-authenticate"].startswith("Bearer")
    assert json.loads(content)["error"]["errors"][0]["reason"] == "authError"


def test_fields_selector_trims_the_response(google: RunningGoogle, gmail: Any) -> None:
    google.state.add_message(plain("a", 1))
    page = gmail.messages().list(userId="me", fields="messages(id)").execute()
    assert set(page) == {"messages"} and set(page["messages"][0]) == {"id"}


def test_rate_limit_and_5xx_are_retried_by_the_client(google: RunningGoogle, gmail: Any) -> None:
    google.inject_rate_limit(r"/profile$", times=1)
    google.inject_rate_limit(r"/profile$", times=1, status=403, reason="userRateLimitExceeded")
    google.inject_5xx(r"/profile$", times=1)
    slept: list[float] = []
    google.inject_latency(r"/profile$", seconds=2.5, times=1)
    google.server.sleep = slept.append
    request = gmail.getProfile(userId="me")
    request._sleep = lambda _seconds: None
    assert request.execute(num_retries=3)["emailAddress"] == "ann@acme.com"
    assert google.server.calls["gmail.getProfile"] == 4
    assert slept == [2.5]
