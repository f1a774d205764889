"""Copies of the template models, row for row, in PostgreSQL: how the scale bench reaches 10,000 models in
minutes where the services would take hours.

Copy k of a template row gets the id `id + k * stride`, where a table's stride is the highest id its
templates used, so every foreign key between copied tables moves by its target's stride and stays inside
the same copy; keys to what is not copied (people, teams, the policy) are kept. A model's name takes the
number of its copy (model-00003 copied as the 7th of 10 templates' first copy is model-00013), a version's
uuid is derived from the template's and the copy's number, and django-guardian's rows for a model move with
it. The audit trail is not copied here: its events are hashed in order, so bench.scale.trail replays each
copy's events through the chain.
"""

import hashlib
import uuid

from django.db import connection, models, transaction

from bench.scale.templates import NAME_DIGITS, NAME_PREFIX
from warehouse.cards.models import CardRevision, ModelCard
from warehouse.promotions.models import CheckResult, GateRun, PromotionRequest, SignOff
from warehouse.registry.models import (
    Artifact,
    EvaluationMetric,
    EvaluationReport,
    ModelVersion,
    PerformanceProfile,
    ProductionAnswer,
    RegisteredModel,
    SliceMetric,
    SourceRun,
    StageTransition,
)

# Parents before children, so that each INSERT finds its targets (the keys are checked at commit anyway).
COPIED = (
    RegisteredModel,
    ModelVersion,
    Artifact,
    SourceRun,
    EvaluationReport,
    EvaluationMetric,
    SliceMetric,
    PerformanceProfile,
    StageTransition,
    ProductionAnswer,
    ModelCard,
    CardRevision,
    GateRun,
    PromotionRequest,
    CheckResult,
    SignOff,
)
GUARDIAN_TABLES = ("guardian_userobjectpermission", "guardian_groupobjectpermission")


def copied_uuid(template: uuid.UUID | str, copy: int) -> uuid.UUID:
    """The uuid of copy `copy` of the version whose uuid is `template` (the same function as the SQL's)."""
    return uuid.UUID(hashlib.md5(f"{template}:{copy}".encode()).hexdigest())


def copied_name(template_name: str, copy: int, templates: int) -> str:
    number = int(template_name[len(NAME_PREFIX) :]) + copy * templates
    return f"{NAME_PREFIX}{number:0{NAME_DIGITS}d}"


def strides() -> dict[type[models.Model], int]:
    """Each copied table's highest template id: copies of the templates are numbered past it."""
    found = {}
    with connection.cursor() as cursor:
        for model in COPIED:
            cursor.execute(f'SELECT COALESCE(MAX("{model._meta.pk.column}"), 0) FROM {model._meta.db_table}')
            found[model] = cursor.fetchone()[0]
    return found


def _column_expression(field: models.Field, stride: dict, templates: int) -> str:
    column = f't."{field.column}"'
    # A key that is also a relation (a production answer's model) moves with its target.
    if field.is_relation and field.related_model in stride:
        return f"{column} + k * {stride[field.related_model]}"
    if field.primary_key:
        return f"{column} + k * {stride[field.model]}"
    if field.model is RegisteredModel and field.name == "name":
        digits = f"substr({column}, {len(NAME_PREFIX) + 1})::int + k * {templates}"
        return f"'{NAME_PREFIX}' || lpad(({digits})::text, {NAME_DIGITS}, '0')"
    if field.model is ModelVersion and field.name == "uuid":
        return f"md5({column}::text || ':' || k)::uuid"
    return column


def _copy_table(cursor, model: type[models.Model], stride: dict, templates: int, first: int, last: int):
    fields = [field for field in model._meta.concrete_fields]
    columns = ", ".join(f'"{field.column}"' for field in fields)
    expressions = ", ".join(_column_expression(field, stride, templates) for field in fields)
    table = model._meta.db_table
    cursor.execute(
        f"INSERT INTO {table} ({columns}) SELECT {expressions} FROM {table} t "
        f'CROSS JOIN generate_series(%s, %s) AS k WHERE t."{model._meta.pk.column}" <= %s',
        [first, last, stride[model]],
    )


def _copy_permissions(cursor, table: str, model_stride: int, first: int, last: int):
    cursor.execute(
        f"""INSERT INTO {table} (object_pk, content_type_id, permission_id,
                                 {"user_id" if "user" in table else "group_id"})
            SELECT (t.object_pk::bigint + k * %s)::text, t.content_type_id, t.permission_id,
                   {"t.user_id" if "user" in table else "t.group_id"}
            FROM {table} t CROSS JOIN generate_series(%s, %s) AS k
            JOIN django_content_type ct ON ct.id = t.content_type_id
            WHERE ct.app_label = 'registry' AND ct.model = 'registeredmodel' AND t.object_pk::bigint <= %s""",
        [model_stride, first, last, model_stride],
    )


def copies_make(*, stride: dict, templates: int, first: int, last: int) -> None:
    """Copies `first` to `last` (inclusive, 1 or more; copy 0 is the templates) of every template model."""
    with transaction.atomic(), connection.cursor() as cursor:
        for model in COPIED:
            _copy_table(cursor, model, stride, templates, first, last)
        for table in GUARDIAN_TABLES:
            _copy_permissions(cursor, table, stride[RegisteredModel], first, last)


def sequences_reset() -> None:
    """Each copied table's id sequence past its highest id, so that the services can go on writing."""
    with connection.cursor() as cursor:
        own_ids = [model._meta.db_table for model in COPIED if not model._meta.pk.is_relation]
        for table in own_ids + list(GUARDIAN_TABLES):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            )
