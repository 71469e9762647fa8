"""In-memory providers that behave like the services, for tests of the engine and the session.

They keep a change journal per stream so cursors are real (a cursor is a journal position); a
cursor can be expired on demand, which forces a full listing exactly as an expired Gmail history id
or Calendar sync token does. Writes echo back as changes at the next read, as real services do.
Failures can be injected per record (`reject`), per call (`fail_calls`), and as a crash after the
N-th accepted write (`crash_after_writes`), which models a process killed after the service
accepted a create but before rgsync recorded it (SPEC §7.1).
"""

from rgsync.providers.memory.common import FailureInjection, SimulatedCrash
from rgsync.providers.memory.crm import MemoryCrm
from rgsync.providers.memory.mailbox import MemoryMailbox

__all__ = ["FailureInjection", "MemoryCrm", "MemoryMailbox", "SimulatedCrash"]
