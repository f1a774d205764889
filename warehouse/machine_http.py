"""What every endpoint machines call (`/api/`, `/hooks/`) does the same way: read the body, read it as JSON,
and answer an error in one JSON shape, `{"error": {"code", "message", "fields"?}}`.

Reading the body here, before anything asks for `request.body`, matters twice over. Django's own limit
(DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB) would answer a larger body with its HTML 400. And Django reads exactly
Content-Length bytes: a body sent with `Transfer-Encoding: chunked` has none, so Django sees it as empty. The
app servers that decode chunked bodies say so (`wsgi.input_terminated`, PEP 3333's amendment, which gunicorn
sets), and then the stream is read to its end; the development server cannot, and answers 411.
"""

import json
import re
from typing import Any

from django.http import HttpRequest, JsonResponse

from warehouse.errors import InvalidInput
from warehouse.text import NUL_MESSAGE, SURROGATE_MESSAGE

JSON_CONTENT_TYPE = "application/json"
# `\u0000` and `\ud800`–`\udfff` escapes: the only way NUL or a lone surrogate gets into JSON text that is
# valid UTF-8 (a raw NUL is not valid JSON, and strict UTF-8 refuses encoded surrogates).
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89abcdefABCDEF][0-9a-fA-F]{2})")
_UNKEEPABLE = re.compile("[\x00\ud800-\udfff]")


def error_response(
    status: int, code: str, message: str, fields: dict | None = None, **headers
) -> JsonResponse:
    """The error envelope. Headers are keyword arguments, `Retry_After="5"` for `Retry-After`."""
    body: dict = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    response = JsonResponse({"error": body}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


class BodyRefused(Exception):
    """A body that is not read at all: too large (413), of a type the endpoint does not take (415), or
    chunked where the server cannot decode it (411). Nothing was written."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> JsonResponse:
        return error_response(self.status, self.code, self.message, {"body": [self.message]})


def body_too_large(limit: int) -> BodyRefused:
    return BodyRefused(413, "too_large", f"The body may be at most {_size(limit)}; nothing was stored.")


def _size(limit: int) -> str:
    megabytes = limit / (1024 * 1024)
    return f"{megabytes:g} MB" if megabytes >= 1 else f"{limit // 1024} KB"


def is_chunked(request: HttpRequest) -> bool:
    return "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()


def body_read(request: HttpRequest, *, limit: int) -> bytes:
    """The body, at most `limit` bytes, kept as `request.body`; or BodyRefused (411, 413). A declared
    length over the limit is refused unread; a chunked body is read one byte past it, enough to know."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    if not declared and is_chunked(request):
        body = _chunked_body_read(request, limit + 1)
    else:
        body = request.read(limit + 1)
    if len(body) > limit:
        raise body_too_large(limit)
    request._body = body
    return body


def _chunked_body_read(request: HttpRequest, size: int) -> bytes:
    stream = request.META.get("wsgi.input")
    if stream is None:
        # ASGI: the server decoded the body and Django holds all of it.
        return request.read(size)
    if not request.META.get("wsgi.input_terminated"):
        raise BodyRefused(
            411,
            "length_required",
            "This server cannot read a chunked body: send it with a Content-Length header.",
        )
    parts, received = [], 0
    while received < size:
        part = stream.read(size - received)
        if not part:
            break
        parts.append(part)
        received += len(part)
    return b"".join(parts)


def json_content_type_check(request: HttpRequest) -> None:
    """JSON, said so in Content-Type (`application/json`, or a `+json` type), in UTF-8; else 415."""
    content_type = (request.content_type or "").lower()
    charset = request.content_params.get("charset", "utf-8").lower()
    is_json = content_type == JSON_CONTENT_TYPE or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )
    if not is_json or charset not in ("utf-8", "utf8"):
        sent = request.META.get("CONTENT_TYPE") or "no Content-Type"
        raise BodyRefused(
            415,
            "unsupported_media_type",
            f"Send JSON in UTF-8 with Content-Type: application/json (this request sent {sent[:100]}).",
        )


def json_document(body: bytes) -> Any:
    """The JSON value of a body, read strictly: UTF-8 only, and no string (key or value) holding a NUL
    character or a lone surrogate, which no database column keeps and no page shows. Or InvalidInput naming
    each field that holds one, by its path (`artifacts[1].name`), or `body` when the body is not JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            {"body": [f"The body is not UTF-8: byte {error.start} cannot start or continue a character."]}
        ) from None
    try:
        document = json.loads(text)
    except ValueError as error:
        raise InvalidInput({"body": [f"The body is not valid JSON: {error}."]}) from None
    except RecursionError:
        # A few MB of `[[[[…` nest deeper than the parser can go: an input error, not a server error.
        raise InvalidInput({"body": ["The body nests too deeply."]}) from None
    if _SUSPECT_ESCAPE.search(text):
        problems: dict[str, list[str]] = {}
        _unkeepable_text_find(document, "", problems)
        if problems:
            raise InvalidInput(problems, "The body holds text that cannot be kept; nothing was saved.")
    return document


def _unkeepable_text_find(value: Any, path: str, problems: dict[str, list[str]]) -> None:
    if isinstance(value, str):
        found = _UNKEEPABLE.search(value)
        if found:
            message = NUL_MESSAGE if found.group() == "\x00" else SURROGATE_MESSAGE
            messages = problems.setdefault(path or "body", [])
            if message not in messages:
                messages.append(message)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _unkeepable_text_find(item, f"{path}[{index}]", problems)
    elif isinstance(value, dict):
        for key, item in value.items():
            if _UNKEEPABLE.search(key):
                # The key cannot be named in text either: the object that holds it is.
                _unkeepable_text_find(key, path, problems)
                continue
            _unkeepable_text_find(item, f"{path}.{key}" if path else key, problems)
