"""What every listing and every error of the API looks like: ``Page[T]`` and ``ErrorPublic``.

Every list is cursor-paginated: ``?limit=`` (1-500, 50 by default) and ``?cursor=``, answering
``{"items": [...], "next_cursor": "..." | null}``. Cursors are signed and bound to the tenant and
the listing (filters included), so a cursor can neither be forged nor replayed by another tenant
or against another listing: either is a 422.

Listings the catalog pages itself (users, audit) pass the cursor's key on; listings a service
returns whole are cut into pages here, by a stable key, with :func:`paginate`.
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from gnomon.catalog import TenantNotFound
from gnomon.context import RequestContext
from gnomon.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from gnomon.api.app import ApiState

__all__ = [
    "DEFAULT_PAGE",
    "ERROR_RESPONSES",
    "MAX_PAGE",
    "ErrorPublic",
    "Page",
    "PageQuery",
    "PageRequest",
    "cursor_key",
    "next_cursor",
    "operation_id",
    "own_tenant",
    "paginate",
    "segment_of",
    "sort_stamp",
    "state_of",
]

DEFAULT_PAGE = 50
MAX_PAGE = 500

T = TypeVar("T")
R = TypeVar("R")

_CURSOR_PATTERN = r"^[A-Za-z0-9_.=-]*$"
"""Cursors are URL-safe base64 and a dot; anything else is refused before it is decoded."""

Key = tuple[str | int, ...]
"""A stable sort key of a listing's items; it is what a cursor carries."""


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass ``next_cursor`` back as ``?cursor=`` for the next one."""

    items: list[T]
    next_cursor: str | None = None


class ErrorPublic(BaseModel):
    """The one shape of every 4xx and 5xx answer."""

    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    correlation_id: str | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorPublic, "description": description}
    for status, description in (
        (400, "The request body could not be read (it is not text in the declared type)."),
        (401, "No credential, or a refused one."),
        (403, "The principal lacks the permission."),
        (404, "Not found in the caller's tenant."),
        (409, "It conflicts with what exists: a name already taken, a change under way."),
        (422, "The request is not valid."),
        (429, "The tenant's request rate or query quota is used up."),
        (503, "A service it needs (identity provider, engine) is unavailable; retry later."),
    )
}
"""The error answers every authenticated route may give, for the OpenAPI schema."""


def operation_id(route: APIRoute) -> str:
    """``{tag}-{name}``: the operation ids clients are generated from."""
    tag = str(route.tags[0]) if route.tags else "api"
    return f"{tag}-{route.name}"


@dataclass(frozen=True, slots=True)
class PageRequest:
    """The page asked for: its size and the cursor of the page before it."""

    limit: int
    cursor: str | None


def _page_request(
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description="Items per page (1-500).")
    ] = DEFAULT_PAGE,
    cursor: Annotated[
        str | None,
        Query(
            max_length=2048,
            pattern=_CURSOR_PATTERN,
            description="The next_cursor of the previous page.",
        ),
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor)


PageQuery = Annotated[PageRequest, Depends(_page_request)]
"""A route parameter for ``?limit=&cursor=``."""


def state_of(request: Request) -> "ApiState":
    """What the app shares with its routes (the project, limits, cursor codec)."""
    state: ApiState = request.app.state.gnomon
    return state


def cursor_key(
    request: Request, page: PageRequest, *, ctx: RequestContext, listing: str
) -> Key | None:
    """The key a cursor points after (``None`` for the first page).

    Raises:
        InvalidInput: the cursor was tampered with, or is for another tenant or listing.
    """
    after = state_of(request).cursors.decode(page.cursor, tenant=ctx.tenant, listing=listing)
    if after is None:
        return None
    if not isinstance(after, list) or not all(
        isinstance(part, str | int) and not isinstance(part, bool) for part in after
    ):
        raise InvalidInput(
            "The cursor is not valid for this listing.",
            hint="Use the next_cursor of the previous page as it is, or start without a cursor.",
        )
    return tuple(after)


def next_cursor(request: Request, key: Key, *, ctx: RequestContext, listing: str) -> str:
    """The cursor of the page after the item whose key is ``key``."""
    return state_of(request).cursors.encode(tenant=ctx.tenant, listing=listing, after=list(key))


def paginate(
    request: Request,
    items: Sequence[R],
    *,
    page: PageRequest,
    ctx: RequestContext,
    listing: str,
    key: Callable[[R], Key],
    descending: bool = False,
) -> tuple[list[R], str | None]:
    """One page of a listing a service returns whole, ordered by ``key``.

    ``key`` must be unique per item (end it with an id or a name), so that no item is skipped
    or repeated between pages.

    Returns:
        The page's items and the cursor of the next page (``None`` on the last page).

    Raises:
        InvalidInput: the cursor was tampered with, or is for another tenant or listing.
    """
    after = cursor_key(request, page, ctx=ctx, listing=listing)
    ordered = sorted(items, key=key, reverse=descending)
    if after is not None:
        try:
            ordered = [i for i in ordered if (key(i) < after if descending else key(i) > after)]
        except TypeError as exc:
            raise InvalidInput(
                "The cursor is not valid for this listing.",
                hint="Start again without a cursor.",
            ) from exc
    chunk = ordered[: page.limit]
    more = len(ordered) > page.limit
    following = next_cursor(request, key(chunk[-1]), ctx=ctx, listing=listing) if more else None
    return chunk, following


def sort_stamp(at: datetime) -> str:
    """A time as a string that sorts as the time does (UTC, always with microseconds)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


@contextmanager
def own_tenant(ctx: RequestContext) -> Iterator[None]:
    """Writes for a tenant the catalog has never seen are not found, naming no other tenant.

    A bearer token may name any tenant; the catalog's own error lists the tenants that exist,
    which must not reach such a caller.
    """
    try:
        yield
    except TenantNotFound as exc:
        raise NotFound(
            f"Tenant {ctx.tenant!r} does not exist yet.",
            hint="Ask an administrator of the default tenant to create it.",
        ) from exc


def segment_of(items: list[str] | None) -> dict[str, str]:
    """``dimension=value`` query values as a mapping.

    Raises:
        InvalidInput: an item is not ``dimension=value``.
    """
    wanted: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise InvalidInput(
                f"segment {item!r} is not dimension=value.", hint="For example: region=EMEA"
            )
        wanted[name] = value
    return wanted
