from django import forms

from warehouse.registry.models import Stage


class ModelFilterForm(forms.Form):
    search = forms.CharField(required=False, max_length=100)
    stage = forms.ChoiceField(required=False, choices=[("", "Any stage"), *Stage.choices])
    team = forms.CharField(required=False, max_length=150)
    owner = forms.CharField(required=False, max_length=150)


class AuditFilterForm(forms.Form):
    model = forms.CharField(required=False, max_length=64)
    actor = forms.CharField(required=False, max_length=150)
    action = forms.CharField(required=False, max_length=64)
    since = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
