"""Reading, checking and showing setting values, one rule per `KeyType`.

Two ways in: `parse_text` takes what a user types on the command line (`on`, `a.com,b.com`, `14`);
`check_value` takes what a TOML file holds. Both return the typed, normalised value or raise a
`SettingsError` whose message starts with the key name and says what is expected. `format_value`
goes back to the typed-on-the-command-line form.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from urllib.parse import urlsplit

import tomlkit
from tomlkit.items import Item

from rgsync.settings.blocklist import normalise_address, normalise_domain
from rgsync.settings.errors import SettingsError, did_you_mean
from rgsync.settings.schema import Key, KeyType

TRUE_WORDS = frozenset({"on", "true", "yes", "1"})
FALSE_WORDS = frozenset({"off", "false", "no", "0"})
_VERSION = re.compile(r"^\d{2,3}\.0$")
# DNS limits a host name to 253 characters and a label to 63; browsers cap URLs a little above 2,000.
_HOST_MAX, _LABEL_MAX, _URL_MAX, _PATH_MAX = 253, 63, 2048, 4096
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ZONE_MAX = 64  # the longest IANA zone name is about 30 characters
_SHOWN_MAX = 80  # a refused value is quoted this far, so the message stays one readable line
_MULTILINE_FROM = 4  # lists this long are written one entry per line, so diffs and edits stay readable


def expectation(key: Key, *, typed: bool = True) -> str:
    """What the key accepts, as the end of the sentence `KEY expects …`.

    `typed=True` describes command-line input (on/off); `False` describes the TOML form (true/false).
    """
    match key.type:
        case KeyType.BOOL:
            return "on or off (also true/false, yes/no, 1/0)" if typed else "true or false"
        case KeyType.INT:
            if key.minimum is not None and key.maximum is not None:
                return f"a whole number from {key.minimum} to {key.maximum}"
            return "a whole number"
        case KeyType.CHOICE:
            return "one of " + ", ".join(key.choices)
        case KeyType.ADDRESSES:
            return (
                "a comma-separated list of email addresses"
                if typed
                else 'a list of email addresses, such as ["bob@example.com"]'
            )
        case KeyType.DOMAINS:
            return (
                "a comma-separated list of domains" if typed else 'a list of domains, such as ["example.com"]'
            )
        case KeyType.ADDRESS:
            return "an email address such as you@example.com"
        case KeyType.URL:
            return "an https:// (or http://) URL"
        case KeyType.PATH:
            return "a file path"
        case KeyType.TIMEZONE:
            return "an IANA time zone such as Europe/Berlin or America/New_York"
        case KeyType.VERSION:
            return "a Salesforce API version such as 59.0"
        case KeyType.STATE_URL:
            return "sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE (without a password)"
        case _:
            return "text" if typed else 'text in quotes, such as "name"'


def _refuse(key: Key, shown: object, *, typed: bool, hint: str = "") -> SettingsError:
    if isinstance(shown, str) and len(shown) > _SHOWN_MAX:
        shown = shown[:_SHOWN_MAX] + "…"
    got = f"'{shown}'" if isinstance(shown, str) else _toml_repr(shown)
    return SettingsError(f"{key.name} expects {expectation(key, typed=typed)}, not {got}{hint}", key=key.name)


def _toml_repr(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def parse_text(key: Key, raw: str) -> object:
    """The typed value of `raw` as typed on the command line for `key`; `SettingsError` when invalid."""
    text = raw.strip()
    match key.type:
        case KeyType.BOOL:
            word = text.lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
            raise _refuse(key, raw, typed=True)
        case KeyType.INT:
            try:
                number = int(text.replace("_", ""))
            except ValueError:
                raise _refuse(key, raw, typed=True) from None
            return _check_range(key, number, typed=True)
        case KeyType.ADDRESSES | KeyType.DOMAINS:
            parts = [p for p in re.split(r"[,\s]+", text) if p] if text else []
            return _check_list(key, parts)
        case _:
            return check_value(key, text, typed=True)


def check_value(key: Key, value: object, *, typed: bool = False) -> object:
    """The typed, normalised form of a value read from TOML for `key`; `SettingsError` when invalid."""
    match key.type:
        case KeyType.BOOL:
            if isinstance(value, bool):
                return value
            # A quoted on/off is what a user would type on the command line; reading it is harmless.
            if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
                return value.strip().lower() in TRUE_WORDS
            raise _refuse(key, value, typed=typed)
        case KeyType.INT:
            if isinstance(value, bool) or not isinstance(value, int):
                raise _refuse(key, value, typed=typed)
            return _check_range(key, value, typed=typed)
        case KeyType.ADDRESSES | KeyType.DOMAINS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _refuse(key, value, typed=typed)
            return _check_list(key, value)
    if key.type is KeyType.VERSION and isinstance(value, int | float) and not isinstance(value, bool):
        value = f"{float(value):.1f}"  # `api-version = 59.0` unquoted is a TOML float
    if not isinstance(value, str):
        raise _refuse(key, value, typed=typed)
    text = value.strip()
    if "\x00" in text:
        raise SettingsError(f"{key.name} holds a NUL character; give {expectation(key)}", key=key.name)
    match key.type:
        case KeyType.CHOICE:
            word = text.lower()
            if word not in key.choices:
                raise _refuse(key, value, typed=typed, hint=did_you_mean(word, key.choices, cutoff=0.5))
            return word
        case KeyType.TEXT:
            if _CONTROL.search(text):  # a name never holds a line break or an escape
                raise SettingsError(
                    f"{key.name} holds control characters; give {expectation(key)}", key=key.name
                )
            return text
    if not text:
        raise SettingsError(
            f"{key.name} is empty; give {expectation(key)} or remove it with `rgsync settings unset {key.name}`",
            key=key.name,
        )
    match key.type:
        case KeyType.ADDRESS:
            try:
                return normalise_address(text)
            except SettingsError as exc:
                raise SettingsError(f"{key.name}: {exc.message}", key=key.name) from exc
        case KeyType.URL:
            return _check_url(key, value, text, typed=typed)
        case KeyType.STATE_URL:
            return _check_state_url(key, text)
        case KeyType.TIMEZONE:
            try:
                if len(text) > _ZONE_MAX:
                    raise ValueError("longer than any IANA zone name")
                zoneinfo.ZoneInfo(text)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
                # OSError: a name the file system refuses to look up (too long, a NUL, …).
                raise _refuse(key, value, typed=typed) from None
            return text
        case KeyType.VERSION:
            if not _VERSION.match(text):
                raise _refuse(key, value, typed=typed)
            return text
        case _:  # PATH
            if len(text) > _PATH_MAX or _CONTROL.search(text):
                problem = "is too long" if len(text) > _PATH_MAX else "holds control characters"
                raise SettingsError(f"{key.name}: the path {problem}; give {expectation(key)}", key=key.name)
            return text


def _check_url(key: Key, value: object, text: str, *, typed: bool) -> str:
    """An http(s) URL with a plausible host; spaces, control characters and bad ports are refused."""
    if len(text) > _URL_MAX or _CONTROL.search(text) or any(ch.isspace() for ch in text):
        what = "is too long" if len(text) > _URL_MAX else "holds spaces or control characters"
        raise SettingsError(f"{key.name}: the URL {what}; give {expectation(key)}", key=key.name)
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise _refuse(key, value, typed=typed) from None
    if parts.scheme not in ("http", "https") or not host:
        raise _refuse(key, value, typed=typed)
    labels = host.strip("[]").split(".")
    if len(host) > _HOST_MAX or any(len(label) > _LABEL_MAX for label in labels):
        raise SettingsError(
            f"{key.name}: the host name of {text[:40]!r}… is longer than DNS allows; give {expectation(key)}",
            key=key.name,
        )
    return text


def _check_state_url(key: Key, text: str) -> str:
    """A SQLite or PostgreSQL URL; one holding a password is refused without repeating it (SPEC §9)."""
    scheme = text.partition("://")[0].lower()
    if scheme not in ("sqlite", "postgresql", "postgres") or _CONTROL.search(text) or " " in text:
        raise SettingsError(f"{key.name}: {text[:_SHOWN_MAX]!r} is not {expectation(key)}", key=key.name)
    parts = urlsplit(text)
    if parts.password is not None or re.search(r"(?i)[?&]password=", parts.query and "?" + parts.query):
        raise SettingsError(
            f"{key.name} holds a password, and secrets never go in settings; remove it and put it in "
            "~/.pgpass (or the file PGPASSFILE names), a pg_service.conf service, or `rgsync state password`",
            key=key.name,
        )
    return text


def _check_range(key: Key, number: int, *, typed: bool) -> int:
    if (key.minimum is not None and number < key.minimum) or (
        key.maximum is not None and number > key.maximum
    ):
        raise _refuse(key, number, typed=typed)
    return number


def _check_list(key: Key, entries: Iterable[str]) -> list[str]:
    """Normalise every entry, drop repeats, keep the user's order."""
    out: list[str] = []
    for entry in entries:
        if key.type is KeyType.DOMAINS:
            if "@" in entry.strip().lstrip("@"):
                raise SettingsError(
                    f"'{entry}' in {key.name} is an email address; {key.name} holds domains only"
                    + (
                        f" (addresses go in {key.name.replace('domains', 'addresses')})"
                        if key.name.startswith("blocklist")
                        else ""
                    ),
                    key=key.name,
                )
            try:
                normalised = normalise_domain(entry)
            except SettingsError as exc:
                raise SettingsError(f"{key.name}: {exc.message}", key=key.name) from exc
        else:
            if "@" not in entry.strip().lstrip("@"):
                raise SettingsError(
                    f"'{entry}' in {key.name} is not an email address"
                    + (
                        f" (domains go in {key.name.replace('addresses', 'domains')})"
                        if key.name.startswith("blocklist")
                        else ""
                    ),
                    key=key.name,
                )
            try:
                normalised = normalise_address(entry)
            except SettingsError as exc:
                raise SettingsError(f"{key.name}: {exc.message}", key=key.name) from exc
        if normalised not in out:
            out.append(normalised)
    return out


def format_value(key: Key, value: object) -> str:
    """The value as a user types it: on/off for booleans, comma-separated lists, '' when not set."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list | tuple | frozenset):
        return ",".join(str(v) for v in value)
    return str(value)


def toml_item(value: object) -> Item:
    """A tomlkit item for a typed value; long lists are written one entry per line."""
    if isinstance(value, list):
        array = tomlkit.array()
        array.extend(value)
        if len(value) >= _MULTILINE_FROM:
            array.multiline(True)
        return array
    return tomlkit.item(value)


def toml_text(value: object) -> str:
    """The value as it appears after `key = ` in a TOML file."""
    return toml_item(value).as_string()
