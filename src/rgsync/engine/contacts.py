"""Contacts: the planner rules of SPEC §6.

Which Contacts are in scope (all / mine / a list view) is chosen by the Salesforce query; the
planner down-syncs what it is given into the mailbox folder `Salesforce Contacts` and removes
what left the scope: deletions the session reports, and, under scope `mine`, Contacts whose owner
changed. Contacts the user creates in the folder are created in Salesforce (the Account is found
or created by company name when the write is carried out). Name, email, phones, title,
department, mailing address and notes flow both ways, the mailbox winning conflicts; the company
is the Account's name, so it only flows down. The shared pattern lives in `rgsync.engine.merge`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from rgsync.engine.fields import CONTACT_FIELDS
from rgsync.engine.merge import FolderStream, plan_folder_stream
from rgsync.engine.types import ContactsScope, Plan, SideChanges, SkipReason, StreamContext
from rgsync.model import (
    ContactItem,
    IssueItem,
    IssueReport,
    IssueSource,
    RecordKind,
    Severity,
    Stream,
)

# The company of a synced contact is its Account's name: changing it in the mailbox would mean
# moving the Contact to another Account, which is not a field edit. Salesforce's value stands.
SALESFORCE_OWNED = frozenset({"company"})
REQUIRED_FIELD = "SF-REQUIRED-FIELD"


def contact_out_of_scope(contact: ContactItem, ctx: StreamContext) -> SkipReason | None:
    """Why a Salesforce Contact the query returned is not synced, or None when it is in scope."""
    if ctx.rules.contacts_scope is ContactsScope.MINE and contact.owner_id != ctx.identity.user_id:
        return SkipReason.NOT_OWNER
    return None


def contact_key(contact: ContactItem) -> str:
    """Natural key of a Contact: its email address (as Revenue Grid deduplicates), else its name."""
    email = contact.email.strip().lower()
    if email:
        return email
    return f"name:{contact.first_name.strip()} {contact.last_name.strip()}".strip()


def _refuse_create(contact: ContactItem) -> IssueReport | None:
    """Salesforce requires a last name on a Contact: say so instead of failing the write."""
    if contact.last_name.strip():
        return None
    name = f"{contact.first_name} {contact.last_name}".strip() or contact.email or "(no name)"
    return IssueReport(
        code=REQUIRED_FIELD,
        severity=Severity.WARNING,
        source=IssueSource.MAILBOX,
        message=f"Contact '{name}' has no last name; Salesforce requires one.",
        advice="Add a last name to the contact in the mailbox folder; it is saved at the next session.",
        item=IssueItem(kind="contact", subject=name, mailbox_id=contact.id),
        stream=Stream.CONTACTS,
    )


def _never_out_of_scope(base: Mapping[str, str]) -> bool:
    return False


def plan_contacts(
    mailbox: SideChanges[ContactItem], salesforce: SideChanges[ContactItem], ctx: StreamContext
) -> Plan:
    """Plan one session of the contacts stream (SPEC §6).

    `mailbox` holds the changes of the `Salesforce Contacts` folder; `salesforce` the Contacts the
    scope's query returned (changed ones, and ids deleted or no longer in scope). With
    `sync-salesforce-contacts` off the plan only removes Salesforce-origin contacts from the mailbox.
    """
    user_id = ctx.identity.user_id

    def for_salesforce(contact: ContactItem) -> ContactItem:
        return dataclasses.replace(contact, owner_id=user_id, salesforce_id=None, account_id=None)

    spec = FolderStream(
        stream=Stream.CONTACTS,
        kind=RecordKind.CONTACT,
        record_type=ContactItem,
        enabled=ctx.rules.sync_salesforce_contacts,
        forbid_remove=ctx.rules.contacts_forbid_remove,
        keys=CONTACT_FIELDS,
        out_of_scope=lambda contact: contact_out_of_scope(contact, ctx),
        base_out_of_scope=_never_out_of_scope,
        natural_key=contact_key,
        refuse_create=_refuse_create,
        for_salesforce=for_salesforce,
        salesforce_owned=SALESFORCE_OWNED,
    )
    return plan_folder_stream(spec, mailbox, salesforce, ctx)
