"""Which models a reader sees, asked in the form that costs least for the read at hand.

Two forms give the same answer (tests/accounts/test_model_visibility.py holds them to guardian's):
- *the set* (`models_visible_to`): the reader's view grants, which PostgreSQL reads and hashes once per
  query. It costs in proportion to the grants the reader holds, whatever the read: about 4 ms for a reader
  of 10,000 models, on every list.
- *the walk* (`model_visible_check`): each row checked on its own as the read reaches it, one probe of
  guardian's index. It costs in proportion to the rows the read goes through before it has what it needs.

A read that stops after `rows` rows (a page of 51, a count capped at 1,001) goes through about
rows × models ÷ grants rows under the walk: few for a reader who sees much of the registry, all of it for
a reader of two models. PostgreSQL cannot weigh the two, as it does not know how many of the models a
reader's grants reach, so the choice is made here: the walk when its probes would cost less than
hashing the grants. Measured on PostgreSQL 15, a probe costs about as much as hashing WALK_PROBE_COST
grants.
"""

import math
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

from warehouse.accounts.permissions import (
    VIEW_MODEL,
    model_grants_of,
    model_visible_check,
    models_visible_to,
)

WALK_PROBE_COST = 8


@dataclass(frozen=True)
class Reader:
    """A person about to read models, with what decides how: their groups that hold view grants (teams,
    not roles), and how many view grants they hold (counted as far as the decision needs)."""

    user: object
    groups: list[int]
    grants: int
    models: int = 1  # in the registry, about

    def walks(self, rows: int) -> bool:
        """Whether a read that stops after `rows` rows costs less checking row by row."""
        return not self.user.is_superuser and self.grants >= walk_from(rows=rows, models=self.models)


# The longest read that asks (a list's count, capped at 1,000 and one more): a reader's grants are counted
# as far as deciding it needs, which decides every shorter read too.
LONGEST_READ = 1_001


def reader_for(user) -> Reader:
    """`user` as a reader: three small queries (their teams, the registry's size, their grants, counted as
    far as deciding LONGEST_READ needs), none for a superuser or someone signed out. Read once per person
    object and kept on it, as Django keeps a person's permissions: the pages of one request ask again
    for free, and the next request loads the person, and so their teams and grants, anew."""
    known = getattr(user, "_warehouse_reader", None)
    if known is not None:
        return known
    if not user.is_authenticated or not user.is_active or user.is_superuser:
        reader = Reader(user, [], 0)
    else:
        reader = _reader_read(user)
    user._warehouse_reader = reader
    return reader


def _reader_read(user) -> Reader:
    view = model_grants_of(VIEW_MODEL.partition(".")[2])
    granting = get_group_obj_perms_model().objects.filter(group_id=OuterRef("group_id"), **view)
    memberships = user.groups.through.objects.filter(user=user).filter(Exists(granting))
    groups = list(memberships.values_list("group_id", flat=True))
    models = _models_in_registry()
    enough = walk_from(rows=LONGEST_READ, models=models)
    direct = get_user_obj_perms_model().objects.filter(user=user, **view).values("pk")
    through_groups = get_group_obj_perms_model().objects.filter(group__in=groups, **view).values("pk")
    grants = direct.union(through_groups, all=True)[:enough].count()
    return Reader(user, groups, grants, models)


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
    models = ContentType.objects.get_by_natural_key("registry", "registeredmodel").model_class()
    return queryset.filter(**{f"{model_key}__in": models_visible_to(user, models.objects.all()).values("pk")})


def walk_from(*, rows: int, models: int) -> int:
    """The grants from which the walk costs less than the set, for a read of `rows` rows in a registry of
    `models`: where rows × models ÷ grants probes cost as much as hashing the grants."""
    return max(1, math.ceil(math.sqrt(rows * models * WALK_PROBE_COST)))


def _models_in_registry() -> int:
    """About how many models the registry holds, in one query: on PostgreSQL its own estimate (a catalogue
    lookup, no count that grows with the registry) unless the table was never analysed; on SQLite, the
    embedded default's small registry, a count."""
    models = ContentType.objects.get_by_natural_key("registry", "registeredmodel").model_class()
    table = connection.ops.quote_name(models._meta.db_table)
    if connection.vendor == "postgresql":
        sql = (
            "SELECT CASE WHEN reltuples >= 0 THEN reltuples::bigint "
            f"ELSE (SELECT COUNT(*) FROM {table}) END FROM pg_class WHERE oid = %s::regclass"
        )
        params = [models._meta.db_table]
    else:
        sql, params = f"SELECT COUNT(*) FROM {table}", []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        (size,) = cursor.fetchone()
    return max(int(size), 1)
