"""The Exchange mailbox (the `Mailbox` protocol) over EWS: incremental reads, batched writes, tags.

Reading. Every stream is read with SyncFolderItems, whose sync state is the cursor, so a session
after nothing changed costs one call per folder: Inbox and Sent Items (emails), Calendar, and the
`Salesforce Tasks` / `Salesforce Contacts` subfolders (found or created once; their ids travel in
the cursor). SyncFolderItems returns ids only; details come from GetItem in batches (emails read
lean, see `light`).

* Emails: a cursor (both folders' sync states) comes with every page, so a session killed in the
  middle of a long listing resumes at the page it had reached — a first listing included, which
  keeps its history window across the resumption.
* Calendar: SyncFolderItems says *which* items changed, but a recurring series is one item there
  (its master) while rgsync syncs occurrence by occurrence (SPEC §4.1). So: a changed single item
  is read with GetItem; a created, changed or deleted series makes the page a full listing of the
  window through CalendarView (occurrences and exceptions, each its own item); a first listing is
  a CalendarView of the window taken after the sync state was drained. The cursor also keeps the
  ids of known series masters (to recognise a deleted series) and the window end already listed:
  when the window moves on by a day, the new days are listed with one CalendarView.
* An invalid sync state (ErrorInvalidSyncStateData) restarts that folder from scratch and marks
  the pages `full` and `reset`; the session diffs the listing against its links (SPEC §7.6).

Writing. Creates, updates and deletes go in batches (one CreateItem/UpdateItem/DeleteItem per 100
items), calendar items always with SendMeetingInvitations / …OrCancellations = SendToNone, every
created item tagged with the Salesforce Id in a named extended property. A create whose answer
was lost (the connection broke) is looked up by that tag before it is sent again.
"""

from __future__ import annotations

from .reads import Reads
from .writes import Writes


class ExchangeMailbox(Reads, Writes):
    """An Exchange on-premises mailbox (Exchange 2016, 2019, Subscription Edition) over EWS.

    Built from an `EwsConnection` (see `open_mailbox`); `sync_page` is MaxChangesReturned (at most
    512), `clock` gives "now" for emails without a date.
    """
