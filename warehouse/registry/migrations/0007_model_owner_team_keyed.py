"""A model's owner and team indexed together with its key, in place of each alone: the filter menus read a
team's or a person's first models from the index without the table (registry.menus).
The new indexes are made before the old ones are dropped, so lookups by owner or team always have one."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("registry", "0006_model_search_trigram"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="registeredmodel",
            index=models.Index(fields=["owner", "id"], name="registry_model_owner_key"),
        ),
        migrations.AddIndex(
            model_name="registeredmodel",
            index=models.Index(fields=["team", "id"], name="registry_model_team_key"),
        ),
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
    ]
