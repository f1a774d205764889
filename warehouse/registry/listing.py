"""Lists that cost the same on every page, at 50 rows or 100,000.

A page is found by where the previous one ended (keyset): the rows after the last sort key shown, read
through the sort key's index, so page 200 costs what page 1 does. The key travels as an opaque cursor,
signed so that a client can neither forge nor alter it (an altered one is refused, never half-read). The
older numbered pages (offset) are kept for the clients that use them, but reach only the first
COUNT_LIMIT rows: past that an offset walks ever more rows for nothing.

What each row shows (versions counted by stage...) is computed for the rows of the page only, once the
page is read.
"""

import math
from dataclasses import dataclass

from django.core import signing
from django.db.models import QuerySet

from warehouse.errors import InvalidInput
from warehouse.registry.models import ModelVersion, RegisteredModel
from warehouse.registry.selectors import ModelFilters, models_matching, models_versions_counted

PAGE_SIZE = 50
PAGE_SIZE_MAX = 100
# Counted exactly up to here (a count stops reading at the first row past it), and the reach of numbered
# pages: past it a count or an offset would cost in proportion to the registry. For a reader who is not a
# superuser each row counted is also checked against their grants: at 10,000 the count alone took 23 ms
# of a 10,000-model registry's list, at 1,000 it takes about 2.
COUNT_LIMIT = 1_000

BAD_CURSOR = (
    "Not a cursor this list gave, or one altered since: follow the `next` link as it came, or start again "
    "without a cursor."
)


class ListInputInvalid(InvalidInput):
    def __init__(self, field: str, message: str):
        super().__init__({field: [message]}, message="The list's parameters have errors.")


@dataclass(frozen=True)
class Window:
    """Which page a request asks for: the one after `cursor`, or the numbered page `number` (1 when neither
    is given)."""

    size: int = PAGE_SIZE
    cursor: str | None = None
    number: int | None = None


@dataclass(frozen=True)
class ListPage:
    rows: list
    count: int
    count_exact: bool
    # The cursor of the page after this one; None on the last page.
    next_cursor: str | None
    # The numbered form only (None on a page reached through a cursor).
    number: int | None
    pages: int | None
    size: int

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.size + 1 if self.number and self.rows else 0

    @property
    def end_index(self) -> int:
        return self.start_index + len(self.rows) - 1 if self.rows else 0


def cursor_for(*, kind: str, key) -> str:
    return signing.dumps([key], salt=f"warehouse.listing.{kind}")


def cursor_read(*, kind: str, cursor: str, key_type: type):
    """The sort key in `cursor`, if this server wrote it for a list of this kind; otherwise a 400."""
    try:
        value = signing.loads(cursor, salt=f"warehouse.listing.{kind}")
    except (signing.BadSignature, ValueError, UnicodeError):
        raise ListInputInvalid("cursor", BAD_CURSOR) from None
    if not (isinstance(value, list) and len(value) == 1 and type(value[0]) is key_type):
        raise ListInputInvalid("cursor", BAD_CURSOR)
    return value[0]


def count_upto(queryset: QuerySet, limit: int | None = None) -> tuple[int, bool]:
    """How many rows `queryset` has, reading at most `limit` (COUNT_LIMIT) + 1 of them: (count, exact).
    Past `limit` the answer is (limit, False)."""
    limit = COUNT_LIMIT if limit is None else limit
    counted = queryset.order_by().values("pk")[: limit + 1].count()
    return min(counted, limit), counted <= limit


def _page_number(window: Window, count: int, exact: bool) -> tuple[int, int]:
    pages = max(1, math.ceil(count / window.size))
    number = window.number or 1
    if number > pages:
        if not exact:
            raise ListInputInvalid(
                "page",
                f"Numbered pages reach the first {COUNT_LIMIT:,} rows ({pages} pages of {window.size}); "
                "follow `next` from there.",
            )
        number = pages  # as before: a page past the last answers the last page
    return number, pages


def paginate(
    *,
    kind: str,
    base: QuerySet,
    key: str,
    descending: bool,
    window: Window,
    key_type: type,
) -> ListPage:
    """A page of `base` (filtered, with what its rows need joined) in `key` order, `key` being unique. Two
    queries, the bounded count and the page; one when the first page holds the whole list, which is then
    its count (a search that finds a few models, a small registry)."""
    if window.cursor is not None and window.number is not None:
        raise ListInputInvalid("page", "Send either `page` or `cursor`, not both.")
    after = cursor_read(kind=kind, cursor=window.cursor, key_type=key_type) if window.cursor else None
    rows = base.order_by(f"-{key}" if descending else key)
    if after is None and (window.number or 1) == 1:
        rows = list(rows[: window.size + 1])
        whole = len(rows) <= window.size
        count, exact = (len(rows), True) if whole else count_upto(base)
        number, pages = _page_number(window, count, exact)
    elif after is not None:
        count, exact = count_upto(base)
        rows = rows.filter(**{f"{key}__{'lt' if descending else 'gt'}": after})[: window.size + 1]
        number = pages = None
    else:
        count, exact = count_upto(base)
        number, pages = _page_number(window, count, exact)
        offset = (number - 1) * window.size
        rows = rows[offset : offset + window.size + 1]
    rows = list(rows)
    more = len(rows) > window.size
    rows = rows[: window.size]
    return ListPage(
        rows=rows,
        count=count,
        count_exact=exact,
        next_cursor=cursor_for(kind=kind, key=getattr(rows[-1], key)) if more else None,
        number=number,
        pages=pages,
        size=window.size,
    )


# What a list shows of a model, its owner and its team (the models page and the API's rows). Read whole, a
# page of 100 loaded 200 more rows' worth of columns, dates among them, that no one shows.
LISTED = ("name", "description", "created_at", "owner", "owner__username", "team", "team__name")


def model_list_page(*, user, filters: ModelFilters | None = None, window: Window = Window()) -> ListPage:
    """A page of the models `user` can see, by name, each with its versions counted by stage
    (`models_versions_counted`). Three queries."""
    page = paginate(
        kind="models",
        base=models_matching(user=user, filters=filters or ModelFilters(), rows=COUNT_LIMIT + 1)
        .select_related("owner", "team")
        .only(*LISTED),
        key="name",
        descending=False,
        window=window,
        key_type=str,
    )
    models_versions_counted(page.rows)
    return page


def version_list_page(*, model: RegisteredModel, window: Window = Window()) -> ListPage:
    """A page of the model's versions, newest first."""
    page = paginate(
        kind="versions",
        base=ModelVersion.objects.filter(model=model).select_related("registered_by", "rollback_target"),
        key="number",
        descending=True,
        window=window,
        key_type=int,
    )
    for version in page.rows:
        version.model = model
    return page
