"""Admin: alert receivers (made here with a token shown once, or with `create_alert_receiver`; revoked with
an action), and the payloads and incidents they received, read-only. Writes go through the services, so
they are audited."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from warehouse.incidents.models import AlertPayload, AlertReceiver, Incident
from warehouse.incidents.services import (
    labels_problem,
    receiver_create,
    receiver_name_problem,
    receiver_revoke,
)
from warehouse.registry.admin import ReadOnlyMixin


def _label_list(text: str) -> list[str]:
    return [label.strip() for label in (text or "").replace("\n", ",").split(",") if label.strip()]


class AlertReceiverAddForm(forms.ModelForm):
    model_labels = forms.CharField(
        initial="model_name, model",
        help_text="Alert labels that name the model, tried in order, separated by commas.",
    )
    version_labels = forms.CharField(
        initial="model_version",
        help_text="Alert labels that name the version (a number or v17), separated by commas.",
    )

    class Meta:
        model = AlertReceiver
        fields = ["name", "description"]

    def clean_name(self):
        name = self.cleaned_data["name"]
        if problem := receiver_name_problem(name):
            raise forms.ValidationError(problem)
        return name

    def _clean_labels(self, field: str) -> list[str]:
        labels = _label_list(self.cleaned_data[field])
        if problem := labels_problem(labels):
            raise forms.ValidationError(problem)
        return labels

    def clean_model_labels(self):
        return self._clean_labels("model_labels")

    def clean_version_labels(self):
        return self._clean_labels("version_labels")


VIEW_FIELDS = [
    "name",
    "description",
    "token_prefix",
    "model_labels",
    "version_labels",
    "active",
    "created_by",
    "created_at",
    "last_used_at",
]


@admin.register(AlertReceiver)
class AlertReceiverAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "description",
        "token_prefix",
        "active",
        "created_by",
        "created_at",
        "last_used_at",
    ]
    list_filter = ["active"]
    search_fields = ["name", "description", "token_prefix"]
    list_select_related = ["created_by"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        return ["name", "description", "model_labels", "version_labels"] if obj is None else VIEW_FIELDS

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else VIEW_FIELDS

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = AlertReceiverAddForm
            kwargs["fields"] = ["name", "description"]
        return super().get_form(request, obj, change=change, **kwargs)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        receiver, token = receiver_create(
            actor=request.user,
            name=form.cleaned_data["name"],
            description=form.cleaned_data.get("description", ""),
            model_labels=form.cleaned_data["model_labels"],
            version_labels=form.cleaned_data["version_labels"],
        )
        # The admin goes on with `obj` (its log entry, the response): make it the receiver just created.
        obj.__dict__.update({key: value for key, value in receiver.__dict__.items() if key != "_state"})
        obj._state.adding = False
        obj._token_once = token

    def response_add(self, request, obj, post_url_continue=None):
        # Shown in this response only: not put in a message, which would keep it in a cookie or the session.
        response = TemplateResponse(
            request,
            "admin/incidents/alertreceiver/token_created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"Receiver {obj.name} created",
                "receiver": obj,
                "token": obj._token_once,
                "alertmanager_url": request.build_absolute_uri(
                    reverse("hooks:alertmanager", args=[obj.name])
                ),
                "grafana_url": request.build_absolute_uri(reverse("hooks:grafana", args=[obj.name])),
            },
        )
        add_never_cache_headers(response)
        return response

    @admin.action(
        description="Revoke the selected receivers (their hooks answer 401)", permissions=["revoke"]
    )
    def revoke(self, request, queryset):
        for receiver in queryset:
            receiver_revoke(actor=request.user, receiver=receiver)
        messages.success(request, f"Revoked {queryset.count()} receiver(s).")


@admin.register(AlertPayload)
class AlertPayloadAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["pk", "receiver", "kind", "received_at", "processed_at", "alert_count", "error"]
    list_filter = ["kind", "receiver"]
    list_select_related = ["receiver"]
    search_fields = ["error"]
    fields = ["receiver", "kind", "received_at", "processed_at", "alert_count", "error", "body"]
    readonly_fields = fields


@admin.register(Incident)
class IncidentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "pk",
        "alertname",
        "status",
        "severity",
        "model",
        "version",
        "model_label_value",
        "starts_at",
    ]
    list_filter = ["status", "receiver"]
    list_select_related = ["model", "version__model", "receiver"]
    search_fields = ["alertname", "fingerprint", "model_label_value", "model__name"]
    fields = [
        "receiver",
        "fingerprint",
        "status",
        "alertname",
        "severity",
        "summary",
        "starts_at",
        "ends_at",
        "resolved_at",
        "model",
        "version",
        "model_label_value",
        "labels",
        "annotations",
        "generator_url",
        "runbook_url",
        "first_payload",
        "last_payload",
        "first_seen_at",
        "last_seen_at",
        "rollback",
        "rolled_back_by",
        "rolled_back_from",
        "mitigated_at",
    ]
    readonly_fields = fields
