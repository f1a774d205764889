"""Deny by default (DESIGN invariant 9): *where* is an object permission on the model, *what* a role or a
per-model grant; both are needed, and a superuser passes both."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import PermissionDenied
from guardian.shortcuts import assign_perm

from tests.factories import model_create_for_tests, user_with_roles
from warehouse.accounts.permissions import VIEW_MODEL, model_access, models_visible_to
from warehouse.accounts.roles import Role
from warehouse.audit.models import AuditEvent
from warehouse.registry.models import RegisteredModel

REGISTER = "registry.register_version"


@pytest.fixture
def other_model(contributor):
    """A second model, with no team: only its creator sees it."""
    return model_create_for_tests(actor=contributor, name="churn-predictor")


def _visible(user) -> list[str]:
    return list(models_visible_to(user, RegisteredModel.objects.all()).values_list("name", flat=True))


def _fresh(user) -> User:
    return User.objects.get(pk=user.pk)  # Django caches permissions on the user object


# --- Where: who sees a model ---------------------------------------------------------------------------


def test_it_shows_a_model_to_its_team(model, other_model, viewer):
    assert model_access(viewer, model).can_view
    assert not model_access(viewer, other_model).can_view
    assert _visible(viewer) == ["fraud-scorer"]


def test_it_shows_a_model_through_a_direct_grant(model, outsider):
    assert not model_access(outsider, model).can_view
    assert _visible(outsider) == []

    assign_perm(VIEW_MODEL, outsider, model)

    assert model_access(outsider, model).can_view
    assert _visible(outsider) == ["fraud-scorer"]


def test_it_shows_a_model_through_any_group_granted_it(model, outsider):
    auditors = Group.objects.create(name="auditors")
    outsider.groups.add(auditors)
    assign_perm(VIEW_MODEL, auditors, model)

    assert model_access(outsider, model).can_view
    assert _visible(outsider) == ["fraud-scorer"]


def test_it_does_not_show_models_through_an_org_wide_view_permission(model, outsider):
    # Seeing a model is decided per model; the global permission is for the admin's lists.
    outsider.user_permissions.add(Permission.objects.get(codename="view_registeredmodel"))
    outsider = _fresh(outsider)

    assert outsider.has_perm(VIEW_MODEL)
    assert not model_access(outsider, model).can_view
    assert _visible(outsider) == []


def test_it_shows_every_model_to_a_superuser(model, other_model, superuser):
    assert model_access(superuser, model).can_view and model_access(superuser, other_model).can(REGISTER)
    assert _visible(superuser) == ["churn-predictor", "fraud-scorer"]


def test_it_shows_nothing_to_a_deactivated_person(model, viewer, superuser):
    for person in (viewer, superuser):
        person.is_active = False
        person.save()

        assert not model_access(person, model).can_view
        assert not model_access(person, model).can(REGISTER)
        assert _visible(person) == []


def test_it_shows_nothing_to_an_anonymous_visitor(model):
    from django.contrib.auth.models import AnonymousUser

    assert not model_access(AnonymousUser(), model).can_view
    assert _visible(AnonymousUser()) == []


def test_it_stops_showing_a_model_when_the_grant_goes(model, viewer, team):
    from guardian.shortcuts import remove_perm

    remove_perm(VIEW_MODEL, team, model)

    assert not model_access(viewer, model).can_view
    assert _visible(viewer) == []


# --- What: who may act on a model ----------------------------------------------------------------------


def test_it_lets_a_role_act_on_the_models_its_holder_sees(model, other_model, contributor, viewer):
    assert model_access(contributor, model).can(REGISTER)
    assert model_access(contributor, other_model).can(REGISTER)  # the creator sees it too
    assert not model_access(viewer, model).can(REGISTER)


def test_it_lets_a_role_act_nowhere_it_cannot_see(model, outsider):
    # The outsider holds every role, in no team.
    assert outsider.has_perm(REGISTER)
    assert not model_access(outsider, model).can(REGISTER)


def test_it_lets_a_per_model_grant_act_on_that_model_only(model, contributor, viewer, team):
    second = model_create_for_tests(actor=contributor, name="churn-predictor", team=team)
    assign_perm("register_version", viewer, model)

    assert model_access(viewer, model).can(REGISTER)
    assert not model_access(viewer, second).can(REGISTER)
    assert not _fresh(viewer).has_perm(REGISTER)


def test_it_lets_a_per_model_group_grant_act_on_that_model(model, viewer, team):
    assign_perm("edit_card", team, model)

    assert model_access(viewer, model).can("registry.edit_card")
    assert not model_access(viewer, model).can(REGISTER)


@pytest.mark.parametrize(
    ("role", "may", "may_not"),
    [
        (
            Role.CONTRIBUTOR,
            [
                "registry.register_version",
                "registry.edit_card",
                "registry.request_promotion",
                "registry.archive_version",
            ],
            ["registry.signoff_production", "registry.respond_incident"],
        ),
        (Role.REVIEWER, ["registry.signoff_staging"], ["registry.signoff_production", REGISTER]),
        (
            Role.APPROVER,
            ["registry.signoff_production", "registry.archive_production"],
            ["registry.signoff_staging"],
        ),
        (Role.INCIDENT_RESPONDER, ["registry.respond_incident"], ["registry.override_gate", REGISTER]),
        (Role.POLICY_ADMIN, ["registry.admin_policy"], ["registry.override_gate"]),
        (Role.VIEWER, [], [REGISTER, "registry.edit_card", "registry.override_gate"]),
    ],
)
def test_each_role_acts_as_it_says(model, team, role, may, may_not):
    person = user_with_roles("pat", role, teams=(team,))
    access = model_access(person, model)

    assert access.can_view
    assert all(access.can(perm) for perm in may)
    assert not any(access.can(perm) for perm in may_not)


def test_it_refuses_on_the_record(model, viewer):
    with pytest.raises(
        PermissionDenied, match="You do not have permission to register versions of fraud-scorer"
    ):
        model_access(viewer, model).require(REGISTER, attempted="register versions of fraud-scorer")

    event = AuditEvent.objects.get(action="permission.denied")
    assert (event.actor_id, event.model_name, event.target_id) == (viewer.pk, "fraud-scorer", str(model.pk))
    assert event.data == {"permission": REGISTER, "attempted": "register versions of fraud-scorer"}


def test_it_allows_without_a_record(model, contributor):
    events = AuditEvent.objects.count()

    model_access(contributor, model).require(REGISTER, attempted="register versions of fraud-scorer")

    assert AuditEvent.objects.count() == events


def test_it_reads_a_persons_permissions_on_a_model_once(model, viewer, django_assert_num_queries):
    access = model_access(viewer, model)

    with django_assert_num_queries(1):  # grants on the model and role permissions, together
        assert access.can_view
    with django_assert_num_queries(0):
        assert access.can_view
        assert not access.can("registry.edit_card")
        assert not access.can("registry.override_gate")


def test_it_lists_visible_models_in_one_query(model, viewer, contributor, django_assert_num_queries):
    for index in range(5):
        model_create_for_tests(
            actor=contributor, name=f"model-{index}", team=Group.objects.get(name="payments")
        )

    with django_assert_num_queries(1):
        names = _visible(viewer)

    assert len(names) == 6
