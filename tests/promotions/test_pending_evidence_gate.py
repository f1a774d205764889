"""A version registered with its evidence pending, gated for Staging on the real database: the gate refuses
to run, on the record, saying how the evidence comes; once attached, the same gate passes."""

import pytest

from tests.factories import evidence_payload, version_register_pending_for_tests
from warehouse.audit.models import AuditEvent
from warehouse.errors import Conflict
from warehouse.promotions.gates.services import gate_run_execute, gate_run_start
from warehouse.promotions.models import CheckResult, GateState
from warehouse.promotions.policies.rules import Check
from warehouse.promotions.policies.services import policy_in_force
from warehouse.promotions.requests.services import promotion_request_open
from warehouse.registry.evidence import evidence_parse
from warehouse.registry.services import version_evidence_attach

PAYLOAD = {key: value for key, value in evidence_payload().items() if key != "card"}
# The run the version was registered from (tests.factories.version_register_pending_for_tests).
EVIDENCE = evidence_parse({**PAYLOAD, "source_run": {**PAYLOAD["source_run"], "run_id": "abc123"}})


def gated(version, actor) -> dict[str, CheckResult]:
    run = gate_run_start(actor=actor, version=version, target_stage="staging")
    gate_run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run, {result.check_name: result for result in CheckResult.objects.filter(gate_run=run)}


def test_the_gate_refuses_pending_evidence_clearly_then_passes_once_it_is_attached(model, contributor):
    policy_in_force(model=model)
    version = version_register_pending_for_tests(actor=contributor, model=model)

    with pytest.raises(Conflict) as refused:
        gate_run_start(actor=contributor, version=version, target_stage="staging")
    with pytest.raises(Conflict):
        promotion_request_open(
            actor=contributor, version=version, target_stage="staging", justification="Ready for staging."
        )

    assert refused.value.code == "evidence_pending"
    assert "PUT /api/v1/models/fraud-scorer/versions/2/evidence" in refused.value.message
    assert not version.gate_runs.exists()
    refusals = AuditEvent.objects.filter(action__in=["gate.refused", "promotion.refused"])
    assert [event.data["code"] for event in refusals.order_by("sequence")] == ["evidence_pending"] * 2

    version_evidence_attach(actor=contributor, version=version, evidence=EVIDENCE)
    run, results = gated(version, contributor)

    assert results[Check.EVALUATION].status == results[Check.ARTIFACTS].status == "passed"
    assert run.state == GateState.PASSED, {name: r.summary for name, r in results.items()}
