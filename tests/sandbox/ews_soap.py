"""Raw SOAP against the EWS emulator, for tests of its wire format (no client library in between).

Import with `from tests.sandbox.ews_soap import ...`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from lxml import etree

from rgsync.sandbox.ews import RunningEws

NS = {
    "s": "http://schemas.xmlsoap.org/soap/envelope/",
    "m": "http://schemas.microsoft.com/exchange/services/2006/messages",
    "t": "http://schemas.microsoft.com/exchange/services/2006/types",
    "e": "http://schemas.microsoft.com/exchange/services/2006/errors",
}
ENVELOPE = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<s:Envelope xmlns:s="{s}" xmlns:m="{m}" xmlns:t="{t}">'
    '<s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header>'
    "<s:Body>{body}</s:Body></s:Envelope>"
)


@dataclass
class Answer:
    """An HTTP answer of the emulator with its XML parsed."""

    status: int
    xml: Any

    def all(self, path: str) -> list[Any]:
        return list(self.xml.xpath(path, namespaces=NS))

    def one(self, path: str) -> Any:
        found = self.all(path)
        assert len(found) == 1, (path, etree.tostring(self.xml)[:2000])
        return found[0]

    def text(self, path: str) -> str:
        return str(self.one(path).text or "")

    def messages(self) -> list[tuple[str, str]]:
        """(ResponseClass, ResponseCode) of every response message, in order."""
        return [
            (m.get("ResponseClass"), m.findtext("m:ResponseCode", namespaces=NS))
            for m in self.xml.xpath("//m:ResponseMessages/*", namespaces=NS)
        ]


def post(ews: RunningEws, body: str, *, auth: tuple[str, str] | None = None) -> Answer:
    """POST one SOAP operation (the XML inside s:Body) with Basic authentication."""
    response = requests.post(
        ews.url,
        data=ENVELOPE.format(body=body, **NS).encode("utf-8"),
        headers={"Content-Type": "text/xml; charset=utf-8"},
        auth=auth or (ews.username, ews.password),
        timeout=10,
    )
    xml = etree.fromstring(response.content) if response.content.startswith(b"<?xml") else None
    return Answer(response.status_code, xml)


def folder(distinguished: str) -> str:
    return f'<t:DistinguishedFolderId Id="{distinguished}"/>'


def sync(folder_xml: str, *, state: str | None = None, limit: int = 512, fields: str = "") -> str:
    """A SyncFolderItems request body."""
    return (
        f"<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>"
        f"{f'<t:AdditionalProperties>{fields}</t:AdditionalProperties>' if fields else ''}</m:ItemShape>"
        f"<m:SyncFolderId>{folder_xml}</m:SyncFolderId>"
        f"{f'<m:SyncState>{state}</m:SyncState>' if state else ''}"
        f"<m:MaxChangesReturned>{limit}</m:MaxChangesReturned></m:SyncFolderItems>"
    )


def uri(name: str) -> str:
    return f'<t:FieldURI FieldURI="{name}"/>'


def get_item(ids: list[str], fields: str = "", base: str = "IdOnly") -> str:
    refs = "".join(f'<t:ItemId Id="{i}"/>' for i in ids)
    extra = f"<t:AdditionalProperties>{fields}</t:AdditionalProperties>" if fields else ""
    return f"<m:GetItem><m:ItemShape><t:BaseShape>{base}</t:BaseShape>{extra}</m:ItemShape><m:ItemIds>{refs}</m:ItemIds></m:GetItem>"


EXTENDED_URI = '<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="rgsync-salesforce-id" PropertyType="String"/>'
