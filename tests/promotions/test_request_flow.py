"""The whole promotion flow on the real database: Draft → Staging → Production under the default policy,
gate runs executed as a worker would, sign-offs by distinct eligible people."""

import pytest

from tests.factories import version_register_for_tests
from warehouse.promotions.models import GateState, RequestState
from warehouse.promotions.services import gate_run_execute, promotion_request, signoff_record
from warehouse.registry.models import Stage


def _gate(promotion):
    assert gate_run_execute(run_id=promotion.gate_run_id) is not None
    promotion.refresh_from_db()
    return promotion


@pytest.mark.django_db
def test_it_promotes_draft_to_staging_to_production(contributor, reviewer, approver, model):
    version = version_register_for_tests(
        actor=contributor,
        model=model,
        card={
            "task": "Scores card payments for fraud.",
            "known_failures": "New merchants in their first week.",
            "owners_contacts": "fraud-ml@example.com",
        },
    )
    to_staging = promotion_request(
        actor=contributor, version=version, target_stage=Stage.STAGING, justification="Better recall."
    )
    assert to_staging.state == RequestState.CHECKING
    _gate(to_staging)
    assert to_staging.gate_run.state == GateState.PASSED, list(
        to_staging.gate_run.results.values_list("check_name", "status", "summary")
    )
    assert to_staging.state == RequestState.AWAITING_SIGNOFF
    signoff_record(actor=reviewer, promotion=to_staging, decision="approve", comment="Looks right.")
    to_staging.refresh_from_db()
    version.refresh_from_db()
    assert to_staging.state == RequestState.APPROVED
    assert version.stage == Stage.STAGING

    to_production = promotion_request(
        actor=contributor, version=version, target_stage=Stage.PRODUCTION, justification="Ship it."
    )
    _gate(to_production)
    assert to_production.state == RequestState.AWAITING_SIGNOFF, list(
        to_production.gate_run.results.exclude(status="passed").values_list("check_name", "status", "summary")
    )
    signoff_record(actor=approver, promotion=to_production, decision="approve")
    version.refresh_from_db()
    assert version.stage == Stage.PRODUCTION
