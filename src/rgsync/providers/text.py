"""Plain text of an email's HTML body — the one converter every mailbox adapter uses.

A Salesforce Task or EmailMessage shows an email's plain text. Gmail usually hands over the
sender's own text/plain part, which is kept as it is; Exchange and Microsoft 365 store only the
HTML (the text alternative would cost a MIME download per email), so their text comes from here.

The HTML is parsed by lxml (the way a browser would: comments, Outlook's `<!--[if mso]>` blocks,
`>` inside attributes and unclosed `<script>` never reach the text) and laid out by inscriptis
(block elements on their own lines, table cells side by side in columns, entities decoded). Links
to web and mail addresses keep their target as `text <target>`, the way Outlook's own
HTML-to-text conversion writes them, so a saved email still says where its links pointed.
"""

from __future__ import annotations

import re
from functools import lru_cache

from inscriptis import Inscriptis
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig
from lxml import etree
from lxml.html import HtmlElement, HTMLParser

__all__ = ["html_to_text"]

# Past this much markup the text would be cut by every caller anyway; parsing more only costs time.
MAX_MARKUP_CHARS = 2_000_000

# Elements whose content is never text a reader saw (scripts, styles, the head's metadata).
_HIDDEN = ("script", "style", "head", "title", "noscript", "template")
_LINK_SCHEMES = ("http:", "https:", "mailto:")
_MARKUP_SIGNS = re.compile(r"[<&]")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")


@lru_cache(maxsize=1)
def _config() -> ParserConfig:
    # The strict profile adds no indentation for divs and blockquotes: email HTML nests them deeply
    # (Gmail quotes, Outlook's WordSection divs) and indentation would push text off the page.
    return ParserConfig(css=CSS_PROFILES["strict"], display_links=False, display_images=False)


def _parser() -> HTMLParser:
    # A new parser each time: an lxml parser must not be shared between threads.
    return HTMLParser(remove_comments=True, remove_pis=True, no_network=True)


def html_to_text(markup: str) -> str:
    """Readable plain text of an HTML email body; never raises.

    Blocks and line breaks become lines, table cells are kept apart, `&nbsp;` and other entities
    become the characters they stand for (a non-breaking space becomes a plain space), scripts,
    styles, comments and Outlook conditional comments are dropped, and links to web or mail
    addresses read `text <target>` (the target alone when it is also the text). Text without a
    tag or entity is not parsed, only tidied (trailing spaces, runs of blank lines).
    """
    if not markup or not markup.strip():
        return ""
    if _MARKUP_SIGNS.search(markup) is None:
        return _tidy(markup)
    try:
        root = _tree(markup[:MAX_MARKUP_CHARS])
        if root is None:
            return ""
        _drop_hidden(root)
        _spell_out_links(root)
        _flatten_layout_tables(root)
        text = Inscriptis(root, _config()).get_text()
    except Exception:  # a converter must not lose the email: fall back to the markup's bare text
        text = re.sub(r"<[^>]*>", " ", markup[:MAX_MARKUP_CHARS])
    return _tidy(text)


def _tree(markup: str) -> HtmlElement | None:
    # An XML declaration in a str makes lxml refuse the document; emails from some tools carry one.
    if markup.lstrip().startswith("<?xml"):
        markup = re.sub(r"^\s*<\?xml[^>]*\?>", "", markup, count=1)
    root = etree.fromstring(markup, _parser())
    return root if isinstance(root, HtmlElement) else None


def _drop_hidden(root: HtmlElement) -> None:
    for element in list(root.iter(*_HIDDEN)):
        parent = element.getparent()
        if parent is not None:
            element.drop_tree()  # keeps the text that follows the element


def _spell_out_links(root: HtmlElement) -> None:
    for link in root.iter("a"):
        target = (link.get("href") or "").strip()
        if not target.lower().startswith(_LINK_SCHEMES):
            continue
        address = target[len("mailto:") :] if target.lower().startswith("mailto:") else target
        shown = " ".join(link.text_content().split())
        if not shown or shown in (target, address):
            # An image-only link, or one whose text is its address: the address alone.
            for child in list(link):
                link.remove(child)
            link.text = address
            continue
        suffix = f" <{address}>"
        if len(link):
            last = link[-1]
            last.tail = (last.tail or "") + suffix
        else:
            link.text = (link.text or "") + suffix


def _flatten_layout_tables(root: HtmlElement) -> None:
    """Tables that only lay the page out (they hold other tables, or say role="presentation") as
    plain blocks, one cell after another: marketing emails nest them many levels deep, and laying
    them out as columns is slow and pads every line; data tables inside keep their columns."""
    for table in list(root.iter("table")):
        if table.find(".//table") is None:
            continue
        table.tag = "div"
        for section in table.findall("./*"):
            if section.tag in ("tbody", "thead", "tfoot"):
                section.tag = "div"
                rows = section.findall("./tr")
            elif section.tag == "tr":
                rows = [section]
            else:
                continue
            for row in rows:
                row.tag = "div"
                for cell in row.findall("./*"):
                    if cell.tag in ("td", "th"):
                        cell.tag = "div"


def _tidy(text: str) -> str:
    lines = (line.rstrip() for line in text.replace("\xa0", " ").replace("\r\n", "\n").split("\n"))
    return _MANY_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
