"""Announce every change that decides who a bearer token speaks for and which models they may see, so each
web process forgets what it remembered of them when the change commits (warehouse/changes.py)."""

from django.db import migrations

from warehouse.dbtriggers import ANY_CHANGE, notify_on_change

# Who belongs to which group, what groups and people hold org-wide and on each model (django-guardian).
MEMBERSHIP_AND_PERMISSION_TABLES = (
    "auth_user_groups",
    "auth_user_user_permissions",
    "auth_group_permissions",
    "auth_permission",
    "guardian_userobjectpermission",
    "guardian_groupobjectpermission",
)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("guardian", "0003_remove_groupobjectpermission_guardian_gr_content_ae6aec_idx_and_more"),
    ]

    operations = [
        *(
            notify_on_change(table, payload="access", events=ANY_CHANGE)
            for table in MEMBERSHIP_AND_PERMISSION_TABLES
        ),
        notify_on_change("auth_group", payload="access", events="DELETE OR TRUNCATE"),
        notify_on_change("auth_user", payload="access", events="DELETE OR TRUNCATE"),
        # Not on every save of a person: a sign-in writes last_login.
        notify_on_change(
            "auth_user",
            payload="access",
            events="UPDATE",
            for_each_row_when=(
                "OLD.is_active IS DISTINCT FROM NEW.is_active "
                "OR OLD.is_superuser IS DISTINCT FROM NEW.is_superuser "
                "OR OLD.username IS DISTINCT FROM NEW.username"
            ),
        ),
        notify_on_change("accounts_apitoken", payload="access", events="DELETE OR TRUNCATE"),
        # Not on every use of a token: authenticating writes last_used_at once a minute.
        notify_on_change(
            "accounts_apitoken",
            payload="access",
            events="UPDATE",
            for_each_row_when=(
                "OLD.revoked_at IS DISTINCT FROM NEW.revoked_at "
                "OR OLD.expires_at IS DISTINCT FROM NEW.expires_at "
                "OR OLD.user_id IS DISTINCT FROM NEW.user_id "
                "OR OLD.digest IS DISTINCT FROM NEW.digest"
            ),
        ),
    ]
