"""The Google Calendar API v3 emulator: the user's primary calendar with events, recurring series
(expanded for singleEvents=true, with modified or cancelled instances kept as exceptions), sync
tokens over a change journal, and a log of every `sendUpdates` a write asked for.

Sync tokens: every change stamps the event with the next change number; a token remembers the
number at the start of the listing that produced it, so the next incremental listing returns what
changed after it (deleted events included, as status 'cancelled'). `expire_sync_tokens()` makes
every token handed out so far answer 410, as Google does when a full sync is required.

The package: `records` (the API's limits and enumerations, the stored event), `shaping` (event
JSON in and out), `store` (the calendar, its change journal and series expansion) and `handlers`
(the HTTP methods, events.list included).
"""

from rgsync.sandbox.google.calendar.handlers import routes
from rgsync.sandbox.google.calendar.store import CalendarStore

__all__ = ["CalendarStore", "routes"]
