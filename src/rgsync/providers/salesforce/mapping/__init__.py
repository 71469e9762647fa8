"""Translation between rgsync's domain records and Salesforce sObject fields (SPEC §3.7, §4–§6).

Reading: Event / Task / Contact rows → CalendarItem / TaskItem / ContactItem.
Writing: domain records and `Update.changes` (domain field names) → sObject field dicts.

Modules (each records the decisions it makes):

* `values` — the org's shape, field limits, value conversions, the people an activity relates to.
* `reading` — Event / Task / Contact rows as domain records.
* `emails` — an email as an email Task or an EmailMessage (and its sender relation).
* `events` — Event creates, updates and invitee relations.
* `tasks` — Task creates and updates.
* `people` — Contacts from the mailbox, the Leads / Contacts / Accounts auto-resolve makes.
"""

from rgsync.providers.salesforce.mapping.emails import (
    email_message,
    email_task,
    header_block,
    plain_body,
    sender_relation,
)
from rgsync.providers.salesforce.mapping.events import event_create, event_invitee, event_update
from rgsync.providers.salesforce.mapping.people import (
    contact_create,
    contact_update,
    new_account,
    new_person,
    website_domain,
)
from rgsync.providers.salesforce.mapping.reading import (
    CONTACT_READ_FIELDS,
    EVENT_READ_FIELDS,
    EVENT_RELATIONS,
    TASK_READ_FIELDS,
    contact_from_record,
    event_from_record,
    event_times,
    message_id_of_description,
    task_from_record,
)
from rgsync.providers.salesforce.mapping.tasks import task_create, task_update
from rgsync.providers.salesforce.mapping.values import (
    CONTACT_PREFIX,
    EMAIL_ADDRESSES_MAX,
    EMAIL_BODY_MAX,
    EMAIL_SUBJECT_MAX,
    KEY_FIELD_NAMES,
    KEY_MAX,
    LEAD_PREFIX,
    MAX_WHO,
    MESSAGE_ID_MAX,
    RGSYNC_KEY_FIELD,
    TASK_DESCRIPTION_MAX,
    TASK_SUBJECT_MAX,
    THREAD_ID_MAX,
    TRUNCATION_MARKER,
    USER_PREFIX,
    OrgShape,
    fit,
    key_value,
    parse_date,
    parse_datetime,
    salesforce_fields,
    salesforce_text,
    sf_datetime,
    who_fields,
    who_list,
)

__all__ = [
    "CONTACT_PREFIX",
    "CONTACT_READ_FIELDS",
    "EMAIL_ADDRESSES_MAX",
    "EMAIL_BODY_MAX",
    "EMAIL_SUBJECT_MAX",
    "EVENT_READ_FIELDS",
    "EVENT_RELATIONS",
    "KEY_FIELD_NAMES",
    "KEY_MAX",
    "LEAD_PREFIX",
    "MAX_WHO",
    "MESSAGE_ID_MAX",
    "RGSYNC_KEY_FIELD",
    "TASK_DESCRIPTION_MAX",
    "TASK_READ_FIELDS",
    "TASK_SUBJECT_MAX",
    "THREAD_ID_MAX",
    "TRUNCATION_MARKER",
    "USER_PREFIX",
    "OrgShape",
    "contact_create",
    "contact_from_record",
    "contact_update",
    "email_message",
    "email_task",
    "event_create",
    "event_from_record",
    "event_invitee",
    "event_times",
    "event_update",
    "fit",
    "header_block",
    "key_value",
    "message_id_of_description",
    "new_account",
    "new_person",
    "parse_date",
    "parse_datetime",
    "plain_body",
    "salesforce_fields",
    "salesforce_text",
    "sender_relation",
    "sf_datetime",
    "task_create",
    "task_from_record",
    "task_update",
    "website_domain",
    "who_fields",
    "who_list",
]
