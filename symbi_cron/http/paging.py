"""Cursor pagination for every list the API answers (SPEC §13).

A list reads one page: at most ``limit`` items (each list documents its default page), in a fixed order with a
unique key (jobs by name, a job's runs by slot time, newest first). When more follow, the answer carries the
next page's cursor in the ``X-Next-Cursor`` header and a ``Link: <...>; rel="next"`` header (RFC 8288) with the
whole next URL. The body keeps its shape (a JSON array, or the runtime family's object), so the guide's clients
and symbiont-sdk read a page exactly as they read a whole list before.

A cursor is opaque to clients: base64url of the last item's key, the list it belongs to and a fingerprint of the
query's filters. The store reads the next page with a keyset (``WHERE key > ? ORDER BY key LIMIT n``), never an
OFFSET, so a page costs the same at the end of a long list as at its start, and items added or removed between
two pages never shift the rest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from ..errors import InvalidInput

#: The largest page any list answers.
MAX_PAGE = 1000
NEXT_CURSOR_HEADER = "X-Next-Cursor"


def _fingerprint(scope: Sequence[Any]) -> str:
    return hashlib.sha256(json.dumps(list(scope), separators=(",", ":")).encode("utf-8")).hexdigest()[:12]


def encode_cursor(kind: str, key: Any, scope: Sequence[Any]) -> str:
    """The opaque cursor that continues list ``kind`` (with filters ``scope``) after the item keyed ``key``."""
    raw = json.dumps({"k": kind, "s": _fingerprint(scope), "a": key}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(raw: str | None, kind: str, scope: Sequence[Any], key_type: type = str) -> Any:
    """The key a cursor continues after (None without a cursor); InvalidInput for a cursor that is damaged or
    belongs to another list or other filters."""
    if not raw:  # absent or empty: the first page
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict) or "a" not in data or data.get("k") != kind:
        raise InvalidInput(
            "not a cursor of this list: pass the X-Next-Cursor of the previous page unchanged", field="cursor"
        )
    key = data["a"]
    if type(key) is not key_type or (key_type is int and not -(2**63) <= key < 2**63):
        raise InvalidInput("a damaged cursor: pass the X-Next-Cursor of the previous page unchanged", field="cursor")
    if data.get("s") != _fingerprint(scope):
        raise InvalidInput(
            "this cursor belongs to a query with other filters: keep the filters of the first page", field="cursor"
        )
    return key


def next_page_headers(path: str, query: dict[str, str], cursor: str | None) -> dict[str, str]:
    """``X-Next-Cursor`` and ``Link rel=next`` for an answer with a next page (none on the last page)."""
    if cursor is None:
        return {}
    nxt = {k: v for k, v in query.items() if k != "cursor"}
    nxt["cursor"] = cursor
    return {NEXT_CURSOR_HEADER: cursor, "Link": f'<{path}?{urlencode(nxt)}>; rel="next"'}


def read_page(
    fetch: Callable[[Any, int], list[dict[str, Any]]],
    *,
    kind: str,
    scope: Sequence[Any],
    cursor: str | None,
    limit: int,
    key: Callable[[dict[str, Any]], Any],
    key_type: type = str,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page: ``fetch(after_key, n)`` reads up to n items after the key; returns the page and the next cursor
    (None on the last page). One extra item is read to know whether another page follows."""
    after = decode_cursor(cursor, kind, scope, key_type)
    rows = fetch(after, limit + 1)
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(kind, key(rows[-1]), scope)
