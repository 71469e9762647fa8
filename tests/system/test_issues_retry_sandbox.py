"""`rgsync issues retry ID|--all` (SPEC §8) on every mailbox kind, through the real adapters against
the emulators: an email the org refused (a validation rule) stays an open issue that says when it
will be retried; once the admin relaxes the rule, `issues retry` queues it, `issues list` and
`issues show` say it is retried at the next session, and that session saves it once and resolves
the issue.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.system.mailbox_kinds import KINDS, open_kind_box
from tests.system.rule_cases_sandbox import REFUSED_SUBJECT, Box, refused_email_items, scenario_text

REFUSED = REFUSED_SUBJECT
ITEMS = refused_email_items()


def _saved(box: Box, subject: str) -> int:
    return sum(1 for t in box.org.records("Task") if t["Subject"] == f"Email: {subject}")


@pytest.fixture(scope="module", params=KINDS)
def story(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    kind = str(request.param)
    text = scenario_text(f"retry-{kind}", settings={"general.emails": {"save-as": "task"}}, items=ITEMS)
    with open_kind_box(tmp_path_factory.mktemp(f"retry-{kind}") / "sandbox", text, kind) as (box, _hands):
        seen: dict[str, Any] = {"box": box}
        assert box.run().status == "completed"
        code, out = box.cli("issues", "list", "--json")
        assert code == 0, out
        [issue] = [i for i in json.loads(out) if i["code"] == "SF-VALIDATION"]
        seen["issue"] = issue
        seen["saved at first"] = _saved(box, REFUSED)
        box.org.validation_rules.clear()  # the admin relaxes the rule
        seen["retry"] = box.cli("issues", "retry", str(issue["id"]))
        seen["list"] = box.cli("issues", "list")
        seen["show"] = box.cli("issues", "show", str(issue["id"]))
        seen["show json"] = json.loads(box.cli("issues", "show", str(issue["id"]), "--json")[1])
        seen["result"] = box.run()
        seen["saved after retry"] = _saved(box, REFUSED)
        assert box.run().status == "completed"
        seen["saved later"] = _saved(box, REFUSED)
        seen["after"] = json.loads(box.cli("issues", "show", str(issue["id"]), "--json")[1])
        seen["retry resolved"] = box.cli("issues", "retry", str(issue["id"]))
        seen["retry nothing"] = box.cli("issues", "retry")
        seen["accepted"] = _saved(box, "Accepted terms from Bob")
        yield seen


def test_a_refused_email_is_an_issue_that_says_it_waits_for_a_retry(story: dict[str, Any]) -> None:
    """SPEC §7.7, §8: one issue for the refused email, which says how it is retried."""
    assert story["saved at first"] == 0
    assert story["issue"]["item"]["subject"] == REFUSED
    assert (
        story["issue"]["retry"]
        == f"after `rgsync issues retry {story['issue']['id']}`, once the cause is fixed"
    )


def test_issues_retry_queues_the_email_and_list_and_show_say_when(story: dict[str, Any]) -> None:
    """SPEC §8: `issues retry ID` queues the item; list and show name the next session."""
    code, out = story["retry"]
    assert code == 0, out
    assert f"Issue {story['issue']['id']} queued: retried at the next session" in out
    code, out = story["list"]
    assert code == 0 and "retried at the next session" in out, out
    code, out = story["show"]
    assert code == 0 and "Retry: at the next session" in out, out
    assert story["show json"]["retry"].startswith("at the next session")


def test_the_next_session_saves_the_retried_email_once_and_resolves_the_issue(story: dict[str, Any]) -> None:
    """SPEC §7.1, §8: saved once, the issue resolved, nothing queued any more."""
    assert story["result"].status == "completed", story["result"].message
    assert story["saved after retry"] == 1
    assert story["saved later"] == 1
    assert story["after"]["resolved_at"] is not None
    assert story["after"]["retry"] == "resolved; not retried"
    assert story["accepted"] == 1


def test_retry_refuses_a_resolved_issue_and_a_missing_id_with_one_line(story: dict[str, Any]) -> None:
    """SPEC §8: usage errors exit 2 with a line that says what to do."""
    code, out = story["retry resolved"]
    assert code == 2 and "is resolved; nothing to retry" in out, out
    code, out = story["retry nothing"]
    assert code == 2 and "give one issue ID or --all" in out, out
    assert "Traceback" not in out
