import django.db.models.deletion
from django.db import migrations, models

import warehouse.clock
from warehouse.changes import CHANNEL
from warehouse.dbtriggers import notify_on_change
from warehouse.registry.serving import production_body, production_document

PRODUCTION_NOTIFY = f"""
CREATE OR REPLACE FUNCTION warehouse_notify_production() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', 'production ' || NEW.model_id || ' ' || NEW.generation);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER registry_productionanswer_notify AFTER INSERT OR UPDATE ON registry_productionanswer
FOR EACH ROW EXECUTE FUNCTION warehouse_notify_production();
"""


def notify_production_install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PRODUCTION_NOTIFY, params=None)


def notify_production_uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS registry_productionanswer_notify ON registry_productionanswer;"
        )


def answers_write(apps, schema_editor):
    """The answer of every model in production today, made by the function the stage door uses, so that
    it is byte for byte what the door would write."""
    ModelVersion = apps.get_model("registry", "ModelVersion")
    ProductionAnswer = apps.get_model("registry", "ProductionAnswer")
    serving = (
        ModelVersion.objects.filter(stage="production")
        .select_related("model", "rollback_target")
        .prefetch_related("artifacts")
    )
    for version in serving:
        body, etag = production_body(production_document(model_name=version.model.name, version=version))
        ProductionAnswer.objects.create(
            model=version.model, generation=1, body=body, etag=etag, version=version
        )


class Migration(migrations.Migration):
    dependencies = [("registry", "0002_immutable_evidence_triggers")]

    operations = [
        migrations.CreateModel(
            name="ProductionAnswer",
            fields=[
                (
                    "model",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="production_answer",
                        serialize=False,
                        to="registry.registeredmodel",
                    ),
                ),
                ("generation", models.PositiveBigIntegerField()),
                ("body", models.TextField(blank=True)),
                ("etag", models.CharField(blank=True, max_length=80)),
                ("updated_at", models.DateTimeField(default=warehouse.clock.now)),
                (
                    "version",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.modelversion",
                    ),
                ),
            ],
        ),
        migrations.RunPython(answers_write, migrations.RunPython.noop),
        migrations.RunPython(notify_production_install, notify_production_uninstall),
        # A deleted model's name may be given to a new one: processes forget what they remembered by name.
        notify_on_change("registry_registeredmodel", payload="access", events="DELETE OR TRUNCATE"),
    ]
