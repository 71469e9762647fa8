"""Open everything a session needs for a profile, run it, close it (used by `run` and `save`)."""

from __future__ import annotations

from rgsync import registry
from rgsync.paths import Paths
from rgsync.session import RunOptions, SessionResult, SyncSession
from rgsync.session.progress import NO_PROGRESS, ProgressReporter
from rgsync.session.shared import SharedRecords
from rgsync.settings import load_settings
from rgsync.state import StateStore, run_lock, state_location


def run_session(
    paths: Paths,
    options: RunOptions,
    progress: ProgressReporter = NO_PROGRESS,
    shared: SharedRecords | None = None,
) -> SessionResult:
    """Lock the profile, load settings, open the providers and the state, and run one session.

    Raises `LockHeldError` (exit 75) when another run holds the lock and `SettingsError`/`UsageError`
    (exit 2) for settings problems, before anything is touched. `progress` hears how far the
    session has got (the terminal's progress display). `shared` is a fleet's claims on meetings
    and emails colleagues share (`session.shared`); a single user has none.
    """
    settings = load_settings(paths.settings_file, paths.org_policy_file).effective()
    paths.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with run_lock(paths):
        state = StateStore.open(state_location(paths))
        try:
            state.verify()  # never sync on a state that cannot be trusted (exit 1, before any call)
            if state.paused and not options.manual:
                return SessionResult(
                    status="paused", message="rgsync is paused; run `rgsync resume` to sync again"
                )
            mailbox = registry.open_mailbox(settings, paths)
            try:
                crm = registry.open_crm(settings, paths)
                try:
                    return SyncSession(
                        settings,
                        state,
                        mailbox,
                        crm,
                        time_zone=settings.time_zone,
                        progress=progress,
                        shared=shared,
                    ).run(options)
                finally:
                    crm.close()
            finally:
                mailbox.close()
        finally:
            state.close()
