"""Harbor's list conventions: `page` and `page_size` (default 10, at most 100),
`X-Total-Count`, a `Link` header with rel="prev" and rel="next", and the `q`
query language (`k=v` exact, `k=~v` fuzzy, `k={a b}` any of, `k=[lo~hi]` range,
comma separated). Paging past the end is an empty list, not an error.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
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

    def window(self, items: Sequence[Any]) -> Sequence[Any]:
        start = (self.number - 1) * self.size
        return items[start : start + self.size]


def page_args(req: Request) -> Page:
    return Page(
        _whole(req, "page", 1, 1, MAX_PAGE),
        _whole(req, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
    )


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


def _page_url(req: Request, number: int, size: int) -> str:
    query = [(k, v) for k, values in req.query.items() if k not in ("page", "page_size") for v in values]
    query += [("page", str(number)), ("page_size", str(size))]
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
    terms, depth, current = [], 0, []
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
