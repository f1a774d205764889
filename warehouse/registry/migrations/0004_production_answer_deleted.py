"""A production answer deleted (by hand: the application never deletes one) is announced like an access
change, so every web process forgets what it remembered; a row written again later starts its generations
from 1, below what the processes heard before, and is then read from the database every time rather than
trusted."""

from django.db import migrations

from warehouse.dbtriggers import notify_on_change


class Migration(migrations.Migration):
    dependencies = [("registry", "0003_production_answer")]

    operations = [
        notify_on_change("registry_productionanswer", payload="access", events="DELETE OR TRUNCATE"),
    ]
