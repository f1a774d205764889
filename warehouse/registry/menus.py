"""The models list's filter menus: the teams and the owners of the models a reader sees."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import BooleanField, Expression, F, Func, Q
from django.db.models.expressions import RawSQL

from warehouse.accounts.visibility import any_of_theirs_visible, reader_for
from warehouse.registry.models import RegisteredModel


def model_filter_choices(*, user) -> dict[str, list[str]]:
    """The teams and owners of the models `user` can see, for the filter menus (two queries). Only the
    teams and people who own some model are asked (`_owning`), each whether one of their models is visible
    (`any_of_theirs_visible`: their first models from the index, then probes of the grants), so the cost
    follows the number of owning teams and people, not of models, nor of the people who own none."""
    reader = reader_for(user)
    teams = Group.objects.filter(_owning("team"), any_of_theirs_visible(reader, by="team"))
    people = get_user_model().objects.filter(_owning("owner"), any_of_theirs_visible(reader, by="owner"))
    return {
        "teams": sorted(teams.values_list("name", flat=True)),
        "owners": sorted(people.values_list("username", flat=True)),
    }


class _AnyOf(Func):
    """PostgreSQL's `value = ANY(array)`: a condition it checks before costlier ones on the same row."""

    arg_joiner = " = ANY("
    template = "(%(expressions)s))"
    output_field = BooleanField()


def _owning(field: str) -> Expression | Q:
    """The outer row (a group, a person) is the `field` ("team", "owner") of some model.

    Those are read from the models' index one value at a time, a step per team or person and not per model
    (a loose index scan, which PostgreSQL and SQLite run only when asked this way), once per query (on
    PostgreSQL an array, so that the check on each row is a cheap one, made before the visibility check).
    Asked of every person instead, the menu read all the models for each person who owns none whenever one
    person owned most of them, as a pipeline's account may."""
    table = connection.ops.quote_name(RegisteredModel._meta.db_table)
    column = connection.ops.quote_name(RegisteredModel._meta.get_field(field).column)
    held = f"""
        WITH RECURSIVE held(value) AS (
            SELECT MIN({column}) FROM {table}
            UNION ALL
            SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > held.value) FROM held
            WHERE held.value IS NOT NULL
        )
        SELECT value FROM held WHERE value IS NOT NULL
    """
    if connection.vendor == "postgresql":
        return _AnyOf(F("pk"), RawSQL(f"ARRAY({held})", []))
    return Q(pk__in=RawSQL(held, []))
