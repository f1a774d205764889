"""A version registered with its evidence pending, gated for Staging on the real database: the evidence
checks fail saying what is missing and how to attach it; once attached, the same gate passes."""

from tests.factories import evidence_payload, version_register_pending_for_tests
from warehouse.promotions.gates.services import gate_run_execute, gate_run_start
from warehouse.promotions.models import CheckResult, GateState
from warehouse.promotions.policies.rules import Check
from warehouse.promotions.policies.services import policy_in_force
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


def test_the_gate_fails_pending_evidence_clearly_then_passes_once_it_is_attached(model, contributor):
    policy_in_force(model=model)
    version = version_register_pending_for_tests(actor=contributor, model=model)

    run, results = gated(version, contributor)

    assert run.state == GateState.FAILED
    for check in (Check.EVALUATION, Check.ARTIFACTS):
        assert results[check].status == "failed"
        assert results[check].summary == (
            "Evidence not attached: the version was registered from s3://mlflow/artifacts/7/abc/model "
            "without digests, evaluation or profile; attach it with "
            "PUT /api/v1/models/fraud-scorer/versions/2/evidence."
        )
    assert not [name for name, result in results.items() if result.status == "error"]

    version_evidence_attach(actor=contributor, version=version, evidence=EVIDENCE)
    run, results = gated(version, contributor)

    assert results[Check.EVALUATION].status == results[Check.ARTIFACTS].status == "passed"
    assert run.state == GateState.PASSED, {name: r.summary for name, r in results.items()}
