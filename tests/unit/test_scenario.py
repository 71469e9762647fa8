"""Scenario files (issue 6): the loader's checks name the file, the line and the field; relative times
resolve against "now"; the converters produce what the emulators load."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from rgsync.demo.scenarios import load_scenario as load_for_command
from rgsync.errors import UsageError
from rgsync.sandbox.scenario import Scenario, ScenarioError, load_scenario
from rgsync.sandbox.scenario_toml import Clock, Positions, describe_path, parse_duration, parse_when

REPO = Path(__file__).resolve().parents[2]
BERLIN = ZoneInfo("Europe/Berlin")
# Saturday 2026-11-28 12:00 in Berlin, as in RULE-CASES.md
NOW = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)

HEAD = """\
[user]
name = "Ann Lee"
address = "ann@acme.com"
aliases = ["a.lee@acme.com"]
time-zone = "Europe/Berlin"
salesforce-user = "ann"

[[org.users]]
key = "ann"
Name = "Ann Lee"
Email = "ann@acme.com"

[[org.accounts]]
key = "globex"
Name = "Globex"
Website = "www.globex.com"

[[org.contacts]]
key = "bob"
LastName = "Baker"
Email = "bob@globex.com"
AccountId = "@globex"
"""


def load(tmp_path: Path, text: str, name: str = "s.toml") -> Scenario:
    file = tmp_path / name
    file.write_text(text, encoding="utf-8")
    return load_scenario(file, now=NOW)


def error_of(tmp_path: Path, text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path, text)
    return caught.value


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in text")


# --- the shipped scenarios ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["demo.toml", "minimal.toml"])
def test_shipped_scenarios_load(name: str) -> None:
    scenario = load_scenario(REPO / "examples" / "scenarios" / name, now=NOW)
    assert scenario.emails and scenario.calendar
    assert scenario.salesforce_scenario()["users"][0]["key"] == scenario.user.salesforce_user


def test_demo_scenario_covers_every_email_rule_case() -> None:
    """SPEC §3: the demo holds blocklisted, free-mail, internal, service, spam, label and thread emails."""
    scenario = load_scenario(REPO / "examples" / "scenarios" / "demo.toml", now=NOW)
    keys = {e.key: e for e in scenario.emails}
    for key in ("dave-weekend", "blocked-offer", "team-lunch", "bounce", "auto-reply", "prize",
                "gus-feedback", "initech-kickoff", "booth-invoice", "rollout", "rollout-reply", "board-minutes"):  # fmt: skip
        assert key in keys, key
    assert "SPAM" in keys["prize"].labels and "INBOX" not in keys["prize"].labels
    assert "multipart/report" in keys["bounce"].raw
    assert "Salesforce" in keys["booth-invoice"].labels
    assert keys["rollout"].thread == keys["rollout-reply"].thread == "rollout"
    kinds = {e.get("key"): e for e in scenario.calendar}
    assert kinds["farewell"]["visibility"] == "private"
    assert "date" in kinds["onsite-workshop"]["start"]
    assert kinds["weekly-standup"]["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=3"]


# --- times relative to now (SPEC: fresh demo data) ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("-3h", datetime(2026, 11, 28, 8, 0, tzinfo=UTC)),
        ("+30m", datetime(2026, 11, 28, 11, 30, tzinfo=UTC)),
        ("today", date(2026, 11, 28)),
        ("-2d", date(2026, 11, 26)),
        ("+1w", date(2026, 12, 5)),
        ("-2d 10:00", datetime(2026, 11, 26, 9, 0, tzinfo=UTC)),  # 10:00 Berlin = 09:00 UTC
        ("+1d 09:00", datetime(2026, 11, 29, 8, 0, tzinfo=UTC)),
        ("today 18:30", datetime(2026, 11, 28, 17, 30, tzinfo=UTC)),
        ("2026-12-01", date(2026, 12, 1)),
        ("2026-12-01T10:00:00Z", datetime(2026, 12, 1, 10, 0, tzinfo=UTC)),
        (datetime(2026, 12, 1, 10, 0), datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),  # TOML local = Berlin
    ],
)
def test_relative_times_resolve_in_the_users_zone(text: object, expected: object) -> None:
    assert parse_when(text, Clock(NOW, BERLIN)) == expected


@pytest.mark.parametrize("text", ["yesterday", "-2h 10:00", "now 10:00", "+1d 25:00", "", "-2x"])
def test_bad_times_are_refused_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match="-2d 10:00"):
        parse_when(text, Clock(NOW, BERLIN))


def test_durations() -> None:
    assert parse_duration("1h30m").total_seconds() == 5400
    assert parse_duration("20d").days == 20
    assert parse_duration(45).total_seconds() == 2700
    with pytest.raises(ValueError, match="45m"):
        parse_duration("an hour")


# --- errors name the file, the line and the field ----------------------------------------------


def test_bad_when_names_file_line_and_field(tmp_path: Path) -> None:
    text = (
        HEAD
        + """
[[mailbox.emails]]
from = "bob@globex.com"
to = ["ann@acme.com"]
when = "-1d 09:00"

[[mailbox.emails]]
from = "bob@globex.com"
to = ["ann@acme.com"]
when = "yesterday"
"""
    )
    problem = error_of(tmp_path, text)
    assert problem.exit_code == 2
    # A command reading the file reports the same line as a usage error (one line, exit 2).
    with pytest.raises(UsageError) as as_command:
        load_for_command(tmp_path / "s.toml")
    assert as_command.value.exit_code == 2 and as_command.value.message == problem.message
    assert str(tmp_path / "s.toml") in problem.message
    assert f"line {line_of(text, 'yesterday')}:" in problem.message
    assert "'when' of the 2nd [[mailbox.emails]]" in problem.message
    assert '"-2d 10:00"' in problem.message


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = HEAD + '\n[[mailbox.emails]]\nsubject = "unterminated\n'
    problem = error_of(tmp_path, text)
    assert f"s.toml line {line_of(text, 'unterminated')}: not valid TOML" in problem.message


def test_unknown_mailbox_field_suggests_the_closest(tmp_path: Path) -> None:
    text = HEAD + '\n[[mailbox.emails]]\nfrom = "bob@globex.com"\nto = ["ann@acme.com"]\nsubjet = "Hi"\n'
    problem = error_of(tmp_path, text)
    assert f"line {line_of(text, 'subjet')}:" in problem.message
    assert "did you mean 'subject'" in problem.message


def test_unknown_salesforce_field_names_the_object(tmp_path: Path) -> None:
    text = HEAD + '\n[[org.contacts]]\nLastName = "Cole"\nEmial = "carol@initech.com"\n'
    problem = error_of(tmp_path, text)
    assert f"line {line_of(text, 'Emial')}:" in problem.message
    assert "'Emial' of the 2nd [[org.contacts]]" in problem.message
    assert "Contact has no field 'Emial' — did you mean 'Email'?" in problem.message


def test_dangling_reference_points_at_its_line(tmp_path: Path) -> None:
    text = (
        HEAD
        + '\n[[org.opportunities]]\nName = "Deal"\nStageName = "Prospecting"\nCloseDate = "+30d"\nAccountId = "@globx"\n'
    )
    problem = error_of(tmp_path, text)
    assert f"line {line_of(text, '@globx')}:" in problem.message
    assert "did you mean 'globex'" in problem.message


def test_missing_required_salesforce_field(tmp_path: Path) -> None:
    text = HEAD + '\n[[org.opportunities]]\nName = "Deal"\nCloseDate = "+30d"\n'
    problem = error_of(tmp_path, text)
    assert f"line {line_of(text, '[[org.opportunities]]')}:" in problem.message
    assert "needs 'StageName'" in problem.message


def test_salesforce_user_must_be_an_org_user(tmp_path: Path) -> None:
    problem = error_of(tmp_path, HEAD.replace('salesforce-user = "ann"', 'salesforce-user = "anne"'))
    assert "line 6:" in problem.message and "did you mean 'ann'" in problem.message


def test_bad_time_zone(tmp_path: Path) -> None:
    problem = error_of(tmp_path, HEAD.replace("Europe/Berlin", "Europe/Berlim"))
    assert "line 5:" in problem.message and "IANA time zone" in problem.message


def test_invitation_needs_a_response(tmp_path: Path) -> None:
    text = (
        HEAD
        + '\n[[mailbox.calendar]]\nsubject = "Roadmap"\norganizer = "bob@globex.com"\nstart = "+1d 10:00"\n'
    )
    problem = error_of(tmp_path, text)
    assert f"line {line_of(text, '[[mailbox.calendar]]')}:" in problem.message
    assert "needs your 'response'" in problem.message


def test_line_after_a_multiline_raw_email_is_found(tmp_path: Path) -> None:
    """The scan skips multi-line strings: a `key = value` inside a raw message is not a field."""
    text = (
        HEAD
        + """
[[mailbox.emails]]
raw = '''
From: bob@globex.com
To: ann@acme.com
Subject: hi
Date: Mon, 2 Nov 2026 10:00:00 +0100
folder = "spam"

Body
'''

[[mailbox.emails]]
from = "bob@globex.com"
to = ["ann@acme.com"]
folder = "attic"
"""
    )
    problem = error_of(tmp_path, text)
    assert f"line {line_of(text, 'attic')}:" in problem.message
    assert "unknown folder 'attic'" in problem.message


def test_sandbox_owned_settings_tables_are_refused(tmp_path: Path) -> None:
    problem = error_of(tmp_path, HEAD + '\n[settings.mailbox]\nprovider = "gmail"\n')
    assert "the sandbox writes [mailbox] itself" in problem.message


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no scenario file at"):
        load_scenario(tmp_path / "nope.toml")


def test_positions_follow_arrays_of_tables_and_sub_tables() -> None:
    text = "[a]\nx = 1\n[[b.c]]\ny = 2\n[[b.c]]\ny = 3\n[b.c.d]\nz = [\n  1,\n  2,\n]\nw = 4\n"
    positions = Positions(text)
    assert positions.line_of(("a", "x")) == 2
    assert positions.line_of(("b", "c", 1, "y")) == 6
    assert positions.line_of(("b", "c", 1, "d", "z", 1)) == 8  # list items fall back to their key
    assert positions.line_of(("b", "c", 1, "d", "w")) == 12


def test_describe_path() -> None:
    assert describe_path(("mailbox", "emails", 0, "when")) == "'when' of the 1st [[mailbox.emails]]"
    assert describe_path(("org", "contacts", 21)) == "the 22nd [[org.contacts]]"
    assert describe_path(("user", "address")) == "'address' in [user]"
    assert (
        describe_path(("mailbox", "calendar", 2, "attendees", 1))
        == "'attendees[1]' of the 3rd [[mailbox.calendar]]"
    )


# --- what the emulators receive ----------------------------------------------------------------


def test_built_email_is_rfc822_with_users_time_and_thread(tmp_path: Path) -> None:
    scenario = load(
        tmp_path,
        HEAD
        + """
[[mailbox.emails]]
key = "first"
thread = "t1"
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
subject = "Pricing"
when = "-1d 09:15"
headers = { "Auto-Submitted" = "auto-replied" }
body = "Hello"

[[mailbox.emails]]
thread = "t1"
from = "a.lee@acme.com"
to = ["bob@globex.com"]
subject = "Re: Pricing"
""",
    )
    first, reply = scenario.emails
    parsed = email.message_from_string(first.raw, policy=email.policy.default)
    assert parsed["From"] == "Bob Baker <bob@globex.com>"
    assert parsed["Date"] == "Fri, 27 Nov 2026 09:15:00 +0100"
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed.get_content().strip() == "Hello"
    assert first.labels == ("INBOX",)
    assert reply.labels == ("SENT",)  # the user's alias sent it
    assert email.message_from_string(reply.raw)["In-Reply-To"] == first.message_id
    messages = scenario.google_scenario()["messages"]
    assert messages[0]["thread"] == "t1" and messages[0]["internalDate"] == int(
        first.sent_at.timestamp() * 1000
    )


def test_raw_email_gets_the_scenario_date(tmp_path: Path) -> None:
    scenario = load(
        tmp_path,
        HEAD
        + """
[[mailbox.emails]]
when = "-1d 11:41"
raw = '''
From: MAILER-DAEMON@acme.com
To: ann@acme.com
Subject: Undelivered
Date: Mon, 2 Nov 2026 10:00:00 +0100
Content-Type: text/plain

Bounce.
'''
""",
    )
    raw = scenario.emails[0].raw
    assert "Date: Fri, 27 Nov 2026 11:41:00 +0100" in raw and "2 Nov 2026" not in raw
    assert raw.count("\r\n") > 3 and "\n" not in raw.replace("\r\n", "")


def test_calendar_items_in_google_shape(tmp_path: Path) -> None:
    scenario = load(
        tmp_path,
        HEAD
        + """
[[mailbox.calendar]]
subject = "Review"
start = "+1d 10:00"
duration = "90m"
attendees = ["bob@globex.com", {address = "carol@initech.com", response = "declined"}]

[[mailbox.calendar]]
subject = "Roadmap"
organizer = "Bob Baker <bob@globex.com>"
response = "tentative"
start = "+2d 15:00"

[[mailbox.calendar]]
subject = "Fair"
start = "+10d"
duration = "20d"
attendees = ["bob@globex.com"]
""",
    )
    review, roadmap, fair = scenario.google_scenario()["events"]
    assert "key" not in review
    assert review["start"] == {"dateTime": "2026-11-29T10:00:00+01:00", "timeZone": "Europe/Berlin"}
    assert review["end"]["dateTime"] == "2026-11-29T11:30:00+01:00"
    assert review["attendees"][0] == {
        "email": "ann@acme.com",
        "displayName": "Ann Lee",
        "organizer": True,
        "responseStatus": "accepted",
        "self": True,
    }
    assert {a["email"]: a["responseStatus"] for a in review["attendees"]}["carol@initech.com"] == "declined"
    mine = [a for a in roadmap["attendees"] if a.get("self")]
    assert mine == [
        {"email": "ann@acme.com", "displayName": "Ann Lee", "self": True, "responseStatus": "tentative"}
    ]
    assert roadmap["organizer"] == {"email": "bob@globex.com", "displayName": "Bob Baker"}
    assert fair["start"] == {"date": "2026-12-08"} and fair["end"] == {"date": "2026-12-28"}


def test_salesforce_records_in_wire_format(tmp_path: Path) -> None:
    scenario = load(
        tmp_path,
        HEAD
        + """
[[org.users]]
key = "frank"
Name = "Frank Fox"
Email = "frank@acme.com"

[[org.events]]
Subject = "QBR prep"
StartDateTime = "+1d 14:00"
WhoId = "@bob"

[[org.tasks]]
Subject = "Call Bob"
ActivityDate = "+2d"
OwnerId = "@frank"
""",
    )
    data = scenario.salesforce_scenario()
    assert [u["key"] for u in data["users"]] == ["ann", "frank"]
    event = data["records"]["Event"][0]
    assert event["StartDateTime"] == "2026-11-29T13:00:00.000+0000"
    assert event["EndDateTime"] == "2026-11-29T14:00:00.000+0000"  # an hour unless said otherwise
    assert event["OwnerId"] == "@ann"  # the scenario user owns what names no owner
    task = data["records"]["Task"][0]
    assert task["ActivityDate"] == "2026-11-30" and task["OwnerId"] == "@frank"


def test_custom_fields_become_external_ids_records_may_set(tmp_path: Path) -> None:
    scenario = load(
        tmp_path,
        HEAD
        + """
[[org.custom-fields]]
object = "event"
name = "Rgsync_Key__c"

[[org.events]]
Subject = "QBR prep"
StartDateTime = "+1d 14:00"
Rgsync_Key__c = "qbr-1"
""",
    )
    data = scenario.salesforce_scenario()
    assert data["org"]["external_id_fields"] == {"Event": [{"name": "Rgsync_Key__c", "external_id": True}]}
    assert data["records"]["Event"][0]["Rgsync_Key__c"] == "qbr-1"


def test_a_custom_field_needs_the_custom_suffix(tmp_path: Path) -> None:
    text = HEAD + '\n[[org.custom-fields]]\nobject = "Event"\nname = "RgsyncKey"\n'
    problem = error_of(tmp_path, text)
    assert f"line {line_of(text, 'RgsyncKey')}:" in problem.message and "end in __c" in problem.message
