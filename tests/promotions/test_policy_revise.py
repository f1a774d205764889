"""Editing a policy: the policy admin permission, one audited revision per edit, nothing saved if refused."""

import copy

import pytest
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, IntegrityError, connection, transaction

from tests.factories import model_create_for_tests
from tests.registry.test_concurrency import at_once
from warehouse.audit.models import AuditEvent
from warehouse.errors import InvalidInput
from warehouse.promotions.models import PolicyRevision, PromotionPolicy
from warehouse.promotions.policies.rules import DEFAULT_RULES, policy_parse
from warehouse.promotions.policies.services import policy_in_force, policy_revise


def strict_rules(latency: float = 20.0) -> dict:
    data = copy.deepcopy(DEFAULT_RULES.as_data())
    data["staging_to_production"]["latency_p95_ms_max"] = latency
    return data


def counts() -> tuple[int, int, int]:
    return PromotionPolicy.objects.count(), PolicyRevision.objects.count(), AuditEvent.objects.count()


def test_a_policy_admin_saves_numbered_revisions(model, policy_admin):
    first = policy_revise(
        actor=policy_admin, model=model, rules_data=strict_rules(20), reason="Tighter latency."
    )
    second = policy_revise(
        actor=policy_admin, model=model, rules_data=strict_rules(15), reason="Even tighter."
    )

    assert (first.number, second.number) == (1, 2)
    assert first.policy_id == second.policy_id
    assert first.policy.model == model
    assert (second.author, second.reason) == (policy_admin, "Even tighter.")
    assert policy_parse(second.rules).staging_to_production.latency_p95_ms_max == 15.0
    assert PromotionPolicy.objects.get(model=model).current == second


def test_each_revision_is_audited_with_its_reason(model, policy_admin):
    revision = policy_revise(
        actor=policy_admin, model=model, rules_data=strict_rules(), reason="  Tighter.  "
    )

    event = AuditEvent.objects.get(action="policy.revised", target_id=str(revision.pk))
    assert event.actor == policy_admin
    assert event.model_name == "fraud-scorer"
    assert event.target_type == "promotions.policyrevision"
    assert event.data == {"scope": "fraud-scorer", "revision": 1, "reason": "Tighter.", "superseded": []}
    assert revision.reason == "Tighter."


def test_the_new_revision_is_the_one_in_force(model, policy_admin):
    assert policy_in_force(model=model).policy.model is None

    revision = policy_revise(actor=policy_admin, model=model, rules_data=strict_rules(), reason="Own rules.")

    assert policy_in_force(model=model) == revision
    newer = policy_revise(actor=policy_admin, model=model, rules_data=strict_rules(9), reason="Newer.")
    assert policy_in_force(model=model) == newer


def test_a_revision_stores_the_rules_as_read_with_every_default_filled_in(model, policy_admin):
    revision = policy_revise(
        actor=policy_admin,
        model=model,
        rules_data={"draft_to_staging": {}, "staging_to_production": {"latency_p95_ms_max": 20}},
        reason="Only a latency budget.",
    )

    revision.refresh_from_db()
    assert revision.rules["staging_to_production"]["latency_p95_ms_max"] == 20.0
    assert revision.rules["staging_to_production"]["signoffs"] == {"count": 1, "roles": ["reviewer"]}
    assert revision.rules["draft_to_staging"]["required_artifact_kinds"] == ["weights"]


def test_a_contributor_is_refused_and_the_refusal_stays_on_the_record(model, contributor):
    before = counts()

    with pytest.raises(PermissionDenied):
        policy_revise(actor=contributor, model=model, rules_data=strict_rules(), reason="Let me in.")

    assert PolicyRevision.objects.count() == before[1]
    event = AuditEvent.objects.get(action="permission.denied", actor=contributor)
    assert event.model_name == "fraud-scorer"
    assert event.data == {
        "permission": "registry.admin_policy",
        "attempted": "edit the promotion policy of fraud-scorer",
    }


def test_an_outsider_with_every_role_is_refused(model, outsider):
    with pytest.raises(PermissionDenied):
        policy_revise(actor=outsider, model=model, rules_data=strict_rules(), reason="Not my team.")

    assert not PolicyRevision.objects.filter(policy__model=model).exists()
    assert AuditEvent.objects.filter(action="permission.denied", actor=outsider).count() == 1


def test_a_policy_admin_cannot_edit_the_global_default(db, policy_admin):
    with pytest.raises(PermissionDenied):
        policy_revise(actor=policy_admin, model=None, rules_data=strict_rules(), reason="Global.")

    assert not PolicyRevision.objects.filter(author=policy_admin).exists()
    event = AuditEvent.objects.get(action="permission.denied")
    assert event.data["permission"] == "superuser"


def test_a_superuser_revises_the_global_default_after_the_built_in_one(db, superuser):
    revision = policy_revise(actor=superuser, model=None, rules_data=strict_rules(30), reason="House rules.")

    assert revision.policy.model is None
    assert revision.number == 2
    built_in = PolicyRevision.objects.get(policy=revision.policy, number=1)
    assert built_in.author is None
    assert policy_parse(built_in.rules) == DEFAULT_RULES
    assert revision.policy.current == revision
    assert list(
        AuditEvent.objects.filter(action="policy.revised")
        .order_by("sequence")
        .values_list("actor_label", "data")
    ) == [
        ("system", {"scope": "global", "revision": 1}),
        ("root", {"scope": "global", "revision": 2, "reason": "House rules.", "superseded": []}),
    ]


def test_the_global_default_applies_to_every_model_without_its_own(
    model, contributor, superuser, policy_admin
):
    other = model_create_for_tests(actor=contributor, name="churn-predictor")
    policy_revise(actor=policy_admin, model=model, rules_data=strict_rules(), reason="Own rules.")
    house = policy_revise(actor=superuser, model=None, rules_data=strict_rules(30), reason="House rules.")

    assert policy_in_force(model=other) == house
    assert policy_in_force(model=model).policy.model == model


def test_bad_rules_write_nothing(model, policy_admin):
    policy_in_force(model=model)  # the global default exists before the attempt
    before = counts()

    with pytest.raises(InvalidInput) as refused:
        policy_revise(
            actor=policy_admin,
            model=model,
            rules_data=strict_rules() | {"draft_to_staging": {"required_checks": ["vibes"]}},
            reason="A typo.",
        )

    assert list(refused.value.errors) == ["draft_to_staging.required_checks[0]"]
    assert counts() == before


@pytest.mark.parametrize("reason", ["", "   \n", None])
def test_a_revision_without_a_reason_writes_nothing(model, policy_admin, reason):
    policy_in_force(model=model)
    before = counts()

    with pytest.raises(InvalidInput) as refused:
        policy_revise(actor=policy_admin, model=model, rules_data=strict_rules(), reason=reason)

    assert list(refused.value.errors) == ["reason"]
    assert counts() == before


def test_bad_rules_and_a_missing_reason_are_reported_together(model, policy_admin):
    with pytest.raises(InvalidInput) as refused:
        policy_revise(actor=policy_admin, model=model, rules_data=[], reason="")

    assert set(refused.value.errors) == {"rules", "reason"}


def test_the_global_default_is_written_and_audited_on_first_use(model):
    assert counts()[:2] == (0, 0)

    revision = policy_in_force(model=model)

    assert revision.number == 1
    assert revision.policy.model is None
    assert revision.policy.current == revision
    assert policy_parse(revision.rules) == DEFAULT_RULES
    event = AuditEvent.objects.get(action="policy.revised")
    assert (event.actor, event.actor_label) == (None, "system")
    assert event.data == {"scope": "global", "revision": 1}


def test_the_global_default_is_written_once(model, contributor):
    other = model_create_for_tests(actor=contributor, name="churn-predictor")
    first = policy_in_force(model=model)
    before = counts()

    assert policy_in_force(model=other) == first
    assert policy_in_force(model=model) == first
    assert counts() == before


def _refused(sql: str, params=()) -> str:
    with pytest.raises(DatabaseError) as refused, transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql, params)
    return str(refused.value)


def test_the_database_refuses_to_change_a_policy_revision(model, policy_admin):
    revision = policy_revise(actor=policy_admin, model=model, rules_data=strict_rules(), reason="Tighter.")

    message = _refused(
        "UPDATE promotions_policyrevision SET reason = 'rewritten' WHERE id = %s", [revision.pk]
    )

    assert "UPDATE on promotions_policyrevision is refused" in message
    revision.refresh_from_db()
    assert revision.reason == "Tighter."


def test_the_database_refuses_to_delete_a_policy_revision(model, policy_admin):
    revision = policy_revise(actor=policy_admin, model=model, rules_data=strict_rules(), reason="Tighter.")

    message = _refused("DELETE FROM promotions_policyrevision WHERE id = %s", [revision.pk])

    assert "DELETE on promotions_policyrevision is refused" in message
    assert PolicyRevision.objects.filter(pk=revision.pk).exists()


def test_the_orm_cannot_change_a_policy_revision_either(model, policy_admin):
    old = policy_revise(actor=policy_admin, model=model, rules_data=strict_rules(), reason="Tighter.")
    policy_revise(actor=policy_admin, model=model, rules_data=strict_rules(9), reason="Newer.")
    old.rules = DEFAULT_RULES.as_data()

    with pytest.raises(IntegrityError), transaction.atomic():
        old.save()
    # No longer current, so nothing protects it but the trigger.
    with pytest.raises(IntegrityError), transaction.atomic():
        PolicyRevision.objects.filter(pk=old.pk).delete()

    old.refresh_from_db()
    assert old.rules == strict_rules()


@pytest.mark.postgres
def test_postgres_refuses_to_truncate_policy_revisions(model, policy_admin):
    policy_revise(actor=policy_admin, model=model, rules_data=strict_rules(), reason="Tighter.")

    message = _refused("TRUNCATE promotions_policyrevision CASCADE")

    assert "TRUNCATE on promotions_policyrevision is refused" in message
    assert PolicyRevision.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_uses_write_one_global_default(model):
    results = at_once(lambda index: policy_in_force(model=model).pk, count=8)

    assert all(isinstance(result, int) for result in results), results
    assert len(set(results)) == 1
    assert PromotionPolicy.objects.filter(model__isnull=True).count() == 1
    assert PolicyRevision.objects.count() == 1
    assert AuditEvent.objects.filter(action="policy.revised").count() == 1
