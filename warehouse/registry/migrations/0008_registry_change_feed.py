"""Announce every change to what the model lists show (a model, a version, a team's name) to each web
process's change feed, so the API's remembered list pages (api/remembered.py) are forgotten when it commits.

Its own news ("registry"), apart from "access": registering a version changes the lists, not who may see
what, nor any production answer, so remembered tokens, readers and answers outlive it."""

from django.db import migrations

from warehouse.dbtriggers import ANY_CHANGE, notify_on_change


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0007_model_owner_team_keyed"),
        ("accounts", "0002_change_feed_triggers"),
    ]

    operations = [
        notify_on_change("registry_registeredmodel", payload="registry", events=ANY_CHANGE),
        notify_on_change("registry_modelversion", payload="registry", events=ANY_CHANGE),
        # A person's username is "access" news already (accounts 0002); a team's name is shown on each row.
        notify_on_change(
            "auth_group",
            payload="registry",
            events="UPDATE",
            for_each_row_when="OLD.name IS DISTINCT FROM NEW.name",
        ),
    ]
