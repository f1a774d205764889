from django import forms

from warehouse.accounts.forms import DATETIME_LOCAL
from warehouse.registry.models import Stage

# What the audit trail's action filter suggests; any prefix works.
AUDIT_ACTION_PREFIXES = (
    "model.",
    "version.",
    "version.registered",
    "version.stage_changed",
    "version.stage_change_refused",
    "card.",
    "permission.denied",
    "api_token.",
    "promotion.",
    "incident.",
)

# The browser's datetime-local input reads and writes this shape (no seconds, a "T" between).


class ModelFilterForm(forms.Form):
    search = forms.CharField(required=False, max_length=100)
    stage = forms.ChoiceField(required=False, choices=[("", "Any stage"), *Stage.choices])
    team = forms.CharField(required=False, max_length=150)
    owner = forms.CharField(required=False, max_length=150)


class AuditFilterForm(forms.Form):
    model = forms.CharField(required=False, max_length=64)
    actor = forms.CharField(required=False, max_length=150)
    action = forms.CharField(
        required=False, max_length=64, help_text="A prefix: version. matches every version event."
    )
    since = forms.DateTimeField(
        required=False,
        label="Since (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    until = forms.DateTimeField(
        required=False,
        label="Until (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until <= since:
            self.add_error("until", "Must be after 'since'.")
        return data
