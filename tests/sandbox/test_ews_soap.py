"""The EWS emulator on the wire: raw SOAP requests, the EWS schema's response shapes, sign-in,
sync states over a change journal, per-item errors and schema faults."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from rgsync.sandbox.ews import RunningEws, start_ews
from tests.sandbox.ews_soap import EXTENDED_URI, Answer, folder, get_item, post, sync, uri

NOW = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    running = start_ews(clock=lambda: NOW)
    try:
        yield running
    finally:
        running.stop()


def deliver(ews: RunningEws, subject: str) -> str:
    raw = f"From: bob@globex.com\r\nTo: ann@acme.com\r\nSubject: {subject}\r\nMessage-ID: <{subject}@x>\r\n\r\nHi\r\n"
    return ews.state.add_message(raw.encode(), "inbox", received=NOW)


def changes(answer: Answer) -> list[tuple[str, str]]:
    """(change type, item id) of a SyncFolderItems answer."""
    return [
        (
            c.tag.rpartition("}")[2],
            c.xpath(
                ".//t:ItemId/@Id",
                namespaces={"t": "http://schemas.microsoft.com/exchange/services/2006/types"},
            )[0],
        )
        for c in answer.all("//m:Changes/*")
    ]


def test_a_wrong_password_gets_401_with_a_basic_challenge(ews: RunningEws) -> None:
    answer = post(ews, "<m:GetFolder/>", auth=(ews.username, "nope"))
    assert answer.status == 401
    assert ews.calls("GetFolder") == 1  # counted per SOAP operation even when refused


def test_get_folder_answers_one_message_per_folder_in_order(ews: RunningEws) -> None:
    answer = post(
        ews,
        "<m:GetFolder><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape>"
        f'<m:FolderIds>{folder("calendar")}<t:FolderId Id="AQMkNoSuchFolder"/>{folder("inbox")}</m:FolderIds></m:GetFolder>',
    )
    assert answer.status == 200
    assert answer.messages() == [
        ("Success", "NoError"),
        ("Error", "ErrorFolderNotFound"),
        ("Success", "NoError"),
    ]
    assert answer.one("//t:ServerVersionInfo").get("MajorVersion") == "15"
    calendar = answer.one("//m:GetFolderResponseMessage[1]//t:CalendarFolder")
    assert calendar.find(
        "t:FolderId", {"t": "http://schemas.microsoft.com/exchange/services/2006/types"}
    ).get("ChangeKey")
    assert answer.text("//t:CalendarFolder/t:FolderClass") == "IPF.Appointment"
    assert answer.text("//m:GetFolderResponseMessage[3]//t:DisplayName") == "Inbox"


def test_sync_states_page_through_the_journal_honouring_max_changes(ews: RunningEws) -> None:
    ids = [deliver(ews, f"m{n}") for n in range(5)]
    seen: list[str] = []
    state = None
    lasts = []
    for _ in range(3):
        answer = post(ews, sync(folder("inbox"), state=state, limit=2))
        assert answer.messages() == [("Success", "NoError")]
        seen += [item_id for kind, item_id in changes(answer) if kind == "Create"]
        lasts.append(answer.text("//m:IncludesLastItemInRange"))
        state = answer.text("//m:SyncState")
    assert seen == ids and lasts == ["false", "false", "true"]
    answer = post(ews, sync(folder("inbox"), state=state))
    assert changes(answer) == [] and answer.text("//m:IncludesLastItemInRange") == "true"


def test_updates_deletions_and_read_flags_come_as_such_and_short_lived_items_net_out(ews: RunningEws) -> None:
    kept, gone, read = deliver(ews, "kept"), deliver(ews, "gone"), deliver(ews, "read")
    state = post(ews, sync(folder("inbox"))).text("//m:SyncState")
    ews.state.set_categories(kept, ["Salesforce"])
    ews.state.delete_item(gone)
    ews.state.mark_read(read)
    ews.state.delete_item(deliver(ews, "fleeting"))
    answer = post(ews, sync(folder("inbox"), state=state))
    assert changes(answer) == [("Update", kept), ("Delete", gone), ("ReadFlagChange", read)]
    assert answer.text("//t:ReadFlagChange/t:IsRead") == "true"


def test_more_than_512_changes_per_page_is_a_schema_fault(ews: RunningEws) -> None:
    answer = post(ews, sync(folder("inbox"), limit=513))
    assert answer.status == 500
    assert answer.text("//faultcode").endswith("ErrorSchemaValidation")


def test_an_invalidated_sync_state_is_refused_as_invalid_data(ews: RunningEws) -> None:
    state = post(ews, sync(folder("inbox"))).text("//m:SyncState")
    ews.invalidate_sync_states("inbox")
    answer = post(ews, sync(folder("inbox"), state=state))
    assert answer.messages() == [("Error", "ErrorInvalidSyncStateData")]
    assert answer.one("//m:SyncState").text is None  # present, empty, as Exchange sends it
    calendar_state = post(ews, sync(folder("calendar"))).text("//m:SyncState")
    assert post(ews, sync(folder("inbox"), state=calendar_state)).messages() == [
        ("Error", "ErrorInvalidSyncStateData")
    ]


def test_extended_properties_come_back_only_when_asked_for_and_can_be_searched(ews: RunningEws) -> None:
    tagged = ews.state.add_task({"subject": "From Salesforce", "extended": {"rgsync-salesforce-id": "00T1"}})
    ews.state.add_task({"subject": "Mine"})
    plain = post(ews, get_item([tagged], base="AllProperties"))
    assert plain.all("//t:ExtendedProperty") == [] and plain.text("//t:Subject") == "From Salesforce"
    asked = post(ews, get_item([tagged], EXTENDED_URI))
    assert asked.text("//t:ExtendedProperty/t:Value") == "00T1"
    found = post(
        ews,
        f'<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>'
        f'<m:IndexedPageItemView MaxEntriesReturned="10" Offset="0" BasePoint="Beginning"/>'
        f'<m:Restriction><t:IsEqualTo>{EXTENDED_URI}<t:FieldURIOrConstant><t:Constant Value="00T1"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction>'
        f"<m:ParentFolderIds>{folder('tasks')}</m:ParentFolderIds></m:FindItem>",
    )
    assert [i.get("Id") for i in found.all("//t:Items/t:Task/t:ItemId")] == [tagged]
    assert found.one("//m:RootFolder").get("TotalItemsInView") == "1"


def test_calendar_writes_must_say_whether_invitations_go_out_and_are_recorded(ews: RunningEws) -> None:
    start = NOW + timedelta(days=1)
    item = (
        f"<t:CalendarItem><t:Subject>Demo</t:Subject><t:Start>{start:%Y-%m-%dT%H:%M:%SZ}</t:Start>"
        f"<t:End>{start + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}</t:End><t:RequiredAttendees><t:Attendee><t:Mailbox>"
        "<t:EmailAddress>bob@globex.com</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees></t:CalendarItem>"
    )
    target = f"<m:SavedItemFolderId>{folder('calendar')}</m:SavedItemFolderId>"
    refused = post(
        ews, f'<m:CreateItem MessageDisposition="SaveOnly">{target}<m:Items>{item}</m:Items></m:CreateItem>'
    )
    assert refused.messages() == [("Error", "ErrorSendMeetingInvitationsRequired")]
    quiet = post(
        ews,
        f'<m:CreateItem SendMeetingInvitations="SendToNone">{target}<m:Items>{item}</m:Items></m:CreateItem>',
    )
    loud = post(
        ews,
        f'<m:CreateItem SendMeetingInvitations="SendToAllAndSaveCopy">{target}<m:Items>{item}</m:Items></m:CreateItem>',
    )
    assert quiet.messages() == loud.messages() == [("Success", "NoError")]
    assert ews.state.invitation_modes() == [
        ("CreateItem", "SendToNone"),
        ("CreateItem", "SendToAllAndSaveCopy"),
    ]
    assert ews.invitations_sent() == 1
    created = quiet.one("//t:CalendarItem/t:ItemId").get("Id")
    details = post(
        ews,
        get_item([created], uri("calendar:MyResponseType") + uri("calendar:IsMeeting") + uri("calendar:UID")),
    )
    assert details.text("//t:MyResponseType") == "Organizer" and details.text("//t:IsMeeting") == "true"
    assert details.text("//t:UID")


def test_updates_check_change_keys_and_refuse_read_only_properties(ews: RunningEws) -> None:
    task = ews.state.add_task({"subject": "Old"})
    stale = ews.state.items[task].changekey
    ews.state.update_item(task, {"subject": "Changed by the user"})

    def update(conflict: str, field: str, value: str) -> Answer:
        return post(
            ews,
            f'<m:UpdateItem ConflictResolution="{conflict}" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange>'
            f'<t:ItemId Id="{task}" ChangeKey="{stale}"/><t:Updates><t:SetItemField>{uri(field)}'
            f"<t:Task>{value}</t:Task></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>",
        )

    assert update("NeverOverwrite", "item:Subject", "<t:Subject>Mine</t:Subject>").messages() == [
        ("Error", "ErrorIrresolvableConflict")
    ]
    assert update("AlwaysOverwrite", "task:IsComplete", "<t:IsComplete>true</t:IsComplete>").messages() == [
        ("Error", "ErrorInvalidPropertySet")
    ]
    done = update("AlwaysOverwrite", "task:Status", "<t:Status>Completed</t:Status>")
    assert done.messages() == [("Success", "NoError")]
    assert done.one("//t:Task/t:ItemId").get("ChangeKey") == ews.state.items[task].changekey != stale
    assert ews.state.items[task].text("PercentComplete") == "100"


def test_an_operation_the_sandbox_does_not_know_is_a_fault_not_a_crash(ews: RunningEws) -> None:
    answer = post(ews, "<m:ResolveNames><m:UnresolvedEntry>bob</m:UnresolvedEntry></m:ResolveNames>")
    assert answer.status == 500 and answer.text("//faultcode").endswith("ErrorInvalidRequest")
    assert ews.calls("ResolveNames") == 1
