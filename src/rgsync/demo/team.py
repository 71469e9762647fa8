"""A sandbox for a whole team: one emulated Salesforce org, N emulated mailboxes, one roster.

`start_team_sandbox(directory, users=N, latency=0.03, mailbox="gmail")` starts the Salesforce
emulator with N sales reps (each with their own customer Account, Contacts and an Opportunity)
and their N mailboxes — all Gmail, Microsoft 365 or Exchange, or with `mailbox="mixed"` the
three kinds in turn — one emulator port per kind serving its mailboxes under `/u/NAME/` (see
`rgsync.demo.team_mailboxes` and `rgsync.sandbox.tenants`), each holding a few emails and a
meeting with that rep's customers. Every call to any service waits `latency` seconds first, so a
session is I/O-bound as it is against the real services.

It writes into `directory`:

* `users/NAME/settings.toml`: a complete profile for each rep, pointing at the emulators; the
  rep's access tokens go to that profile's credentials file (0600), never to the settings file;
* `roster.csv`: one row per rep (name, mailbox kind, address, Salesforce username, settings file,
  credentials file), the input of `rgsync fleet import`;
* `endpoints.json` (0600): the emulators' URLs, CA file and an admin token for scripts and tests
  that read the org directly.
"""

from __future__ import annotations

import contextlib
import csv
import json
import secrets
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomlkit

from rgsync.demo.team_mailboxes import TEAM_CHOICES, TeamMailboxes, TenantMailbox, mailbox_kind_of
from rgsync.errors import UsageError
from rgsync.paths import Paths, resolve_paths

TEAM_MAILBOX_KINDS = TEAM_CHOICES
MAX_USERS = 20_000
API_VERSION = "59.0"
ROSTER_COLUMNS = ("name", "mailbox", "address", "salesforce_username", "settings", "credentials")

# One rep's world; {n} is the rep's number. Keys are unique across reps so that every rep's org
# records can be loaded into the one shared org.
_REP_TEMPLATE = """
[scenario]
name = "team-{n}"

[user]
name = "Rep {n}"
address = "rep{n}@example.com"
time-zone = "UTC"
salesforce-user = "rep{n}"

[[org.users]]
key = "rep{n}"
Name = "Rep {n}"
Email = "rep{n}@example.com"
Username = "rep{n}@example.com"

[[org.accounts]]
key = "cust{n}"
Name = "Customer {n}"
Website = "cust{n}.com"

[[org.contacts]]
key = "buyer{n}"
FirstName = "Bea"
LastName = "Buyer{n}"
Email = "bea@cust{n}.com"
AccountId = "@cust{n}"

[[org.contacts]]
key = "tech{n}"
FirstName = "Tom"
LastName = "Tech{n}"
Email = "tom@cust{n}.com"
AccountId = "@cust{n}"

[[org.opportunities]]
key = "deal{n}"
Name = "Customer {n} renewal"
AccountId = "@cust{n}"
StageName = "Prospecting"
CloseDate = "+30d"

[[mailbox.emails]]
key = "ask{n}"
from = "Bea Buyer <bea@cust{n}.com>"
to = ["rep{n}@example.com"]
subject = "Pricing question from Customer {n}"
when = "-2d 09:00"
body = "Could you send the price list?"

[[mailbox.emails]]
key = "answer{n}"
from = "Rep {n} <rep{n}@example.com>"
to = ["bea@cust{n}.com", "tom@cust{n}.com"]
subject = "Re: Pricing question from Customer {n}"
when = "-1d 10:00"
body = "Here it is; Tom can help with the set-up."

[[mailbox.emails]]
key = "news{n}"
from = "Newsletter <news@gmail.com>"
to = ["rep{n}@example.com"]
subject = "This week's news"
when = "-1d 12:00"
body = "Nothing for Salesforce."

[[mailbox.calendar]]
key = "review{n}"
subject = "Customer {n} review"
start = "+1d 10:00"
duration = "30m"
attendees = ["bea@cust{n}.com"]
"""


def rep_name(n: int) -> str:
    """The roster name of rep number `n` (zero-padded so that names sort in number order)."""
    return f"rep{n:05d}"


@dataclass
class TeamMember:
    """One rep of the team sandbox: roster name, address, Salesforce user and token, profile."""

    name: str
    address: str
    salesforce_user_id: str
    salesforce_token: str
    mailbox_token: str
    paths: Paths
    mailbox: str = "gmail"  # the kind: gmail, microsoft365 or exchange


@dataclass
class TeamSandbox:
    """A running team sandbox; stop it with `stop()` or use it as a context manager."""

    directory: Path
    salesforce: Any
    mailbox_server: Any
    members: list[TeamMember] = field(default_factory=list)
    latency: float = 0.0
    mailboxes: TeamMailboxes | None = None
    mailbox_kind: str = "gmail"  # what was asked for: a kind, or mixed
    _stopped: bool = False

    @property
    def roster_file(self) -> Path:
        return self.directory / "roster.csv"

    @property
    def endpoints_file(self) -> Path:
        return self.directory / "endpoints.json"

    @property
    def mailbox_url(self) -> str:
        """The URL of the first mailbox kind's port (Gmail's when there is one)."""
        return str(self.mailbox_server.url)

    def mailbox_urls(self) -> dict[str, str]:
        """The port of each mailbox kind in use."""
        servers = self.mailboxes.servers if self.mailboxes else {"gmail": self.mailbox_server}
        return {kind: str(server.url) for kind, server in servers.items()}

    def stop(self) -> None:
        """Stop the emulators (idempotent); the files stay."""
        if self._stopped:
            return
        self._stopped = True
        if self.mailboxes is not None:
            self.mailboxes.stop()
        for server in (self.mailbox_server, self.salesforce):
            with contextlib.suppress(Exception):
                server.stop()

    def __enter__(self) -> TeamSandbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def rep_scenario_text(n: int) -> str:
    """The scenario TOML of rep number `n` (also used to build a single-user reference run)."""
    return _REP_TEMPLATE.replace("{n}", str(n))


def start_team_sandbox(
    directory: Path, *, users: int, latency: float = 0.0, mailbox: str = "gmail"
) -> TeamSandbox:
    """Start the emulators for `users` reps and write their profiles and the roster into `directory`.

    Refuses (UsageError) a count outside 1..20,000, a mailbox kind the team sandbox cannot emulate,
    a negative latency, and a directory that holds anything but an earlier team sandbox.
    """
    from rgsync.sandbox.salesforce import start_salesforce
    from rgsync.sandbox.scenario import parse_scenario
    from rgsync.sandbox.tenants import Delayed

    if not 1 <= users <= MAX_USERS:
        raise UsageError(f"--users {users} is out of range; use 1 to {MAX_USERS}")
    if mailbox not in TEAM_MAILBOX_KINDS:
        raise UsageError(
            f"the team sandbox has no {mailbox!r} mailboxes; use --mailbox {'|'.join(TEAM_MAILBOX_KINDS)}"
        )
    if latency < 0:
        raise UsageError("--latency-ms must be 0 or more")
    directory = Path(directory).expanduser().absolute()
    _prepare(directory)
    now = datetime.now(UTC)
    scenarios = [parse_scenario(rep_scenario_text(n), now=now) for n in range(1, users + 1)]
    org_scenario: dict[str, Any] = {"org": {}, "users": [], "records": {}}
    for scenario in scenarios:
        part = scenario.salesforce_scenario()
        org_scenario["org"] = part["org"]
        org_scenario["users"].extend(part["users"])
        for object_name, rows in part["records"].items():
            org_scenario["records"].setdefault(object_name, []).extend(rows)
    # A day's allocation that a thousand reps' sessions do not run out of.
    org_scenario["org"]["api_limit"] = max(15_000, 200 * users)
    salesforce = start_salesforce(directory, scenario=org_scenario)
    salesforce.server.emulator = Delayed(salesforce.server.emulator, latency)
    mailboxes = TeamMailboxes(directory)
    team = TeamSandbox(
        directory, salesforce, None, latency=latency, mailboxes=mailboxes, mailbox_kind=mailbox
    )
    try:
        for n, scenario in enumerate(scenarios, start=1):
            name = rep_name(n)
            tenant = mailboxes.add(mailbox_kind_of(mailbox, n), name, scenario)
            user_id = salesforce.keys[scenario.user.salesforce_user]
            sf_token = f"{salesforce.org.org_id[:15]}!{secrets.token_urlsafe(24)}"
            salesforce.emulator.register_token(sf_token, user_id)
            paths = resolve_paths(config=str(directory / "users" / name / "settings.toml"))
            member = TeamMember(
                name, scenario.user.address, user_id, sf_token, tenant.token, paths, tenant.kind
            )
            _write_profile(team, member, tenant, scenario.settings)
            team.members.append(member)
        team.mailbox_server = mailboxes.servers.get("gmail") or next(iter(mailboxes.servers.values()))
        mailboxes.set_latency(latency)
        _write_roster(team)
        _write_endpoints(team)
    except BaseException:
        team.stop()
        raise
    return team


def _prepare(directory: Path) -> None:
    if directory.exists() and any(directory.iterdir()) and not (directory / "roster.csv").exists():
        raise UsageError(f"{directory} is not empty and holds no team sandbox; choose an empty --dir")
    # The emulators start again with new Ids and tokens: profiles of an earlier start are stale.
    if (directory / "users").exists():
        shutil.rmtree(directory / "users")
    directory.mkdir(parents=True, exist_ok=True)


def _write_profile(
    team: TeamSandbox, member: TeamMember, tenant: TenantMailbox, extra: dict[str, Any]
) -> None:
    from rgsync.demo.sandbox import add_salesforce_and_settings, sandbox_credentials
    from rgsync.providers.salesforce.auth import SECRET_INSTANCE, SECRET_SESSION

    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"Written by `rgsync sandbox serve --users` for {member.name}."))
    doc.add(tomlkit.comment("The emulators' access tokens are in the credentials file, never here."))
    mailbox_table = tomlkit.table()
    mailbox_table["provider"] = tenant.kind
    mailbox_table["address"] = member.address
    mailbox_table["time-zone"] = "UTC"
    for key, value in tenant.settings.items():
        mailbox_table[key] = value
    doc["mailbox"] = mailbox_table
    add_salesforce_and_settings(doc, team.salesforce, extra)
    settings_file = member.paths.settings_file
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text(tomlkit.dumps(doc), encoding="utf-8")
    member.paths.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = sandbox_credentials(member.paths)
    store.set(SECRET_SESSION, member.salesforce_token)
    store.set(SECRET_INSTANCE, team.salesforce.url)
    for name, secret in tenant.secrets.items():
        store.set(name, secret)


def _write_roster(team: TeamSandbox) -> None:
    with team.roster_file.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ROSTER_COLUMNS)
        for member in team.members:
            writer.writerow(
                [
                    member.name,
                    member.mailbox,
                    member.address,
                    member.address,
                    str(member.paths.settings_file),
                    str(member.paths.credentials_file),
                ]
            )


def _write_endpoints(team: TeamSandbox) -> None:
    document = {
        "users": len(team.members),
        "latency_seconds": team.latency,
        "roster": str(team.roster_file),
        "salesforce": {
            "url": team.salesforce.url,
            "api_version": API_VERSION,
            "ca_file": str(team.salesforce.ca_file),
            "access_token": team.salesforce.token,
        },
        "mailbox": {"kind": team.mailbox_kind, "url": team.mailbox_url, "urls": team.mailbox_urls()},
        "members": {
            m.name: {"address": m.address, "mailbox": m.mailbox, "salesforce_user_id": m.salesforce_user_id}
            for m in team.members
        },
    }
    path = team.endpoints_file
    temp = path.with_name(".endpoints.json.tmp")
    temp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    temp.chmod(0o600)
    temp.replace(path)
