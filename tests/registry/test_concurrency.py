"""Races, on the real database with real threads: one production version, gapless numbers, one linear chain.

Each thread has its own database connection and starts at a barrier, so the writes really meet. PostgreSQL
only: SQLite serialises every writer on its one file lock, which proves nothing about row locks.
"""

import io
import threading
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connections, transaction

from tests.factories import evidence_payload, user_with_roles, version_move, version_register_for_tests
from warehouse.accounts.roles import Role
from warehouse.audit.chain import chain_verify
from warehouse.audit.models import AuditEvent
from warehouse.audit.selectors import audit_events_in_sequence
from warehouse.audit.services import audit_record
from warehouse.cards.registration import (
    registration_parse,
    version_register_named,
    version_register_with_card,
)
from warehouse.errors import Conflict, InvalidInput
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage
from warehouse.registry.services import model_create, version_transition

THREADS = 10


def at_once(
    work: Callable[[int], object], count: int = THREADS, prepare: Callable[[int], object] | None = None
):
    """Run work(i) in `count` threads released together; return each result or the exception it raised.

    `prepare(i)` runs in the thread before the barrier (reads that should not be part of the race); its
    result is passed to work instead of i.
    """
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(index: int) -> None:
        try:
            argument = prepare(index) if prepare else index
            barrier.wait(timeout=60)
            results[index] = work(argument)
        except BaseException as error:  # noqa: B036 - the test inspects whatever happened
            results[index] = error
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck: a lock is never released"
    return results


def assert_chain_verifies():
    report = chain_verify(audit_events_in_sequence())
    assert report.ok, report.problem
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert "Audit chain intact" in out.getvalue()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_one_of_many_simultaneous_promotions_win(model, version, contributor, approver):
    candidates = [version_register_for_tests(actor=contributor, model=model) for _ in range(THREADS)]
    for candidate in candidates:
        version_move(candidate, Stage.STAGING, actor=contributor)

    def load(index):
        return ModelVersion.objects.select_related("model").get(pk=candidates[index].pk)

    def promote(candidate):
        # Every request was decided while nothing was in production.
        return version_transition(
            version=candidate,
            to_stage=Stage.PRODUCTION,
            actor=approver,
            reason="gate passed",
            expected_production=None,
        )

    results = at_once(promote, prepare=load)

    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1, results
    assert all(isinstance(r, Conflict) and r.code == "production_changed" for r in losers), losers
    assert all("is in production now" in r.message for r in losers)
    production = ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION)
    assert [v.pk for v in production] == [winners[0].version_id]
    assert ModelVersion.objects.filter(model=model, stage=Stage.STAGING).count() == THREADS - 1
    assert AuditEvent.objects.filter(action="version.stage_change_refused").count() == THREADS - 1
    assert_chain_verifies()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_lets_one_replacement_win_when_each_expects_the_current_version(
    model, version, contributor, approver
):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    candidates = [version_register_for_tests(actor=contributor, model=model) for _ in range(THREADS)]
    for candidate in candidates:
        version_move(candidate, Stage.STAGING, actor=contributor)

    def load(index):
        return (
            ModelVersion.objects.select_related("model").get(pk=candidates[index].pk),
            ModelVersion.objects.get(pk=version.pk),
        )

    def promote(loaded):
        candidate, current = loaded
        return version_transition(
            version=candidate,
            to_stage=Stage.PRODUCTION,
            actor=approver,
            reason="gate passed",
            expected_production=current,
        )

    results = at_once(promote, prepare=load)

    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(
        isinstance(r, Conflict) and r.code == "production_changed" for r in results if r not in winners
    )
    winner = ModelVersion.objects.get(pk=winners[0].version_id)
    assert (winner.stage, winner.rollback_target_id) == (Stage.PRODUCTION, version.pk)
    assert ModelVersion.objects.get(pk=version.pk).stage == Stage.ARCHIVED
    assert ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION).count() == 1
    assert_chain_verifies()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_numbers_simultaneous_registrations_without_gaps(model, contributor):
    evidence = registration_parse(evidence_payload()).evidence

    def register(_):
        return version_register_with_card(
            actor=contributor, model=model, evidence=evidence, card_sections={}
        ).number

    results = at_once(register)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(results) == list(range(2, THREADS + 2))
    assert sorted(model.versions.values_list("number", flat=True)) == list(range(1, THREADS + 2))
    assert AuditEvent.objects.filter(action="version.registered").count() == THREADS + 1
    assert_chain_verifies()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_keeps_one_linear_chain_under_simultaneous_writers(db):
    people = [user_with_roles(f"writer{index}", Role.VIEWER) for index in range(12)]
    before = AuditEvent.objects.count()

    def write(index):
        for step in range(5):
            audit_record(actor=people[index], action="test.recorded", data={"writer": index, "step": step})
        # And some inside a longer transaction, as the services write them.
        with transaction.atomic():
            for step in range(5, 8):
                audit_record(
                    actor=people[index], action="test.recorded", data={"writer": index, "step": step}
                )

    results = at_once(write, count=12)

    assert not [r for r in results if isinstance(r, BaseException)], results
    total = before + 12 * 8
    assert list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True)) == list(
        range(1, total + 1)
    )
    for index in range(12):
        steps = [e.data["step"] for e in AuditEvent.objects.filter(actor=people[index]).order_by("sequence")]
        assert steps == list(range(8))  # each writer's events in its own order
    assert_chain_verifies()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_creates_a_model_once_when_many_ask_for_the_same_name(contributor):
    results = at_once(lambda _: model_create(actor=contributor, name="churn-predictor"))

    created = [r for r in results if isinstance(r, RegisteredModel)]
    refused = [r for r in results if not isinstance(r, RegisteredModel)]
    assert len(created) == 1
    assert all(
        isinstance(r, InvalidInput)
        and r.errors == {"name": ["A model named 'churn-predictor' already exists."]}
        for r in refused
    ), refused
    assert AuditEvent.objects.filter(action="model.created").count() == 1
    assert_chain_verifies()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_pipelines_registering_into_the_same_new_model_all_succeed(contributor):
    registration = registration_parse(evidence_payload())

    results = at_once(
        lambda _: version_register_named(
            actor=contributor, model_name="churn-predictor", registration=registration
        )
    )

    assert all(isinstance(r, ModelVersion) for r in results), results
    assert RegisteredModel.objects.filter(name="churn-predictor").count() == 1
    assert sorted(r.number for r in results) == list(range(1, THREADS + 1))
    assert_chain_verifies()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_never_leaves_two_versions_in_production_when_a_rollback_meets_a_promotion(
    model, version, contributor, approver, responder
):
    second = version_register_for_tests(actor=contributor, model=model)
    third = version_register_for_tests(actor=contributor, model=model)
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    version_move(second, Stage.STAGING, Stage.PRODUCTION, actor=contributor)  # v1 is its rollback target
    version_move(third, Stage.STAGING, actor=contributor)

    def load(index):
        return ModelVersion.objects.select_related("model").get(pk=(version.pk, third.pk)[index])

    def move(target):
        if target.pk == version.pk:
            return version_transition(
                version=target, to_stage=Stage.PRODUCTION, actor=responder, reason="INC-1"
            )
        return version_transition(
            version=target,
            to_stage=Stage.PRODUCTION,
            actor=approver,
            reason="ship",
            expected_production=second,
        )

    results = at_once(move, count=2, prepare=load)

    assert sum(not isinstance(r, BaseException) for r in results) == 1, results
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))
    assert ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION).count() == 1
    assert_chain_verifies()


def test_the_database_refuses_a_second_production_version(model, version, contributor):
    # The partial unique index holds even when the one door is bypassed.
    second = version_register_for_tests(actor=contributor, model=model)
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)

    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=second.pk).update(stage=Stage.PRODUCTION)

    assert ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION).count() == 1


def test_the_database_refuses_a_repeated_version_number(model, version, contributor):
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(model=model, number=1, registered_by=contributor)
