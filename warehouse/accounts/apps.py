from django.apps import AppConfig
from django.contrib.auth.signals import user_login_failed
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "warehouse.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        from warehouse.accounts.roles import role_groups_sync_after_migrate

        # Like Django's own permissions, the role groups must exist in every database, including test ones.
        post_migrate.connect(role_groups_sync_after_migrate, dispatch_uid="warehouse.role_groups_sync")
        from axes.signals import user_locked_out

        # Django and django-axes announce failed sign-ins and lockouts only by signal.
        user_login_failed.connect(_signin_failed, dispatch_uid="warehouse.signin_failed")
        user_locked_out.connect(_signin_locked_out, dispatch_uid="warehouse.signin_locked_out")


def _signin_failed(sender, credentials, request=None, **kwargs):
    from warehouse.accounts.signin import signin_failure_record

    # While locked out, no password was checked: the lockout is on the record already.
    if request is not None and not getattr(request, "signin_refused_unchecked", False):
        signin_failure_record(username=credentials.get("username"), request=request)


def _signin_locked_out(sender, request, username, ip_address, **kwargs):
    from warehouse.accounts.signin import signin_lockout_record
    from warehouse.accounts.token_throttle import is_door

    # A door's lockout (wrong tokens) is recorded by the token throttle, which knows the door.
    if not is_door(username):
        signin_lockout_record(username=username, address=ip_address)
