"""The register page's tracked-run form: the same service as the API's from-run, with the page's answers for
each refusal, and the ladder of who may use it."""

import pytest
from django.urls import reverse

from warehouse.audit.models import AuditEvent
from warehouse.tracking.models import RunImport, TrackingServer

PAGE = "register-from-run"


@pytest.fixture
def configured(db) -> TrackingServer:
    return TrackingServer.objects.create(
        name="mlflow-test",
        url="http://127.0.0.1:1",
        credential_env="UNSET",
        created_at="2026-12-01T00:00:00Z",
    )


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(reverse(PAGE))
    assert response.status_code == 302 and "/accounts/sign-in/" in response["Location"]


def test_someone_who_may_not_register_is_told_so(client, viewer, configured):
    client.force_login(viewer)
    response = client.get(reverse(PAGE))
    assert response.status_code == 403 and "You may not register versions" in response.content.decode()


def test_without_a_configured_server_the_page_says_so(client, contributor, db):
    client.force_login(contributor)
    html = client.get(reverse(PAGE)).content.decode()
    assert 'data-testid="no-tracking-servers"' in html and "register-from-run" not in html


def test_it_registers_and_queues_the_import(client, contributor, model, configured):
    client.force_login(contributor)
    digest = "ab" * 32

    response = client.post(
        reverse(PAGE),
        {
            "model": model.name,
            "tracking_server": "mlflow-test",
            "run_id": "4f1c0a2b9d8e4c6f",
            "source": "",
            "description": "Nightly retrain.",
            "digests": f"{digest.upper()}  model.pkl\n\n",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("registry:version", args=[model.name, 2]) + "#evidence-import"
    run_import = RunImport.objects.get(version__model=model, version__number=2)
    assert (run_import.source, run_import.expected_digests) == (
        "runs:/4f1c0a2b9d8e4c6f/model",
        {"model.pkl": digest},
    )
    page = client.get(response["Location"]).content.decode()
    assert "Import queued" in page and "Waits for the evidence" in page


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"model": "no-such-model"}, "model", "No such model, or you may not see it"),
        ({"source": "runs:/other/model"}, "source", "names run other"),
        ({"run_id": "has space"}, "run_id", "A run id"),
        ({"digests": "not-a-line"}, "digests", "Line 1"),
        ({"digests": "abc model.pkl"}, "digests", "64 lower-case hexadecimal"),
        ({"tracking_server": "elsewhere"}, "tracking_server", "Select a valid choice"),
    ],
)
def test_each_refusal_is_named_on_its_field_and_nothing_is_written(
    client, contributor, model, configured, change, field, message
):
    client.force_login(contributor)
    body = {"model": model.name, "tracking_server": "mlflow-test", "run_id": "abc123", **change}

    response = client.post(reverse(PAGE), body)

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not RunImport.objects.exists() and model.versions.count() == 1
    assert not AuditEvent.objects.filter(action="version.evidence_import_queued").exists()
