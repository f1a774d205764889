"""Signing in, and the API tokens page: a secret shown once, revoking, and nobody else's tokens."""

import pytest
from django.urls import reverse

from tests.registry.test_pages import assert_queries_do_not_grow
from warehouse.accounts.models import ApiToken
from warehouse.accounts.services import api_token_authenticate, api_token_create
from warehouse.audit.models import AuditEvent

TOKENS_PAGE_QUERIES = 3  # the session, the user, the tokens


# --- Signing in ----------------------------------------------------------------------------------------


def test_it_shows_the_sign_in_page(client, db):
    response = client.get(reverse("accounts:sign-in"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="csrfmiddlewaretoken"' in html and 'name="username"' in html and 'type="password"' in html


def test_it_signs_in_and_goes_on_to_the_page_asked_for(client, viewer):
    response = client.post(
        reverse("accounts:sign-in"),
        {"username": viewer.username, "password": "correct horse battery staple", "next": "/models/"},
    )
    assert response.status_code == 302 and response["Location"] == "/models/"


def test_it_says_plainly_when_the_password_is_wrong(client, viewer):
    response = client.post(reverse("accounts:sign-in"), {"username": viewer.username, "password": "wrong"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


# --- API tokens ----------------------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_sign_in(client, db):
    for response in (client.get(reverse("accounts:api-tokens")), client.post(reverse("accounts:api-tokens"))):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:sign-in"))


@pytest.mark.parametrize(
    "role", ["viewer", "contributor", "reviewer", "approver", "responder", "policy_admin", "outsider"]
)
def test_everyone_signed_in_has_a_tokens_page(client, request, role):
    client.force_login(request.getfixturevalue(role))
    assert client.get(reverse("accounts:api-tokens")).status_code == 200


def test_the_secret_is_shown_once(client, contributor):
    client.force_login(contributor)
    response = client.post(reverse("accounts:api-tokens"), {"name": "payments CI", "expires_at": ""})
    assert response.status_code == 200
    secret = response.context["issued"].secret
    html = response.content.decode()
    assert html.count(secret) == 2  # the token, and the example curl
    assert "Copy it now: it will not be shown again." in html
    assert f"Authorization: Bearer {secret}" in html
    assert "no-store" in response["Cache-Control"]
    assert api_token_authenticate(secret).user == contributor

    listed = client.get(reverse("accounts:api-tokens"))
    assert secret not in listed.content.decode()
    token = ApiToken.objects.get(user=contributor)
    assert f"wh_{token.prefix}_…" in listed.content.decode() and "payments CI" in listed.content.decode()


def test_it_explains_a_bad_token_request(client, contributor):
    client.force_login(contributor)
    response = client.post(reverse("accounts:api-tokens"), {"name": "", "expires_at": "2001-01-01T00:00"})
    assert response.status_code == 400
    assert response.context["issued"] is None
    assert "This field is required." in response.content.decode()
    past = client.post(reverse("accounts:api-tokens"), {"name": "old", "expires_at": "2001-01-01T00:00"})
    assert past.status_code == 400 and "The expiry must be in the future." in past.content.decode()
    assert not ApiToken.objects.exists()


def test_it_revokes_a_token(client, contributor):
    issued = api_token_create(actor=contributor, user=contributor, name="old CI")
    client.force_login(contributor)
    response = client.post(reverse("accounts:api-token-revoke", args=[issued.token.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:api-tokens")
    assert api_token_authenticate(issued.secret) is None
    assert AuditEvent.objects.filter(action="api_token.revoked", target_id=str(issued.token.pk)).exists()
    page = client.get(reverse("accounts:api-tokens")).content.decode()
    assert "revoked. Anything still using it now gets 401." in page and "Revoked" in page


def test_revoking_needs_a_post(client, contributor):
    issued = api_token_create(actor=contributor, user=contributor, name="CI")
    client.force_login(contributor)
    assert client.get(reverse("accounts:api-token-revoke", args=[issued.token.pk])).status_code == 405
    assert api_token_authenticate(issued.secret) is not None


def test_revoking_checks_csrf(contributor):
    from django.test import Client

    issued = api_token_create(actor=contributor, user=contributor, name="CI")
    client = Client(enforce_csrf_checks=True)
    client.force_login(contributor)
    assert client.post(reverse("accounts:api-token-revoke", args=[issued.token.pk])).status_code == 403
    assert api_token_authenticate(issued.secret) is not None


def test_another_users_token_cannot_be_revoked(client, contributor, viewer):
    issued = api_token_create(actor=contributor, user=contributor, name="carol's CI")
    client.force_login(viewer)
    assert client.post(reverse("accounts:api-token-revoke", args=[issued.token.pk])).status_code == 404
    assert api_token_authenticate(issued.secret) is not None
    assert "carol&#x27;s CI" not in client.get(reverse("accounts:api-tokens")).content.decode()


def test_the_tokens_page_queries_do_not_grow(client, django_assert_max_num_queries, contributor):
    client.force_login(contributor)

    def build(rows):
        while ApiToken.objects.filter(user=contributor).count() < rows:
            api_token_create(actor=contributor, user=contributor, name=f"pipeline {ApiToken.objects.count()}")
        return reverse("accounts:api-tokens")

    assert_queries_do_not_grow(django_assert_max_num_queries, client, bound=TOKENS_PAGE_QUERIES, build=build)
