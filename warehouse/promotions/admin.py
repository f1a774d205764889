"""Admin: policy revisions and gate runs, read-only.

Policies change through the policy page and the API (`policy_revise`), gates through the gate service
(`gate_run_start`, the worker and the sweeper): each of those is audited, so nothing here adds, changes or
deletes a row.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from warehouse.promotions.models import CheckResult, GateRun, PolicyRevision
from warehouse.registry.admin import ReadOnlyMixin


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    pass


@admin.register(PolicyRevision)
class PolicyRevisionAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "number", "author", "created_at", "reason"]
    list_select_related = ["policy__model", "author"]
    list_filter = [("policy__model", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["policy__model__name", "reason", "author__username"]
    date_hierarchy = "created_at"
    fields = ["policy", "number", "author", "created_at", "reason", "rules", "page"]
    readonly_fields = fields

    @admin.display(description="Policy page")
    def page(self, obj):
        if obj.policy.model_id is None:
            url = reverse("promotions:global-policy")
        else:
            url = reverse("promotions:policy", args=[obj.policy.model.name])
        return format_html('<a href="{}?revision={}">{}</a>', url, obj.number, "Open on the site")


class CheckResultInline(admin.TabularInline):
    model = CheckResult
    fields = ["position", "check_name", "status", "required", "summary", "numbers"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["position"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(GateRun)
class GateRunAdmin(ReadOnlyAdmin):
    list_display = ["pk", "version", "target_stage", "state", "requested_by", "requested_at", "attempts"]
    list_select_related = ["version__model", "requested_by"]
    list_filter = ["state", "target_stage"]
    search_fields = ["version__model__name", "requested_by__username"]
    date_hierarchy = "requested_at"
    inlines = [CheckResultInline]
    fields = [
        "version",
        "target_stage",
        "state",
        "policy_revision",
        "baseline",
        "requested_by",
        "requested_at",
        "enqueued_at",
        "started_at",
        "finished_at",
        "lease_expires_at",
        "attempts",
        "checks_done",
        "checks_total",
        "error",
        "page",
    ]
    readonly_fields = fields

    @admin.display(description="Gate run page")
    def page(self, obj):
        url = reverse("promotions:gate-run", args=[obj.version.model.name, obj.version.number, obj.pk])
        return format_html('<a href="{}">{}</a>', url, "Open on the site")
