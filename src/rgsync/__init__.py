"""rgsync: keep a mailbox and a Salesforce org in step, one incremental session at a time."""

import os as _os
import sys as _sys

__version__ = "0.1.0"

# rgsync runs on POSIX systems only (Linux, macOS, BSD): the state store and the credentials file
# are guarded by flock() locks, which readers share and a session holds exclusively, and secrets
# files rely on 0600 permissions. Windows has neither in the same form, so rather than fail later
# with "No module named 'fcntl'", say so once, plainly, when rgsync is loaded.
if _os.name != "posix":
    _sys.stderr.write(
        "rgsync runs on Linux and macOS only (it needs POSIX file locks); "
        "on Windows, install it inside WSL (Windows Subsystem for Linux).\n"
    )
    raise SystemExit(2)
