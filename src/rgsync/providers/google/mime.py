"""RFC 822 messages → `EmailItem`, with the standard library's `email` package, never crashing.

Real mail is messy: encoded words in odd charsets, address lists with junk in them, missing
Message-ID or Date headers, bodies in charsets Python does not know, megabytes of HTML. Each
message is parsed once, with the legacy (compat32) parser, which only splits headers and parts;
the few headers rgsync reads are then given to `email.policy.default`'s header registry (encoded
words decoded, address lists parsed into display names and addresses) one by one, each once,
falling back to the legacy reading of that header when the modern one gives up. Only the first
plain-text and first HTML parts are decoded. Whatever had to be cleaned up is listed in `EmailItem.problems`; an
email whose essentials (the message itself, or every participant) cannot be read gets
`EmailItem.unreadable` set to the reason, so the planner skips it with that reason (SPEC §7.8).
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.policy
import email.utils
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.message import Message

from rgsync.model import SERVICE_HEADERS, Address, EmailItem, Folder
from rgsync.providers.text import html_to_text

# Bodies longer than this are cut: nothing downstream keeps more (Salesforce's largest text field
# holds 131,072 characters) and memory must stay flat for huge messages.
MAX_BODY_CHARS = 262_144
# A plausible address: something@domain.tld, no spaces; anything else is dropped with a reason.
_VALID_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")
_ADDRESS_HEADERS = ("From", "To", "Cc", "Bcc")


def parse_email(
    raw: bytes,
    *,
    mailbox_id: str,
    thread_id: str,
    folder: Folder,
    labels: Iterable[str] = (),
    received_at: datetime | None = None,
) -> EmailItem:
    """Read one raw RFC 822 message as an `EmailItem`; problems are listed, never raised.

    `received_at` (Gmail's internalDate) stands in for a missing or unreadable Date header.
    """
    problems: list[str] = []
    fallback_time = received_at or datetime.now(UTC)
    if not raw or not raw.strip():
        return EmailItem(
            mailbox_id=mailbox_id,
            message_id="",
            thread_id=thread_id,
            folder=folder,
            subject="",
            sent_at=fallback_time,
            sender=None,
            labels=frozenset(labels),
            unreadable="the message is empty",
        )
    try:
        legacy = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception as exc:  # the parser is lenient; this only guards against library bugs
        return EmailItem(
            mailbox_id=mailbox_id,
            message_id="",
            thread_id=thread_id,
            folder=folder,
            subject="",
            sent_at=fallback_time,
            sender=None,
            labels=frozenset(labels),
            unreadable=f"the message could not be parsed ({type(exc).__name__})",
        )
    reader = _Headers(legacy, problems)
    senders = reader.addresses("From")
    to = reader.addresses("To")
    cc = reader.addresses("Cc")
    bcc = reader.addresses("Bcc")
    if len(senders) > 1:
        problems.append(f"From names {len(senders)} addresses; the first is taken as the sender")
    subject = reader.text("Subject")
    message_id = _clean_id(reader.text("Message-ID"))
    if not message_id:
        problems.append("no Message-ID header")
    sent_at = reader.date(fallback_time)
    auto_submitted = reader.text("Auto-Submitted")
    text_body, html_body = _bodies(legacy, problems)
    unreadable = ""
    if not senders and not to and not cc and not bcc:
        unreadable = "no sender or recipient address could be read"
    return EmailItem(
        mailbox_id=mailbox_id,
        message_id=message_id,
        thread_id=thread_id,
        folder=folder,
        subject=subject,
        sent_at=sent_at,
        sender=senders[0] if senders else None,
        to=to,
        cc=cc,
        bcc=bcc,
        text_body=text_body,
        html_body=html_body,
        labels=frozenset(labels),
        content_type=_content_type(legacy),
        auto_submitted=auto_submitted.strip(),
        in_reply_to=_clean_id(reader.text("In-Reply-To")),
        problems=tuple(dict.fromkeys(problems)),
        unreadable=unreadable,
        headers=reader.service_headers(),
    )


# --------------------------------------------------------------------------------------------
# Headers


class _Headers:
    """Header access that tries the modern parser, then the legacy one, noting what was wrong."""

    def __init__(self, legacy: Message, problems: list[str]) -> None:
        self.legacy = legacy
        self.problems = problems
        # The first occurrence of each header as it came, as the modern parser would read it.
        self._raw: dict[str, tuple[str, str]] = {}
        self._repeated: set[str] = set()
        for name, value in legacy.raw_items():
            key = name.lower()
            if key in self._raw:
                self._repeated.add(key)
            else:
                self._raw[key] = (name, value)

    def _get(self, name: str) -> object | None:
        """What `Message.get(name)` gives (the first occurrence through the legacy policy), from the
        index built once: `Message.get` scans and lower-cases every header on each call."""
        found = self._raw.get(name.lower())
        if found is None:
            return None
        value: object = self.legacy.policy.header_fetch_parse(*found)
        return value

    def _modern(self, name: str) -> object | None:
        found = self._raw.get(name.lower())
        if found is None:
            return None
        try:
            parsed: object = email.policy.default.header_fetch_parse(*found)
        except Exception:
            self.problems.append(f"malformed {name} header")
            return None
        return parsed

    def text(self, name: str) -> str:
        """A header as decoded text ('' when absent); encoded words in unknown charsets replaced."""
        raw = self._get(name)
        if isinstance(raw, str) and raw.isascii() and "=?" not in raw:
            return _one_line(raw)  # plain ASCII: what the header registry would give, unparsed
        if raw is not None and _broken_encoded_word(str(raw)):
            # The lenient parser would keep a fragment of a broken encoded word (bad base64); the
            # text as it came is what the sender's program wrote and what mail services show.
            self.problems.append(f"{name} holds a malformed encoded word; kept as it came")
            return _one_line(str(raw))
        value = self._modern(name)
        if value is not None:
            return _one_line(str(value))
        return _one_line(decode_words(str(raw))) if raw is not None else ""

    def service_headers(self) -> tuple[tuple[str, str], ...]:
        """The `SERVICE_HEADERS` the message has, as received (unparsed, so `From: Postmaster <>`
        keeps its null address), for the engine's service-message rule (SPEC §3.1)."""
        found: list[tuple[str, str]] = []
        for name in SERVICE_HEADERS:
            raw = self._get(name)
            if raw is not None:
                found.append((name, _one_line(decode_words(str(raw)))))
        return tuple(found)

    def addresses(self, name: str) -> tuple[Address, ...]:
        """An address header as lower-cased, de-duplicated addresses; invalid ones dropped with a reason."""
        found: list[tuple[str, str]] = []
        first = self._raw.get(name.lower())
        simple = _simple_addresses(first[1]) if first is not None else None
        # A plain header that occurs once is read: a repeated one is read whole (every occurrence)
        # by the legacy reader below.
        done = simple is not None and name.lower() not in self._repeated
        value = None if simple is not None else self._modern(name)
        if simple is not None:
            found = simple
        elif value is not None and hasattr(value, "addresses"):
            try:
                found = [(a.display_name or "", a.addr_spec or "") for a in value.addresses]
            except Exception:
                value = None
        if not done and value is None and self._get(name) is not None:
            raw_values = [str(v) for v in self.legacy.get_all(name, [])]
            try:
                pairs = email.utils.getaddresses(raw_values)
            except Exception:
                pairs = []
                self.problems.append(f"the {name} header could not be read")
            found = [(decode_words(n), a) for n, a in pairs]
        out: dict[str, Address] = {}
        dropped = 0
        for display_name, addr in found:
            cleaned = scrub(addr).strip().strip("<>").strip().lower()
            if not _VALID_ADDRESS.match(cleaned) or "\ufffd" in cleaned:
                if cleaned or display_name:
                    dropped += 1
                continue
            if cleaned not in out:
                out[cleaned] = Address(cleaned, _one_line(display_name))
        if dropped:
            self.problems.append(f"{dropped} invalid address(es) dropped from {name}")
        return tuple(out.values())

    def date(self, fallback: datetime) -> datetime:
        """The Date header as an aware datetime; the fallback (with a reason) when missing or malformed."""
        raw = self._get("Date")
        if raw is None:
            self.problems.append("no Date header; the time Gmail received the email is used")
            return fallback
        try:
            parsed = email.utils.parsedate_to_datetime(_one_line(str(raw)))
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
        if parsed is None:
            self.problems.append("malformed Date header; the time Gmail received the email is used")
            return fallback
        if parsed.tzinfo is None:  # "-0000": the time is UTC, the sender's zone unknown (RFC 5322)
            parsed = parsed.replace(tzinfo=UTC)
        if 100 <= parsed.year < 1000:
            # RFC 5322 §4.3: an obsolete three-digit year is 1900 + year ("2 Apr 101" is 2001).
            try:
                parsed = parsed.replace(year=parsed.year + 1900)
            except ValueError:
                self.problems.append("malformed Date header; the time Gmail received the email is used")
                return fallback
        return parsed


_PLAIN_SPEC = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_SIMPLE_ADDRESS = re.compile(
    rf"\s*(?:(?P<name>[A-Za-z0-9 ._'-]*?)\s*<(?P<angled>{_PLAIN_SPEC})>|(?P<bare>{_PLAIN_SPEC}))\s*"
)


def _simple_addresses(raw: str) -> list[tuple[str, str]] | None:
    """(display name, address) pairs of an address list in its plainest form (ASCII names without
    quotes, comments, groups or encoded words), read without the header registry, which costs
    most of an email's parsing; None for anything else, which the registry reads."""
    pairs: list[tuple[str, str]] = []
    for element in "".join(raw.splitlines()).split(","):
        match = _SIMPLE_ADDRESS.fullmatch(element)
        if match is None:
            return None
        if match["bare"]:
            pairs.append(("", match["bare"]))
        else:
            pairs.append((" ".join(match["name"].split()), match["angled"]))
    return pairs


def _broken_encoded_word(value: str) -> bool:
    """True when an RFC 2047 encoded word in `value` cannot be decoded at all (bad base64)."""
    if "=?" not in value:
        return False
    try:
        email.header.decode_header(value)
    except email.errors.HeaderParseError:
        return True
    except Exception:
        return False  # an unknown charset and the like: decoded with replacements instead
    return False


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words, replacing what an unknown or wrong charset cannot give."""
    try:
        parts = email.header.decode_header(value)
    except Exception:
        return value
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
            continue
        try:
            out.append(chunk.decode(charset or "ascii", "replace"))
        except LookupError:
            out.append(chunk.decode("utf-8", "replace"))
    return "".join(out)


def _one_line(value: str) -> str:
    """Unfold a header value: folded lines and runs of whitespace become one space."""
    return " ".join(scrub(value).split())


_SURROGATE = re.compile("[\ud800-\udfff]")


def scrub(value: str) -> str:
    """Replace the lone surrogates the parser leaves for raw 8-bit bytes (they cannot be stored).

    Raw bytes are first read as UTF-8 (what unlabelled 8-bit headers usually are); what still does
    not decode becomes U+FFFD.
    """
    if not _SURROGATE.search(value):
        return value
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)


def _clean_id(value: str) -> str:
    """A Message-ID-like header value without whitespace (folding can split long ids)."""
    return "".join(value.split())


def _content_type(message: Message) -> str:
    """The top-level content type with its report-type/method parameter when it has one.

    A meeting invitation arrives as multipart/mixed around a text/calendar part with a METHOD;
    its calendar type is given instead, so the planner recognises it as a service message (SPEC
    §3.1) as it does for Exchange's IPM.Schedule item classes.
    """
    try:
        media = message.get_content_type()
        report = message.get_param("report-type")
    except Exception:
        return "text/plain"
    if media == "multipart/report" and isinstance(report, str):
        return f"{media}; report-type={report.lower()}"
    if media.startswith("multipart/"):
        for part in message.walk():
            try:
                if part.get_content_type() == "text/calendar" and part.get_param("method"):
                    return f"text/calendar; method={str(part.get_param('method')).lower()}"
            except Exception:
                continue
    return media


# --------------------------------------------------------------------------------------------
# Bodies


def _bodies(message: Message, problems: list[str]) -> tuple[str, str]:
    """The first plain-text and first HTML body parts that are not attachments.

    Unknown charsets and undecodable bytes are replaced (with a reason); an HTML-only email gets a
    plain-text body made from its HTML, so a Salesforce Task still shows what was written.
    """
    text = html = None
    for part in message.walk():
        if part.is_multipart():
            continue
        try:
            disposition = part.get_content_disposition()
            media = part.get_content_type()
        except Exception:
            continue
        if disposition == "attachment" or media not in ("text/plain", "text/html"):
            continue
        if media == "text/plain" and text is None:
            text = _part_text(part, problems)
        elif media == "text/html" and html is None:
            html = _part_text(part, problems)
        if text is not None and html is not None:
            break
    text = text or ""
    html = html or ""
    if not text.strip() and html:
        text = html_to_text(html)
    if len(text) > MAX_BODY_CHARS or len(html) > MAX_BODY_CHARS:
        problems.append(f"the body is longer than {MAX_BODY_CHARS:,} characters and was cut")
    return text[:MAX_BODY_CHARS], html[:MAX_BODY_CHARS]


def _part_text(part: Message, problems: list[str]) -> str:
    # What `EmailMessage.get_content` gives a text part: the decoded payload in its declared
    # charset (ASCII when none), undecodable bytes replaced.
    try:
        payload = part.get_payload(decode=True)
        charset = part.get_param("charset", "ASCII")
        if isinstance(payload, bytes) and isinstance(charset, str):
            return scrub(payload.decode(charset, "replace")).replace("\r\n", "\n")
    except Exception:  # unknown charset, broken transfer encoding: decode by hand below
        pass
    # Fall back to the decoded bytes in the declared charset, else UTF-8, replacing what fails.
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        payload = raw.encode("utf-8", "replace") if isinstance(raw, str) else b""
    charset = "utf-8"
    try:
        charset = part.get_content_charset() or "utf-8"
    except Exception:
        problems.append("malformed Content-Type header in a body part")
    try:
        decoded = payload.decode(charset, "strict")
    except LookupError:
        decoded, guess = _guess(payload)
        problems.append(f"unknown charset '{charset}' in the body; read as {guess}")
    except UnicodeDecodeError:
        problems.append(f"the body is not valid '{charset}'; undecodable characters replaced")
        decoded = payload.decode(charset, "replace")
    return scrub(decoded).replace("\r\n", "\n")


def _guess(payload: bytes) -> tuple[str, str]:
    """Text of bytes in an unknown charset: UTF-8 when it is valid, else Windows-1252 (what
    unlabelled Western mail most often is), replacing the few bytes that has no letter for."""
    try:
        return payload.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        return payload.decode("cp1252", "replace"), "Windows-1252"
