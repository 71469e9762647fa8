"""The contacts stream over the People API: the contact group `Salesforce Contacts` (SPEC §6).

`core.GooglePeople` is the stream (its module docstring says how it reads and writes); it is built
from `person` (People resources ↔ ContactItem), `group` (the group and its members), `reading`
(changes with a sync token) and `writing` (batched creates, updates, deletes).
"""

from rgsync.providers.google.people.core import GooglePeople
from rgsync.providers.google.people.group import MEMBERS_LIMIT, PAGE_SIZE
from rgsync.providers.google.people.person import PERSON_FIELDS, TAG
from rgsync.providers.google.people.writing import CREATE_LIMIT, DELETE_LIMIT, GET_LIMIT, UPDATE_LIMIT

__all__ = [
    "CREATE_LIMIT",
    "DELETE_LIMIT",
    "GET_LIMIT",
    "MEMBERS_LIMIT",
    "PAGE_SIZE",
    "PERSON_FIELDS",
    "TAG",
    "UPDATE_LIMIT",
    "GooglePeople",
]
