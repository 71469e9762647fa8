"""The Gmail API v1 emulator: a mailbox of raw RFC 822 messages with labels, threads and a history
journal, answering users.getProfile, messages.*, labels.* and history.list as Gmail does.

History: every change to a message (added, deleted, label added, label removed) is one history
record with the next history id, and the message's `historyId` becomes that id. `expire_history()`
forgets the journal, so any older startHistoryId gets Gmail's 404 and the client must resync fully.

The package: `records` (the system labels, caps, a stored message and a history record), `store`
(the mailbox, its labels and history journal, message resources) and `handlers` (the HTTP methods).
"""

from rgsync.sandbox.google.gmail.handlers import routes
from rgsync.sandbox.google.gmail.store import GmailStore

__all__ = ["GmailStore", "routes"]
