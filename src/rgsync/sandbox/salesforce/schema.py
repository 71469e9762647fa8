"""The emulated org's metadata: which sObjects exist and what their fields are.

Field types use the names the describe call reports (id, string, textarea, email, url, phone,
picklist, combobox, reference, boolean, int, double, currency, percent, date, datetime,
junctionidlist). Only the fields an email/calendar/CRM sync touches are modelled, plus the audit
fields every object has; anything else is "No such column", as on a real org without it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from typing import Any

TEXT_TYPES = frozenset(
    {"string", "textarea", "email", "url", "phone", "picklist", "combobox", "id", "reference"}
)
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})


@dataclass(frozen=True)
class Field:
    """One field's describe metadata.

    `required` means required on create (not nillable, no default); `default` is applied on
    create when the field is absent. `reference_to` lists target object names for references;
    `relationship` is the name used in SOQL paths (`Account` for `AccountId`).
    """

    name: str
    type: str = "string"
    length: int = 0
    label: str = ""
    required: bool = False
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    default: Any = None
    reference_to: tuple[str, ...] = ()
    relationship: str | None = None
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    external_id: bool = False
    id_lookup: bool = False
    unique: bool = False
    case_sensitive: bool = False
    custom: bool = False

    def describe(self) -> dict[str, Any]:
        """This field as the describe call lists it."""
        return {
            "name": self.name,
            "label": self.label or self.name,
            "type": self.type,
            "length": self.length,
            "createable": self.createable,
            "updateable": self.updateable,
            "nillable": self.nillable,
            "defaultedOnCreate": self.default is not None or self.name in _DEFAULTED,
            "defaultValue": self.default,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship,
            "polymorphicForeignKey": len(self.reference_to) > 1,
            "externalId": self.external_id,
            "idLookup": self.id_lookup or self.name == "Id",
            "unique": self.unique,
            "caseSensitive": self.case_sensitive,
            "custom": self.custom,
            "calculated": False,
            "filterable": self.type not in ("textarea", "junctionidlist"),
            "sortable": self.type not in ("textarea", "junctionidlist"),
            "restrictedPicklist": self.restricted,
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": value == self.default,
                    "label": value,
                    "validFor": None,
                    "value": value,
                }
                for value in self.picklist
            ],
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
        }


_DEFAULTED = frozenset(
    {
        "Id",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "LastModifiedById",
        "SystemModstamp",
        "OwnerId",
        "IsDeleted",
    }
)
_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "junctionidlist": "tns:JunctionIdListNames",
}


@dataclass(frozen=True)
class SaveProfile:
    """What every save of one sObject type looks up in its fields, worked out once per type.

    `defaults`: the value each stored field starts with on create; `junctions`: the
    junctionidlist fields (written as relation rows, not stored); `required`: the fields a save
    must not leave empty (booleans aside); `unique`: the fields whose values must be unique.
    """

    defaults: dict[str, Any]
    junctions: frozenset[str]
    required: tuple[Field, ...]
    unique: tuple[Field, ...]


@dataclass
class SObjectType:
    """One sObject type: its name, key prefix, flags and fields (canonical name → Field)."""

    name: str
    key_prefix: str
    label: str
    fields: dict[str, Field] = dataclass_field(default_factory=dict)
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    queryable: bool = True
    replicateable: bool = True
    custom: bool = False

    def __post_init__(self) -> None:
        self._by_lower = {name.lower(): f for name, f in self.fields.items()}
        self._profile: SaveProfile | None = None

    def save_profile(self) -> SaveProfile:
        """The field lists every save needs (see `SaveProfile`), kept until a field is added."""
        profile = self._profile
        if profile is None:
            fields = list(self.fields.values())
            profile = SaveProfile(
                defaults={f.name: f.default for f in fields if f.type != "junctionidlist"},
                junctions=frozenset(f.name for f in fields if f.type == "junctionidlist"),
                required=tuple(
                    f
                    for f in fields
                    if (f.required or (not f.nillable and f.createable)) and f.type != "boolean"
                ),
                unique=tuple(f for f in fields if f.unique and f.name != "Id"),
            )
            self._profile = profile
        return profile

    def field(self, name: str) -> Field | None:
        """The field called `name` (case-insensitive), or None."""
        # Clients mostly write the canonical spelling: found without lower-casing.
        return self.fields.get(name) or self._by_lower.get(name.lower())

    def add_field(self, new: Field) -> None:
        """Add or replace a field (used for custom fields a scenario enables)."""
        self.fields[new.name] = new
        self._by_lower[new.name.lower()] = new
        self._profile = None

    def relationship(self, name: str) -> Field | None:
        """The reference field whose relationship name is `name` (case-insensitive)."""
        lowered = name.lower()
        for candidate in self.fields.values():
            if candidate.relationship and candidate.relationship.lower() == lowered:
                return candidate
        return None

    def describe_global(self, version: str) -> dict[str, Any]:
        """This object's entry in the describeGlobal listing."""
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label + "s",
            "keyPrefix": self.key_prefix,
            "custom": self.custom,
            "createable": self.createable,
            "updateable": self.updateable,
            "deletable": self.deletable,
            "queryable": self.queryable,
            "retrieveable": True,
            "searchable": self.queryable,
            "replicateable": self.replicateable,
            "layoutable": True,
            "triggerable": True,
            "undeletable": self.deletable,
            "mergeable": self.name in ("Account", "Contact", "Lead"),
            "urls": {"sobject": base, "describe": base + "/describe", "rowTemplate": base + "/{ID}"},
        }

    def describe(self, version: str) -> dict[str, Any]:
        """This object as `sobjects/{Type}/describe` reports it."""
        body = self.describe_global(version)
        body["fields"] = [f.describe() for f in self.fields.values()]
        body["childRelationships"] = []
        body["recordTypeInfos"] = []
        return body


# --- field constructors: keep the object table below readable ---------------------------------


def text(name: str, length: int = 255, **kw: Any) -> Field:
    return Field(name, "string", length, **kw)


def area(name: str, length: int = 32000, **kw: Any) -> Field:
    return Field(name, "textarea", length, **kw)


def email(name: str, **kw: Any) -> Field:
    return Field(name, "email", 80, **kw)


def ref(name: str, *targets: str, relationship: str | None = None, **kw: Any) -> Field:
    rel = relationship if relationship is not None else (name[:-2] if name.endswith("Id") else None)
    return Field(name, "reference", 18, reference_to=targets, relationship=rel, **kw)


def pick(name: str, values: Iterable[str], **kw: Any) -> Field:
    return Field(name, "picklist", 255, picklist=tuple(values), **kw)


def flag(name: str, default: bool = False, **kw: Any) -> Field:
    return Field(name, "boolean", 0, default=default, nillable=False, **kw)


def when(name: str, **kw: Any) -> Field:
    return Field(name, "datetime", 0, **kw)


def day(name: str, **kw: Any) -> Field:
    return Field(name, "date", 0, **kw)


def number(name: str, kind: str = "int", **kw: Any) -> Field:
    return Field(name, kind, 0, **kw)


def readonly(f: Field) -> Field:
    return replace(f, createable=False, updateable=False)


def create_only(f: Field) -> Field:
    return replace(f, updateable=False)


def audit_fields() -> list[Field]:
    """Id, IsDeleted and the audit fields every object carries (all read-only)."""
    return [
        Field("Id", "id", 18, createable=False, updateable=False, nillable=False),
        flag("IsDeleted", createable=False, updateable=False),
        readonly(when("CreatedDate", nillable=False)),
        readonly(ref("CreatedById", "User", nillable=False)),
        readonly(when("LastModifiedDate", nillable=False)),
        readonly(ref("LastModifiedById", "User", nillable=False)),
        readonly(when("SystemModstamp", nillable=False)),
    ]


def owner() -> Field:
    return ref("OwnerId", "User", nillable=False)


PEOPLE = ("Contact", "Lead")
WHAT = ("Account", "Opportunity")
TASK_STATUS = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
LEAD_STATUS = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted")
STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)
CLOSED_STAGES = {"Closed Won": True, "Closed Lost": False}
EMAIL_STATUS = ("0", "1", "2", "3", "4", "5")


def _object(name: str, prefix: str, label: str, fields: list[Field], **flags: Any) -> SObjectType:
    all_fields = audit_fields() + fields
    return SObjectType(name, prefix, label, {f.name: f for f in all_fields}, **flags)


def standard_objects() -> dict[str, SObjectType]:
    """A fresh copy of every standard object the emulator knows, keyed by name."""
    objects = [
        _object(
            "User",
            "005",
            "User",
            [
                text("Username", 80, required=True, unique=True, id_lookup=True),
                text("FirstName", 40),
                text("LastName", 80, required=True),
                readonly(text("Name", 121)),
                Field("Email", "email", 128, required=True),
                text("Alias", 8),
                flag("IsActive", default=True),
                text("Title", 80),
                text("CompanyName", 80),
                pick(
                    "TimeZoneSidKey",
                    ("Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles", "GMT"),
                ),
            ],
        ),
        _object(
            "Account",
            "001",
            "Account",
            [
                text("Name", 255, required=True, id_lookup=True),
                Field("Website", "url", 255),
                Field("Phone", "phone", 40),
                pick("Industry", ("Technology", "Manufacturing", "Finance", "Retail", "Other")),
                pick("Type", ("Prospect", "Customer - Direct", "Customer - Channel", "Partner", "Other")),
                text("BillingCity", 40),
                text("BillingCountry", 80),
                area("Description"),
                ref("ParentId", "Account", relationship="Parent"),
                owner(),
            ],
        ),
        _object(
            "Contact",
            "003",
            "Contact",
            [
                text("FirstName", 40),
                text("LastName", 80, required=True),
                readonly(text("Name", 121)),
                pick("Salutation", ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")),
                email("Email"),
                Field("Phone", "phone", 40),
                Field("MobilePhone", "phone", 40),
                text("Title", 128),
                text("Department", 80),
                ref("AccountId", "Account"),
                area("MailingStreet", 255),
                text("MailingCity", 40),
                text("MailingState", 80),
                text("MailingPostalCode", 20),
                text("MailingCountry", 80),
                day("Birthdate"),
                pick("LeadSource", ("Web", "Phone Inquiry", "Partner Referral", "Other")),
                area("Description"),
                owner(),
            ],
        ),
        _object(
            "Lead",
            "00Q",
            "Lead",
            [
                text("FirstName", 40),
                text("LastName", 80, required=True),
                readonly(text("Name", 121)),
                text("Company", 255, required=True),
                email("Email"),
                Field("Phone", "phone", 40),
                text("Title", 128),
                Field("Website", "url", 255),
                pick("Status", LEAD_STATUS, default="Open - Not Contacted", nillable=False),
                pick("LeadSource", ("Web", "Phone Inquiry", "Partner Referral", "Other")),
                area("Description"),
                readonly(flag("IsConverted")),
                readonly(day("ConvertedDate")),
                readonly(ref("ConvertedContactId", "Contact")),
                readonly(ref("ConvertedAccountId", "Account")),
                readonly(ref("ConvertedOpportunityId", "Opportunity")),
                owner(),
            ],
        ),
        _object(
            "Opportunity",
            "006",
            "Opportunity",
            [
                text("Name", 120, required=True),
                ref("AccountId", "Account"),
                pick("StageName", STAGES, required=True, nillable=False),
                day("CloseDate", required=True, nillable=False),
                number("Amount", "currency"),
                number("Probability", "percent"),
                readonly(flag("IsClosed")),
                readonly(flag("IsWon")),
                pick("Type", ("New Business", "Existing Business")),
                area("Description"),
                owner(),
            ],
        ),
        _object(
            "Task",
            "00T",
            "Task",
            [
                Field("Subject", "combobox", 255, picklist=("Call", "Send Letter", "Send Quote", "Other")),
                area("Description"),
                day("ActivityDate"),
                pick("Status", TASK_STATUS, default="Not Started", nillable=False, restricted=True),
                pick("Priority", ("High", "Normal", "Low"), default="Normal", nillable=False),
                ref("WhoId", "Contact", "Lead"),
                ref("WhatId", "Account", "Opportunity"),
                readonly(ref("AccountId", "Account")),
                owner(),
                create_only(
                    pick(
                        "TaskSubtype",
                        ("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"),
                        default="Task",
                        restricted=True,
                    )
                ),
                pick("Type", ("Call", "Email", "Meeting", "Other")),
                readonly(flag("IsClosed")),
                readonly(when("CompletedDateTime")),
                flag("IsReminderSet"),
                when("ReminderDateTime"),
                create_only(flag("IsRecurrence")),
                Field("TaskWhoIds", "junctionidlist", 0, reference_to=PEOPLE),
            ],
        ),
        _object(
            "Event",
            "00U",
            "Event",
            [
                text("Subject", 255),
                area("Description"),
                text("Location", 255),
                when("StartDateTime"),
                when("EndDateTime"),
                when("ActivityDateTime"),
                day("ActivityDate"),
                readonly(day("EndDate")),
                number("DurationInMinutes"),
                flag("IsAllDayEvent"),
                pick("ShowAs", ("Busy", "OutOfOffice", "Free"), default="Busy", restricted=True),
                flag("IsPrivate"),
                ref("WhoId", "Contact", "Lead"),
                ref("WhatId", "Account", "Opportunity"),
                readonly(ref("AccountId", "Account")),
                owner(),
                create_only(pick("EventSubtype", ("Event",), default="Event", restricted=True)),
                pick("Type", ("Call", "Email", "Meeting", "Other")),
                readonly(flag("IsChild")),
                readonly(pick("GroupEventType", ("0", "1", "2"))),
                create_only(flag("IsRecurrence")),
                Field("EventWhoIds", "junctionidlist", 0, reference_to=PEOPLE),
            ],
        ),
        _object(
            "EventRelation",
            "0RE",
            "Event Relation",
            [
                create_only(ref("EventId", "Event", required=True, nillable=False)),
                create_only(
                    ref(
                        "RelationId",
                        "Contact",
                        "Lead",
                        "User",
                        "Account",
                        "Opportunity",
                        required=True,
                        nillable=False,
                    )
                ),
                flag("IsParent"),
                flag("IsInvitee", default=True),
                readonly(flag("IsWhat")),
                pick("Status", ("New", "Accepted", "Declined"), default="New", restricted=True),
                when("RespondedDate"),
                text("Response", 255),
                readonly(ref("AccountId", "Account")),
            ],
        ),
        _object(
            "TaskRelation",
            "0RT",
            "Task Relation",
            [
                create_only(ref("TaskId", "Task", required=True, nillable=False)),
                create_only(
                    ref(
                        "RelationId",
                        "Contact",
                        "Lead",
                        "Account",
                        "Opportunity",
                        required=True,
                        nillable=False,
                    )
                ),
                readonly(flag("IsWhat")),
                readonly(ref("AccountId", "Account")),
            ],
            updateable=False,
        ),
        _object(
            "EmailMessage",
            "02s",
            "Email Message",
            [
                text("Subject", 3000),
                area("HtmlBody", 131072),
                area("TextBody", 131072),
                area("Headers", 32000),
                text("FromAddress", 1000),
                text("FromName", 1000),
                readonly(ref("FromId", "User")),
                text("ToAddress", 4000),
                text("CcAddress", 4000),
                text("BccAddress", 4000),
                Field("ToIds", "junctionidlist", 0, reference_to=("Contact", "Lead", "User")),
                Field("CcIds", "junctionidlist", 0, reference_to=("Contact", "Lead", "User")),
                Field("BccIds", "junctionidlist", 0, reference_to=("Contact", "Lead", "User")),
                when("MessageDate"),
                text("MessageIdentifier", 255, id_lookup=True),
                text("ThreadIdentifier", 765, id_lookup=True),
                text("ClientThreadIdentifier", 255),
                flag("Incoming"),
                ref("RelatedToId", "Account", "Opportunity", relationship="RelatedTo"),
                readonly(ref("ActivityId", "Task")),
                pick("Status", EMAIL_STATUS, required=True, nillable=False, restricted=True),
                flag("IsClientManaged"),
                flag("IsPrivateDraft"),
                flag("IsExternallyVisible"),
                readonly(flag("HasAttachment")),
            ],
        ),
        _object(
            "EmailMessageRelation",
            "0Co",
            "Email Message Relation",
            [
                create_only(ref("EmailMessageId", "EmailMessage", required=True, nillable=False)),
                create_only(ref("RelationId", "Contact", "Lead", "User")),
                create_only(text("RelationAddress", 255)),
                readonly(text("RelationObjectType", 40)),
                create_only(
                    pick(
                        "RelationType",
                        ("ToAddress", "CcAddress", "BccAddress", "FromAddress", "OtherAddress"),
                        required=True,
                        nillable=False,
                        restricted=True,
                    )
                ),
                text("DeliveryResponse", 255),
            ],
            updateable=False,
        ),
        _object(
            "ListView",
            "00B",
            "List View",
            [
                readonly(text("Name", 40)),
                readonly(text("DeveloperName", 80)),
                readonly(text("SobjectType", 40)),
                readonly(when("LastViewedDate")),
            ],
            createable=False,
            updateable=False,
            deletable=False,
            replicateable=False,
        ),
        _object(
            "Organization",
            "00D",
            "Organization",
            [readonly(text("Name", 80)), readonly(text("OrganizationType", 40)), readonly(flag("IsSandbox"))],
            createable=False,
            updateable=False,
            deletable=False,
            replicateable=False,
        ),
    ]
    return {obj.name: obj for obj in objects}


def custom_text_field(
    name: str, *, external_id: bool = True, unique: bool = True, length: int = 255
) -> Field:
    """A custom text field (an External ID, unique, by default) for a scenario to add."""
    if not name.endswith("__c"):
        raise ValueError(f"custom field {name!r} must end with __c")
    return Field(
        name,
        "string",
        length,
        external_id=external_id,
        id_lookup=external_id,
        unique=unique,
        custom=True,
    )
