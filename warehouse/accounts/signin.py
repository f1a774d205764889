"""Guessing passwords: who is asking, and what goes on the audit trail.

django-axes counts failed sign-ins per account and per address and locks either out for a while
(settings.AXES_*). This module tells it which address is asking and puts failures and lockouts on the
trail. Django announces a failed sign-in only by its `user_login_failed` signal, so the receivers in
accounts' AppConfig are the one way in; they only call `signin_failure_record` and
`signin_lockout_record`.
"""

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.helpers import get_failure_limit
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from warehouse import clock
from warehouse.audit.models import AuditEvent
from warehouse.audit.services import audit_record
from warehouse.text import is_encodable


class SignInThrottle(AxesStandaloneBackend):
    """django-axes' gate, first among the authentication backends. A password checked without a web request
    (the test client's login, a script) has no address to count and nobody to lock out: it passes."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        try:
            return super().authenticate(request, username=username, password=password, **kwargs)
        except AxesBackendPermissionDenied:
            request.signin_refused_unchecked = True  # locked out: the password was never looked at
            raise


USERNAME_KEPT = 150  # Django's own limit on a user name: anything longer is no user's name


def client_address(request) -> str:
    """The address of whoever sent the request (see `forwarded_client_address`)."""
    if request is None:
        return ""
    return forwarded_client_address(
        request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", "")
    )


def forwarded_client_address(remote: str, forwarded_for: str) -> str:
    """The address of whoever sent a request that came from `remote` with `forwarded_for` as its
    X-Forwarded-For. Behind TRUSTED_PROXY_COUNT proxies that each append the address they were connected
    from (nginx's $proxy_add_x_forwarded_for), that is the entry the outermost trusted proxy wrote: entries
    to its left are the client's own claims."""
    count = settings.TRUSTED_PROXY_COUNT
    if not count:
        return remote
    forwarded = [part.strip() for part in forwarded_for.split(",")]
    forwarded = [part for part in forwarded if part]
    return forwarded[-count] if len(forwarded) >= count else remote


def _kept(username) -> str:
    # Whatever was typed goes on the trail as text the trail can hold: no NUL, no lone surrogate.
    text = username if isinstance(username, str) else ""
    text = text[:USERNAME_KEPT].replace("\x00", "")
    return text if is_encodable(text) else text.encode("utf-8", "replace").decode("utf-8")


def signin_failure_record(*, username, request) -> None:
    audit_record(
        actor=AnonymousUser(),
        action="signin.failed",
        target_label=_kept(username),
        data={"username": _kept(username), "address": client_address(request)},
    )


def signin_lockout_record(*, username, address: str) -> None:
    """One event per lockout: django-axes announces it again at every try while it lasts."""
    since = clock.now() - settings.AXES_COOLOFF_TIME
    already = AuditEvent.objects.filter(
        action="signin.locked_out", created_at__gte=since, target_label=_kept(username), data__address=address
    )
    if already.exists():
        return
    audit_record(
        actor=AnonymousUser(),
        action="signin.locked_out",
        target_label=_kept(username),
        data={
            "username": _kept(username),
            "address": address,
            "failures_allowed": get_failure_limit(None, {"username": username}),
            "locked_for_seconds": int(settings.AXES_COOLOFF_TIME.total_seconds()),
        },
    )
