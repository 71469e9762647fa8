"""Graph resources ↔ rgsync's domain records (messages, events, To Do tasks, contacts).

How rgsync marks what it created in the mailbox (SPEC §4.3, §5, §6.2):

* events: a single-value extended property `TAG_PROPERTY` holding the Salesforce Id (what
  `find_tagged` searches with `$filter`), and a `transactionId` 'rgsync-{Salesforce Id}-{nonce}'
  that makes a retried POST idempotent and, because a calendar-view delta returns it while it
  cannot return extended properties, tells the origin of each event read;
* contacts: the same extended property (read back in a batch of GETs, since a contact delta
  cannot expand it);
* To Do tasks: a linked resource with application name 'Salesforce' and the Salesforce Id as
  external id (todoTask has no extended properties; linked resources are the documented way to
  say where a task came from).

Modules: `values` (instants, zones, bodies, addresses, the tag), `messages`, `events` (also how
down-synced events avoid sending invitations), `todo` and `contacts`.
"""

from rgsync.providers.microsoft365.convert.contacts import (
    CONTACT_FIELDS,
    contact_body,
    contact_changes,
    contact_from_graph,
)
from rgsync.providers.microsoft365.convert.events import (
    ATTENDEE_NOTE,
    calendar_item_from_event,
    event_body,
    event_changes,
    salesforce_id_of_transaction,
    strip_attendee_note,
)
from rgsync.providers.microsoft365.convert.messages import (
    MESSAGE_CLASS_PROPERTY,
    MESSAGE_FIELDS,
    email_from_message,
)
from rgsync.providers.microsoft365.convert.todo import (
    TASK_APPLICATION,
    due_date,
    task_from_todo,
    todo_body,
    todo_changes,
)
from rgsync.providers.microsoft365.convert.values import (
    TAG_PROPERTY,
    body_text,
    date_time_zone,
    find_zone,
    local_date,
    parse_date_time_zone,
    parse_instant,
    tag_of,
)

__all__ = [
    "ATTENDEE_NOTE",
    "CONTACT_FIELDS",
    "MESSAGE_CLASS_PROPERTY",
    "MESSAGE_FIELDS",
    "TAG_PROPERTY",
    "TASK_APPLICATION",
    "body_text",
    "calendar_item_from_event",
    "contact_body",
    "contact_changes",
    "contact_from_graph",
    "date_time_zone",
    "due_date",
    "email_from_message",
    "event_body",
    "event_changes",
    "find_zone",
    "local_date",
    "parse_date_time_zone",
    "parse_instant",
    "salesforce_id_of_transaction",
    "strip_attendee_note",
    "tag_of",
    "task_from_todo",
    "todo_body",
    "todo_changes",
]
