"""Wrong bearer tokens: counted per address, and the address locked out of tokens for a while.

A token is 256 random bits: nobody guesses one. What a stream of wrong ones costs is a database read each
(a secret no token has is never remembered) and, as each refusal goes on the audit trail, the trail's room.
So django-axes counts them as it counts wrong passwords, per client address and per door: API tokens are
one door, each alert receiver another. After TOKEN_FAILURE_LIMIT wrong tokens at a door from one address,
that address is refused there for SIGNIN_LOCKOUT_MINUTES (429 with Retry-After), its token not even looked
at. Tries while locked out are neither counted nor extend it; `manage.py axes_reset_ip <address>` lifts it.

A door's count is its own, apart from sign-in's and the other doors': a CI runner behind a shared NAT that
keeps sending a revoked token locks that address out of the API, not its people out of signing in nor its
Alertmanager out of its hook, and a person mistyping a password does not lock the runners out. django-axes
keeps one lockout length (its clean-up of old attempts uses one), so doors and sign-in share it.

No query while nothing is wrong. This process remembers the addresses it has seen locked out, until their
lockout would end; only tokens from those ask django-axes whether the lockout still holds (so an
administrator lifting it counts at once), and any other request reaches django-axes only when its token is
refused. Another process learns of a lockout from the first refused token it sees from that address. A good
token does not start the count again (that would be a write on every lookup): the count lapses when no
wrong token came for a lockout's length.
"""

import ipaddress
import re
import time
from dataclasses import dataclass

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_failure_limit
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest

from warehouse.accounts.models import ApiToken
from warehouse.accounts.services import TOKEN_PREFIX
from warehouse.accounts.signin import client_address
from warehouse.audit.services import audit_record

# The names the doors are counted under in django-axes' `username`. No account's name holds a bracket
# (Django's user names are letters, digits and @.+-_), so a door is never mistaken for an account.
API_TOKEN_DOOR = "[api-token]"
RECEIVER_DOOR_START = "[alert-receiver:"
# Addresses remembered as locked out, per process; when full it starts again empty (each then costs one
# read at its next refused token).
REMEMBERED_MAX = 10_000


def receiver_door(name: str) -> str:
    return f"{RECEIVER_DOOR_START}{name[:64]}]"


def is_door(name) -> bool:
    return isinstance(name, str) and (name == API_TOKEN_DOOR or name.startswith(RECEIVER_DOOR_START))


def _ip_or_none(text: str) -> str | None:
    # django-axes keeps an address in an `inet` column on PostgreSQL: anything else is no address.
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@dataclass(frozen=True)
class Knock:
    """A token presented at a door: from where, as django-axes counts it. `kind` names the audit events
    (`<kind>.refused`, `<kind>.locked_out`); `receiver` is the alert receiver's name at its door."""

    kind: str
    door: str
    address: str | None
    user_agent: str = ""
    path: str = ""
    receiver: str = ""

    @classmethod
    def at(cls, door: str, *, address: str, user_agent: str = "", path: str = "") -> "Knock":
        kind, receiver = "api_token", ""
        if door.startswith(RECEIVER_DOOR_START):
            kind, receiver = "alert_receiver", door.removeprefix(RECEIVER_DOOR_START).removesuffix("]")
        return cls(kind, door, _ip_or_none(address), user_agent[:255], path[:255], receiver)

    @classmethod
    def of(cls, request: HttpRequest, door: str) -> "Knock":
        """The knock of a Django request, from the address the sign-in throttle counts too."""
        return cls.at(
            door,
            address=client_address(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            path=request.path,
        )

    @property
    def credentials(self) -> dict:
        return {"username": self.door}

    def as_request(self) -> HttpRequest:
        # django-axes reads a request's META, GET and POST, and marks the request it counts. This is a bare
        # request of our own, never the one being answered: axes' middleware would turn a marked request's
        # answer into the sign-in lockout page. The watch server has no Django request at all.
        request = HttpRequest()
        request.method = "GET"
        request.path = request.path_info = self.path
        request.META = {
            "REMOTE_ADDR": self.address or "",
            "HTTP_USER_AGENT": self.user_agent,
            "PATH_INFO": self.path,
        }
        return request


class TokenLockedOut(Exception):
    """This address sent too many wrong tokens to this door lately: 429, the token not looked at."""

    def __init__(self):
        super().__init__(lockout_message())


def lockout_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_message() -> str:
    minutes = lockout_seconds() // 60
    return (
        f"Too many wrong tokens came from your address: its tokens are refused here for up to {minutes} "
        "minutes, right or wrong. An administrator can lift this sooner."
    )


# --- What django-axes is told (settings.AXES_*) -----------------------------------------------------------


def failure_limit(request, credentials) -> int:
    """AXES_FAILURE_LIMIT: a door's, or sign-in's."""
    if is_door((credentials or {}).get("username")):
        return settings.TOKEN_FAILURE_LIMIT
    return settings.SIGNIN_FAILURE_LIMIT


def lockout_parameters(request_or_attempt, credentials=None) -> list:
    """AXES_LOCKOUT_PARAMETERS: a door counts per address (the door and the address together); sign-in per
    account and per address."""
    name = (credentials or {}).get("username") or getattr(request_or_attempt, "username", None)
    if is_door(name):
        return [["username", "ip_address"]]
    return ["username", "ip_address"]


class DoorsApartHandler(AxesDatabaseHandler):
    """AXES_HANDLER: django-axes' own database handler, but a sign-in's count per address leaves out the
    wrong tokens from that address (they have counts of their own), and a good password there does not
    wipe them."""

    def filter_user_attempts(self, request, credentials=None):
        attempts = super().filter_user_attempts(request, credentials)
        if is_door(get_client_username(request, credentials)):
            return attempts
        doors = Q(username=API_TOKEN_DOOR) | Q(username__startswith=RECEIVER_DOOR_START)
        return [queryset.exclude(doors) for queryset in attempts]


# --- Asking and counting ------------------------------------------------------------------------------------

_remembered: dict[tuple[str, str | None], float] = {}


def _remember(knock: Knock) -> None:
    if len(_remembered) >= REMEMBERED_MAX:
        _remembered.clear()
    _remembered[(knock.door, knock.address)] = time.monotonic() + lockout_seconds()


def _forget(knock: Knock) -> None:
    _remembered.pop((knock.door, knock.address), None)


def remembered_forget_all() -> None:
    """Forget every lockout this process has seen (tests start clean)."""
    _remembered.clear()


def token_door_locked(knock: Knock) -> bool:
    """Whether `knock`'s address is locked out at its door. No query unless this process has seen it locked
    out there lately; then django-axes says whether it still is."""
    until = _remembered.get((knock.door, knock.address))
    if until is None:
        return False
    if until <= time.monotonic() or AxesProxyHandler.is_allowed(knock.as_request(), knock.credentials):
        _forget(knock)
        return False
    return True


def token_refusal_record(*, knock: Knock, target=None, target_label: str = "", data: dict) -> bool:
    """Count a refused token and put the refusal on the audit trail (`<kind>.refused`, with the address and
    `data`); the refusal that reaches the limit also records the lockout. Whether the address is now locked
    out at this door: then answer TokenLockedOut rather than 401. If it was locked already (another process
    saw it first), nothing is counted or recorded: the lockout is on the record."""
    request, credentials = knock.as_request(), knock.credentials
    if settings.AXES_ENABLED and not AxesProxyHandler.is_allowed(request, credentials):
        _remember(knock)
        return True
    with transaction.atomic():
        # What axes' own receiver of `user_login_failed` calls; the signal itself is for passwords, and its
        # other receivers (the sign-in trail) have nothing to do with tokens.
        AxesProxyHandler.user_login_failed(sender=Knock, credentials=credentials, request=request)
        audit_record(
            actor=AnonymousUser(),
            action=f"{knock.kind}.refused",
            target=target,
            target_label=target_label,
            data={"address": knock.address or "", **data},
        )
        locked = bool(getattr(request, "axes_locked_out", False))
        limit = get_failure_limit(request, credentials)
        # Exactly at the limit: one event per lockout, however many refusals raced past it.
        if locked and request.axes_failures_since_start == limit:
            token_lockout_record(knock=knock, failures_allowed=limit)
    if locked:
        _remember(knock)
    return locked


def token_lockout_record(*, knock: Knock, failures_allowed: int) -> None:
    receiver = {"receiver": knock.receiver} if knock.receiver else {}
    audit_record(
        actor=AnonymousUser(),
        action=f"{knock.kind}.locked_out",
        target_label=knock.receiver or (knock.address or ""),
        data={
            "address": knock.address or "",
            **receiver,
            "failures_allowed": failures_allowed,
            "locked_for_seconds": lockout_seconds(),
        },
    )


def presented_prefix(secret: str, kind: str) -> str | None:
    """The public prefix of a secret shaped like `<kind><8 hex>_…` (wh_ tokens, whr_ receiver tokens)."""
    found = re.match(rf"{re.escape(kind)}([0-9a-f]{{8}})_", secret or "")
    return found.group(1) if found else None


def api_token_refusal_record(*, knock: Knock, secret: str) -> bool:
    """A refused API token on the trail (`api_token.refused`), naming the token whose prefix it carries if
    there is one (revoked, expired, or the secret mistyped); whether the address is now locked out."""
    prefix = presented_prefix(secret, TOKEN_PREFIX)
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first() if prefix else None
    if token is not None:
        label = f"{token.user.get_username()}: {token}"
    else:
        label = f"{TOKEN_PREFIX}{prefix}…" if prefix else ""
    return token_refusal_record(knock=knock, target=token, target_label=label, data={"prefix": prefix})
