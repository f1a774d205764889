"""One rule for actions a reader may not take: the global navigation and the all-models pages leave them
out; an object page shows its own actions to whoever sees the object, disabled, with the role they need."""

from django.contrib.auth.models import Group
from django.urls import reverse

from tests.promotions.test_promotion_request import checks_failed
from warehouse.accounts.roles import Role, role_needed

REGISTER = reverse("cards:register")


def test_the_reason_names_the_role_and_the_model():
    assert role_needed("registry.respond_incident", "fraud-scorer") == (
        "Needs the incident responder role on fraud-scorer."
    )
    assert role_needed("registry.archive_version", "fraud-scorer") == (
        "Needs the contributor or approver role on fraud-scorer."
    )
    assert (
        role_needed("superuser", "the global default")
        == "Only a superuser may do this for the global default."
    )


def test_home_and_the_model_list_offer_registering_only_to_who_may(client, model, viewer, contributor):
    for page in (reverse("home"), reverse("registry:models")):
        client.force_login(viewer)
        assert f'href="{REGISTER}"' not in client.get(page).content.decode()
        client.force_login(contributor)
        assert f'href="{REGISTER}"' in client.get(page).content.decode()


def test_the_model_page_shows_registering_disabled_with_the_role(client, model, viewer, contributor):
    url = reverse("registry:model", args=[model.name])
    client.force_login(viewer)
    html = client.get(url).content.decode()
    assert f'href="{REGISTER}?model=' not in html
    assert 'disabled aria-describedby="register-why">Register a version</button>' in html
    assert "Needs the contributor role on fraud-scorer." in html

    client.force_login(contributor)
    html = client.get(url).content.decode()
    assert f'href="{REGISTER}?model=fraud-scorer"' in html and "register-why" not in html


def test_the_policy_pages_show_editing_disabled_with_who_may(client, model, viewer, policy_admin):
    client.force_login(viewer)
    html = client.get(reverse("promotions:policy", args=[model.name])).content.decode()
    assert 'disabled aria-describedby="edit-why">Edit the policy</button>' in html
    assert "Needs the policy admin role on fraud-scorer." in html
    html = client.get(reverse("promotions:global-policy")).content.decode()
    assert "Only a superuser may do this for the global default." in html

    client.force_login(policy_admin)
    html = client.get(reverse("promotions:policy", args=[model.name])).content.decode()
    assert 'href="#edit">Edit the policy</a>' in html and "edit-why" not in html


def test_the_requester_who_lost_the_role_sees_run_again_disabled(client, model, version, contributor):
    promotion = checks_failed(version, actor=contributor)
    url = reverse("promotions:request", args=[model.name, promotion.pk])
    recheck = reverse("promotions:request-recheck", args=[model.name, promotion.pk])
    client.force_login(contributor)
    assert recheck in client.get(url).content.decode()

    contributor.groups.remove(Group.objects.get(name=Role.CONTRIBUTOR.value))
    html = client.get(url).content.decode()
    assert recheck not in html
    assert 'disabled aria-describedby="recheck-why">Run the gate again</button>' in html
    assert client.post(recheck).status_code == 403  # what the button would have met
