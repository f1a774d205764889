from django.db import migrations

from warehouse.dbtriggers import refuse_changes


class Migration(migrations.Migration):
    dependencies = [("promotions", "0004_promotion_requests")]

    operations = [
        refuse_changes(
            "promotions_signoff",
            reason="a sign-off is a signature; sign again on a new request instead",
            delete=True,
            truncate=True,
        ),
    ]
