from django import forms


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. 'payments CI'.")
    expires_at = forms.DateTimeField(
        required=False,
        help_text="Optional, UTC. Leave empty for a token that lasts until revoked.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
