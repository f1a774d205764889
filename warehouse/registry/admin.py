"""Admin: models and who may act on them; versions and evidence read-only.

Nothing here writes a stage or evidence. Changes to a model and to its object permissions go through
the registry services, so they are audited like any other change.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from guardian.admin import AdminGroupObjectPermissionsForm, AdminUserObjectPermissionsForm, GuardedModelAdmin

from warehouse.accounts.permissions import permission_denied
from warehouse.registry.models import (
    Artifact,
    EvaluationMetric,
    ModelVersion,
    RegisteredModel,
    SliceMetric,
    StageTransition,
)
from warehouse.registry.services import (
    description_problem,
    model_create,
    model_name_problem,
    model_permissions_set,
    model_update,
)


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _audited_form(base, principal_attribute: str, request):
    class AuditedObjectPermissionsForm(base):
        def save_obj_perms(self):
            model_permissions_set(
                actor=request.user,
                model=self.obj,
                principal=getattr(self, principal_attribute),
                codenames=set(self.cleaned_data[self.get_obj_perms_field_name()]),
            )

    return AuditedObjectPermissionsForm


class RegisteredModelForm(forms.ModelForm):
    """Says on the form what the services would refuse, so a bad name is a form error and not a crash."""

    class Meta:
        model = RegisteredModel
        fields = ["name", "description", "owner", "team"]

    def clean_name(self):
        name = self.cleaned_data["name"]
        problem = model_name_problem(name)
        if problem:
            raise forms.ValidationError(problem)
        return name

    def clean_description(self):
        description = self.cleaned_data.get("description") or ""
        problem = description_problem(description)
        if problem:
            raise forms.ValidationError(problem)
        return description


@admin.register(RegisteredModel)
class RegisteredModelAdmin(GuardedModelAdmin):
    form = RegisteredModelForm
    list_display = ["name", "owner", "team", "created_at"]
    list_select_related = ["owner", "team"]
    search_fields = ["name", "description"]
    list_filter = ["team"]
    fields = ["name", "description", "owner", "team", "created_by", "created_at"]
    readonly_fields = ["created_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        # A name is permanent once alerts and pipelines refer to it.
        return [*self.readonly_fields, "name"] if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The admin saves inside a transaction that a refusal rolls back, and the refusal's audit event
        # with it. Refuse an edit that model_update would refuse before that transaction opens.
        if object_id is not None and request.method == "POST" and not request.user.is_superuser:
            model = self.get_object(request, unquote(object_id))
            if model is not None:
                raise permission_denied(
                    actor=request.user, target=model, permission="superuser", attempted="edit this model"
                )
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = model_update(
                actor=request.user,
                model=obj,
                description=data["description"],
                owner=data["owner"],
                team=data["team"],
            )
        else:
            saved = model_create(
                actor=request.user,
                name=data["name"],
                description=data["description"],
                owner=data["owner"],
                team=data["team"],
            )
        obj.pk = saved.pk
        obj._state.adding = False
        obj._state.db = saved._state.db

    def get_obj_perms_manage_user_form(self, request):
        return _audited_form(AdminUserObjectPermissionsForm, "user", request)

    def get_obj_perms_manage_group_form(self, request):
        return _audited_form(AdminGroupObjectPermissionsForm, "group", request)


class ArtifactInline(ReadOnlyMixin, admin.TabularInline):
    model = Artifact
    fields = ["name", "kind", "uri", "sha256", "size_bytes"]
    readonly_fields = fields
    extra = 0


class TransitionInline(ReadOnlyMixin, admin.TabularInline):
    model = StageTransition
    fk_name = "version"
    fields = ["created_at", "from_stage", "to_stage", "kind", "actor", "reason"]
    readonly_fields = fields
    extra = 0


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Read-only. A stage changes only through the stage service (promotion, archive, rollback)."""

    list_display = ["__str__", "stage", "registered_by", "created_at", "stage_changed_at"]
    list_filter = ["stage", "model"]
    list_select_related = ["model", "registered_by"]
    search_fields = ["model__name", "uuid"]
    readonly_fields = [
        "model",
        "number",
        "uuid",
        "stage",
        "stage_changed_at",
        "description",
        "registered_by",
        "created_at",
        "rollback_target",
        "rolled_back_at",
    ]
    inlines = [ArtifactInline, TransitionInline]


@admin.register(EvaluationMetric)
class EvaluationMetricAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["report", "name", "value", "direction"]
    list_select_related = ["report"]


@admin.register(SliceMetric)
class SliceMetricAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["report", "slice_key", "metric", "value", "sample_count"]
    list_select_related = ["report"]
    search_fields = ["slice_key", "metric"]
