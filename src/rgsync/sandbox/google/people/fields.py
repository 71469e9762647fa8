"""The People API's vocabulary as the emulator keeps it: which person fields exist and which a
client may update, the batch and page caps, the system contact groups, and the API's error shapes."""

from __future__ import annotations

from rgsync.sandbox.google.common import GoogleApiError

READABLE_FIELDS = (
    "addresses",
    "ageRanges",
    "biographies",
    "birthdays",
    "calendarUrls",
    "clientData",
    "coverPhotos",
    "emailAddresses",
    "events",
    "externalIds",
    "genders",
    "imClients",
    "interests",
    "locales",
    "locations",
    "memberships",
    "metadata",
    "miscKeywords",
    "names",
    "nicknames",
    "occupations",
    "organizations",
    "phoneNumbers",
    "photos",
    "relations",
    "sipAddresses",
    "skills",
    "urls",
    "userDefined",
)
UPDATABLE_FIELDS = frozenset(READABLE_FIELDS) - {"ageRanges", "coverPhotos", "metadata", "photos", "skills"}
PERSON_KEYS = frozenset(READABLE_FIELDS) | {
    "resourceName",
    "etag",
    "ageRange",
    "braggingRights",
    "fileAses",
    "relationshipInterests",
    "relationshipStatuses",
    "residences",
    "taglines",
}
SINGLETON_FIELDS = ("biographies", "birthdays", "genders", "names")
MAX_BATCH_CREATE = 200
MAX_BATCH_UPDATE = 200
MAX_BATCH_DELETE = 500
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_GROUP_CHANGES = 1000
SYSTEM_GROUPS = {
    "myContacts": "My Contacts",
    "starred": "Starred",
    "friends": "Friends",
    "family": "Family",
    "coworkers": "Coworkers",
}
FORMATTED_TYPES = {
    "home": "Home",
    "work": "Work",
    "mobile": "Mobile",
    "main": "Main",
    "other": "Other",
    "homeFax": "Home Fax",
    "workFax": "Work Fax",
    "otherFax": "Other Fax",
    "pager": "Pager",
    "workMobile": "Work Mobile",
    "workPager": "Work Pager",
    "googleVoice": "Google Voice",
}
FIELD_MASK_HELP = "Valid paths are documented at https://developers.google.com/people/api/rest/v1/people/get."
EXPIRED_MESSAGE = "Sync token is expired. Clear local cache and retry call without the sync token."


def invalid_argument(message: str) -> GoogleApiError:
    return GoogleApiError(400, "badRequest", message, status="INVALID_ARGUMENT")


def failed_precondition(message: str, *, info_reason: str | None = None) -> GoogleApiError:
    details = None
    if info_reason is not None:
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": info_reason,
                "domain": "people.googleapis.com",
            }
        ]
    return GoogleApiError(400, "failedPrecondition", message, status="FAILED_PRECONDITION", details=details)


def not_found_error() -> GoogleApiError:
    return GoogleApiError(404, "notFound", "Requested entity was not found.", status="NOT_FOUND")
