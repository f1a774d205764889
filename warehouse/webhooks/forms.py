"""The subscription form. It only collects what was typed; `subscription_create` decides what is valid."""

from django import forms

from warehouse.webhooks.models import WebhookEvent


class SubscriptionForm(forms.Form):
    # Any name is taken here: the view looks it up for this person (404 if they cannot see it) and the
    # service refuses, on the record, a model they may not manage.
    model = forms.CharField(
        required=False,
        label="Events of",
        help_text="One model, or every model (superusers only).",
        widget=forms.Select,
    )
    url = forms.CharField(
        label="Payload URL",
        max_length=2000,
        help_text="Where the warehouse POSTs each event as JSON. https:// is best: the body is readable on "
        "the way otherwise.",
        widget=forms.URLInput(
            attrs={"placeholder": "https://deploy.example.com/hooks/warehouse", "spellcheck": "false"}
        ),
    )
    events = forms.MultipleChoiceField(
        required=False,
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    description = forms.CharField(
        required=False,
        max_length=200,
        help_text="Optional: what receives these, e.g. 'serving rollout controller'.",
    )

    def __init__(self, *args, model_names: list[str], allow_global: bool, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "Every model (global)")] if allow_global else []
        self.fields["model"].widget.choices = choices + [(name, name) for name in model_names]
        if not self.is_bound:
            self.initial.setdefault("events", list(WebhookEvent.values))

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        for field, problems in errors.items():
            for problem in problems:
                self.add_error(field if field in self.fields else None, problem)
