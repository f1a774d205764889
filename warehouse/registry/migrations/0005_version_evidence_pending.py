"""A version may be registered with its evidence pending (MLflow's registry API gives only where the files
are and the run), and attached once later. Versions registered before had their evidence from the start.

Once attached, a version's evidence never changes (DESIGN invariant 3): the evidence rows refuse updates
(0002), and a trigger here refuses any change of when it was attached, of the source URI and of the run id,
whoever writes (the application only ever sets `evidence_attached_at` once, from null)."""

from django.db import migrations, models
from django.db.models import F

import warehouse.clock

REASON = "the evidence of a version is attached once and never changes; register a new version instead"

PG_INSTALL = f"""
CREATE OR REPLACE FUNCTION warehouse_version_evidence_fixed() RETURNS trigger AS $$
BEGIN
    IF (OLD.evidence_attached_at IS NOT NULL
            AND NEW.evidence_attached_at IS DISTINCT FROM OLD.evidence_attached_at)
        OR NEW.source_uri IS DISTINCT FROM OLD.source_uri
        OR NEW.run_id IS DISTINCT FROM OLD.run_id THEN
        RAISE EXCEPTION 'warehouse: UPDATE on registry_modelversion is refused: {REASON}'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER registry_modelversion_evidence_fixed BEFORE UPDATE ON registry_modelversion
    FOR EACH ROW EXECUTE FUNCTION warehouse_version_evidence_fixed();
"""
PG_UNINSTALL = """
DROP TRIGGER IF EXISTS registry_modelversion_evidence_fixed ON registry_modelversion;
DROP FUNCTION IF EXISTS warehouse_version_evidence_fixed();
"""
SQLITE_INSTALL = f"""
CREATE TRIGGER registry_modelversion_evidence_fixed BEFORE UPDATE ON registry_modelversion
WHEN (OLD.evidence_attached_at IS NOT NULL AND NEW.evidence_attached_at IS NOT OLD.evidence_attached_at)
    OR NEW.source_uri IS NOT OLD.source_uri OR NEW.run_id IS NOT OLD.run_id
BEGIN SELECT RAISE(ABORT, 'warehouse: UPDATE on registry_modelversion is refused: {REASON}'); END;
"""
SQLITE_UNINSTALL = "DROP TRIGGER IF EXISTS registry_modelversion_evidence_fixed;"


def attached_at_registration(apps, schema_editor):
    ModelVersion = apps.get_model("registry", "ModelVersion")
    ModelVersion.objects.update(evidence_attached_at=F("created_at"))


def trigger_install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_INSTALL, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_INSTALL, params=None)


def trigger_uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_UNINSTALL, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_UNINSTALL, params=None)


class Migration(migrations.Migration):
    dependencies = [("registry", "0004_production_answer_deleted")]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="evidence_attached_at",
            field=models.DateTimeField(blank=True, default=warehouse.clock.now, null=True),
        ),
        migrations.AddField(
            model_name="modelversion",
            name="run_id",
            field=models.CharField(blank=True, help_text="The tracked run, as registered.", max_length=200),
        ),
        migrations.AddField(
            model_name="modelversion",
            name="source_uri",
            field=models.CharField(
                blank=True,
                help_text="Where the version's files are, as registered. Never fetched.",
                max_length=2048,
            ),
        ),
        migrations.RunPython(attached_at_registration, migrations.RunPython.noop),
        migrations.RunPython(trigger_install, trigger_uninstall),
    ]
