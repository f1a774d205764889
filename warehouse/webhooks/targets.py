"""Where a webhook may be sent, and sending it: the network edge of the webhooks app.

A target URL names a host; the host's addresses are checked, all of them, and the request goes to the
address that was checked, never to a second lookup (a DNS answer that changes between the check and the
connection, "DNS rebinding", would otherwise reach an internal service). HTTPS still verifies the
certificate against the host name of the URL. Redirects are never followed.
"""

import http.client
import ipaddress
import socket
import ssl
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

SCHEMES = ("https", "http")
URL_MAX_LENGTH = 2000
RESPONSE_EXCERPT_BYTES = 500


class TargetRefused(Exception):
    """The target is not a place the warehouse sends to. Final: retrying would not change the answer."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # the host name (or literal address) of the URL, for SNI and certificate checks
    host_header: str
    port: int
    path: str  # path and query, as sent in the request line
    address: str  # the checked address to connect to


@dataclass(frozen=True)
class Response:
    status: int
    excerpt: str


def private_targets_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False))


REFUSED = "webhooks are not sent to loopback, link-local or private addresses"


def address_kind(address: str) -> str | None:
    """What kind of address `address` is when it may not be sent to ("loopback", "private"…), or None if it
    is a public address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "unreadable"
    candidates = [ip]
    if ip.version == 6:
        # IPv4 addresses carried inside IPv6 ones reach the IPv4 network they name: judged first, by what
        # they name.
        embedded = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
        candidates = [candidate for candidate in embedded if candidate is not None] + candidates
    for candidate in candidates:
        for kind, flag in (
            ("unspecified", candidate.is_unspecified),
            ("loopback", candidate.is_loopback),
            ("link-local", candidate.is_link_local),
            ("multicast", candidate.is_multicast),
            ("reserved", candidate.is_reserved),
            ("private", candidate.is_private),
            # Shared (carrier-grade NAT), documentation and other special ranges: not the public internet.
            ("non-public", not candidate.is_global),
        ):
            if flag:
                return kind
    return None


def url_problems(url: str) -> list[str]:
    """What is wrong with `url` as a webhook target, without any network lookup. A literal address that is
    not public is refused here already; a host name is checked when a delivery resolves it."""
    if not url:
        return ["Give the URL the warehouse should send events to."]
    if len(url) > URL_MAX_LENGTH:
        return [f"At most {URL_MAX_LENGTH} characters."]
    if any(character.isspace() or ord(character) < 32 for character in url):
        return ["A URL has no spaces or control characters."]
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        return ["Use an https:// (or http://) URL."]
    if parts.username is not None or parts.password is not None:
        return ["Put no user name or password in the URL: the signature proves the sender."]
    host = parts.hostname
    if not host:
        return ["The URL names no host."]
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return ["The port is not a number from 1 to 65535."]
    if private_targets_allowed():
        return []
    return _host_problems(host)


def _with_article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def numeric_address(host: str) -> str | None:
    """The address a host written as a number names, read as the operating system reads it when it
    connects, or None for a host name. Besides the dotted quad that is every other IPv4 form the C
    library's inet_aton accepts (`0x7f000001`, `2130706433`, `0177.0.0.1`, `127.1`, `0`), a trailing dot
    (`127.0.0.1.`), and digits in other scripts that IDNA folds to ASCII (`①②⑦.0.0.1`)."""
    folded = unicodedata.normalize("NFKC", host).lower().removesuffix(".")
    try:
        return str(ipaddress.ip_address(folded.split("%", 1)[0]))
    except ValueError:
        pass
    if not folded or not all(character in _IPV4_NUMBER_CHARACTERS for character in folded):
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(folded))
    except OSError:
        return None  # not a number the resolver would read as an address: a name, refused if it resolves


_IPV4_NUMBER_CHARACTERS = frozenset("0123456789abcdefx.")


def _host_problems(host: str) -> list[str]:
    """A literal address that is not public, or this machine by name; any other name passes here."""
    folded = unicodedata.normalize("NFKC", host).lower().removesuffix(".")
    if folded == "localhost" or folded.endswith(".localhost"):
        return [f"{host} is this machine: {REFUSED}."]
    address = numeric_address(host)
    if address is None:
        return []  # a host name: checked at each delivery, when it is resolved
    kind = address_kind(address)
    named = host if address == host else f"{host} ({address})"
    return [f"{named} is {_with_article(kind)} address: {REFUSED}."] if kind else []


def target_resolve(url: str) -> Target:
    """Resolve the URL's host and check every address it has. Raises TargetRefused (final) if one is not
    public, or OSError if the name does not resolve (passing: tried again later)."""
    problems = url_problems(url)
    if problems:
        raise TargetRefused(problems[0])
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise OSError(f"{host} has no address")
    if not private_targets_allowed():
        for address in addresses:
            kind = address_kind(address)
            if kind:
                raise TargetRefused(
                    f"{host} resolves to {address}, {_with_article(kind)} address: {REFUSED}. "
                    "Nothing was sent."
                )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(
        scheme=scheme, host=host, host_header=parts.netloc, port=port, path=path, address=addresses[0]
    )


class _CheckedAddressHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the address already checked, verifying the certificate for the host name of the URL."""

    def __init__(self, address: str, port: int, *, server_hostname: str, timeout: float):
        super().__init__(address, port, timeout=timeout, context=ssl.create_default_context())
        self._server_hostname = server_hostname

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_hostname)


def target_post(target: Target, *, headers: dict[str, str], body: bytes, timeout: float) -> Response:
    """POST `body` to the target's checked address. Raises OSError or HTTPException on a network failure."""
    if target.scheme == "https":
        connection = _CheckedAddressHTTPSConnection(
            target.address, target.port, server_hostname=target.host, timeout=timeout
        )
    else:
        connection = http.client.HTTPConnection(target.address, target.port, timeout=timeout)
    try:
        # A Host header of our own: http.client would otherwise name the address it connects to.
        connection.request("POST", target.path, body=body, headers={**headers, "Host": target.host_header})
        response = connection.getresponse()
        excerpt = response.read(RESPONSE_EXCERPT_BYTES)
        return Response(status=response.status, excerpt=excerpt.decode("utf-8", "replace"))
    finally:
        connection.close()
