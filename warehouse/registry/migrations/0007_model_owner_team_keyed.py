"""A model's owner and team indexed together with its key, in place of each alone: the filter menus read a
team's or a person's first models from the index (registry.menus).

In the database only indexes change: the new ones are made, then the old single-column ones dropped. The
fields' `db_index=False` is recorded in the migration state alone, because Django applies it as a field
alteration that drops and re-adds each foreign key, which re-checks every model against auth_user and
auth_group while it holds their locks."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

KEYED = {
    "owner": models.Index(fields=["owner", "id"], name="registry_model_owner_key"),
    "team": models.Index(fields=["team", "id"], name="registry_model_team_key"),
}


def _single_column_indexes(schema_editor, model, column: str) -> list[str]:
    """The names of the plain indexes on `column` alone (the ones Django made for the foreign key)."""
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, model._meta.db_table)
    return [
        name
        for name, details in constraints.items()
        if details["index"]
        and details["columns"] == [column]
        and not (details["unique"] or details["primary_key"] or details["foreign_key"])
    ]


def single_column_indexes_drop(apps, schema_editor):
    model = apps.get_model("registry", "RegisteredModel")
    for field in KEYED:
        column = model._meta.get_field(field).column
        for name in _single_column_indexes(schema_editor, model, column):
            schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}", params=None)


def single_column_indexes_create(apps, schema_editor):
    model = apps.get_model("registry", "RegisteredModel")
    for field in KEYED:
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[model._meta.get_field(field)]))


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("registry", "0006_model_search_trigram"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                *(migrations.AddIndex(model_name="registeredmodel", index=index) for index in KEYED.values()),
                migrations.RunPython(
                    single_column_indexes_drop, single_column_indexes_create, elidable=False
                ),
            ],
            state_operations=[
                *(migrations.AddIndex(model_name="registeredmodel", index=index) for index in KEYED.values()),
                migrations.AlterField(
                    model_name="registeredmodel",
                    name="owner",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="owned_models",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="registeredmodel",
                    name="team",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="models",
                        to="auth.group",
                    ),
                ),
            ],
        )
    ]
