"""The version page of a version whose evidence is pending says what is missing and the API call that
attaches it, and runs no more queries for it. (No promotion request can be opened for it: the gate refuses
pending evidence, tests/promotions/test_pending_evidence_gate.py.)"""

from django.urls import reverse

from tests.factories import version_register_pending_for_tests
from tests.pages.test_pages import VERSION_PAGE_QUERIES

ATTACH = "PUT /api/v1/models/fraud-scorer/versions/2/evidence"


def test_the_version_page_says_the_evidence_is_pending_and_how_to_attach_it(
    client, django_assert_max_num_queries, model, contributor, viewer
):
    version_register_pending_for_tests(actor=contributor, model=model)
    client.force_login(viewer)
    url = reverse("registry:version", args=[model.name, 2])
    assert client.get(url).status_code == 200  # warm the per-process caches (content types)

    with django_assert_max_num_queries(VERSION_PAGE_QUERIES):
        response = client.get(url)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="evidence-pending"' in html
    assert "Evidence not attached" in html
    assert "s3://mlflow/artifacts/7/abc/model" in html and "abc123" in html
    assert ATTACH in html


def test_a_version_with_its_evidence_shows_no_notice(client, model, version, viewer):
    client.force_login(viewer)

    response = client.get(reverse("registry:version", args=[model.name, 1]))

    assert "evidence-pending" not in response.content.decode()
