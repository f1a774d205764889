"""The register page's twin for a tracked run: the same service as POST /api/v1/models/<name>/versions/
from-run. The page names the model, the configured tracking server and the run; the warehouse reads the
rest from the run."""

import re

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from warehouse.accounts.permissions import models_visible_to
from warehouse.cards.registration import registration_open_to
from warehouse.errors import InvalidInput
from warehouse.registry.models import RegisteredModel
from warehouse.tracking.imports import version_register_from_run
from warehouse.tracking.models import TrackingServer

DIGEST_LINE = re.compile(r"^\s*(?P<first>\S+)\s+(?P<second>\S+)\s*$")
# The service's field paths, as this form names them.
FIELD_OF = {
    "source_run.tracking_server": "tracking_server",
    "source_run.run_id": "run_id",
    "source": "source",
}


class RunRegistrationForm(forms.Form):
    model = forms.SlugField(
        max_length=64,
        error_messages={"required": "Name the model to register the version into."},
        widget=forms.TextInput(
            attrs={"list": "model-names", "autocomplete": "off", "placeholder": "credit-risk"}
        ),
    )
    tracking_server = forms.ChoiceField(label="Tracking server")
    run_id = forms.CharField(
        label="Run id",
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "class": "mono"}),
    )
    source = forms.CharField(
        required=False,
        max_length=500,
        label="Model in the run",
        help_text=(
            "runs:/<run id>/<path>, or a logged model models:/m-<id>. Left empty: runs:/<run id>/model."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "class": "mono"}),
    )
    description = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), help_text="What changed."
    )
    digests = forms.CharField(
        required=False,
        label="Digests you computed (optional)",
        help_text=(
            "One file per line, as sha256sum prints it: <sha256>  <path in the model directory>. Checked "
            "against the digests Warehouse computes; a difference fails the import."
        ),
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono", "spellcheck": "false"}),
    )

    def __init__(self, *args, servers: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tracking_server"].choices = [(name, name) for name in servers]

    def clean_digests(self) -> dict[str, str]:
        expected = {}
        for number, line in enumerate(self.cleaned_data["digests"].splitlines(), start=1):
            if not line.strip():
                continue
            found = DIGEST_LINE.match(line)
            if found is None:
                raise forms.ValidationError(f"Line {number}: write the digest, then the file's path.")
            digest, path = found["first"].lower(), found["second"].lstrip("*")
            expected[path] = digest
        return expected


@login_required
@require_http_methods(["GET", "POST"])
def register_from_run(request):
    if not registration_open_to(request.user):
        return render(request, "cards/version_register.html", {"may_register": False}, status=403)
    servers = list(TrackingServer.objects.filter(active=True).values_list("name", flat=True))
    form = RunRegistrationForm(request.POST or None, servers=servers)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            version = _registered(request, form)
            if version is not None:
                path = reverse("registry:version", args=[version.model.name, version.number])
                return redirect(f"{path}#evidence-import")
        status = 400
    model_names = models_visible_to(request.user, RegisteredModel.objects.all()).values_list(
        "name", flat=True
    )
    return render(
        request,
        "pages/register_from_run.html",
        {"form": form, "servers": servers, "model_names": list(model_names.order_by("name")[:500])},
        status=status,
    )


def _registered(request, form: RunRegistrationForm):
    data = form.cleaned_data
    model = models_visible_to(request.user, RegisteredModel.objects.filter(name=data["model"])).first()
    if model is None:
        form.add_error(
            "model", "No such model, or you may not see it: create it first, on the register page."
        )
        return None
    try:
        return version_register_from_run(
            actor=request.user,
            model=model,
            server_name=data["tracking_server"],
            run_id=data["run_id"].strip(),
            source=data["source"].strip() or f"runs:/{data['run_id'].strip()}/model",
            description=data["description"],
            expected_digests=data["digests"],
        )
    except InvalidInput as invalid:
        for path, problems in invalid.errors.items():
            field = FIELD_OF.get(path, "digests" if path.startswith("artifacts") else None)
            for problem in problems:
                form.add_error(field, problem)
        return None
