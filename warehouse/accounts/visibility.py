"""Which models a reader sees, asked in the form that costs least for the read at hand.

Two forms give the same answer (tests/accounts/test_model_visibility.py holds them to guardian's):
- *the set* (`models_visible_to`): the reader's view grants, which PostgreSQL reads and hashes once per
  query. It costs in proportion to the grants the reader holds, whatever the read: about 4 ms for a reader
  of 10,000 models, on every list.
- *the walk* (`model_visible_check`): each row checked on its own as the read reaches it, one probe of
  guardian's index. It costs in proportion to the rows the read goes through before it has what it needs.

A read that stops after `rows` rows (a page of 51, a count capped at 1,001) goes through about
rows × models ÷ seen rows under the walk, `seen` being the models the reader sees: few for a reader who
sees much of the registry, all of it for a reader of two models. PostgreSQL cannot weigh the two, as it
does not know how many of the models a reader's grants reach, so the choice is made here, from the share
of the newest models the reader sees: the walk when its probes would cost less than hashing the grants.
Measured on PostgreSQL 15, a probe costs about as much as hashing WALK_PROBE_COST grants.
"""

import math
import time
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import BooleanField, Expression, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

from warehouse.accounts.permissions import (
    VIEW_MODEL,
    model_grants_of,
    model_visible_check,
    models_visible_to,
)
from warehouse.changes import Memo, current_stamp

WALK_PROBE_COST = 8


@dataclass(frozen=True)
class Reader:
    """A person about to read models, with what decides how: their groups that hold view grants (teams,
    not roles), and about how many of the registry's models they see."""

    user: object
    groups: list[int]
    sees: int
    models: int = 1  # in the registry, about

    def walks(self, rows: int) -> bool:
        """Whether a read that stops after `rows` rows costs less checking row by row."""
        return not self.user.is_superuser and self.sees >= walk_from(rows=rows, models=self.models)


# Readers remembered in this process while the change feed vouches for them (warehouse/changes.py): their
# teams are exact until a membership, a group or a permission changes anywhere (registering a model grants
# permissions on it, so that too), which the feed hears on commit. How much of the registry they see is
# only an estimate, which picks a plan and never an answer: it is read again after READER_ESTIMATE_SECONDS
# whatever the feed heard.
_readers = Memo(max_entries=10_000)
READER_ESTIMATE_SECONDS = 60.0


def reader_for(user) -> Reader:
    """`user` as a reader: one query (their teams, the registry's size, and how much of it they see), none
    for a superuser or someone signed out, and none while remembered (above). Kept on the person object
    too, as Django keeps a person's permissions: the reads of one request ask again for free."""
    known = getattr(user, "_warehouse_reader", None)
    if known is not None:
        return known
    if not user.is_authenticated or not user.is_active or user.is_superuser:
        reader = Reader(user, [], 0)
    else:
        reader = _reader_remembered(user)
    user._warehouse_reader = reader
    return reader


def _reader_remembered(user) -> Reader:
    stamp = current_stamp()  # before reading, so that a change committed meanwhile invalidates the read
    if stamp is not None:
        remembered = _readers.get(user.pk, stamp)
        if remembered is not None and time.monotonic() - remembered[0] < READER_ESTIMATE_SECONDS:
            groups, sees, models = remembered[1]
            return Reader(user, list(groups), sees, models)
    reader = _reader_read(user)
    if stamp is not None:
        _readers.put(user.pk, stamp, (time.monotonic(), (tuple(reader.groups), reader.sees, reader.models)))
    return reader


# One query for the three things a reader is: their teams (the groups holding view grants), the registry's
# size (PostgreSQL's estimate unless never analysed; SQLite's embedded registry, counted) and how many of
# the newest SAMPLED models they see, each asked with one probe of the grants' index. Counting the reader's
# grants instead read all of them (2 ms for a reader of 10,000 models, on every list); three ORM queries
# took three round trips and about 3 ms of Python.
SAMPLED = 64
_SEEN = """
    COALESCE(
        (SELECT 1 FROM {group_grants} grant_
         WHERE grant_.object_pk = CAST(sample.id AS TEXT) AND grant_.permission_id = %(permission)s
           AND grant_.content_type_id = %(content_type)s AND grant_.group_id IN (SELECT group_id FROM teams)
         LIMIT 1),
        (SELECT 1 FROM {user_grants} grant_
         WHERE grant_.object_pk = CAST(sample.id AS TEXT) AND grant_.permission_id = %(permission)s
           AND grant_.content_type_id = %(content_type)s AND grant_.user_id = %(user)s
         LIMIT 1),
        0)
"""
_TEAMS = """
    teams AS (
        SELECT member.group_id FROM {memberships} member
        WHERE member.user_id = %(user)s AND EXISTS (
            SELECT 1 FROM {group_grants} grant_
            WHERE grant_.group_id = member.group_id AND grant_.permission_id = %(permission)s
              AND grant_.content_type_id = %(content_type)s)
    ),
    sample AS (SELECT id FROM {models} ORDER BY id DESC LIMIT %(sampled)s)
"""
_READER_SQL = {
    "postgresql": f"""
        WITH {_TEAMS}
        SELECT ARRAY(SELECT group_id FROM teams),
            (SELECT GREATEST(1, CASE WHEN reltuples >= 0 THEN reltuples::bigint
                                     ELSE (SELECT COUNT(*) FROM {{models}}) END)
             FROM pg_class WHERE oid = %(models_table)s::regclass),
            (SELECT COUNT(*) FROM sample),
            (SELECT COALESCE(SUM({_SEEN}), 0) FROM sample)
    """,
    "sqlite": f"""
        WITH {_TEAMS}
        SELECT (SELECT GROUP_CONCAT(group_id) FROM teams),
            MAX(1, (SELECT COUNT(*) FROM {{models}})),
            (SELECT COUNT(*) FROM sample),
            (SELECT COALESCE(SUM({_SEEN}), 0) FROM sample)
    """,
}


def _reader_read(user) -> Reader:
    view = model_grants_of(VIEW_MODEL.partition(".")[2])
    models = _registered_models()
    tables = {
        "memberships": user.groups.through._meta.db_table,
        "group_grants": get_group_obj_perms_model()._meta.db_table,
        "user_grants": get_user_obj_perms_model()._meta.db_table,
        "models": models._meta.db_table,
    }
    sql = _READER_SQL[connection.vendor].format(
        **{name: connection.ops.quote_name(table) for name, table in tables.items()}
    )
    params = {
        "user": user.pk,
        "permission": view["permission_id"],
        "content_type": view["content_type_id"],
        "models_table": models._meta.db_table,
        "sampled": SAMPLED,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        groups, size, sampled, seen = cursor.fetchone()
    if isinstance(groups, str | None):  # SQLite's GROUP_CONCAT
        groups = [int(group) for group in groups.split(",")] if groups else []
    # The share of the newest models they see, of the whole registry: an estimate, which only picks a plan.
    sees = round(size * seen / sampled) if sampled else 0
    return Reader(user, sorted(groups), sees, size)


def models_visible_for_read(
    reader: Reader, queryset: QuerySet, *, rows: int, model_key: str = "pk"
) -> QuerySet:
    """The rows of `queryset` (models, or rows naming a model by `model_key`: "model_id" for versions)
    whose model `reader` may see, for a read that stops after `rows` rows, in the cheaper form."""
    user = reader.user
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    if reader.walks(rows):
        check = model_visible_check(user, model=OuterRef(model_key), groups=reader.groups)
        return queryset.alias(visible=check).filter(visible=True)
    if model_key == "pk":
        return models_visible_to(user, queryset)
    models = _registered_models()
    return queryset.filter(**{f"{model_key}__in": models_visible_to(user, models.objects.all()).values("pk")})


# How many of someone's models (a team's, an owner's) `any_of_theirs_visible` checks one by one before it
# checks all of them against the reader's grants instead.
FIRST_WALKED = 32


def any_of_theirs_visible(reader: Reader, *, by: str) -> Expression:
    """Whether `reader` sees one of the models whose `by` (a field of the model: "team", "owner") is the
    outer query's row: a condition for a query over teams or people (the list's filter menus).

    Both forms, in turn: the first FIRST_WALKED of their models checked one by one (the walk), and only if
    none of those is visible, all of them against the reader's grants hashed once per query (the set),
    which PostgreSQL builds only when some row needs it. A reader of much of the registry has their answer
    from the first probe, where hashing their grants cost 3 ms a menu at 10,000 models; a reader who sees
    none of a team's first models pays FIRST_WALKED probes more than the set alone, and never walks through
    all of a team's models."""
    user = reader.user
    if not user.is_authenticated or not user.is_active:
        return Value(False)
    models = _registered_models().objects.order_by()
    held = Value(True, output_field=BooleanField())
    theirs = models.filter(**{by: OuterRef("pk")})
    if user.is_superuser:
        return Coalesce(Subquery(theirs.values(held=held)[:1]), Value(False))
    # Their first models by key, from the (`by`, key) index: a subquery inside the walk, so the outer row is
    # two levels up.
    first = models.filter(**{by: OuterRef(OuterRef("pk"))}).order_by("pk").values("pk")[:FIRST_WALKED]
    check = model_visible_check(user, model=OuterRef("pk"), groups=reader.groups)
    walked = models.filter(pk__in=first).alias(visible=check).filter(visible=True).values(held=held)[:1]
    hashed = models_visible_to(user, theirs).values(held=held)[:1]
    return Coalesce(Subquery(walked), Subquery(hashed), Value(False))


def walk_from(*, rows: int, models: int) -> int:
    """The models seen from which the walk costs less than the set, for a read of `rows` rows in a registry
    of `models`: where rows × models ÷ seen probes cost as much as hashing the reader's grants (about one
    per model seen)."""
    return max(1, math.ceil(math.sqrt(rows * models * WALK_PROBE_COST)))


def _registered_models():
    # By content type: accounts sits below registry and cannot import its models.
    return ContentType.objects.get_by_natural_key("registry", "registeredmodel").model_class()
