from django.contrib import admin

from warehouse.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail is append-only, here as in the database."""

    list_display = ["sequence", "created_at", "actor_label", "via", "action", "target_label", "model_name"]
    list_filter = ["action", "via"]
    search_fields = ["actor_label", "action", "target_label", "model_name"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditEvent._meta.fields]
    list_select_related = False
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
