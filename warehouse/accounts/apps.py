from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "warehouse.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        from warehouse.accounts.roles import role_groups_sync_after_migrate

        # Like Django's own permissions, the role groups must exist in every database, including test ones.
        post_migrate.connect(role_groups_sync_after_migrate, dispatch_uid="warehouse.role_groups_sync")
