"""The planner's passes over one chunk judge each email and each address once (SPEC §3.1, §3.2, §10).

The session calls `email_lookups` and then `plan_emails` (and auto-resolve in between) with the
same emails; what they need to know about an email or an address must not be worked out anew by
each pass. Counted, never timed.
"""

from __future__ import annotations

import pytest

from rgsync.engine import email_items
from rgsync.engine.blocklist import _sorted_address, forget_addresses
from rgsync.engine.emails import email_lookups, plan_emails
from rgsync.engine.types import ThreadLinks
from tests.unit.world import ctx, directory, email


def test_spec_3_1_each_email_is_checked_for_a_service_message_once_across_the_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emails = [email("bob@globex.com", subject=f"Order {n}") for n in range(12)]
    email_items._service_kind.cache_clear()
    calls: list[str] = []
    original = email_items.service_message_kind

    def counted(*args: object, **kwargs: object) -> str:
        calls.append("call")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(email_items, "service_message_kind", counted)
    context = ctx()
    tracked: dict[str, ThreadLinks] = {}
    needs = email_lookups(emails, context, tracked)
    plan = plan_emails(emails, directory(), context, tracked)
    assert needs.addresses == {"bob@globex.com"}
    assert len(plan.actions) == 12  # every email saved: the memo changed no decision
    assert len(calls) == 12


def test_spec_3_2_each_address_is_sorted_once_across_the_passes() -> None:
    emails = [email("bob@globex.com", cc=("carol@initech.com",), subject=f"Order {n}") for n in range(12)]
    forget_addresses()
    context = ctx()
    tracked: dict[str, ThreadLinks] = {}
    email_lookups(emails, context, tracked)
    plan = plan_emails(emails, directory(), context, tracked)
    assert len(plan.actions) == 12
    # Bob, Ann and Carol, each sorted once however many emails and passes name them.
    assert _sorted_address.cache_info().misses == 3
    forget_addresses()
