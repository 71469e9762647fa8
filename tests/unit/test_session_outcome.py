"""What a session keeps of its skips: every one in a dry run, a bounded sample otherwise (SPEC §10:
memory stays flat as the mailbox grows)."""

from __future__ import annotations

from rgsync.engine.types import Skip, SkipReason
from rgsync.model import Stream
from rgsync.session.outcome import SKIPS_KEPT, SessionResult


def _skips(count: int, start: int = 0) -> list[Skip]:
    return [
        Skip(Stream.EMAILS, f"m{n}", f"subject {n}", SkipReason.INTERNAL) for n in range(start, start + count)
    ]


def test_a_normal_session_keeps_a_bounded_sample_of_skips_whatever_the_mailbox_size() -> None:
    result = SessionResult("completed")
    for chunk in range(5):
        result.note_skips(_skips(SKIPS_KEPT // 2, chunk * SKIPS_KEPT), dry_run=False)
    assert len(result.skips) == SKIPS_KEPT
    # The first ones are kept, in order: the demo and `rgsync save` show those.
    assert result.skips[0].item_id == "m0"


def test_a_dry_run_keeps_every_skip_for_its_listing() -> None:
    result = SessionResult("completed")
    for chunk in range(3):
        result.note_skips(_skips(SKIPS_KEPT, chunk * SKIPS_KEPT), dry_run=True)
    assert [s.item_id for s in result.skips] == [f"m{n}" for n in range(3 * SKIPS_KEPT)]
