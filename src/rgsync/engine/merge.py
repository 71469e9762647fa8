"""The machinery shared by the three two-way streams (calendar, tasks, contacts).

* `merge_fields`: the field-wise three-way merge. The base is the link's `fields` (values last
  synced); a field changed on one side only reaches the other; a field changed on both sides takes
  the mailbox's value (the Revenue Grid rule, SPEC §4.4, §5, §6.2). A one-way option names the side
  that always wins, so the other side's edits are reverted (SPEC §4.6).
* `pair_changes`: groups what changed on each side by link, and sets apart the unlinked items of
  each side (candidates for creation on the other side).
* Small builders for the link-carrying actions every stream plans.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from rgsync.engine.fields import SyncedItem, fields_of, item_from_fields, typed_changes
from rgsync.engine.types import Action, LinkChange, Plan, SideChanges, Skip, SkipReason, StreamContext
from rgsync.model import (
    ContactItem,
    Create,
    Delete,
    IssueReport,
    Link,
    RecordKind,
    Side,
    Stream,
    TaskItem,
    Update,
    Write,
)


class HasId(Protocol):
    """An item with an id on its own side (every synced record has one)."""

    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=HasId)
R = TypeVar("R", TaskItem, ContactItem)


@dataclass(frozen=True)
class Merge:
    """The outcome of a three-way merge of one linked pair.

    `fields` is the new base (store it in the link); `to_mailbox` / `to_salesforce` are the values
    each side must be given to match it (empty when the side already does); `conflicts` names the
    fields both sides changed to different values.
    """

    fields: dict[str, str]
    to_mailbox: dict[str, str]
    to_salesforce: dict[str, str]
    conflicts: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """True when either side needs a write."""
        return bool(self.to_mailbox or self.to_salesforce)


def merge_fields(
    base: Mapping[str, str],
    mailbox: Mapping[str, str] | None,
    salesforce: Mapping[str, str] | None,
    *,
    keys: Sequence[str],
    authority: Side | None = None,
    salesforce_owned: Collection[str] = (),
) -> Merge:
    """Three-way merge of `keys` between the two sides' current values and the last-synced base.

    `mailbox` / `salesforce` are a side's current values, or None when that side did not change
    this session (its values are then the base). With `authority` None (two-way) a field changed on
    one side only takes that side's value and a field changed on both takes the mailbox's. With
    `authority` set, that side's value always wins and the other side's edits are reverted.
    `salesforce_owned` keys always take the Salesforce value (fields only Salesforce can set).
    A base lacking a key counts as "changed on both sides" for that key.
    """
    merged: dict[str, str] = {}
    to_mailbox: dict[str, str] = {}
    to_salesforce: dict[str, str] = {}
    conflicts: list[str] = []
    for key in keys:
        was = base.get(key)
        mine = mailbox.get(key, was) if mailbox is not None else was
        theirs = salesforce.get(key, was) if salesforce is not None else was
        if mine is None and theirs is None:
            continue  # nobody knows the field: nothing to merge
        winner: str | None
        if key in salesforce_owned or authority is Side.SALESFORCE:
            winner = theirs if theirs is not None else mine
        elif authority is Side.MAILBOX:
            winner = mine if mine is not None else theirs
        elif mine != was and mine is not None:
            winner = mine  # changed in the mailbox: it wins, whatever Salesforce did
            if theirs != was and theirs != mine:
                conflicts.append(key)
        else:
            winner = theirs
        assert winner is not None
        merged[key] = winner
        if mine != winner:
            to_mailbox[key] = winner
        if theirs != winner:
            to_salesforce[key] = winner
    # Keys outside the merge (side-specific bookkeeping) carry over from the base.
    new_base = {**base, **merged}
    return Merge(new_base, to_mailbox, to_salesforce, tuple(conflicts))


@dataclass(frozen=True)
class LinkedPair(Generic[T]):
    """A link touched this session, with what each side reported for it.

    `mailbox` / `salesforce` hold the side's changed item (None if that side did not report it);
    `*_deleted` say the side's item disappeared.
    """

    link: Link
    mailbox: T | None = None
    salesforce: T | None = None
    mailbox_deleted: bool = False
    salesforce_deleted: bool = False


@dataclass(frozen=True)
class Pairing(Generic[T]):
    """Changes of one stream sorted out: touched links, and unlinked items of each side."""

    linked: tuple[LinkedPair[T], ...]
    new_in_mailbox: tuple[T, ...]
    new_in_salesforce: tuple[T, ...]
    # Salesforce ids that disappeared and were never linked: nothing to do, kept for completeness.
    unlinked_salesforce_deletions: tuple[str, ...] = ()


def pair_changes(mailbox: SideChanges[T], salesforce: SideChanges[T], ctx: StreamContext) -> Pairing[T]:
    """Group both sides' changes by link (`ctx.links`, `ctx.links_by_salesforce_id`).

    Order is stable: links in the order their first change appears (mailbox changes, mailbox
    deletions, Salesforce changes, Salesforce deletions); a later report of the same item wins.
    """
    order: list[str] = []  # mailbox ids of touched links
    links: dict[str, Link] = {}
    mb_item: dict[str, T] = {}
    sf_item: dict[str, T] = {}
    mb_gone: set[str] = set()
    sf_gone: set[str] = set()
    new_mb: dict[str, T] = {}
    new_sf: dict[str, T] = {}
    lost_sf: list[str] = []

    def touch(link: Link) -> str:
        if link.mailbox_id not in links:
            links[link.mailbox_id] = link
            order.append(link.mailbox_id)
        return link.mailbox_id

    for item in mailbox.changed:
        link = ctx.links.get(item.id)
        if link is None:
            new_mb[item.id] = item
        else:
            mb_item[touch(link)] = item
    for mailbox_id in mailbox.deleted:
        link = ctx.links.get(mailbox_id)
        if link is None:
            new_mb.pop(mailbox_id, None)
        else:
            mb_gone.add(touch(link))
            mb_item.pop(mailbox_id, None)
    for item in salesforce.changed:
        link = ctx.links_by_salesforce_id.get(item.id)
        if link is None:
            new_sf[item.id] = item
        else:
            sf_item[touch(link)] = item
    for salesforce_id in salesforce.deleted:
        link = ctx.links_by_salesforce_id.get(salesforce_id)
        if link is None:
            new_sf.pop(salesforce_id, None)
            lost_sf.append(salesforce_id)
        else:
            key = touch(link)
            sf_gone.add(key)
            sf_item.pop(key, None)
    pairs = tuple(
        LinkedPair(
            link=links[key],
            mailbox=mb_item.get(key),
            salesforce=sf_item.get(key),
            mailbox_deleted=key in mb_gone,
            salesforce_deleted=key in sf_gone,
        )
        for key in order
    )
    return Pairing(pairs, tuple(new_mb.values()), tuple(new_sf.values()), tuple(lost_sf))


# --------------------------------------------------------------------------------------------
# Action builders


def kept_link(link: Link, fields: Mapping[str, str]) -> LinkChange:
    """The link, kept, with a new base."""
    return LinkChange(
        mailbox_id=link.mailbox_id,
        salesforce_id=link.salesforce_id,
        origin=link.origin,
        fields=dict(fields),
        natural_key=link.natural_key,
    )


def removed_link(link: Link) -> LinkChange:
    """The link, dropped."""
    return LinkChange(
        mailbox_id=link.mailbox_id,
        salesforce_id=link.salesforce_id,
        origin=link.origin,
        fields=dict(link.fields),
        natural_key=link.natural_key,
        remove=True,
    )


def unlink(stream: Stream, side: Side, link: Link, subject: str = "") -> Action:
    """A link-only action: both items stay as they are and stop being kept in step."""
    return Action(stream=stream, side=side, write=None, link=removed_link(link), subject=subject)


def unlink_for_good(stream: Stream, side: Side, link: Link, subject: str, reason: str) -> Action:
    """A link-only action whose mailbox item stays but must never be saved again (`reason`)."""
    change = dataclasses.replace(removed_link(link), do_not_resave=reason)
    return Action(stream=stream, side=side, write=None, link=change, subject=subject)


def write_and_unlink(stream: Stream, side: Side, write: Write, link: Link, subject: str = "") -> Action:
    """A write (typically a delete) that also ends the link once it succeeds."""
    return Action(stream=stream, side=side, write=write, link=removed_link(link), subject=subject)


# --------------------------------------------------------------------------------------------
# Folder streams: tasks and contacts (SPEC §5, §6) follow one pattern


@dataclass(frozen=True)
class FolderStream(Generic[R]):
    """How one down-synced folder stream (tasks, contacts) applies the shared pattern.

    `enabled` is the stream's sync switch; `forbid_remove` its forbid-remove setting. `keys` are
    the base keys that flow both ways; `salesforce_owned` keys only flow down. `out_of_scope`
    says why a Salesforce record is not (or no longer) synced, None when it is; `base_out_of_scope`
    answers the same for a link base when the record itself is not at hand. `natural_key` names a
    new Salesforce record for crash recovery; `refuse_create` reports a mailbox item Salesforce
    would refuse (None when it can be created); `for_salesforce` prepares a mailbox item for
    creation in Salesforce (owner, defaults).
    """

    stream: Stream
    kind: RecordKind
    record_type: type[R]
    enabled: bool
    forbid_remove: bool
    keys: tuple[str, ...]
    out_of_scope: Callable[[R], SkipReason | None]
    base_out_of_scope: Callable[[Mapping[str, str]], bool]
    natural_key: Callable[[R], str]
    refuse_create: Callable[[R], IssueReport | None]
    for_salesforce: Callable[[R], R]
    salesforce_owned: frozenset[str] = frozenset()


def _subject_of(item: SyncedItem) -> str:
    if isinstance(item, ContactItem):
        return f"{item.first_name} {item.last_name}".strip() or item.email
    return item.subject


def _base_subject(base: Mapping[str, str]) -> str:
    if "subject" in base:
        return base["subject"]
    return f"{base.get('first_name', '')} {base.get('last_name', '')}".strip() or base.get("email", "")


def plan_folder_stream(
    spec: FolderStream[R], mailbox: SideChanges[R], salesforce: SideChanges[R], ctx: StreamContext
) -> Plan:
    """Plan one session of a down-synced folder stream (the shared pattern of SPEC §5 and §6).

    * Switch off: every Salesforce-origin item leaves the mailbox; Salesforce keeps its records.
    * Salesforce records in scope and not linked are created in the mailbox folder, tagged.
    * Items the user creates in the folder are created in Salesforce.
    * Linked pairs merge field by field (mailbox wins on conflict).
    * Deleted in the mailbox: forbid-remove on → re-created there (from the record, else from the
      base); off → deleted in Salesforce. Deleted in Salesforce or out of scope → removed from
      the mailbox.
    """
    plan = Plan()
    stream, kind = spec.stream, spec.kind

    def act(side: Side, write: Write | None, link: LinkChange | None, subject: str) -> None:
        plan.actions.append(Action(stream, side, write, link, subject))

    if not spec.enabled:
        already_gone = set(mailbox.deleted)
        for link in ctx.links.values():
            if link.origin is not Side.SALESFORCE:
                continue
            subject = _base_subject(link.fields)
            if link.mailbox_id in already_gone:
                plan.actions.append(unlink(stream, Side.MAILBOX, link, subject))
            else:
                plan.actions.append(
                    write_and_unlink(stream, Side.MAILBOX, Delete(kind, link.mailbox_id), link, subject)
                )
        for item in mailbox.changed:
            if item.id not in ctx.links and item.salesforce_id:
                act(Side.MAILBOX, Delete(kind, item.id), None, _subject_of(item))
        return plan

    pairing = pair_changes(mailbox, salesforce, ctx)
    claimed: set[str] = set()

    for pair in pairing.linked:
        link, base = pair.link, pair.link.fields
        mb, sf = pair.mailbox, pair.salesforce
        present = mb or sf
        subject = _subject_of(present) if present is not None else _base_subject(base)
        salesforce_gone = pair.salesforce_deleted or (sf is not None and spec.out_of_scope(sf) is not None)
        if pair.mailbox_deleted:
            if salesforce_gone or (sf is None and spec.base_out_of_scope(base)):
                plan.actions.append(unlink(stream, Side.MAILBOX, link, subject))
            elif spec.forbid_remove:
                source = (
                    sf if sf is not None else item_from_fields(spec.record_type, base, id=link.salesforce_id)
                )
                record = dataclasses.replace(source, id="", salesforce_id=link.salesforce_id)
                new_base = {**base, **fields_of(source)}
                new_link = LinkChange(
                    "", link.salesforce_id, link.origin, new_base, natural_key=link.natural_key
                )
                act(Side.MAILBOX, Create(kind, link.salesforce_id, record), new_link, subject)
            else:
                plan.actions.append(
                    write_and_unlink(stream, Side.SALESFORCE, Delete(kind, link.salesforce_id), link, subject)
                )
            continue
        if salesforce_gone:
            plan.actions.append(
                write_and_unlink(stream, Side.MAILBOX, Delete(kind, link.mailbox_id), link, subject)
            )
            continue
        merge = merge_fields(
            base,
            fields_of(mb) if mb is not None else None,
            fields_of(sf) if sf is not None else None,
            keys=spec.keys,
            salesforce_owned=spec.salesforce_owned,
        )
        new_link = kept_link(link, merge.fields)
        complete = merge.fields
        if merge.to_salesforce:
            changes = typed_changes(spec.record_type, merge.to_salesforce, complete)
            act(Side.SALESFORCE, Update(kind, link.salesforce_id, changes), new_link, subject)
        if merge.to_mailbox:
            changes = typed_changes(spec.record_type, merge.to_mailbox, complete)
            act(Side.MAILBOX, Update(kind, link.mailbox_id, changes), new_link, subject)
        if not merge.changed and merge.fields != dict(base):
            act(Side.MAILBOX, None, new_link, subject)

    salesforce_new = {item.id: item for item in pairing.new_in_salesforce}
    gone_in_salesforce = set(pairing.unlinked_salesforce_deletions)
    for item in pairing.new_in_mailbox:
        subject = _subject_of(item)
        if item.salesforce_id:
            # Tagged as down-synced but not linked (a crash before the link was recorded).
            counterpart = salesforce_new.get(item.salesforce_id)
            if item.salesforce_id in gone_in_salesforce or (
                counterpart is not None and spec.out_of_scope(counterpart)
            ):
                act(Side.MAILBOX, Delete(kind, item.id), None, subject)
                continue
            claimed.add(item.salesforce_id)
            source = counterpart if counterpart is not None else item
            base = fields_of(source)
            mine = fields_of(item)
            differs = {k: v for k, v in base.items() if mine.get(k) != v}
            write = Update(kind, item.id, typed_changes(spec.record_type, differs, base)) if differs else None
            new_link = LinkChange(
                item.id, item.salesforce_id, Side.SALESFORCE, base, natural_key=item.salesforce_id
            )
            act(Side.MAILBOX, write, new_link, subject)
            continue
        problem = spec.refuse_create(item)
        if problem is not None:
            plan.issues.append(problem)
            plan.skips.append(Skip(stream, item.id, subject, SkipReason.CANNOT_SYNC))
            continue
        record = spec.for_salesforce(item)
        key = spec.natural_key(record)
        new_link = LinkChange(item.id, "", Side.MAILBOX, fields_of(item), natural_key=key)
        act(Side.SALESFORCE, Create(kind, key, record), new_link, subject)

    for item in pairing.new_in_salesforce:
        if item.id in claimed:
            continue
        reason = spec.out_of_scope(item)
        if reason is not None:
            plan.skips.append(Skip(stream, item.id, _subject_of(item), reason))
            continue
        record = dataclasses.replace(item, id="", salesforce_id=item.id)
        new_link = LinkChange("", item.id, Side.SALESFORCE, fields_of(item), natural_key=item.id)
        act(Side.MAILBOX, Create(kind, item.id, record), new_link, _subject_of(item))
    return plan
