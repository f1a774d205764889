"""Configuring tracking servers, and reading one's credential when it is used.

Only a superuser (or the warehouse itself, from WAREHOUSE_TRACKING_SERVERS) configures a server. A server's
credential is the name of an environment variable: the secret is read from this process's environment
when a call is made, and is never stored, logged or put on the audit trail.
"""

import re
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction

from warehouse import clock
from warehouse.accounts.permissions import permission_denied
from warehouse.audit.services import audit_record
from warehouse.errors import InvalidInput
from warehouse.tracking.models import TrackingKind, TrackingServer

NAME_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
CREDENTIAL_ENV_PATTERN = re.compile(r"[A-Z_][A-Z0-9_]*")
CREDENTIAL_ENV_MAX_LENGTH = 128
URL_MAX_LENGTH = 500
SCHEMES = ("https", "http")
FIELDS = ("url", "credential_env", "kind", "active")


def name_problem(name: str) -> str | None:
    if not NAME_PATTERN.fullmatch(name or ""):
        return (
            "Use lowercase letters, digits and hyphens (at most 64), starting and ending with a letter or "
            "digit, e.g. mlflow-prod."
        )
    return None


def url_problem(url: str) -> str | None:
    """What is wrong with `url` as a tracking URL, or None. Only its shape is checked: nothing is called."""
    if not url:
        return "Give the tracking server's URL, e.g. https://mlflow.internal.example:5000."
    if len(url) > URL_MAX_LENGTH:
        return f"At most {URL_MAX_LENGTH} characters."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "This is not a URL that can be read."
    if parts.scheme not in SCHEMES or not parts.hostname:
        return "Use an http or https URL with a host, e.g. https://mlflow.internal.example:5000."
    if parts.username is not None or parts.password is not None:
        return "Put no credentials in the URL: name the environment variable that holds the token instead."
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        return "Give the tracking URL without a query or a fragment."
    if any(character.isspace() for character in url):
        return "A URL has no spaces."
    return None


def credential_env_problem(credential_env: str) -> str | None:
    if not CREDENTIAL_ENV_PATTERN.fullmatch(credential_env or "") or (
        len(credential_env) > CREDENTIAL_ENV_MAX_LENGTH
    ):
        return (
            "Name an environment variable (capital letters, digits and underscores, not starting with a "
            "digit), e.g. WAREHOUSE_TRACKING_TOKEN_MLFLOW_PROD; never the token itself."
        )
    return None


def _clean(name: str, url: str, credential_env: str, kind: str) -> tuple[str, str, str]:
    name, url, credential_env = (name or "").strip(), (url or "").strip(), (credential_env or "").strip()
    errors: dict[str, list[str]] = {}
    for field, problem in (
        ("name", name_problem(name)),
        ("url", url_problem(url)),
        ("credential_env", credential_env_problem(credential_env)),
        ("kind", None if kind in TrackingKind.values else f"Known kinds: {', '.join(TrackingKind.values)}."),
    ):
        if problem:
            errors[field] = [problem]
    if errors:
        raise InvalidInput(errors)
    # One spelling per server: a trailing slash is not a different server.
    return name, url.rstrip("/"), credential_env


def _taken(name: str) -> InvalidInput:
    return InvalidInput({"name": [f"A tracking server named {name} exists already."]})


def tracking_server_configure(
    *,
    actor,
    name: str,
    url: str,
    credential_env: str,
    active: bool = True,
    kind: str = TrackingKind.MLFLOW,
    server: TrackingServer | None = None,
) -> TrackingServer:
    """Configure a new tracking server, or change `server` (its name stays). `actor` None is the warehouse
    itself (the sync from the environment). A change that changes nothing writes nothing."""
    if actor is not None and not (actor.is_authenticated and actor.is_active and actor.is_superuser):
        # Before the transaction: the refusal stays on the record.
        raise permission_denied(
            actor=actor, target=server, permission="superuser", attempted=f"configure tracking server {name}"
        )
    name, url, credential_env = _clean(name, url, credential_env, kind)
    if server is not None and name != server.name:
        raise InvalidInput({"name": ["A tracking server's name does not change once it is configured."]})
    wanted = {"url": url, "credential_env": credential_env, "kind": str(kind), "active": bool(active)}
    try:
        with transaction.atomic():
            if server is None:
                return _create(actor, name, wanted)
            return _change(actor, server, wanted)
    except IntegrityError as error:  # a race for the same name
        raise _taken(name) from error


def _create(actor, name: str, wanted: dict) -> TrackingServer:
    if TrackingServer.objects.filter(name=name).exists():
        raise _taken(name)
    server = TrackingServer.objects.create(name=name, created_at=clock.now(), created_by=actor, **wanted)
    audit_record(
        actor=actor, action="tracking_server.configured", target=server, data={"name": name, **wanted}
    )
    return server


def _change(actor, server: TrackingServer, wanted: dict) -> TrackingServer:
    locked = TrackingServer.objects.select_for_update().get(pk=server.pk)
    changes = {
        field: {"before": getattr(locked, field), "after": value}
        for field, value in wanted.items()
        if getattr(locked, field) != value
    }
    if not changes:
        return locked
    for field, value in wanted.items():
        setattr(locked, field, value)
    locked.save(update_fields=list(changes))
    audit_record(
        actor=actor,
        action="tracking_server.changed",
        target=locked,
        data={"name": locked.name, "changes": changes},
    )
    return locked


def tracking_servers_sync(entries) -> list[TrackingServer]:
    """Configure, as the warehouse, each (name, url, credential_env) of WAREHOUSE_TRACKING_SERVERS: new ones
    are added, changed ones changed (and made active), the same ones left alone. Servers not listed are
    not touched: one configured in the admin stays as it is."""
    servers = []
    with transaction.atomic():  # all of them or, if one is wrong, none
        for name, url, credential_env in entries:
            existing = TrackingServer.objects.filter(name=name).first()
            try:
                server = tracking_server_configure(
                    actor=None, name=name, url=url, credential_env=credential_env, server=existing
                )
            except InvalidInput as error:
                raise InvalidInput(
                    {f"{name}.{field}": problems for field, problems in error.errors.items()}
                ) from error
            servers.append(server)
    return servers
