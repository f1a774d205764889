from django.db import migrations

from warehouse.dbtriggers import refuse_changes

EVIDENCE_TABLES = [
    "registry_artifact",
    "registry_sourcerun",
    "registry_evaluationreport",
    "registry_evaluationmetric",
    "registry_slicemetric",
    "registry_performanceprofile",
]


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [
        refuse_changes(
            table, reason="evidence is immutable; register a new version instead", delete=True, truncate=True
        )
        for table in EVIDENCE_TABLES
    ]
