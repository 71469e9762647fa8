"""Who takes part in an item, and who must be left out of it (SPEC §3.2, §4.2).

An address is *internal* when it is the user's own (mailbox address or alias), on the user's own
mailbox domain (unless that is a free-mail domain) or on a domain listed in `internal-domains`.
An address is *blocklisted* when it is listed itself, its exact domain is listed (no wildcards, no
subdomains), or its domain is a free-mail domain while `block-free-email-domains` is on.
Internal wins over blocklisted: a colleague is never reported as blocklisted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from rgsync.engine.types import Blocklist, Identity
from rgsync.model import Address

# Characters that never appear in an address we can match (after display names were split off).
_FORBIDDEN = frozenset(' \t\r\n<>()[]\\,;:"')


def normalise_address(raw: str) -> str:
    """Return `raw` as a matchable address: stripped, lower-cased, without angle brackets or `mailto:`.

    Returns '' when it is not an address (no single '@', empty local part, a domain without a dot,
    spaces or other forbidden characters): such values are ignored, never matched (SPEC §7.8).
    """
    text = raw.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:") :]
    text = text.lower().rstrip(".")
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or "@" in local:
        return ""
    if any(ch in _FORBIDDEN for ch in text):
        return ""
    labels = domain.split(".")
    if len(labels) < 2 or any(not label for label in labels):
        return ""
    return text


def _domain_of(email_or_domain: str) -> str:
    """The domain of an address, or the value itself when it is already a domain."""
    text = email_or_domain.strip().lower()
    return text.rpartition("@")[2].strip(".")


def _clean_domain(domain: str) -> str:
    """A domain as listed in settings, tolerating a leading '@' or stray dots."""
    return domain.strip().lower().lstrip("@").strip(".")


@lru_cache(maxsize=64)
def _lists(blocklist: Blocklist) -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    """The blocklist's entries cleaned once: (addresses, domains, internal domains, free-mail domains).

    Settings should already hold lower-case values, but an org policy file typed by hand may not;
    comparing cleaned values keeps `Bob@Example.com` in a list from silently not matching.
    """
    addresses = frozenset(a for a in (normalise_address(x) for x in blocklist.addresses) if a)
    domains = frozenset(d for d in (_clean_domain(x) for x in blocklist.domains) if d)
    internal = frozenset(d for d in (_clean_domain(x) for x in blocklist.internal_domains) if d)
    free = frozenset(d for d in (_clean_domain(x) for x in blocklist.free_mail_domains) if d)
    return addresses, domains, internal, free


@lru_cache(maxsize=64)
def _own(identity: Identity, blocklist: Blocklist) -> tuple[frozenset[str], frozenset[str]]:
    """The user's own addresses and the domains they make internal (free-mail domains excluded)."""
    free = _lists(blocklist)[3]
    own = frozenset(a for a in (normalise_address(x) for x in (identity.address, *identity.aliases)) if a)
    # An alias on another company domain (e.g. ann@acme.de) makes that domain internal too; a
    # gmail.com mailbox must not make every gmail.com correspondent a colleague.
    own_domains = frozenset(d for d in (_domain_of(a) for a in own) if d and d not in free)
    return own, own_domains


def is_free_mail(email_or_domain: str, blocklist: Blocklist) -> bool:
    """True when the address's domain (or the given domain) is on the free-mail list, switch or not."""
    domain = _domain_of(email_or_domain)
    return bool(domain) and domain in _lists(blocklist)[3]


def is_internal(email: str, identity: Identity, blocklist: Blocklist) -> bool:
    """True for the user's own addresses, their mailbox domain (unless free mail) and `internal-domains`."""
    address = normalise_address(email)
    if not address:
        return False
    own, own_domains = _own(identity, blocklist)
    if address in own:
        return True
    domain = _domain_of(address)
    return domain in own_domains or domain in _lists(blocklist)[2]


def is_blocklisted(email: str, blocklist: Blocklist) -> bool:
    """True when the address, its exact domain, or (switch on) its free-mail domain is blocklisted."""
    address = normalise_address(email)
    if not address:
        return False
    addresses, domains, _internal, free = _lists(blocklist)
    domain = _domain_of(address)
    if address in addresses or domain in domains:
        return True
    return blocklist.block_free_email_domains and domain in free


@dataclass(frozen=True)
class Participants:
    """An item's participants sorted out (SPEC §3.2): each address appears once, in input order.

    `external` are the ones rgsync may match and link; `internal` the user and colleagues;
    `blocked` the blocklisted ones. Invalid addresses appear nowhere.
    """

    external: tuple[str, ...] = ()
    internal: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()


def split_participants(
    addresses: Iterable[Address], identity: Identity, blocklist: Blocklist
) -> Participants:
    """Sort addresses into external, internal and blocklisted ones, de-duplicated, order kept.

    Invalid addresses are dropped (SPEC §7.8). An address both internal and blocklisted counts as
    internal, so an all-colleague conversation is reported as internal.
    """
    seen: set[str] = set()
    external: list[str] = []
    internal: list[str] = []
    blocked: list[str] = []
    for item in addresses:
        address = normalise_address(item.email)
        if not address or address in seen:
            continue
        seen.add(address)
        if is_internal(address, identity, blocklist):
            internal.append(address)
        elif is_blocklisted(address, blocklist):
            blocked.append(address)
        else:
            external.append(address)
    return Participants(tuple(external), tuple(internal), tuple(blocked))
