"""Who takes part in an item, and who must be left out of it (SPEC §3.2, §4.2).

An address is *internal* when it is the user's own (mailbox address or alias), on the user's own
mailbox domain (unless that is a free-mail domain) or on a domain listed in `internal-domains`.
An address is *blocklisted* when it is listed itself, its exact domain is listed (no wildcards, no
subdomains), or its domain is a free-mail domain while `block-free-email-domains` is on.
Internal wins over blocklisted: a colleague is never reported as blocklisted.

Every comparison is made on `model.address_key` / `model.domain_key` forms, the same ones the
settings store, so a Unicode, punycode or mixed-case spelling of one domain is one domain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from rgsync.engine.types import Blocklist, Identity
from rgsync.model import Address, address_key, domain_key

# Characters that never appear in an address we can match (after display names were split off);
# inside a quoted local part ("q u"@x.com) only the line breaks stay forbidden.
_FORBIDDEN = frozenset(' \t\r\n<>()[]\\,;:"')
_FORBIDDEN_QUOTED = frozenset("\r\n")


# Bound of the per-address memos below: a session meets the same correspondents on email after
# email, so each address is worked out once; the bound keeps a huge mailbox from growing them.
_ADDRESS_CACHE = 16384


@lru_cache(maxsize=_ADDRESS_CACHE)
def normalise_address(raw: str) -> str:
    """Return `raw` as a matchable address: stripped, lower-cased, without angle brackets or `mailto:`.

    Returns '' when it is not an address (no '@', empty local part, a domain without a dot,
    spaces or other forbidden characters outside a quoted local part): such values are ignored,
    never matched (SPEC §7.8). The domain keeps its spelling; comparisons use `address_key`.
    """
    text = raw.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:") :]
    text = text.lower().rstrip(".")
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        return ""
    quoted = len(local) >= 2 and local.startswith('"') and local.endswith('"')
    if quoted:
        if any(ch in _FORBIDDEN_QUOTED for ch in local):
            return ""
    elif "@" in local or any(ch in _FORBIDDEN for ch in local):
        return ""
    if "@" in domain or any(ch in _FORBIDDEN for ch in domain):
        return ""
    labels = domain.split(".")
    if len(labels) < 2 or any(not label for label in labels):
        return ""
    return text


def _domain_of(email_or_domain: str) -> str:
    """The comparison form of an address's domain, or of the value itself when it is a domain."""
    return domain_key(email_or_domain.strip().rpartition("@")[2])


@lru_cache(maxsize=64)
def _lists(blocklist: Blocklist) -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    """The blocklist's entries cleaned once: (addresses, domains, internal domains, free-mail domains).

    Settings already hold comparison forms, but the session's lists may not (the free-mail package
    is not ours); comparing `address_key`/`domain_key` forms keeps `Bob@Bücher.example` in a list
    from silently not matching `bob@xn--bcher-kva.example` in a message.
    """
    addresses = frozenset(address_key(a) for a in (normalise_address(x) for x in blocklist.addresses) if a)
    domains = frozenset(d for d in (_domain_of(x) for x in blocklist.domains) if d)
    internal = frozenset(d for d in (_domain_of(x) for x in blocklist.internal_domains) if d)
    free = frozenset(d for d in (_domain_of(x) for x in blocklist.free_mail_domains) if d)
    return addresses, domains, internal, free


@lru_cache(maxsize=64)
def _own(identity: Identity, blocklist: Blocklist) -> tuple[frozenset[str], frozenset[str]]:
    """The user's own addresses and the domains they make internal (free-mail domains excluded)."""
    free = _lists(blocklist)[3]
    own = frozenset(
        address_key(a) for a in (normalise_address(x) for x in (identity.address, *identity.aliases)) if a
    )
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
    address = address_key(normalise_address(email))
    if not address:
        return False
    return _key_is_internal(address, identity, blocklist)


def _key_is_internal(address: str, identity: Identity, blocklist: Blocklist) -> bool:
    """`is_internal` for an address already in its `address_key` form."""
    own, own_domains = _own(identity, blocklist)
    if address in own:
        return True
    domain = _domain_of(address)
    return domain in own_domains or domain in _lists(blocklist)[2]


def is_blocklisted(email: str, blocklist: Blocklist) -> bool:
    """True when the address, its exact domain, or (switch on) its free-mail domain is blocklisted."""
    address = address_key(normalise_address(email))
    if not address:
        return False
    return _key_is_blocklisted(address, blocklist)


def _key_is_blocklisted(address: str, blocklist: Blocklist) -> bool:
    """`is_blocklisted` for an address already in its `address_key` form."""
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
    internal, so an all-colleague conversation is reported as internal. Two spellings of one
    address (`bob@Bücher.example`, `bob@xn--bcher-kva.example`) count once, in the first spelling.
    """
    seen: set[str] = set()
    external: list[str] = []
    internal: list[str] = []
    blocked: list[str] = []
    groups = (external, internal, blocked)
    for item in addresses:
        address, key, group = _sorted_address(item.email, identity, blocklist)
        if not address or key in seen:
            continue
        seen.add(key)
        groups[group].append(address)
    return Participants(tuple(external), tuple(internal), tuple(blocked))


_EXTERNAL, _INTERNAL, _BLOCKED = 0, 1, 2


def forget_addresses() -> None:
    """Drop what the per-address memo learnt: called when a session ends, so a long-lived process
    running many users' sessions (a fleet worker) does not keep their identities and blocklists
    (each holding the free-mail list) alive through old entries."""
    _sorted_address.cache_clear()


@lru_cache(maxsize=_ADDRESS_CACHE)
def _sorted_address(raw: str, identity: Identity, blocklist: Blocklist) -> tuple[str, str, int]:
    """One participant address worked out once per session: (normalised, comparison key, group).

    The group is `_INTERNAL` before `_BLOCKED` (a colleague is never reported as blocklisted);
    an address that is not one gives ('', '', _EXTERNAL), which callers drop.
    """
    address = normalise_address(raw)
    key = address_key(address)
    if not address or not key:
        return address, key, _EXTERNAL
    if _key_is_internal(key, identity, blocklist):
        return address, key, _INTERNAL
    if _key_is_blocklisted(key, blocklist):
        return address, key, _BLOCKED
    return address, key, _EXTERNAL
