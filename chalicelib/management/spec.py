"""What each management operation accepts and answers, declared on its handler.

`@operation(...)` keeps a handler's request body schema, query parameters and
responses next to its code; the dispatcher validates bodies with it and
openapi.py publishes it, so the document cannot drift from what runs.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.management.schema import integer, string


@dataclass(frozen=True)
class Param:
    name: str
    schema: dict[str, Any]
    description: str = ""
    required: bool = False
    where: str = "query"  # or "header"


@dataclass(frozen=True)
class Operation:
    operation_id: str  # Harbor's operationId
    summary: str
    tag: str
    ok: int = 200  # the success status
    response: dict[str, Any] | None = None  # schema of the success body (None: empty body)
    body: dict[str, Any] | None = None  # schema of the request body (None: no body)
    body_required: bool = True
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()  # statuses beyond the ones every operation may answer
    paged: bool = False  # answers X-Total-Count and Link
    location: bool = False  # a 201 with Location
    content_type: str = "application/json"


def operation(operation_id: str, summary: str, tag: str, **kwargs: Any) -> Callable[[Callable], Callable]:
    def mark(handler: Callable) -> Callable:
        handler.operation = Operation(operation_id, summary, tag, **kwargs)  # type: ignore[attr-defined]
        return handler

    return mark


def operation_of(handler: Callable) -> Operation:
    return handler.operation  # type: ignore[attr-defined]


# -- parameters many operations share (Harbor's names) -------------------------------------
PAGE = Param("page", integer(minimum=1, default=1), "The page number")
PAGE_SIZE = Param("page_size", integer(minimum=1, maximum=100, default=10), "The size of per page")
QUERY = Param(
    "q",
    string(),
    'Query string: "k=v" (exact), "k=~v" (fuzzy), "k={v1 v2}" (any of), comma separated',
)
SORT = Param("sort", string(), 'Sort by fields, e.g. "name" or "-creation_time"')
CURSOR = Param(
    "cursor",
    string(maxLength=2048),
    'Where the page starts: set in the Link header\'s rel="next" URL (follow it, do not build it)',
)
PAGING = (PAGE, PAGE_SIZE, QUERY, SORT, CURSOR)
IS_RESOURCE_NAME = Param(
    "X-Is-Resource-Name",
    {"type": "boolean", "default": False},
    "Whether project_name_or_id is a name even if it looks like a number",
    where="header",
)
