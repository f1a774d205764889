"""Who a bearer token speaks for and which models they may see, as the serving path asks it.

The production lookup is called all day by serving systems with the same few tokens, and the rest of the
API by pipelines and dashboards with the same few more. Both answers are read
from the database once and then remembered in this process under the change feed's stamp: a token revoked
or expired, a person deactivated, a group membership or a permission changed anywhere is announced by
PostgreSQL on commit (warehouse/changes.py), and nothing remembered before it counts any more. A
remembered token is also read again after LAST_USED_RESOLUTION, which is when its last use is recorded.
"""

import time
from dataclasses import dataclass

from django.contrib.auth import get_user_model

from warehouse.accounts.permissions import model_visible_to_user_id
from warehouse.accounts.services import (
    LAST_USED_RESOLUTION,
    TOKEN_PREFIX,
    api_token_authenticate,
    secret_digest,
)
from warehouse.changes import Memo, Stamp

LAST_USED_SECONDS = LAST_USED_RESOLUTION.total_seconds()
SECRET_MAX_LENGTH = 200


@dataclass(frozen=True)
class TokenHolder:
    """The person a bearer token speaks for, with what the serving path needs to know of them."""

    token_prefix: str
    user_id: int
    username: str
    is_superuser: bool
    expires_at: float | None  # seconds since the epoch
    read_at: float  # time.monotonic() when read from the database

    def person(self):
        """The person the token speaks for, as a User: a new instance each time, as each request loads its
        own (Django keeps permission caches on it, and a request its reader). It holds only what the change
        feed reports changes of (an active person's key, username and superuser flag); any other field is
        read from the database if something asks for it, so it is never older than the request."""
        known = {
            "id": self.user_id,
            "username": self.username,
            "is_active": True,
            "is_superuser": self.is_superuser,
        }
        model = get_user_model()
        # from_db takes the values in the order of the model's fields.
        fields = [field.attname for field in model._meta.concrete_fields if field.attname in known]
        return model.from_db("default", fields, [known[name] for name in fields])

    def is_current(self) -> bool:
        if self.expires_at is not None and self.expires_at <= time.time():
            return False
        return time.monotonic() - self.read_at < LAST_USED_SECONDS


_holders = Memo(max_entries=10_000)
_visibility = Memo(max_entries=200_000)


def token_holder_get(*, secret: str, stamp: Stamp | None) -> TokenHolder | None:
    """Who `secret` speaks for, or None if it is no active token. No query while remembered under `stamp`
    (from `current_stamp()`, taken before this call; None: read the database)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > SECRET_MAX_LENGTH:
        return None
    digest = secret_digest(secret)
    if stamp is not None:
        remembered = _holders.get(digest, stamp)
        if remembered is not None and remembered.is_current():
            return remembered
    # Unknown secrets are not remembered: a guesser's secrets would only crowd out the real ones.
    token = api_token_authenticate(secret)
    if token is None:
        return None
    holder = TokenHolder(
        token_prefix=token.prefix,
        user_id=token.user_id,
        username=token.user.get_username(),
        is_superuser=token.user.is_superuser,
        expires_at=token.expires_at.timestamp() if token.expires_at is not None else None,
        read_at=time.monotonic(),
    )
    if stamp is not None:
        _holders.put(digest, stamp, holder)
    return holder


def model_visible(*, user_id: int, is_superuser: bool, model_id: int, stamp: Stamp | None) -> bool:
    """Whether the active person `user_id` may see model `model_id` (deny by default). No query while
    remembered under `stamp`."""
    if is_superuser:
        return True
    key = (user_id, model_id)
    if stamp is not None:
        remembered = _visibility.get(key, stamp)
        if remembered is not None:
            return remembered
    visible = model_visible_to_user_id(user_id=user_id, model_id=model_id)
    if stamp is not None:
        _visibility.put(key, stamp, visible)
    return visible


def active_person_is_superuser(*, user_id: int) -> bool | None:
    """Whether the person `user_id` is a superuser; None if they are no longer an active person. Read
    afresh, one query: a signed-in watcher's wait asks again before each answer."""
    return (
        get_user_model()
        .objects.filter(pk=user_id, is_active=True)
        .values_list("is_superuser", flat=True)
        .first()
    )
