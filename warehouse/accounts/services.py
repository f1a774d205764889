"""API tokens: made, shown once, stored as a digest, revoked."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction

from warehouse import clock
from warehouse.accounts.models import ApiToken
from warehouse.accounts.permissions import permission_denied
from warehouse.audit.services import audit_record
from warehouse.changes import heard_before_answering
from warehouse.errors import InvalidInput

TOKEN_PREFIX = "wh_"
# A used token's last_used_at is refreshed at most this often, so each API call is not also a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the full token: shown to its owner once, never stored


def secret_digest(secret: str) -> str:
    """What is stored of a bearer secret. The secret is 256 random bits, so a plain SHA-256 is enough:
    there is nothing to guess at."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_issue(kind: str) -> tuple[str, str]:
    """A new bearer secret `<kind><prefix>_<256 random bits>` and its public prefix, which names it in
    lists without revealing it. API tokens are `wh_…`, alert receiver tokens `whr_…`."""
    prefix = secrets.token_hex(4)
    return prefix, f"{kind}{prefix}_{secrets.token_urlsafe(32)}"


def api_token_create(*, actor, user, name: str, expires_at: datetime | None = None) -> IssuedToken:
    name = (name or "").strip()
    if not name:
        raise InvalidInput({"name": ["Name the token after what will use it, e.g. 'payments CI'."]})
    if len(name) > 100:
        raise InvalidInput({"name": ["At most 100 characters."]})
    if expires_at is not None and expires_at <= clock.now():
        raise InvalidInput({"expires_at": ["The expiry must be in the future."]})
    if actor.pk != user.pk and not actor.is_superuser:
        raise permission_denied(
            actor=actor,
            target=None,
            permission="superuser",
            attempted=f"make a token for {user.get_username()}",
        )
    prefix, secret = secret_issue(TOKEN_PREFIX)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=prefix,
            digest=secret_digest(secret),
            created_at=clock.now(),
            expires_at=expires_at,
        )
        audit_record(
            actor=actor,
            action="api_token.created",
            target=token,
            target_label=f"{user.get_username()}: {token}",
            data={
                "user": user.get_username(),
                "name": name,
                "prefix": prefix,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return IssuedToken(token=token, secret=secret)


def api_token_revoke(*, actor, token: ApiToken) -> ApiToken:
    if actor.pk != token.user_id and not actor.is_superuser:
        raise permission_denied(
            actor=actor, target=token, permission="superuser", attempted="revoke another's token"
        )
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at"])
        # Answered once this process has heard the revocation: it refuses the token from then on.
        transaction.on_commit(heard_before_answering, robust=True)
        audit_record(
            actor=actor,
            action="api_token.revoked",
            target=token,
            target_label=f"{token.user.get_username()}: {token}",
            data={"prefix": token.prefix},
        )
    return token


def api_token_authenticate(secret: str) -> ApiToken | None:
    """The active token with this secret, or None. Marks when it was last used, at minute resolution."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=secret_digest(secret), revoked_at=None, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = clock.now()
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def user_by_username(username: str):
    User = get_user_model()
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise InvalidInput({"user": [f"No user named {username!r}."]}) from None


# --- People, groups and what they hold: changes made in the admin go on the record ---------------------


def user_access_snapshot(user) -> dict:
    """What decides a person's access: flags, role and team groups, and permissions held directly."""
    return {
        "username": user.get_username(),
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "permissions": sorted(
            f"{app}.{codename}"
            for app, codename in user.user_permissions.values_list("content_type__app_label", "codename")
        ),
    }


def group_access_snapshot(group) -> dict:
    return {
        "name": group.name,
        "permissions": sorted(
            f"{app}.{codename}"
            for app, codename in group.permissions.values_list("content_type__app_label", "codename")
        ),
    }


def access_change_record(*, actor, action: str, target, before: dict | None, after: dict | None) -> None:
    """Audit a change to a person or group, naming only what changed. Call inside the change's transaction."""
    before, after = before or {}, after or {}
    changed = {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }
    if changed:
        audit_record(actor=actor, action=action, target=target, data={"changed": changed})
