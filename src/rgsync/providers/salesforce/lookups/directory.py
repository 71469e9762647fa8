"""Batched lookups of people by address, Accounts and Opportunities (SPEC §3.3, §3.5).

Every lookup sends many values per SOQL `IN` list, chunked to stay under the URI limit, and
bundles the chunks into Composite requests of up to five queries (SPEC §3.3, §10).

Answers are kept for the adapter's lifetime (one session): a session reads its mailbox in chunks,
and the same senders, their Accounts and Opportunities come back chunk after chunk, so each is
asked about once. Misses are kept too. Whatever rgsync writes itself drops the answers it could
change (`forget_written`), so a person or Account created mid-session is found by the next lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rgsync.model import Account, Opportunity, OrgInfo, Person, PersonKind, RecordKind
from rgsync.providers.salesforce import soql
from rgsync.providers.salesforce.client import SalesforceClient
from rgsync.providers.salesforce.mapping import OrgShape, parse_date, parse_datetime, website_domain


class DirectoryLookups:
    """People, Accounts and Opportunities, many values per query; the base of `Lookups`."""

    client: SalesforceClient
    org: Callable[[], OrgInfo]
    shape: Callable[[], OrgShape]
    # People addresses seen this session (Id → address), so an EmailMessage can put each
    # person in the right junction list without another query.
    person_emails: dict[str, str]
    # Session-long answers (module docstring); created lazily so subclasses need no extra setup.
    _people_seen: dict[str, list[Person]]
    _accounts_seen: dict[str, Account | None]
    _domains_seen: dict[str, Account | None]
    _opportunities_seen: dict[tuple[str, str], list[Opportunity]]

    def _seen(self, name: str) -> Any:
        cache = self.__dict__.get(name)
        if cache is None:
            cache = self.__dict__[name] = {}
        return cache

    def forget_written(self, kinds: Collection[RecordKind]) -> None:
        """Drop the kept answers that writes of these kinds may have changed (or that an uncertain
        write may have changed): people for Contacts/Leads, Accounts for Accounts."""
        if {RecordKind.CONTACT, RecordKind.LEAD} & set(kinds):
            self.__dict__.pop("_people_seen", None)
        if RecordKind.ACCOUNT in kinds:
            self.__dict__.pop("_accounts_seen", None)
            self.__dict__.pop("_domains_seen", None)
            self.__dict__.pop("_opportunities_seen", None)

    # -- people ---------------------------------------------------------------------------------------
    def find_people(self, emails: Collection[str]) -> dict[str, list[Person]]:
        """Contacts and unconverted Leads by email, many addresses per query (SPEC §3.3); each
        address is asked about once a session (module docstring)."""
        wanted = sorted({e.strip().lower() for e in emails if e and e.strip()})
        if not wanted:
            return {}
        seen: dict[str, list[Person]] = self._seen("_people_seen")
        missing = [a for a in wanted if a not in seen]
        if missing:
            found = self._query_people(missing)
            for address in missing:
                seen[address] = found.get(address, [])
        return {a: list(seen[a]) for a in wanted if seen[a]}

    def _query_people(self, wanted: list[str]) -> dict[str, list[Person]]:
        contact_queries = soql.chunked_in_queries(
            lambda values: (
                f"SELECT Id, Email, FirstName, LastName, AccountId, OwnerId FROM Contact WHERE Email IN {values}"
            ),
            wanted,
        )
        lead_queries = soql.chunked_in_queries(
            lambda values: (
                "SELECT Id, Email, FirstName, LastName, OwnerId FROM Lead "
                f"WHERE IsConverted = false AND Email IN {values}"
            ),
            wanted,
        )
        answers = self.client.queries(contact_queries + lead_queries)
        found: dict[str, list[Person]] = {}
        for n, rows in enumerate(answers):
            kind = PersonKind.CONTACT if n < len(contact_queries) else PersonKind.LEAD
            for row in rows:
                address = str(row.get("Email") or "").lower()
                if address not in wanted:
                    continue
                person = self._person(row, kind, address)
                found.setdefault(address, []).append(person)
        # Contacts first, then Leads (an address found as both links the Contact, SPEC §3.3).
        return {
            k: sorted(v, key=lambda p: (p.kind is not PersonKind.CONTACT, p.id)) for k, v in found.items()
        }

    def people_by_id(self, ids: Collection[str]) -> dict[str, Person]:
        """Contacts and Leads by Id, in batched queries; records without an address are left out."""
        wanted = sorted({i for i in ids if soql.is_id(i)})
        queries: list[str] = []
        kinds: list[PersonKind] = []
        for sobject, prefix, kind, fields in (
            ("Contact", "003", PersonKind.CONTACT, "Id, Email, FirstName, LastName, AccountId, OwnerId"),
            ("Lead", "00Q", PersonKind.LEAD, "Id, Email, FirstName, LastName, OwnerId"),
        ):
            of_type = [i for i in wanted if i.startswith(prefix)]
            if of_type:
                template = f"SELECT {fields} FROM {sobject} WHERE Id IN "
                chunk = soql.chunked_in_queries(template.__add__, of_type, soql.record_id)
                queries += chunk
                kinds += [kind] * len(chunk)
        found: dict[str, Person] = {}
        for kind, rows in zip(kinds, self.client.queries(queries) if queries else [], strict=True):
            for row in rows:
                address = str(row.get("Email") or "").lower()
                if not address:
                    continue
                person = self._person(row, kind, address)
                found[person.id] = person
        return found

    def _person(self, row: Mapping[str, Any], kind: PersonKind, address: str) -> Person:
        """A Contact or Lead row as a Person; its address is remembered for later Id lookups."""
        person = Person(
            id=str(row["Id"]),
            kind=kind,
            email=address,
            first_name=str(row.get("FirstName") or ""),
            last_name=str(row.get("LastName") or ""),
            account_id=str(row.get("AccountId") or "") or None,
            owner_id=str(row.get("OwnerId") or "") or None,
        )
        self.person_emails[person.id] = address
        return person

    def person_addresses(self, ids: Iterable[str]) -> dict[str, str]:
        """Addresses of Contacts/Leads by Id, from this session's lookups or one batched query."""
        ids = list(ids)
        missing = {i for i in ids if soql.is_id(i) and i not in self.person_emails}
        if missing:
            self.people_by_id(missing)  # remembers each address it finds
        return {i: self.person_emails.get(i, "") for i in ids}

    # -- accounts and opportunities -----------------------------------------------------------------------
    def find_accounts_by_domain(self, domains: Collection[str]) -> dict[str, Account]:
        """An Account whose Website has each domain: LIKE in SOQL, the exact domain check here."""
        wanted = sorted({d.strip().lower() for d in domains if d and d.strip()})
        if not wanted:
            return {}
        seen: dict[str, Account | None] = self._seen("_domains_seen")
        missing = [d for d in wanted if d not in seen]
        if missing:
            found = self._query_domains(missing)
            for domain in missing:
                seen[domain] = found.get(domain)
        return {d: account for d in wanted if (account := seen[d]) is not None}

    def _query_domains(self, wanted: list[str]) -> dict[str, Account]:
        queries = soql.chunked_in_queries(
            lambda values: f"SELECT Id, Name, Website FROM Account WHERE {values} ORDER BY Id",
            wanted,
            lambda domain: f"Website LIKE {soql.like(domain)}",
            " OR ",
        )
        found: dict[str, Account] = {}
        for rows in self.client.queries(queries):
            for row in sorted(rows, key=lambda r: str(r["Id"])):
                domain = website_domain(str(row.get("Website") or ""))
                if domain in wanted and domain not in found:
                    found[domain] = Account(
                        str(row["Id"]), str(row.get("Name") or ""), str(row.get("Website") or "")
                    )
        return found

    def accounts_by_id(self, ids: Collection[str]) -> dict[str, Account]:
        """Accounts by Id, each asked about once a session."""
        seen: dict[str, Account | None] = self._seen("_accounts_seen")
        wanted = sorted({i for i in ids if soql.is_id(i) and i not in seen})
        if wanted:
            found = self._query_accounts(wanted)
            for account_id in wanted:
                seen[account_id] = found.get(account_id)
        return {i: account for i in ids if (account := seen.get(i)) is not None}

    def _query_accounts(self, wanted: list[str]) -> dict[str, Account]:
        queries = soql.chunked_in_queries(
            lambda values: f"SELECT Id, Name, Website FROM Account WHERE Id IN {values}",
            wanted,
            soql.record_id,
        )
        out: dict[str, Account] = {}
        for rows in self.client.queries(queries):
            for row in rows:
                account = Account(str(row["Id"]), str(row.get("Name") or ""), str(row.get("Website") or ""))
                out[account.id] = account
                out[account.id[:15]] = account
        return {i: out[i] for i in wanted if i in out}

    def accounts_by_name(self, names: Collection[str]) -> dict[str, str]:
        """Account Ids by name (case-insensitive; the lowest Id when several share a name)."""
        wanted = sorted({n.strip() for n in names if n and n.strip()})
        if not wanted:
            return {}
        queries = soql.chunked_in_queries(
            lambda values: f"SELECT Id, Name FROM Account WHERE Name IN {values} ORDER BY Id", wanted
        )
        out: dict[str, str] = {}
        for rows in self.client.queries(queries):
            for row in rows:
                out.setdefault(str(row.get("Name") or "").casefold(), str(row["Id"]))
        return {name: out[name.casefold()] for name in wanted if name.casefold() in out}

    def opportunities_for(self, account_ids: Collection[str], owner_id: str) -> list[Opportunity]:
        """Opportunities owned by `owner_id` on these Accounts (SPEC §3.5), each Account's asked
        about once a session."""
        wanted = sorted({i for i in account_ids if soql.is_id(i)})
        if not wanted:
            return []
        seen: dict[tuple[str, str], list[Opportunity]] = self._seen("_opportunities_seen")
        missing = [i for i in wanted if (owner_id, i) not in seen]
        if missing:
            by_account: dict[str, list[Opportunity]] = {i: [] for i in missing}
            for opportunity in self._query_opportunities(missing, owner_id):
                key = next((i for i in missing if _same_id(i, opportunity.account_id)), None)
                if key is not None:
                    by_account[key].append(opportunity)
            for account_id, found in by_account.items():
                seen[(owner_id, account_id)] = found
        out: list[Opportunity] = []
        ids: set[str] = set()
        for account_id in wanted:
            for opportunity in seen[(owner_id, account_id)]:
                if opportunity.id not in ids:  # an Account named by its 15- and 18-character Ids
                    ids.add(opportunity.id)
                    out.append(opportunity)
        return out

    def _query_opportunities(self, wanted: list[str], owner_id: str) -> list[Opportunity]:
        owner = soql.record_id(owner_id)
        queries = soql.chunked_in_queries(
            lambda values: (
                "SELECT Id, Name, AccountId, OwnerId, LastModifiedDate, CloseDate FROM Opportunity "
                f"WHERE OwnerId = {owner} AND AccountId IN {values}"
            ),
            wanted,
            soql.record_id,
        )
        out: list[Opportunity] = []
        for rows in self.client.queries(queries):
            for row in rows:
                out.append(
                    Opportunity(
                        id=str(row["Id"]),
                        name=str(row.get("Name") or ""),
                        account_id=str(row.get("AccountId") or "") or None,
                        owner_id=str(row.get("OwnerId") or ""),
                        last_modified=parse_datetime(row.get("LastModifiedDate"))
                        or datetime.min.replace(tzinfo=UTC),
                        close_date=parse_date(row.get("CloseDate")),
                    )
                )
        return out


def _same_id(wanted: str, found: str | None) -> bool:
    """Whether two Salesforce Ids name the same record (15- and 18-character forms)."""
    return bool(found) and wanted[:15] == str(found)[:15]
