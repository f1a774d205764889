from django import forms

# The browser's datetime-local input reads and writes this shape (no seconds, a "T" between).
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What will use it, e.g. 'payments CI'.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "payments CI"}),
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires (UTC)",
        help_text="Optional. Leave empty for a token that lasts until revoked.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
