from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User

from warehouse.accounts.token_throttle import is_door

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


class SignInForm(AuthenticationForm):
    """Django's sign-in form, refusing a name no account can have before any password is checked: too
    long for the user table, or holding a NUL (PostgreSQL stores neither, and the sign-in throttle must
    be able to write down whatever name it counts); nor a name the token throttle counts wrong tokens
    under, which would count against that address's tokens."""

    def clean_username(self):
        username = self.cleaned_data.get("username", "")
        if len(username) > User._meta.get_field("username").max_length or "\x00" in username:
            raise self.get_invalid_login_error()
        if is_door(username):
            raise self.get_invalid_login_error()
        return username
