"""Admin for people, groups and tokens. Every change to who may do what is on the audit trail."""

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.db import transaction

from warehouse.accounts.models import ApiToken
from warehouse.accounts.services import (
    access_change_record,
    api_token_revoke,
    group_access_snapshot,
    user_access_snapshot,
)


class AuditedAccessAdmin:
    """Snapshot the object's access before the admin saves it and audit the difference after its
    many-to-many fields (groups, permissions) are saved: all inside the admin's own transaction."""

    audit_action = ""
    snapshot = staticmethod(lambda obj: {})

    def save_model(self, request, obj, form, change):
        form._access_before = self.snapshot(type(obj).objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        action = f"{self.audit_action}.{'changed' if form._access_before is not None else 'created'}"
        access_change_record(
            actor=request.user,
            action=action,
            target=form.instance,
            before=form._access_before,
            after=self.snapshot(form.instance),
        )

    def delete_model(self, request, obj):
        access_change_record(
            actor=request.user,
            action=f"{self.audit_action}.deleted",
            target=obj,
            before=self.snapshot(obj),
            after=None,
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(AuditedAccessAdmin, UserAdmin):
    audit_action = "user"
    snapshot = staticmethod(user_access_snapshot)

    def user_change_password(self, request, id, form_url=""):
        # One transaction for the new password and its audit event (Django runs this view without one).
        with transaction.atomic():
            return super().user_change_password(request, id, form_url)

    def log_change(self, request, obj, message):
        # The password form saves outside save_model: record that it happened (never the password).
        if request.method == "POST" and request.path.rstrip("/").endswith("/password"):
            access_change_record(
                actor=request.user,
                action="user.password_changed",
                target=obj,
                before={"password": "old"},
                after={"password": "new"},
            )
        return super().log_change(request, obj, message)


@admin.register(Group)
class AuditedGroupAdmin(AuditedAccessAdmin, GroupAdmin):
    audit_action = "group"
    snapshot = staticmethod(group_access_snapshot)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made by their owners (page or command); here they can be seen and revoked."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_select_related = ["user"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
    exclude = ["digest"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        return request.user.is_superuser

    @admin.action(description="Revoke the selected tokens", permissions=["revoke"])
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(actor=request.user, token=token)
        messages.success(request, f"Revoked {queryset.count()} token(s).")
