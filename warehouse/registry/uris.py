"""Artifact and data URIs: stored and shown, never opened (DESIGN invariant 8).

The only checks are on the text: an allowlisted scheme, a location, and no way of walking out of it.
"""

import re
from urllib.parse import unquote, urlsplit

from django.conf import settings

MAX_URI_LENGTH = 2048
# `..` as a path segment, in any of its spellings once decoded.
_TRAVERSAL_SEGMENT = re.compile(r"(^|/)\.\.?(/|$)")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


class UriRefused(ValueError):
    pass


def _fully_decoded(text: str, rounds: int = 3) -> str:
    # %252e%252e is %2e%2e after one round and .. after two: keep decoding while it changes.
    for _ in range(rounds):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


def uri_validate(uri: str) -> str:
    """Return the URI unchanged if it is acceptable, else raise UriRefused saying why."""
    if not isinstance(uri, str) or not uri:
        raise UriRefused("A URI is required.")
    if len(uri) > MAX_URI_LENGTH:
        raise UriRefused(f"A URI may be at most {MAX_URI_LENGTH} characters.")
    if _CONTROL.search(uri):
        raise UriRefused("A URI may not contain spaces or control characters.")
    if "\\" in uri:
        raise UriRefused("A URI may not contain backslashes.")
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    allowed = settings.ARTIFACT_URI_SCHEMES
    if scheme not in allowed:
        raise UriRefused(f"The scheme must be one of {', '.join(s + '://' for s in allowed)}.")
    if not uri.lower().startswith(f"{scheme}://"):
        raise UriRefused(f"Write the URI as {scheme}://location/path.")
    if not parts.netloc:
        raise UriRefused("The URI names no bucket, host or storage area after the scheme.")
    if "@" in parts.netloc:
        raise UriRefused("A URI may not carry credentials; grant the reader access instead.")
    decoded_path = _fully_decoded(parts.path)
    if "\\" in decoded_path or _CONTROL.search(decoded_path):
        raise UriRefused("The path may not contain encoded backslashes or control characters.")
    if _TRAVERSAL_SEGMENT.search(decoded_path) or _TRAVERSAL_SEGMENT.search(_fully_decoded(parts.netloc)):
        raise UriRefused("The path may not contain '.' or '..' segments, in any encoding.")
    if "//" in decoded_path:
        raise UriRefused("The path may not contain empty segments ('//').")
    return uri


def is_web_link(url: str) -> bool:
    """Whether a user-supplied URL may be shown as a clickable link (http or https only)."""
    return isinstance(url, str) and urlsplit(url).scheme.lower() in {"http", "https"} and not _CONTROL.search(url)
