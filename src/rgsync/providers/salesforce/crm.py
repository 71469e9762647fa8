"""`SalesforceCrm`: the Crm protocol (providers/base.py) over simple-salesforce."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from rgsync.credentials import CredentialStore
from rgsync.model import (
    Account,
    ApiUsage,
    ExistingEvent,
    Opportunity,
    OrgInfo,
    Page,
    Person,
    RecordKind,
    Stream,
    Write,
    WriteResult,
)
from rgsync.providers.base import CrmReadOptions, FatalError, SavedEmail, UncertainWrite
from rgsync.providers.salesforce import soql
from rgsync.providers.salesforce.auth import SalesforceConfig, SignIn
from rgsync.providers.salesforce.client import DEFAULT_TIMEOUT, SalesforceClient
from rgsync.providers.salesforce.lookups import Lookups
from rgsync.providers.salesforce.mapping import KEY_FIELD_NAMES, OrgShape
from rgsync.providers.salesforce.reads import ChangeReader
from rgsync.providers.salesforce.writes import Writer

DESCRIBED = ("Task", "Event", "EmailMessage", "Contact", "Lead", "Account")


@dataclass(frozen=True)
class Describe:
    """The parts of an sObject describe rgsync looks at (None-valued when the object is missing)."""

    name: str
    exists: bool
    createable: bool = False
    fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def key_field(self) -> str | None:
        """rgsync's external-id field on this object, if the org has one."""
        for name, spec in self.fields.items():
            if name.lower() in KEY_FIELD_NAMES and spec.get("externalId"):
                return name
        return None


class SalesforceCrm:
    """The user's Salesforce org (see the package docstring for the decisions it makes)."""

    def __init__(
        self,
        config: SalesforceConfig,
        store: CredentialStore,
        *,
        email_mode: str = "auto",
        time_zone: tzinfo = UTC,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.config = config
        self.clock = clock
        self.time_zone = time_zone
        self.client = SalesforceClient(
            config, lambda http: SignIn(config, store, http, timeout), timeout=timeout, clock=clock
        )
        self._org: OrgInfo | None = None
        self.describes: dict[str, Describe] = {}
        self.lookups = Lookups(self.client, self._org_info, self._shape, email_mode)
        self.reader = ChangeReader(self.client, self._known_shape, clock)
        self.writer = Writer(self.client, self.lookups, self._org_info, self._shape)

    # -- org capabilities ----------------------------------------------------------------------------
    def use_org_info(self, info: OrgInfo) -> None:
        """Give the adapter the org info the session keeps (so it need not describe the org again)."""
        self._org = info

    def _org_info(self) -> OrgInfo:
        return self._org if self._org is not None else self.org_info()

    def _shape(self) -> OrgShape:
        org = self._org_info()
        return OrgShape(org.shared_activities, dict(org.external_id_fields), self.time_zone)

    def _known_shape(self) -> OrgShape:
        """The org shape without spending a call: an idle session's read must cost one call."""
        org = self._org
        if org is None:
            return OrgShape(time_zone=self.time_zone)
        return OrgShape(org.shared_activities, dict(org.external_id_fields), self.time_zone)

    def describe(self) -> dict[str, Describe]:
        """Describe the objects rgsync writes, in one Composite call (also used by `rgsync doctor`)."""
        self._describe_with([])
        return self.describes

    def _describe_with(self, extra: list[dict[str, Any]]) -> list[Any]:
        """One Composite call: the describes plus `extra` subrequests; returns the extras' answers."""
        subrequests = [
            {"method": "GET", "url": self.client.data_path(f"sobjects/{name}/describe"), "referenceId": name}
            for name in DESCRIBED
        ]
        answers = self.client.composite(subrequests + extra)
        out: dict[str, Describe] = {}
        for name, answer in zip(DESCRIBED, answers, strict=False):
            if answer.status == 404:
                out[name] = Describe(name, exists=False)
                continue
            if not answer.ok:
                error = answer.error()
                if error.code in ("SF-NOT_FOUND", "SF-NOT-FOUND", "SF-INVALID_TYPE"):
                    out[name] = Describe(name, exists=False)
                    continue
                raise error
            body = answer.body if isinstance(answer.body, dict) else {}
            fields = {str(f.get("name")): f for f in body.get("fields") or [] if isinstance(f, dict)}
            out[name] = Describe(name, exists=True, createable=bool(body.get("createable")), fields=fields)
        self.describes = out
        return answers[len(DESCRIBED) :]

    def _user_query(self) -> str | None:
        """The SOQL finding the signed-in user, when the token or the settings name them."""
        self.client.salesforce()  # signs in when needed, which may tell the user Id
        user_id = self.client.signin.user_id
        if user_id:
            return f"SELECT Id, Email FROM User WHERE Id = {soql.record_id(user_id)}"
        if self.config.username:
            return f"SELECT Id, Email FROM User WHERE Username = {soql.text(self.config.username)}"
        return None

    # -- Crm protocol ------------------------------------------------------------------------------------
    def org_info(self) -> OrgInfo:
        """The user's Id and the org's capabilities: Enhanced Email, Shared Activities, rgsync's key fields.

        One Composite call (describes + the user), plus a userinfo call when neither the token nor
        `salesforce.username` names the user.
        """
        query = self._user_query()
        extra = (
            [{"method": "GET", "url": self.client.query_url(query), "referenceId": "user"}] if query else []
        )
        answers = self._describe_with(extra)
        if query:
            answer = answers[0]
            if not answer.ok:
                raise answer.error()
            rows = list(self.client.more(answer.body or {}))
            if not rows:
                raise FatalError(
                    "Salesforce does not know the configured user",
                    code="SF-CONFIG",
                    advice="check `salesforce.username`, then run `rgsync connect salesforce`",
                )
            user_id, email = str(rows[0]["Id"]), str(rows[0].get("Email") or "")
        else:
            info = self.client.call(lambda sf: sf.oauth2("userinfo")) or {}
            user_id, email = str(info.get("user_id") or ""), str(info.get("email") or "")
        described = self.describes
        email_message = described.get("EmailMessage")
        task = described.get("Task")
        keys = {name: key for name, d in described.items() if d.exists and (key := d.key_field())}
        info_ = OrgInfo(
            user_id=user_id,
            user_email=email.lower(),
            enhanced_email=bool(email_message and email_message.exists and email_message.createable),
            shared_activities=bool(task and "TaskWhoIds" in task.fields),
            external_id_fields=keys,
            fetched_at=self.clock(),
        )
        self._org = info_
        return info_

    def changes(
        self, cursors: Mapping[Stream, str | None], options: CrmReadOptions
    ) -> dict[Stream, list[Page]]:
        """Changes of Events, Tasks and Contacts in scope since each cursor (see reads.py)."""
        return self.reader.changes(cursors, options)

    def people_by_id(self, ids: Collection[str]) -> dict[str, Person]:
        """Contacts and Leads by Id (see `Crm.people_by_id`)."""
        return self.lookups.people_by_id(ids)

    def find_people(self, emails: Collection[str]) -> dict[str, list[Person]]:
        """Contacts and unconverted Leads by email, many addresses per query."""
        return self.lookups.find_people(emails)

    def find_accounts_by_domain(self, domains: Collection[str]) -> dict[str, Account]:
        """An Account whose Website has each domain."""
        return self.lookups.find_accounts_by_domain(domains)

    def accounts_by_id(self, ids: Collection[str]) -> dict[str, Account]:
        """Accounts by Id."""
        return self.lookups.accounts_by_id(ids)

    def opportunities_for(self, account_ids: Collection[str], owner_id: str) -> list[Opportunity]:
        """Opportunities owned by `owner_id` on these Accounts."""
        return self.lookups.opportunities_for(account_ids, owner_id)

    def find_existing(self, kind: RecordKind, keys: Collection[str]) -> dict[str, str]:
        """Ids of records that already carry these natural keys (see lookups.py)."""
        return self.lookups.find_existing(kind, keys)

    def find_meetings(self, keys: Collection[str]) -> dict[str, ExistingEvent]:
        """Events of any owner for these meetings, with the user's edit access."""
        return self.lookups.find_meetings(keys)

    def apply(self, writes: Sequence[Write]) -> list[WriteResult]:
        """Create, update or delete records through sObject Collections (see writes.py).

        After an `UncertainWrite` the email Tasks known to this session are read again at the next
        lookup: the lost answer may have been for Tasks that were saved.
        """
        try:
            return self.writer.apply(writes) if writes else []
        except UncertainWrite:
            self.lookups.forget_email_tasks()
            raise
        finally:
            # People and Accounts written (or perhaps written) are looked up afresh afterwards.
            self.lookups.forget_written({w.kind for w in writes})

    def complete_emails(self, emails: Sequence[SavedEmail]) -> list[WriteResult]:
        """Write the missing sender relations of EmailMessages recovery adopted (see writes.core)."""
        return self.writer.complete_emails(emails) if emails else []

    def usage(self) -> ApiUsage | None:
        """The daily API allocation as of the last response."""
        return self.client.usage()

    def read_allocation(self) -> ApiUsage | None:
        """The org's daily API allocation now, from the `limits` resource (one call): what a fleet
        reads when no session has told it lately (SPEC §11). None when the org reports no
        DailyApiRequests."""
        answer = self.client.call(lambda sf: sf.limits()) or {}
        daily = answer.get("DailyApiRequests") if isinstance(answer, dict) else None
        if not isinstance(daily, dict) or "Max" not in daily:
            return self.client.usage()
        limit = int(daily["Max"])
        return ApiUsage(used=max(0, limit - int(daily.get("Remaining", limit))), limit=limit)

    @property
    def api_calls(self) -> int:
        """HTTP calls made to Salesforce so far."""
        return self.client.api_calls

    def close(self) -> None:
        """Close the HTTP session (the stored token stays for the next run)."""
        self.client.http.close()
