"""The register page: the page twin of POST /api/v1/models/<name>/versions, with the same parser."""

import pytest
from django.urls import reverse

from warehouse.audit.models import AuditEvent
from warehouse.cards.models import ModelCard
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage

URL = reverse("cards:register")
DIGEST = "ab" * 32


def form_data(**overrides) -> dict:
    """What a person types into the page for a complete registration."""
    data = {
        "model": "fraud-scorer",
        "description": "Retrained on November data.",
        "artifacts": f"weights model.onnx s3://models/fraud/v2/model.onnx {DIGEST} 123456\n"
        f"# comments are skipped\n"
        f"config config.json s3://models/fraud/v2/config.json {'cd' * 32} 512",
        "source_run_tracking_system": "mlflow",
        "source_run_run_id": "run-43",
        "source_run_url": "https://mlflow.example.com/runs/43",
        "source_run_git_commit": "0123456789abcdef",
        "source_run_training_data": "s3://data/payments/2026-11",
        "dataset": "payments-holdout",
        "dataset_version": "2026-11",
        "metrics": "auc 0.92\nlog_loss 0.2 lower",
        "slices": "region=EU auc 0.91 1200\nregion=US auc 0.93 1500",
        "profile_latency_p50_ms": "4",
        "profile_latency_p95_ms": "9",
        "profile_latency_p99_ms": "14",
        "profile_hardware": "c6i.xlarge",
        "profile_throughput_rps": "800",
        "profile_cost_per_1k_predictions": "0.012",
        "profile_currency": "USD",
        "card": "Scores card payments for fraud.\n\n## Known failures\nNew merchants.",
    }
    data.update(overrides)
    return data


def counts() -> tuple[int, int, int]:
    return ModelVersion.objects.count(), AuditEvent.objects.count(), RegisteredModel.objects.count()


# --- Who may register ----------------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_sign_in(client, model):
    before = counts()
    for response in (client.get(URL), client.post(URL, form_data())):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:sign-in"))
    assert counts() == before


def test_the_form_opens_for_those_who_may_register(client, contributor, model):
    client.force_login(contributor)
    response = client.get(URL, {"model": model.name})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="fraud-scorer"' in html and 'name="csrfmiddlewaretoken"' in html
    legends = ["Model", "Artifacts", "Source run", "Evaluation", "Slices", "Performance profile"]
    legends.append("Model card")
    for legend in legends:
        assert f"<legend>{legend}</legend>" in html
    assert '<option value="fraud-scorer">' in html


@pytest.mark.parametrize("role", ["viewer", "reviewer", "approver", "responder", "policy_admin"])
def test_those_who_may_not_register_are_told_before_they_fill_anything_in(client, request, model, role):
    client.force_login(request.getfixturevalue(role))

    response = client.get(URL, {"model": model.name})

    assert response.status_code == 403
    html = response.content.decode()
    assert "You may not register versions" in html and "contributor role" in html
    assert "<legend>" not in html and 'action="/register/"' not in html


def test_a_register_permission_on_one_model_opens_the_form(client, model, viewer):
    from guardian.shortcuts import assign_perm

    assign_perm("registry.register_version", viewer, model)
    client.force_login(viewer)

    response = client.get(URL)

    assert response.status_code == 200 and "<legend>Artifacts</legend>" in response.content.decode()


def test_a_viewer_is_refused_and_the_refusal_is_audited(client, model, viewer):
    before = ModelVersion.objects.count()
    client.force_login(viewer)
    response = client.post(URL, form_data())
    assert response.status_code == 403
    assert "You do not have permission to register versions of fraud-scorer." in response.content.decode()
    assert ModelVersion.objects.count() == before
    denied = AuditEvent.objects.get(action="permission.denied")
    assert denied.actor == viewer and denied.model_name == model.name and denied.via == "web"
    assert denied.data["permission"] == "registry.register_version"


def test_a_viewer_cannot_create_a_model_either(client, viewer):
    client.force_login(viewer)
    response = client.post(URL, form_data(model="brand-new"))
    assert response.status_code == 404
    assert "you may not create models" in response.context["form"].errors["model"][0]
    assert not RegisteredModel.objects.filter(name="brand-new").exists()
    assert AuditEvent.objects.filter(action="permission.denied", actor=viewer).exists()


def test_an_outsider_gets_404_for_a_model_they_cannot_see(client, model, outsider):
    versions, models = ModelVersion.objects.count(), RegisteredModel.objects.count()
    last_event = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    client.force_login(outsider)
    response = client.post(URL, form_data())
    assert response.status_code == 404
    assert "no model called 'fraud-scorer' that you may see" in response.context["form"].errors["model"][0]
    assert (ModelVersion.objects.count(), RegisteredModel.objects.count()) == (versions, models)
    # Nothing is registered; at most the refused attempt is on the record.
    written = AuditEvent.objects.filter(sequence__gt=last_event).values_list("action", flat=True)
    assert set(written) <= {"permission.denied"}


def test_a_contributor_registers_a_version_and_lands_on_it(client, model, contributor):
    client.force_login(contributor)
    response = client.post(URL, form_data())
    version = ModelVersion.objects.get(model=model, number=2)
    assert response.status_code == 302
    assert response["Location"] == reverse("registry:version", args=[model.name, 2])
    assert version.stage == Stage.DRAFT and version.registered_by == contributor
    assert sorted(version.artifacts.values_list("name", "sha256")) == [
        ("config.json", "cd" * 32),
        ("model.onnx", DIGEST),
    ]
    assert version.source_run.run_id == "run-43"
    assert sorted(version.evaluation.slices.values_list("slice_key", flat=True)) == ["region=EU", "region=US"]
    assert str(version.profile.cost_per_1k_predictions) == "0.012000"
    assert ModelCard.objects.get(version=version).current.sections["known_failures"] == "New merchants."
    event = AuditEvent.objects.get(action="version.registered", target_label="fraud-scorer/v2")
    assert event.via == "web"
    assert "Registered fraud-scorer/v2 in Draft." in client.get(response["Location"]).content.decode()


def test_a_contributor_creates_a_new_model_by_naming_it(client, contributor, team):
    client.force_login(contributor)
    data = form_data(model="churn-predictor", model_team=team.name, model_description="Churn.")
    response = client.post(URL, data)
    assert response.status_code == 302
    model = RegisteredModel.objects.get(name="churn-predictor")
    assert model.team == team and model.description == "Churn." and model.versions.get().number == 1


def test_evidence_is_optional_beyond_the_artifacts(client, model, contributor):
    client.force_login(contributor)
    minimal = {"model": model.name, "artifacts": f"weights model.onnx s3://models/fraud/m.onnx {DIGEST}"}
    assert client.post(URL, minimal).status_code == 302
    version = model.versions.get(number=2)
    assert not hasattr(version, "evaluation") and not hasattr(version, "profile")


# --- Bad input: the error sits on the field that was typed, and nothing is written ----------------------

BAD_INPUTS = {
    "bad sha256": (
        {"artifacts": "weights model.onnx s3://models/fraud/m.onnx abc123 10"},
        "artifacts",
        "Line 1 sha256: Must be 64 hexadecimal characters",
    ),
    "ftp uri": (
        {"artifacts": f"weights model.onnx ftp://files.example.com/m.onnx {DIGEST}"},
        "artifacts",
        "Line 1 uri: The scheme must be one of",
    ),
    "dot-dot path": (
        {"artifacts": f"weights m.onnx s3://models/ok\nconfig c.json s3://models/a/../secrets {DIGEST}"},
        "artifacts",
        "Line 2 uri: The path may not contain '.' or '..' segments",
    ),
    "encoded dot-dot": (
        {"artifacts": "weights m.onnx s3://models/a/%2e%2e/b"},
        "artifacts",
        "Line 1 uri: The path may not contain '.' or '..' segments",
    ),
    "missing artifacts": ({"artifacts": ""}, "artifacts", "Register at least one artifact"),
    "unknown kind": (
        {"artifacts": "blob m.onnx s3://models/m.onnx"},
        "artifacts",
        "Line 1 kind: Unknown kind 'blob'",
    ),
    "run url not http": (
        {"source_run_url": "ftp://mlflow/runs/1"},
        "source_run_url",
        "Must be an http:// or https://",
    ),
    "metric without direction": (
        {"metrics": "mystery 0.5"},
        "metrics",
        "Line 1 direction: Say whether higher or lower is better for 'mystery'",
    ),
    "slice without samples": (
        {"slices": "region=EU auc 0.9"},
        "slices",
        "Line 1 sample_count: This field is required.",
    ),
    "percentiles out of order": (
        {"profile_latency_p95_ms": "2"},
        "profile_latency_p95_ms",
        "Percentiles must not decrease",
    ),
    "bad model name": ({"model": "Not_A_Slug"}, "model", "Use 1–64 lower-case letters, digits and hyphens"),
}


@pytest.mark.parametrize("case", BAD_INPUTS.keys())
def test_bad_input_is_shown_on_its_field_and_nothing_is_written(client, model, contributor, case):
    overrides, field, message = BAD_INPUTS[case]
    client.force_login(contributor)
    before = counts()
    response = client.post(URL, form_data(**overrides))
    assert response.status_code == 400
    assert counts() == before
    errors = response.context["form"].errors[field]
    assert any(message in error for error in errors), errors
    html = response.content.decode()
    # Inline, under the field, and summarised at the top with a link to it.
    field_error_list = html[html.index(f'id="id_{field}_error"') :]
    assert message.replace("'", "&#x27;") in field_error_list.split("</ul>")[0]
    assert f'href="#id_{field}"' in html
    assert "Nothing was registered" in html
    # What was typed is kept, so it can be corrected.
    if overrides.get(field):
        assert overrides[field].split("\n")[0].replace("'", "&#x27;") in html


def test_every_problem_is_listed_at_once(client, model, contributor):
    client.force_login(contributor)
    response = client.post(
        URL,
        form_data(
            artifacts="weights m.onnx ftp://x/m.onnx zz", metrics="mystery 0.5", profile_latency_p95_ms="2"
        ),
    )
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"artifacts", "metrics", "profile_latency_p95_ms"}
