"""Change tracking for delta queries, and OData paging.

Every store records each change in a `ChangeLog`: (sequence number, item id, the item as it was
before the change). A delta token remembers a sequence number, so a later round can tell exactly
which items changed since, and what each looked like when the token was handed out: enough to
report updates, removals and, for a calendar view, occurrences that appeared or went away.

`DeltaRounds` hands out the tokens. A round's rows are computed when it starts and served page by
page (`Prefer: odata.maxpagesize`); every page but the last carries an `@odata.nextLink` with a
`$skiptoken`, the last one an `@odata.deltaLink` with a `$deltatoken`. `expire()` forgets every
token, as Outlook does when its internal sync-state cache drops them: the next use gets
410 Gone with code `syncStateNotFound`.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from rgsync.sandbox.graph.common import GraphError, Json

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
KEPT_ROUNDS = 64  # started rounds whose nextLinks stay valid


class ChangeLog:
    """Changes per collection (a mail folder, the calendar, a contact folder, a task list)."""

    def __init__(self) -> None:
        self._sequence: Iterator[int] = itertools.count(1)
        self._position = 0
        self._entries: dict[str, list[tuple[int, str, Any]]] = {}

    @property
    def position(self) -> int:
        """The sequence number of the latest change (0 before any)."""
        return self._position

    def record(self, collection: str, item_id: str, before: Any) -> None:
        """Note that `item_id` changed in `collection`; `before` is its prior state there (None if it
        was not in the collection)."""
        self._position = next(self._sequence)
        self._entries.setdefault(collection, []).append((self._position, item_id, before))

    def changed_since(self, collection: str, position: int) -> dict[str, Any]:
        """Ids changed after `position`, each with its state as of `position` (None: did not exist)."""
        out: dict[str, Any] = {}
        for seq, item_id, before in self._entries.get(collection, []):
            if seq > position and item_id not in out:
                out[item_id] = before
        return out


@dataclass
class DeltaToken:
    """What a `$deltatoken` stands for: a collection, a change-log position and the round's options."""

    collection: str
    position: int
    options: dict[str, Any]
    epoch: int


@dataclass
class Round:
    """A started round: all its rows, and how far the client has paged."""

    collection: str
    rows: list[Json]
    page_size: int
    end_token: str
    path: str
    served: int = 0
    epoch: int = 0


RowsFunction = Callable[[int | None, dict[str, Any]], list[Json]]


@dataclass
class DeltaRounds:
    """Delta and skip tokens of one emulator; `expire()` invalidates every one handed out so far."""

    log: ChangeLog
    epoch: int = 0
    expiry_code: str = "syncStateNotFound"
    expiry_status: int = 410
    _tokens: dict[str, DeltaToken] = field(default_factory=dict)
    _rounds: dict[str, Round] = field(default_factory=dict)

    def expire(self, *, code: str = "syncStateNotFound", status: int = 410) -> None:
        """Every delta/skip token handed out so far is forgotten."""
        self.epoch += 1
        self.expiry_code = code
        self.expiry_status = status
        self._tokens.clear()
        self._rounds.clear()

    def _expired(self, base: str, path: str) -> GraphError:
        # Graph answers 410 Gone with the restart URL in Location (delta-query-overview).
        return GraphError(
            self.expiry_status,
            self.expiry_code,
            "The sync state generation is not found or has expired. Start a new delta round without a token.",
            headers={"Location": f"{base}{path}"},
        )

    def serve(
        self,
        *,
        base: str,
        path: str,
        query: Mapping[str, list[str]],
        collection: str,
        options: dict[str, Any],
        rows: RowsFunction,
        page_size: int | None,
    ) -> Json:
        """Answer one delta request: start a round (no token, or a `$deltatoken`) or continue one
        (`$skiptoken`). `rows(position, options)` lists the rows since `position` (None: all)."""
        skip = _first(query, "$skiptoken")
        delta = _first(query, "$deltatoken")
        if skip is not None:
            # A skip token names its round and the offset it starts at, so following the same
            # nextLink again (a client resuming after a crash) serves the same page, as Graph does.
            round_id, _, offset_text = skip.rpartition("~")
            current = self._rounds.get(round_id)
            if current is None or current.epoch != self.epoch or not offset_text.isdigit():
                raise self._expired(base, current.path if current else path)
            if page_size is not None:
                current.page_size = min(page_size, MAX_PAGE_SIZE)
            current.served = int(offset_text)
            return self._page(base, round_id, current)
        if delta is not None:
            token = self._tokens.get(delta)
            if token is None or token.epoch != self.epoch:
                raise self._expired(base, path)
            collection, options, start = token.collection, token.options, token.position
        else:
            start = None
        position = self.log.position
        found = rows(start, options)
        end_token = secrets.token_urlsafe(24)
        self._tokens[end_token] = DeltaToken(collection, position, dict(options), self.epoch)
        round_id = secrets.token_urlsafe(24)
        current = Round(
            collection,
            found,
            min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
            end_token,
            path,
            epoch=self.epoch,
        )
        self._rounds[round_id] = current
        # Rounds stay resumable after their last page (a stored nextLink outlives the round's
        # end), the oldest forgotten first so memory stays bounded.
        while len(self._rounds) > KEPT_ROUNDS:
            del self._rounds[next(iter(self._rounds))]
        return self._page(base, round_id, current)

    def _page(self, base: str, round_id: str, current: Round) -> Json:
        chunk = current.rows[current.served : current.served + current.page_size]
        current.served += len(chunk)
        body: Json = {
            "@odata.context": f"{base}/v1.0/$metadata#Collection(microsoft.graph.entity)",
            "value": chunk,
        }
        if current.served < len(current.rows):
            body["@odata.nextLink"] = f"{base}{current.path}?$skiptoken={quote(round_id)}~{current.served}"
        else:
            body["@odata.deltaLink"] = f"{base}{current.path}?$deltatoken={quote(current.end_token)}"
        return body


def _first(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def page_list(
    base: str,
    path: str,
    query: Mapping[str, list[str]],
    items: list[Json],
    page_size: int | None,
    default: int = DEFAULT_PAGE_SIZE,
) -> Json:
    """A plain collection GET with `$top` / `Prefer: odata.maxpagesize` and `$skip` paging."""
    top = _first(query, "$top")
    size = int(top) if top and top.isdigit() else (page_size or default)
    size = max(1, min(size, MAX_PAGE_SIZE))
    skip_text = _first(query, "$skip") or "0"
    skip = int(skip_text) if skip_text.isdigit() else 0
    chunk = items[skip : skip + size]
    body: Json = {
        "@odata.context": f"{base}/v1.0/$metadata#Collection(microsoft.graph.entity)",
        "value": chunk,
    }
    if skip + size < len(items):
        kept = [
            f"{quote(k, safe='$')}={quote(v, safe='')}"
            for k, vs in query.items()
            if k not in ("$skip",)
            for v in vs
        ]
        kept.append(f"$skip={skip + size}")
        if top is None:
            kept.append(f"$top={size}")
        body["@odata.nextLink"] = f"{base}{path}?{'&'.join(kept)}"
    return body
