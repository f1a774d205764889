"""What the operations share: their path parameters, error answers and headers, as the document shows them."""

from django.http import HttpRequest
from ninja import Path, Query

from warehouse.api.schemas.answers import Error
from warehouse.api.serializers import absolute
from warehouse.registry.listing import PAGE_SIZE, PAGE_SIZE_MAX, ListPage
from warehouse.registry.services import MODEL_NAME, RESERVED_MODEL_NAMES


def model_name():
    return Path(
        description=(
            "The model's name: 1-64 lower-case letters, digits and hyphens, starting and ending with a "
            f"letter or digit; not one of {', '.join(sorted(RESERVED_MODEL_NAMES))}."
        )
    )


def whole(description: str = ""):
    return Path(description=description or None)


# Documented, not validated by the path: a name the registry refuses reaches the service, which answers it
# (400 on `model` when registering, 404 on reads), and 0 is a number no row has, so it answers 404 as any
# missing one does.
PATH_PARAMETERS = {
    "name": {"pattern": MODEL_NAME.pattern, "maxLength": 64},
    "number": {"minimum": 1},
    "run_id": {"minimum": 1},
    "promotion_id": {"minimum": 1},
}


def path_parameters_documented(document: dict) -> None:
    for item in document["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    parameter["schema"].update(PATH_PARAMETERS.get(parameter["name"], {}))


READ_ERRORS = {401: Error, 404: Error}
WRITE_ERRORS = {400: Error, 401: Error, 403: Error, 404: Error}


def location(description: str) -> dict:
    return {"Location": {"schema": {"type": "string", "format": "uri"}, "description": description}}


def answered_with(status: int, *, headers: dict | None = None, examples: dict | None = None) -> dict:
    """The parts of an operation's document that a signature cannot say: an answer's headers, the body's
    examples."""
    extra: dict = {}
    if headers:
        extra["responses"] = {status: {"headers": headers}}
    if examples:
        extra["requestBody"] = {
            "content": {
                "application/json": {"examples": {key: {"value": value} for key, value in examples.items()}}
            }
        }
    return extra


# --- Paged lists ----------------------------------------------------------------------------------------


def page_size():
    return Query(PAGE_SIZE, ge=1, le=PAGE_SIZE_MAX, description=f"Rows a page, 1-{PAGE_SIZE_MAX}.")


def cursor():
    return Query(
        None,
        min_length=1,
        max_length=400,
        description=(
            "Where the previous page ended, as its `next` link gave it: opaque, and signed (an altered or "
            "made-up cursor is a 400). Every page costs the same, however deep."
        ),
    )


def listing_json(request: HttpRequest, page: ListPage, results: list, *, url: str) -> dict:
    """A page of a list as the API answers it, with `next`: this request's URL (`url` the list's path) with
    the next page's cursor in place of its own cursor or page number."""
    following = None
    if page.next_cursor is not None:
        query = request.GET.copy()
        query.pop("page", None)
        query["cursor"] = page.next_cursor
        following = absolute(f"{url}?{query.urlencode()}")
    return {"count": page.count, "count_exact": page.count_exact, "next": following, "results": results}
