"""Harbor's list conventions: `page` and `page_size` (default 10, at most 100),
`X-Total-Count`, a `Link` header with rel="prev" and rel="next", and the `q`
query language (`k=v` exact, `k=~v` fuzzy, `k={a b}` any of, `k=[lo~hi]` range,
comma separated). Paging past the end is an empty list, not an error.

Two ways to answer a page (docs/decisions/lists-read-one-page.md):

* `keyed`: the list is kept in key order (a listing partition, a prefix of one) and
  its size in a counter item, so a page is one Query of `page_size` items after a
  start key, and X-Total-Count is one read. Page k's start key is in the cursor
  that page k-1's `Link: rel="next"` carried; a client that asks for page k
  itself (no cursor, or one for another page) gets a keys-only skip of
  (k-1) x page_size keys: its cost grows with the page number, never with the total.
* `paged`: everything read, then filtered, sorted and windowed, for filters and
  orders that key order cannot serve (`q=name=~foo`, `sort=-creation_time`).
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

from chalicelib.management.errors import BadRequest
from chalicelib.web.http import Request, Response

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
MAX_PAGE = 10**9
API_BASE = "/api/v2.0"  # Harbor's; Location and Link carry it (see docs/architecture.md)


@dataclass(frozen=True)
class Page:
    number: int
    size: int
    after: str | None = None  # the key that ends page number - 1, from the request's cursor

    def window(self, items: Sequence[Any]) -> Sequence[Any]:
        start = (self.number - 1) * self.size
        return items[start : start + self.size]


def page_args(req: Request) -> Page:
    number = _whole(req, "page", 1, 1, MAX_PAGE)
    size = _whole(req, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    return Page(number, size, _cursor_key(req.arg("cursor"), number, size))


# -- cursors ------------------------------------------------------------------------------
# A cursor is the last key of the previous page with the page number and size it was made
# for, base64url JSON: opaque to clients, and not signed, because it only moves where a
# Query starts inside the key range the handler chose for this caller (a forged one is a
# filter the caller could have asked for). One made for another page or size is ignored.
CURSOR = "cursor"


def cursor(number: int, size: int, key: str) -> str:
    raw = json.dumps([number, size, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_key(raw: str | None, number: int, size: int) -> str | None:
    if not raw:
        return None
    try:
        if len(raw) > 2048:
            raise ValueError
        decoded = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        made_for, made_size, key = decoded
        if not (isinstance(made_for, int) and isinstance(made_size, int) and isinstance(key, str)):
            raise TypeError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("cursor is malformed; follow the Link header or leave it out") from None
    return key if (made_for, made_size) == (number, size) else None


class KeyedList(Protocol):
    """A list in key order: keys only (cheap) or (key, entry) pairs, after a key."""

    def keys(self, after: str | None, limit: int) -> list[str]: ...

    def rows(self, after: str | None, limit: int) -> list[tuple[str, Any]]: ...


def keyed(req: Request, source: KeyedList, total: int, render: Callable[[list[Any]], list[Any]], page: Page | None = None) -> Response:
    """One page of a list kept in key order, whose size (`total`) is counted elsewhere:
    reads the page's entries (and for page k without its cursor, (k-1) x size keys)."""
    page = page or page_args(req)
    skip = (page.number - 1) * page.size
    rows: list[tuple[str, Any]] = []
    if skip < total:
        after = page.after
        if after is None and skip:
            skipped = source.keys(None, skip)
            after = skipped[-1] if len(skipped) == skip else None
            if after is None:  # fewer keys than the counter says: past the end
                skip = total
        if skip < total:
            rows = source.rows(after, page.size)
    headers = {"X-Total-Count": str(total)}
    links = []
    if page.number > 1 and total:
        links.append(f'<{_page_url(req, page.number - 1, page.size)}>; rel="prev"')
    if page.number * page.size < total and len(rows) == page.size:
        links.append(f'<{_page_url(req, page.number + 1, page.size, rows[-1][0])}>; rel="next"')
    if links:
        headers["Link"] = " , ".join(links)
    return Response.json(200, render([entry for _, entry in rows]), headers)


class Merged:
    """The union of key-ordered lists (each key in one of them), in key order."""

    def __init__(self, *sources: KeyedList):
        self.sources = sources

    def keys(self, after: str | None, limit: int) -> list[str]:
        return sorted({k for s in self.sources for k in s.keys(after, limit)})[:limit]

    def rows(self, after: str | None, limit: int) -> list[tuple[str, Any]]:
        return sorted((r for s in self.sources for r in s.rows(after, limit)), key=lambda r: r[0])[:limit]


class InMemory:
    """A list already read (small by construction, e.g. a user's own memberships)."""

    def __init__(self, rows: Iterable[tuple[str, Any]]):
        self._rows = sorted(rows, key=lambda r: r[0])

    def keys(self, after: str | None, limit: int) -> list[str]:
        return [k for k, _ in self._after(after, limit)]

    def rows(self, after: str | None, limit: int) -> list[tuple[str, Any]]:
        return self._after(after, limit)

    def _after(self, after: str | None, limit: int) -> list[tuple[str, Any]]:
        return [r for r in self._rows if after is None or r[0] > after][:limit]


def by_key_order(req: Request, key_sort: str, allowed_q: Iterable[str] = ()) -> bool:
    """Whether key order serves this request: no `q` beyond `allowed_q`'s exact terms and
    no `sort` other than the key's (the handler's default)."""
    raw_sort = (req.arg("sort") or "").strip()
    if raw_sort and raw_sort != key_sort:
        return False
    raw_q = req.arg("q")
    if not raw_q:
        return True
    allowed = set(allowed_q)
    return all(_parse_term(t)[0] in allowed and _parse_term(t)[1].op == "exact" for t in _split(raw_q))


def _whole(req: Request, name: str, default: int, low: int, high: int) -> int:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"[0-9]{1,12}", raw.strip()):
        raise BadRequest(f"{name} must be a whole number")
    value = int(raw)
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


def paged(req: Request, items: Sequence[Any], render: Callable[[Any], Any], page: Page | None = None) -> Response:
    """One page of `items` (already filtered and sorted) with Harbor's headers."""
    page = page or page_args(req)
    total = len(items)
    headers = {"X-Total-Count": str(total)}
    links = []
    if page.number > 1 and total:
        links.append(f'<{_page_url(req, page.number - 1, page.size)}>; rel="prev"')
    if page.number * page.size < total:
        links.append(f'<{_page_url(req, page.number + 1, page.size)}>; rel="next"')
    if links:
        headers["Link"] = " , ".join(links)
    return Response.json(200, [render(i) for i in page.window(items)], headers)


def _page_url(req: Request, number: int, size: int, after: str | None = None) -> str:
    query = [(k, v) for k, values in req.query.items() if k not in ("page", "page_size", CURSOR) for v in values]
    query += [("page", str(number)), ("page_size", str(size))]
    if after is not None:
        query.append((CURSOR, cursor(number, size, after)))
    return f"{API_BASE}/{req.path[len('api/v2.0/'):]}?{urlencode(query)}"


# -- q -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    op: str  # "exact" | "fuzzy" | "any" | "range"
    values: tuple[str, ...]

    def matches(self, value: Any) -> bool:
        text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        if self.op == "exact":
            return text == self.values[0]
        if self.op == "fuzzy":
            return self.values[0] in text
        if self.op == "any":
            return text in self.values
        low, high = self.values
        return (not low or text >= low) and (not high or text <= high)


_TERM = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_.]*)=(?P<fuzzy>~?)(?P<value>.*)$", re.DOTALL)


def query_args(req: Request, allowed: Iterable[str], extra: Mapping[str, str] | None = None) -> dict[str, Condition]:
    """The `q` conditions, plus plain parameters such as `name=` (given in
    `extra` as parameter -> key). A key not in `allowed` is a 400."""
    allowed = set(allowed)
    conditions: dict[str, Condition] = {}
    raw = req.arg("q")
    if raw:
        if len(raw) > 1024:
            raise BadRequest("q is too long")
        for term in _split(raw):
            key, condition = _parse_term(term)
            if key not in allowed:
                raise BadRequest(f"cannot query by {key[:50]!r}; allowed: {', '.join(sorted(allowed)) or 'nothing'}")
            conditions[key] = condition
    for param, key in (extra or {}).items():
        value = req.arg(param)
        if value:
            conditions[key] = Condition("exact", (value,))
    return conditions


def _split(raw: str) -> list[str]:
    """Split on commas outside {...}, (...) and [...]."""
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in raw:
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    terms.append("".join(current))
    return [t.strip() for t in terms if t.strip()]


def _parse_term(term: str) -> tuple[str, Condition]:
    found = _TERM.match(term)
    if not found:
        raise BadRequest(f"malformed query term {term[:100]!r}; use k=v, k=~v, k={{v1 v2}} or k=[lo~hi]")
    key, value = found["key"], found["value"].strip()
    if found["fuzzy"]:
        return key, Condition("fuzzy", (_unquote(value),))
    if len(value) >= 2 and value[0] in "{(" and value[-1] in "})":
        return key, Condition("any", tuple(_unquote(v) for v in value[1:-1].split()))
    if len(value) >= 2 and value[0] == "[" and value[-1] == "]":
        low, sep, high = value[1:-1].partition("~")
        if not sep:
            raise BadRequest(f"malformed range in {term[:100]!r}; use k=[lo~hi]")
        return key, Condition("range", (_unquote(low.strip()), _unquote(high.strip())))
    return key, Condition("exact", (_unquote(value),))


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def filtered(items: Iterable[Any], conditions: Mapping[str, Condition], fields: Mapping[str, Callable[[Any], Any]]) -> list[Any]:
    """Items whose fields meet every condition (`fields`: key -> getter)."""
    return [item for item in items if all(c.matches(fields[k](item)) for k, c in conditions.items())]


def sort_args(req: Request, allowed: Iterable[str], default: str) -> list[tuple[str, bool]]:
    """[(field, descending)], from `sort=a,-b`."""
    raw = req.arg("sort") or default
    out = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        descending = part.startswith("-")
        name = part.lstrip("-")
        if name not in allowed:
            raise BadRequest(f"cannot sort by {name[:50]!r}; allowed: {', '.join(sorted(allowed))}")
        out.append((name, descending))
    return out


def sorted_by(items: list[Any], keys: list[tuple[str, bool]], fields: Mapping[str, Callable[[Any], Any]]) -> list[Any]:
    """Stable sorts, last key first; each getter returns values of one type."""
    for name, descending in reversed(keys):
        items = sorted(items, key=fields[name], reverse=descending)
    return items
