from django.db import migrations

from warehouse.dbtriggers import refuse_changes


class Migration(migrations.Migration):
    dependencies = [("promotions", "0001_initial")]

    operations = [
        refuse_changes(
            "promotions_policyrevision",
            reason="a policy revision is permanent; edit the policy to add a revision",
            delete=True,
            truncate=True,
        ),
        refuse_changes(
            "promotions_checkresult",
            reason="a gate run's results are its record; run the gate again instead",
            delete=True,
            truncate=True,
        ),
    ]
