from django import forms

from warehouse.accounts.forms import DATETIME_LOCAL
from warehouse.registry.models import Stage

# Offered under the action box: patterns people ask for, with what each finds.
AUDIT_ACTION_SUGGESTIONS = (
    ("*.refused", "refused writes named thing.refused (promotion, gate, sign-off, token)"),
    ("*refused", "every action ending in refused, with stage_change_refused, rollback_refused…"),
    ("permission.denied", "actions refused for want of a permission"),
    ("signin.*", "failed and locked-out sign-ins"),
    ("*.locked_out", "lockouts, at sign-in and for tokens"),
    ("version.*", "versions registered and moved between stages"),
    ("promotion.*", "promotion requests"),
    ("gate.*", "gate runs"),
    ("card.*", "model card edits and refusals"),
    ("model.*", "models created, changed, shared"),
    ("incident.*", "incidents and rollbacks"),
    ("api_token.*", "API tokens"),
    ("webhook.*", "webhook subscriptions"),
)

# The browser's datetime-local input reads and writes this shape (no seconds, a "T" between).


class ModelFilterForm(forms.Form):
    search = forms.CharField(required=False, max_length=100)
    stage = forms.ChoiceField(required=False, choices=[("", "Any stage"), *Stage.choices])
    team = forms.CharField(required=False, max_length=150)
    owner = forms.CharField(required=False, max_length=150)


class AuditFilterForm(forms.Form):
    # Each box matches anywhere in the text, ignoring case; with a `*` the whole text must match the
    # pattern (warehouse.audit.selectors.text_matches).
    model = forms.CharField(required=False, max_length=64)
    actor = forms.CharField(required=False, max_length=150)
    action = forms.CharField(
        required=False, max_length=64, help_text="Part of an action, or a pattern: *.refused, version.*"
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
