"""Artifact and data URIs: stored and shown, never opened (DESIGN invariant 8).

The only checks are on the text: an allowlisted scheme, a location, and no way of walking out of it.
"""

import re
from urllib.parse import unquote, urlsplit

from django.conf import settings

MAX_URI_LENGTH = 2048
# `.` or `..` as a segment, in any of its spellings once decoded. A segment also ends at `;`, `?`, `#`, `&`
# and `=`: `/..;/` is `..` to Tomcat and friends, a decoded `%3f` or `%23` ends the path for whoever parses
# it again, and `?file=../x` walks out for whoever reads the query as a path.
_TRAVERSAL_SEGMENT = re.compile(r"(^|[/;?#&=])\.\.?([/;?#&=]|$)")
# ASCII and C1 controls and the space, plus the invisible format characters that make a shown URI read as
# another one (zero-width, line separators, bidirectional overrides and isolates, the byte-order mark).
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")

_AZURE_CONTAINER = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")


class UriRefused(ValueError):
    pass


# A model as a tracking server names it: `runs:/<run id>/<path in the run's artifacts>` or a logged model,
# `models:/m-<id>`. Read only from a tracking server an administrator configured (warehouse.tracking).
TRACKED_SOURCE = re.compile(
    r"^(?:runs:/(?P<run_id>[A-Za-z0-9_-]{1,64})/(?P<path>[A-Za-z0-9_\-]+(?:[./][A-Za-z0-9_\-]+)*)"
    r"|models:/(?P<model_id>m-[A-Za-z0-9_-]{1,64}))$"
)


def tracked_source_match(uri: str) -> re.Match | None:
    """The parts of a `runs:/…` or `models:/m-…` source, or None for anything else."""
    return TRACKED_SOURCE.match(uri) if isinstance(uri, str) else None


def _fully_decoded(text: str) -> str:
    # %252e%252e is %2e%2e after one round and .. after two: keep decoding while it changes. A round that
    # changes the text makes it shorter, so this ends; a fixed number of rounds would let one more layer of
    # %25 through.
    while True:
        decoded = unquote(text)
        if decoded == text:
            return text
        text = decoded


def _is_azure_container(scheme: str, parts) -> bool:
    # ADLS Gen2 names its container before an `@`: abfss://container@account.dfs.core.windows.net/path.
    # That is a location, not a user; a password (`container:secret@`) is still refused.
    userinfo, _, _ = parts.netloc.rpartition("@")
    return scheme == "abfss" and bool(_AZURE_CONTAINER.match(userinfo))


def uri_validate(uri: str) -> str:
    """Return the URI unchanged if it is acceptable, else raise UriRefused saying why."""
    _text_check(uri)
    parts = _split(uri)
    _location_check(uri, parts)
    _path_check(parts)
    return uri


def _text_check(uri) -> None:
    if not isinstance(uri, str) or not uri:
        raise UriRefused("A URI is required.")
    if len(uri) > MAX_URI_LENGTH:
        raise UriRefused(f"A URI may be at most {MAX_URI_LENGTH} characters.")
    if _CONTROL.search(uri):
        raise UriRefused("A URI may not contain spaces or control characters.")
    if "\\" in uri:
        raise UriRefused("A URI may not contain backslashes.")


def _split(uri: str):
    try:
        return urlsplit(uri)
    except ValueError as error:  # a broken [IPv6] host, or a host that changes under NFKC normalisation
        raise UriRefused(f"This is not a well-formed URI ({error}).") from None


def _location_check(uri: str, parts) -> None:
    """An allowed scheme written out in full, and a bucket, host or storage area without credentials."""
    scheme = parts.scheme.lower()
    allowed = settings.ARTIFACT_URI_SCHEMES
    if scheme not in allowed:
        raise UriRefused(f"The scheme must be one of {', '.join(s + '://' for s in allowed)}.")
    if not uri.lower().startswith(f"{scheme}://"):
        raise UriRefused(f"Write the URI as {scheme}://location/path.")
    if not parts.netloc:
        raise UriRefused("The URI names no bucket, host or storage area after the scheme.")
    if "@" in _fully_decoded(parts.netloc) and not _is_azure_container(scheme, parts):
        raise UriRefused("A URI may not carry credentials; grant the reader access instead.")
    try:
        _ = parts.port
    except ValueError:
        # `s3://user:secret/…` is not a port: it is a password without its `@`.
        raise UriRefused("The URI may not carry credentials, and a port must be a number.") from None
    if not parts.hostname:
        raise UriRefused("The URI names no bucket, host or storage area after the scheme.")


def _path_check(parts) -> None:
    """No way out of the location, in any encoding."""
    decoded_path = _fully_decoded(parts.path)
    # The query and fragment are checked like the path: whoever decodes the URI again may read them as path.
    decoded_rest = _fully_decoded(f"{parts.path}?{parts.query}#{parts.fragment}")
    decoded_netloc = _fully_decoded(parts.netloc)
    if any("\\" in text or _CONTROL.search(text) for text in (decoded_rest, decoded_netloc)):
        raise UriRefused("The URI may not contain encoded backslashes, spaces or control characters.")
    if "/" in decoded_netloc:
        raise UriRefused("The bucket, host or storage area may not contain an encoded '/'.")
    if _TRAVERSAL_SEGMENT.search(decoded_rest) or _TRAVERSAL_SEGMENT.search(decoded_netloc):
        raise UriRefused("The path may not contain '.' or '..' segments, in any encoding.")
    if "//" in decoded_path:
        raise UriRefused("The path may not contain empty segments ('//').")


def is_web_link(url: str) -> bool:
    """Whether a user-supplied URL may be shown as a clickable link (http or https only)."""
    if not isinstance(url, str) or _CONTROL.search(url) or "\\" in url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:  # stored text is shown on pages: a malformed link is plain text, never an error
        return False
    return (
        parts.scheme.lower() in {"http", "https"}
        and bool(parts.netloc)
        and url.lower().startswith(f"{parts.scheme.lower()}://")
    )
