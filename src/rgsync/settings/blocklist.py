"""Blocklist entries: telling addresses from domains, normalising them, and the free-mail list.

Entries are stored the way rgsync compares them (`rgsync.model.canonical_domain` and
`canonical_local_part`, the same functions the engine compares participants with): lower case,
domains in their ASCII (IDNA, UTS 46) form, so `Bücher.example`, `BÜCHER.example` and
`xn--bcher-kva.example` are the same entry. The free-mail layer comes from
`rgsync.settings.free_mail` (SPEC §1 `block-free-email-domains`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import idna

# `model` is the one module both `settings` and the pure engine may import; the comparison forms
# live there so that what settings store and what the engine compares can never drift apart.
from rgsync.model import canonical_domain, canonical_local_part
from rgsync.settings.errors import SettingsError
from rgsync.settings.free_mail import free_mail_domains as _free_mail_domains

ADDRESS, DOMAIN = "address", "domain"

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Anything but whitespace and the characters RFC 5322 reserves for structure (Unicode local parts
# are allowed, SMTPUTF8).
_LOCAL = re.compile(r'^[^\s@"(),:;<>\[\]\\]+$')
# A quoted local part ("q u"@x.com, RFC 5322 quoted-string): any printable character, with `"` and
# `\` escaped by a backslash; line breaks are never part of an address.
_QUOTED_LOCAL = re.compile(r'^"(?:[^"\\\r\n]|\\[^\r\n])*"$')


@dataclass(frozen=True)
class BlocklistLayer:
    """One layer of the blocklist (the user's, or the org policy's): normalised addresses and domains."""

    addresses: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()

    def covering_domain(self, address: str) -> str | None:
        """The domain entry of this layer that covers `address` (normalised), if any."""
        domain = address.rpartition("@")[2]
        return domain if domain in self.domains else None

    def __bool__(self) -> bool:
        return bool(self.addresses or self.domains)


def normalise_domain(raw: str) -> str:
    """A domain in lower-case ASCII (IDNA) form; `SettingsError` when it is not a valid domain.

    A leading `@` and surrounding whitespace are dropped; wildcards are refused (SPEC §1: exact domain).
    """
    text = raw.strip().lstrip("@").strip().rstrip(".")
    if not text:
        raise SettingsError(f"'{raw}' is empty; give a domain such as example.com")
    if "*" in text:
        raise SettingsError(
            f"'{raw}' has a wildcard; blocklist domains match exactly — give the domain itself, such as "
            f"{text.lstrip('*.') or 'example.com'}"
        )
    if any(ch.isspace() for ch in text):
        raise SettingsError(f"'{raw}' is neither an email address nor a domain (it contains spaces)")
    try:
        ascii_form = canonical_domain(text)
    except idna.IDNAError as exc:
        raise SettingsError(
            f"'{raw}' is not a valid domain ({exc}); give a domain such as example.com"
        ) from exc
    labels = ascii_form.split(".")
    if len(labels) < 2:
        raise SettingsError(
            f"'{raw}' is neither an email address nor a domain (a domain has a dot, such as example.com)"
        )
    if len(ascii_form) > 253 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise SettingsError(f"'{raw}' is not a valid domain; give a domain such as example.com")
    return ascii_form


def normalise_address(raw: str) -> str:
    """An email address in its comparison form (lower case, IDNA domain); `SettingsError` when malformed.

    A quoted local part is accepted (`"q u"@x.com`) and kept quoted only where it must be. A `*`
    as the whole local part reads as a wildcard and is refused with the form that blocks a domain.
    """
    text = raw.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    local, at, domain = text.rpartition("@")
    if not at or not local:
        raise SettingsError(f"'{raw}' is not an email address (expected name@example.com)")
    if local == "*":
        raise SettingsError(
            f"'{raw}' reads as a wildcard, but addresses match exactly; to block every address at "
            f"{domain or 'the domain'}, add the domain {domain or 'example.com'} instead"
        )
    if local.startswith('"'):
        if not _QUOTED_LOCAL.match(local):
            raise SettingsError(
                f"'{raw}' is not an email address (a quoted part before @ must end with an unescaped \")"
            )
    elif (
        "@" in local
        or not _LOCAL.match(local)
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
    ):
        raise SettingsError(f"'{raw}' is not an email address (expected name@example.com)")
    if len(local) > 64:
        raise SettingsError(
            f"'{raw}' is not an email address (the part before @ is longer than 64 characters)"
        )
    try:
        domain_ascii = normalise_domain(domain)
    except SettingsError as exc:
        raise SettingsError(f"'{raw}' is not an email address: its domain {exc.message}") from exc
    return f"{canonical_local_part(local)}@{domain_ascii}"


def normalise_blocklist_entry(raw: str) -> tuple[str, str]:
    """Decide whether `raw` is an address or a domain and normalise it.

    Returns `('address', 'bob@partner.io')` or `('domain', 'example.com')`. A leading `@` marks a
    domain, and so does `*@` (`*@evil.com` is the whole domain evil.com, as it reads). Raises
    `SettingsError` with a one-line reason when it is neither.
    """
    text = raw.strip()
    if text.startswith("@"):
        return DOMAIN, normalise_domain(text)
    if text.startswith("*@") and "@" not in text[2:]:
        return DOMAIN, normalise_domain(text[2:])
    if "@" in text:
        return ADDRESS, normalise_address(text)
    return DOMAIN, normalise_domain(text)


def is_free_mail_domain(domain: str) -> bool:
    """True when `domain` (any case, Unicode or IDNA form) is a known free mail service."""
    try:
        normalised = normalise_domain(domain)
    except SettingsError:
        return False
    return normalised in _free_mail_domains()


def free_mail_domain_count() -> int:
    """How many domains the free-mail layer holds."""
    return len(_free_mail_domains())
