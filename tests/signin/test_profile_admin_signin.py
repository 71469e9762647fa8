"""A fleet user's profile with the org's admin sign-in layered in, checked the way `rgsync doctor
--user` and the session read it: the settings file as written, the registry's credentials store
serving the admin secret (Microsoft 365 app-only, Exchange impersonation). SPEC §11 "Admin sign-in",
§9 (secrets never in settings files)."""

from __future__ import annotations

from pathlib import Path

import tomlkit

from rgsync import registry
from rgsync.credentials import CredentialStore
from rgsync.demo.team_admin import register_ews_impersonation, register_graph_app
from rgsync.fleet.signin import plan_sign_in
from rgsync.paths import Paths, resolve_paths
from rgsync.sandbox.ews import EwsEmulator, start_ews
from rgsync.sandbox.graph import start_graph
from rgsync.settings import load_settings


def _profile(
    tmp_path: Path, mailbox: dict[str, str], admin: dict[str, dict[str, str]]
) -> tuple[Paths, list[str]]:
    """Plan ann's sign-in under a policy with `admin`, write her profile, run the mailbox checks."""
    policy = tomlkit.document()
    policy["admin-sign-in"] = admin
    user = tomlkit.document()
    user["mailbox"] = {"address": "ann@acme.com", "time-zone": "UTC", **mailbox}
    paths = resolve_paths(config=str(tmp_path / "ann" / "settings.toml"), profile="ann")
    store = CredentialStore(paths.profile, paths.credentials_file)
    plan = plan_sign_in(tomlkit.dumps(user), tomlkit.dumps(policy), store)
    assert list(plan.admins) == [mailbox["provider"]]
    paths.settings_file.parent.mkdir(parents=True)
    paths.settings_file.write_text(plan.settings_text, encoding="utf-8")
    settings = load_settings(paths.settings_file, None)  # the written profile passes validation
    with plan.applied(paths):
        found = registry.doctor_findings(settings.effective(), paths)
    mailbox_checks = [
        f"{f.check}: {f.status}" for f in found if not f.check.startswith(("Salesforce", "Sign-in"))
    ]
    return paths, mailbox_checks


def test_microsoft365_app_only_from_the_org_certificate(tmp_path: Path) -> None:
    with start_graph(tmp_path / "graph", scenario={"user": {"address": "ann@acme.com"}}) as graph:
        table = register_graph_app(graph.state.identity, tmp_path / "admin")
        table.update({"authority-url": graph.url, "ca-file": str(graph.ca_file)})
        mailbox = {"provider": "microsoft365", "graph-url": graph.graph_url}
        paths, checks = _profile(tmp_path, mailbox, {"microsoft365": table})
    assert checks[:3] == [
        "Microsoft 365 sign-in: ok",
        "Microsoft 365 mailbox: ok",
        "Microsoft 365 Mail: ok",
    ]
    assert not paths.credentials_file.exists()  # the certificate was never copied to ann


def test_exchange_impersonation_from_the_org_password_file(tmp_path: Path) -> None:
    with start_ews(scenario={"user": {"address": "ann@acme.com"}}) as ews:
        emulator = ews.server.emulator
        assert isinstance(emulator, EwsEmulator)
        table = register_ews_impersonation(emulator, tmp_path / "admin")
        table["ews-url"] = ews.url
        paths, checks = _profile(tmp_path, {"provider": "exchange"}, {"exchange": table})
        assert checks[:3] == ["Exchange settings: ok", "Exchange sign-in: ok", "Exchange folders: ok"]
        # Without the role the same profile is refused, and the check says which role to assign.
        del emulator.impersonators["svc-rgsync"]
        _paths, refused = _profile(tmp_path / "again", {"provider": "exchange"}, {"exchange": table})
        assert refused[:2] == ["Exchange settings: ok", "Exchange sign-in: error"]
    assert not paths.credentials_file.exists()
