"""A version registered with its evidence pending (all MLflow's registry API gives is a source URI and a
run): numbered like any other, kept out of Staging and Production by the stage door, and given its evidence
once, after which it is as immutable as any version's."""

import threading

import pytest
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, connections, transaction

from tests.factories import evidence_payload, version_register_pending_for_tests
from warehouse.audit.models import AuditEvent
from warehouse.errors import Conflict, InvalidInput
from warehouse.registry.evidence import evidence_parse
from warehouse.registry.models import Artifact, EvaluationReport, ModelVersion, SourceRun, Stage
from warehouse.registry.services import (
    version_evidence_attach,
    version_register_pending,
    version_transition,
)

EVIDENCE = {key: value for key, value in evidence_payload().items() if key not in ("card", "model")}


def evidence(**overrides):
    return evidence_parse({**EVIDENCE, **overrides})


def test_it_registers_the_next_version_with_its_evidence_pending(model, contributor):
    version = version_register_pending(
        actor=contributor, model=model, source_uri="s3://mlflow/7/abc/model", run_id="abc", description="x"
    )

    assert (version.number, version.stage, version.evidence_pending) == (2, Stage.DRAFT, True)
    assert (version.source_uri, version.run_id) == ("s3://mlflow/7/abc/model", "abc")
    assert not Artifact.objects.filter(version=version).exists()
    event = AuditEvent.objects.filter(action="version.registered").latest("sequence")
    assert event.data["evidence"] == "pending"
    assert event.data["source_uri"] == "s3://mlflow/7/abc/model"


def test_versions_registered_with_their_evidence_are_attached(version):
    assert version.evidence_pending is False
    assert version.evidence_attached_at == version.created_at


@pytest.mark.parametrize(
    "field, values",
    [
        ("source_uri", {"source_uri": "file:///etc/passwd"}),
        ("source_uri", {"source_uri": "s3://bucket/../../secrets"}),
        ("run_id", {"run_id": "two words"}),
    ],
)
def test_it_refuses_a_bad_source_and_writes_nothing(model, contributor, field, values):
    before = ModelVersion.objects.count()
    arguments = {"source_uri": "s3://mlflow/7/abc/model", **values}

    with pytest.raises(InvalidInput) as refused:
        version_register_pending(actor=contributor, model=model, **arguments)

    assert field in refused.value.errors
    assert ModelVersion.objects.count() == before


def test_it_requires_the_register_permission_on_the_record(model, viewer):
    with pytest.raises(PermissionDenied):
        version_register_pending(actor=viewer, model=model, source_uri="s3://mlflow/7/abc/model")

    assert AuditEvent.objects.filter(action="permission.denied", actor=viewer).exists()


def test_it_attaches_the_evidence_once(model, contributor):
    version = version_register_pending_for_tests(actor=contributor, model=model)

    attached = version_evidence_attach(actor=contributor, version=version, evidence=evidence(source_run=None))

    attached.refresh_from_db()
    assert attached.evidence_pending is False
    assert Artifact.objects.filter(version=version).count() == 2
    assert EvaluationReport.objects.filter(version=version).exists()
    assert attached.description == EVIDENCE["description"]
    event = AuditEvent.objects.get(action="version.evidence_attached")
    assert event.data["metrics"] == {"auc": 0.91, "log_loss": 0.21}


def test_a_second_attach_is_refused_on_the_record_and_writes_nothing(model, contributor):
    version = version_register_pending_for_tests(actor=contributor, model=model)
    version_evidence_attach(actor=contributor, version=version, evidence=evidence(source_run=None))
    artifacts = Artifact.objects.filter(version=version).count()

    with pytest.raises(Conflict) as refused:
        version_evidence_attach(actor=contributor, version=version, evidence=evidence(source_run=None))

    assert refused.value.code == "evidence_already_attached"
    assert Artifact.objects.filter(version=version).count() == artifacts
    event = AuditEvent.objects.get(action="version.evidence_attach_refused")
    assert event.data["code"] == "evidence_already_attached"


def test_a_version_registered_with_its_evidence_refuses_an_attach(version, contributor):
    with pytest.raises(Conflict) as refused:
        version_evidence_attach(actor=contributor, version=version, evidence=evidence())

    assert refused.value.code == "evidence_already_attached"


def test_the_evidence_must_come_from_the_registered_run(model, contributor):
    version = version_register_pending_for_tests(actor=contributor, model=model)

    with pytest.raises(InvalidInput) as refused:
        version_evidence_attach(actor=contributor, version=version, evidence=evidence())  # run-42, not abc123

    assert "source_run.run_id" in refused.value.errors
    assert not SourceRun.objects.filter(version=version).exists()
    assert not Artifact.objects.filter(version=version).exists()
    version.refresh_from_db()
    assert version.evidence_pending


def test_attaching_requires_the_register_permission_on_the_record(model, contributor, viewer):
    version = version_register_pending_for_tests(actor=contributor, model=model)

    with pytest.raises(PermissionDenied):
        version_evidence_attach(actor=viewer, version=version, evidence=evidence(source_run=None))

    assert AuditEvent.objects.filter(action="permission.denied", actor=viewer).exists()
    assert not Artifact.objects.filter(version=version).exists()


@pytest.mark.parametrize("stage", [Stage.STAGING])
def test_the_stage_door_keeps_a_pending_version_in_draft(model, contributor, stage):
    version = version_register_pending_for_tests(actor=contributor, model=model)

    with pytest.raises(Conflict) as refused:
        version_transition(version=version, to_stage=stage, actor=contributor, reason="ship it")

    assert refused.value.code == "evidence_pending"
    assert "PUT /api/v1/models/fraud-scorer/versions/2/evidence" in refused.value.message
    version.refresh_from_db()
    assert version.stage == Stage.DRAFT
    event = AuditEvent.objects.get(action="version.stage_change_refused")
    assert event.data["code"] == "evidence_pending"


def test_a_pending_version_may_still_be_archived(model, contributor):
    version = version_register_pending_for_tests(actor=contributor, model=model)

    version_transition(version=version, to_stage=Stage.ARCHIVED, actor=contributor, reason="wrong run")

    version.refresh_from_db()
    assert version.stage == Stage.ARCHIVED


def test_once_attached_it_leaves_draft_like_any_version(model, contributor):
    version = version_register_pending_for_tests(actor=contributor, model=model)
    version_evidence_attach(actor=contributor, version=version, evidence=evidence(source_run=None))

    version_transition(version=version, to_stage=Stage.STAGING, actor=contributor, reason="evaluated")

    version.refresh_from_db()
    assert version.stage == Stage.STAGING


@pytest.mark.parametrize(
    "column, value",
    [("evidence_attached_at", None), ("source_uri", "s3://elsewhere/model"), ("run_id", "other")],
)
def test_the_database_refuses_to_change_attached_evidence_state(version, column, value):
    with pytest.raises(DatabaseError), transaction.atomic():
        with connection.cursor() as cursor:
            sql = f"UPDATE registry_modelversion SET {column} = %s WHERE id = %s"
            cursor.execute(sql, [value, version.pk])


def test_the_database_lets_pending_evidence_be_attached_once(model, contributor):
    version = version_register_pending_for_tests(actor=contributor, model=model)
    ModelVersion.objects.filter(pk=version.pk).update(evidence_attached_at=version.created_at)

    with pytest.raises(DatabaseError), transaction.atomic():
        ModelVersion.objects.filter(pk=version.pk).update(evidence_attached_at=None)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_of_two_attaches_at_once_exactly_one_writes(model, contributor):
    version = version_register_pending_for_tests(actor=contributor, model=model)
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def attach(index: int) -> None:
        try:
            mine = ModelVersion.objects.select_related("model").get(pk=version.pk)
            barrier.wait(timeout=30)
            results[index] = version_evidence_attach(
                actor=contributor, version=mine, evidence=evidence(source_run=None)
            )
        except BaseException as error:  # noqa: B036 - the test inspects whatever happened
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attach, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    refused = [result for result in results if isinstance(result, Conflict)]
    assert len(refused) == 1, results
    assert refused[0].code == "evidence_already_attached"
    assert sum(isinstance(result, ModelVersion) for result in results) == 1
    assert Artifact.objects.filter(version=version).count() == 2
    assert AuditEvent.objects.filter(action="version.evidence_attached").count() == 1
