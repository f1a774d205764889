"""The registration page's form. It only turns typed text into the API's JSON shape; the same parser as
the API (`registration_parse`) decides what is valid, so the page and the API give the same answers."""

import re

from django import forms

from warehouse.cards.markdown import markdown_to_safe_html
from warehouse.cards.registration import REGISTRATION_DOCUMENT_MAX_BYTES
from warehouse.cards.sections import Section
from warehouse.cards.services import MAX_SECTION_LENGTH
from warehouse.registry.models import ArtifactKind

_LIST_ITEM = re.compile(
    r"^(?P<list>artifacts|evaluation\.metrics|evaluation\.slices)\[(?P<index>\d+)\](?:\.(?P<field>\w+))?$"
)
LIST_FIELDS = {"artifacts": "artifacts", "evaluation.metrics": "metrics", "evaluation.slices": "slices"}


class RegistrationForm(forms.Form):
    model = forms.SlugField(
        max_length=64,
        help_text="An existing model, or a new name to create it.",
        error_messages={"required": "Name the model: an existing one, or a new name to create it."},
        widget=forms.TextInput(
            attrs={"list": "model-names", "autocomplete": "off", "placeholder": "fraud-scorer"}
        ),
    )
    model_description = forms.CharField(
        required=False,
        label="Model description",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only used when the model is new.",
    )
    model_team = forms.CharField(
        required=False,
        max_length=150,
        label="Model team",
        help_text="Only used when the model is new.",
        widget=forms.TextInput(attrs={"list": "team-names", "autocomplete": "off"}),
    )
    description = forms.CharField(
        required=False,
        label="Version description",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What changed in this version.",
    )

    artifacts = forms.CharField(
        label="Artifacts, one per line",
        error_messages={"required": "Register at least one artifact (the weights, at least)."},
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "class": "mono",
                "spellcheck": "false",
                "placeholder": "weights model.onnx s3://models/fraud/v8/model.onnx <sha256> 48213344\n"
                "config config.json s3://models/fraud/v8/config.json <sha256> 512",
            }
        ),
        help_text=(
            f"One per line: kind name uri [sha256] [size_bytes]. Kinds: {', '.join(ArtifactKind.values)}."
        ),
    )
    source_run_tracking_system = forms.CharField(required=False, label="Tracking system", max_length=50)
    source_run_run_id = forms.CharField(required=False, label="Run id", max_length=200)
    source_run_url = forms.CharField(required=False, label="Run URL", max_length=2048)
    source_run_git_commit = forms.CharField(required=False, label="Git commit", max_length=64)
    source_run_training_data = forms.CharField(required=False, label="Training data", max_length=2048)

    dataset = forms.CharField(required=False, max_length=200, label="Evaluation dataset")
    dataset_version = forms.CharField(required=False, max_length=100)
    metrics = forms.CharField(
        required=False,
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "class": "mono",
                "spellcheck": "false",
                "placeholder": "auc 0.912 higher\nlog_loss 0.207 lower",
            }
        ),
        help_text=(
            "One per line: name value [higher|lower]. "
            "Well-known metrics (auc, rmse…) may leave out the direction."
        ),
    )
    slices = forms.CharField(
        required=False,
        widget=forms.Textarea(
            attrs={
                "rows": 6,
                "class": "mono",
                "spellcheck": "false",
                "placeholder": "region=EU auc 0.91 1200\nregion=EU,device=mobile auc 0.88 430",
            }
        ),
        help_text="One per line: slice metric value sample_count, e.g. region=EU auc 0.91 1200.",
    )

    profile_latency_p50_ms = forms.CharField(required=False, label="Latency p50 (ms)")
    profile_latency_p95_ms = forms.CharField(required=False, label="Latency p95 (ms)")
    profile_latency_p99_ms = forms.CharField(required=False, label="Latency p99 (ms)")
    profile_hardware = forms.CharField(required=False, label="Hardware", max_length=200)
    profile_throughput_rps = forms.CharField(required=False, label="Throughput (requests/s)")
    profile_cost_per_1k_predictions = forms.CharField(required=False, label="Cost per 1,000 predictions")
    profile_currency = forms.CharField(required=False, label="Currency", max_length=3, initial="USD")

    card = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text=(
            "Markdown. Use ## headings for sections: Task, Data summary, Known failures, Owners and contacts…"
        ),
    )

    # Required once anything of their section is given: the parser refuses a source run without its run
    # id, an evaluation without its dataset and metrics, a profile without its three percentiles.
    WITH_THEIR_SECTION = (
        "source_run_tracking_system",
        "source_run_run_id",
        "dataset",
        "metrics",
        "profile_latency_p50_ms",
        "profile_latency_p95_ms",
        "profile_latency_p99_ms",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.WITH_THEIR_SECTION:
            self.fields[name].required_mark = True

    def payload(self) -> dict:
        """The cleaned form in the JSON shape the API accepts."""
        data = self.cleaned_data
        payload: dict = {
            "description": data["description"],
            "artifacts": [_artifact(line) for line in _lines(data["artifacts"])],
        }
        if data["model_description"] or data["model_team"]:
            payload["model"] = {"description": data["model_description"], "team": data["model_team"] or None}
        source_run = _prefixed(data, "source_run_")
        if source_run:
            payload["source_run"] = source_run
        if data["dataset"] or data["metrics"] or data["slices"]:
            payload["evaluation"] = {
                "dataset": data["dataset"],
                "dataset_version": data["dataset_version"],
                "metrics": [_metric(line) for line in _lines(data["metrics"])],
                "slices": [_slice(line) for line in _lines(data["slices"])],
            }
        profile = _prefixed(data, "profile_")
        if any(value for key, value in profile.items() if key != "currency"):
            payload["profile"] = profile
        if data["card"].strip():
            payload["card"] = data["card"]
        return payload

    def add_service_errors(self, errors: dict[str, list[str]], *, registering: bool = False) -> None:
        """Show the parser's errors (keyed by JSON path) next to the field that was typed."""
        for path, problems in errors.items():
            field, prefix = _field_for(path)
            for problem in problems:
                self.add_error(field if field in self.fields else None, f"{prefix}{problem}")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def _artifact(line: str) -> dict:
    parts = line.split()
    keys = ["kind", "name", "uri", "sha256", "size_bytes"]
    return dict(zip(keys, parts + [""] * (len(keys) - len(parts)), strict=False))


def _metric(line: str) -> dict:
    parts = line.split()
    keys = ["name", "value", "direction"]
    return dict(zip(keys, parts + [""] * (len(keys) - len(parts)), strict=False))


def _slice(line: str) -> dict:
    parts = line.split()
    keys = ["slice", "metric", "value", "sample_count"]
    return dict(zip(keys, parts + [""] * (len(keys) - len(parts)), strict=False))


def _prefixed(data: dict, prefix: str) -> dict:
    return {
        key.removeprefix(prefix): value for key, value in data.items() if key.startswith(prefix) and value
    }


def _field_for(path: str) -> tuple[str, str]:
    item = _LIST_ITEM.match(path)
    if item:
        what = f" {item.group('field')}" if item.group("field") else ""
        return LIST_FIELDS[item.group("list")], f"Line {int(item.group('index')) + 1}{what}: "
    prefixes = (("source_run.", "source_run_"), ("profile.", "profile_"), ("model.", "model_"))
    for json_prefix, form_prefix in prefixes:
        if path.startswith(json_prefix):
            return form_prefix + path.removeprefix(json_prefix), ""
    if path.startswith("evaluation."):
        return path.removeprefix("evaluation."), ""
    if path.startswith("card"):
        return "card", ""
    return path, ""


DOCUMENT_LIMIT = f"{REGISTRATION_DOCUMENT_MAX_BYTES // (1024 * 1024)} MB"


class RegistrationDocumentForm(forms.Form):
    """The registration as the API's JSON body, pasted or uploaded; the model named beside it, as the API's
    URL names it. The form only gets the bytes: `registration_document_parse` reads them as the API does."""

    model = forms.SlugField(
        max_length=64,
        help_text="An existing model, or a new name to create it (the <name> of the API's URL).",
        error_messages={"required": "Name the model: an existing one, or a new name to create it."},
        widget=forms.TextInput(attrs={"list": "model-names", "autocomplete": "off"}),
    )
    document = forms.CharField(
        required=False,
        strip=False,
        label="Registration JSON",
        widget=forms.Textarea(attrs={"rows": 14, "class": "mono", "spellcheck": "false"}),
        help_text="The body of POST /api/v1/models/<name>/versions. Paste it here, or upload it below.",
    )
    document_file = forms.FileField(
        required=False,
        label="Or upload a JSON file",
        widget=forms.ClearableFileInput(attrs={"accept": "application/json,.json"}),
        help_text=f"UTF-8 JSON, at most {DOCUMENT_LIMIT}, as the API takes.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["document"].required_mark = True  # this or the file: marked where most people look

    def clean(self):
        data = super().clean()
        upload, pasted = data.get("document_file"), data.get("document") or ""
        if upload is not None and pasted.strip():
            raise forms.ValidationError("Paste the JSON or upload a file, not both.")
        if upload is None and not pasted.strip():
            self.add_error("document", "Paste the registration JSON, or upload it as a file.")
        elif upload is not None and upload.size > REGISTRATION_DOCUMENT_MAX_BYTES:
            self.add_error("document_file", f"The file is larger than {DOCUMENT_LIMIT}; nothing was read.")
        return data

    def body(self) -> bytes:
        """The document's bytes: the upload as sent (the parser insists on UTF-8), or the pasted text."""
        upload = self.cleaned_data.get("document_file")
        if upload is not None:
            return upload.read()
        return self.cleaned_data["document"].encode("utf-8", "surrogatepass")

    def add_service_errors(self, errors: dict[str, list[str]], *, registering: bool = False) -> None:
        """The parser's errors, each by its path in the document (`artifacts[1].sha256: …`), on the input
        the document came from. Once registering, `model` is the model named in the form."""
        where = "document_file" if self.cleaned_data.get("document_file") is not None else "document"
        for path, problems in errors.items():
            for problem in problems:
                if registering and path == "model":
                    self.add_error("model", problem)
                elif path == "body":
                    self.add_error(where, problem)
                else:
                    self.add_error(where, f"{path}: {problem}")


# --- The card editor ------------------------------------------------------------------------------------


class CardForm(forms.Form):
    """One Markdown field per section, and a line saying what changed. The service decides what is valid."""

    summary = forms.CharField(
        required=False,
        max_length=300,
        label="What changed",
        widget=forms.TextInput(attrs={"placeholder": "Known failures: add the travel-merchant drift"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, label in Section.choices:
            self.fields[key] = forms.CharField(
                required=False,
                label=label,
                max_length=MAX_SECTION_LENGTH,
                strip=False,
                widget=forms.Textarea(attrs={"rows": 6, "data-section": key, "spellcheck": "true"}),
            )

    def sections(self) -> dict[str, str]:
        return {key: self.cleaned_data.get(key) or "" for key in Section.values}

    def section_fields(self, preview: dict[str, str] | None):
        """Each section's field with its preview HTML (sanitised; empty until asked for)."""
        return [(self[key], (preview or {}).get(key, "")) for key in Section.values]

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        for path, problems in errors.items():
            field = path.split(".", 1)[1] if path.startswith("sections.") else path
            for problem in problems:
                self.add_error(field if field in self.fields else None, problem)


def rendered_preview(sections: dict[str, str]) -> dict[str, str]:
    """What the card would store for `sections`: the same renderer and sanitiser as a save."""
    return {key: markdown_to_safe_html(text) for key, text in sections.items() if text.strip()}
