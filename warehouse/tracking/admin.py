"""Admin: superusers configure tracking servers here; each save goes through the service, so it is
audited. The credential is shown as the name of its environment variable and whether this process has it
set, never its value."""

from django import forms
from django.contrib import admin

from warehouse.tracking.models import TrackingServer
from warehouse.tracking.selectors import tracking_credential_is_set
from warehouse.tracking.services import (
    credential_env_problem,
    name_problem,
    tracking_server_configure,
    url_problem,
)


class TrackingServerForm(forms.ModelForm):
    """Says on the form what the service would refuse, so a bad value is a form error and not a crash."""

    class Meta:
        model = TrackingServer
        fields = ["name", "kind", "url", "credential_env", "active"]

    def _checked(self, field: str, problem_of):
        value = (self.cleaned_data.get(field) or "").strip()
        if problem := problem_of(value):
            raise forms.ValidationError(problem)
        return value

    def clean_name(self):
        return self._checked("name", name_problem)

    def clean_url(self):
        return self._checked("url", url_problem)

    def clean_credential_env(self):
        return self._checked("credential_env", credential_env_problem)


@admin.register(TrackingServer)
class TrackingServerAdmin(admin.ModelAdmin):
    form = TrackingServerForm
    list_display = ["name", "kind", "url", "credential", "active", "created_by", "created_at"]
    list_filter = ["active", "kind"]
    search_fields = ["name", "url"]
    list_select_related = ["created_by"]
    fields = ["name", "kind", "url", "credential_env", "credential", "active", "created_by", "created_at"]
    readonly_fields = ["credential", "created_by", "created_at"]

    @admin.display(description="Credential")
    def credential(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return f"{obj.credential_env} ({'set' if tracking_credential_is_set(obj) else 'not set'})"

    def get_readonly_fields(self, request, obj=None):
        # A name is permanent: evidence imported from the server will name it.
        return [*self.readonly_fields, "name"] if obj else self.readonly_fields

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        # Deactivate instead: evidence will refer to the server.
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = tracking_server_configure(
            actor=request.user,
            name=obj.name if change else data["name"],
            url=data["url"],
            credential_env=data["credential_env"],
            active=data["active"],
            kind=data["kind"],
            server=TrackingServer.objects.get(pk=obj.pk) if change else None,
        )
        # The admin goes on with `obj` (its log entry, the response): make it the server as saved.
        obj.__dict__.update({key: value for key, value in saved.__dict__.items() if key != "_state"})
        obj._state.adding = False
        obj._state.db = saved._state.db
