"""Internationalised domains in the blocklist, the org policy and `internal-domains` (SPEC §3.2):
a Unicode, punycode or mixed-case spelling of one domain is one domain, wherever it appears (From,
To, Cc, attendee) and whichever layer lists it. Through the real CLI, a real mailbox adapter and
the Salesforce adapter against the sandbox emulators.

The mail headers carry both spellings real mail carries: raw UTF-8 (SMTPUTF8) and punycode.
Exchange Server does not take SMTPUTF8 mail, so an on-premises mailbox only ever sees the
punycode spelling in headers (attendees keep their Unicode spelling there too).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rgsync.demo.sandbox import Sandbox, start_sandbox
from rgsync.sandbox.scenario import parse_scenario
from tests.system.cli_support import CliResult, invoke

# Bücher.example (user layer), Müller.example (org layer), Tëam.example (internal domain).
BUECHER, MUELLER, TEAM = "xn--bcher-kva.example", "xn--mller-kva.example", "xn--tam-jma.example"

SCENARIO = """
[scenario]
name = "idn"

[user]
name = "Sam Sales"
address = "sam@example.com"
time-zone = "UTC"
salesforce-user = "sam"

[settings.general.emails]
auto-resolve = "lead"      # an unknown outsider becomes a Lead: only the blocklist holds mail back

[[org.users]]
key = "sam"
Name = "Sam Sales"
Email = "sam@example.com"

[[mailbox.emails]]
key = "from-unicode"
when = "-1d 09:00"
raw = '''
From: Eve <eve@BÜCHER.example>
To: sam@example.com
Subject: From a Unicode domain
Message-ID: <from-unicode@example.org>
Content-Type: text/plain; charset=utf-8

private
'''

[[mailbox.emails]]
key = "to-punycode"
from = "sam@example.com"
to = ["Eve <eve@XN--BCHER-KVA.Example>"]
subject = "To a punycode domain"
when = "-1d 10:00"
body = "private"

[[mailbox.emails]]
key = "cc-unicode"
when = "-1d 11:00"
raw = '''
From: sam@example.com
To: tom@example.com
Cc: Eve <Eve@Bücher.Example>
Subject: Cc to a Unicode domain
Message-ID: <cc-unicode@example.com>
Content-Type: text/plain; charset=utf-8

private
'''

[[mailbox.emails]]
key = "org-layer"
from = "Kai <kai@xn--MLLER-kva.example>"
to = ["sam@example.com"]
subject = "From a domain the org blocks"
when = "-1d 12:00"
body = "private"

[[mailbox.emails]]
key = "org-address"
when = "-1d 12:30"
raw = '''
From: Zoe <ZOE@Café.example>
To: sam@example.com
Subject: From an address the org blocks
Message-ID: <org-address@example.org>
Content-Type: text/plain; charset=utf-8

private
'''

[[mailbox.emails]]
key = "colleague"
from = "Ines <ines@XN--TAM-JMA.EXAMPLE>"
to = ["sam@example.com"]
subject = "From a colleague at an internal domain"
when = "-1d 13:00"
body = "internal"

[[mailbox.emails]]
key = "control"
when = "-1d 14:00"
raw = '''
From: Olaf <olaf@Bücher-frei.example>
To: sam@example.com
Subject: From a domain nobody blocks
Message-ID: <control@example.org>
Content-Type: text/plain; charset=utf-8

business
'''

[[mailbox.calendar]]
key = "attendee"
subject = "Meeting with a blocked attendee"
start = "-1d 15:00"
duration = "30m"
attendees = ["eve@bücher.example"]

[[mailbox.calendar]]
key = "attendee-org"
subject = "Meeting with an org-blocked attendee"
start = "-1d 16:00"
duration = "30m"
attendees = ["kai@Müller.EXAMPLE"]
"""

BLOCKED = {
    "From a Unicode domain": "blocklisted",
    "To a punycode domain": "blocklisted",
    "Cc to a Unicode domain": "blocklisted",  # Tom is a colleague; Eve, the one outsider, is blocked
    "From a domain the org blocks": "blocklisted",
    "From an address the org blocks": "blocklisted",
    "From a colleague at an internal domain": "internal",
    "Meeting with a blocked attendee": "blocklisted",
    "Meeting with an org-blocked attendee": "blocklisted",
}


# What an Exchange Server transport hands over instead of raw UTF-8 headers.
PUNYCODE_HEADERS = {
    "eve@BÜCHER.example": "eve@XN--bcher-KVA.example",
    "Eve@Bücher.Example": "Eve@xn--BCHER-kva.Example",
    "ZOE@Café.example": "ZOE@XN--CAF-DMA.example",
    "olaf@Bücher-frei.example": "olaf@xn--bcher-frei-9db.example",
}


def scenario_for(kind: str) -> str:
    """The scenario as the mail service of `kind` would deliver it."""
    if kind != "exchange":
        return SCENARIO
    text = SCENARIO
    for unicode_form, ascii_form in PUNYCODE_HEADERS.items():
        text = text.replace(unicode_form, ascii_form)
    return text


@pytest.fixture(params=["gmail", "microsoft365", "exchange"])
def sandbox(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Sandbox, Path]]:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    monkeypatch.delenv("RGSYNC_STATE_DIR", raising=False)
    policy = tmp_path / "policy.toml"
    # The org layer spells its entries in Unicode and mixed case.
    policy.write_text(
        '[blocklist]\ndomains = ["MÜLLER.example"]\naddresses = ["Zoe@CAFÉ.Example"]\n', encoding="utf-8"
    )
    with start_sandbox(
        parse_scenario(scenario_for(request.param)), tmp_path / "sbx", mailbox=request.param
    ) as running:
        yield running, policy


def _cli(capsys: pytest.CaptureFixture[str], sandbox: Sandbox, policy: Path, *argv: str) -> CliResult:
    return invoke(capsys, "--config", str(sandbox.settings_file), "--org-policy", str(policy), *argv)


def test_spec_3_2_one_idn_domain_in_any_spelling_is_blocked_in_every_position_and_layer(
    sandbox: tuple[Sandbox, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    running, policy = sandbox
    # The user's layer in punycode (upper case), internal domains in Unicode.
    added = _cli(capsys, running, policy, "blocklist", "add", "XN--BCHER-KVA.example")
    assert added.code == 0 and f"added domain {BUECHER}" in added.out
    assert _cli(capsys, running, policy, "settings", "set", "internal-domains", "Tëam.Example").code == 0
    listed = _cli(capsys, running, policy, "blocklist", "list", "--json").json
    assert listed["user"]["domains"] == [BUECHER] and listed["org"]["domains"] == [MUELLER]
    assert listed["org"]["addresses"] == ["zoe@xn--caf-dma.example"]

    dry = _cli(capsys, running, policy, "run", "--dry-run", "--json")
    assert dry.code == 0, dry.err
    reasons = {s["subject"]: s["reason"] for s in dry.json["skipped_items"]}
    assert {subject: reasons.get(subject) for subject in BLOCKED} == BLOCKED
    assert "From a domain nobody blocks" not in reasons

    real = _cli(capsys, running, policy, "run", "--json")
    assert real.code == 0, real.err
    org = running.salesforce.org
    saved = {str(r.get("Subject")) for obj in ("Task", "EmailMessage", "Event") for r in org.records(obj)}
    assert "From a domain nobody blocks" in saved  # the control: the session did save mail
    assert saved.isdisjoint(BLOCKED)
    lead_emails = {str(r.get("Email")).lower() for r in org.records("Lead")}
    assert not any(("bcher-kva" in e or "bücher.example" in e) and "frei" not in e for e in lead_emails)
    assert not any(e.startswith(("kai@", "zoe@", "eve@", "ines@")) for e in lead_emails)


def test_blocklist_add_takes_star_at_domain_as_the_domain_and_keeps_quoted_addresses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = ("--config", str(tmp_path / "settings.toml"))
    added = invoke(capsys, *config, "blocklist", "add", "*@Evil.com", '"Q U"@X.com')
    assert added.code == 0, added.err
    assert "added domain evil.com" in added.out and 'added address "q u"@x.com' in added.out
    listed = invoke(capsys, *config, "blocklist", "list", "--json").json["user"]
    assert listed["domains"] == ["evil.com"] and listed["addresses"] == ['"q u"@x.com']
    removed = invoke(capsys, *config, "blocklist", "remove", '"q u"@X.COM')
    assert removed.code == 0 and 'removed address "q u"@x.com' in removed.out


def test_star_at_domain_in_the_address_list_is_refused_with_the_domain_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = ("--config", str(tmp_path / "settings.toml"))
    refused = invoke(capsys, *config, "settings", "set", "blocklist-addresses", "*@evil.com")
    assert refused.code == 2
    assert refused.err.count("\n") == 1 and "add the domain evil.com" in refused.err
    assert not (tmp_path / "settings.toml").exists()
