"""Registering a candidate through the service (`registration_parse` + `version_register_named`): all or
nothing, each bad field named by its path, deny by default. The API tests do the same through HTTP."""

import math

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404

from tests.factories import evidence_payload, user_with_roles
from warehouse.audit.chain import chain_verify
from warehouse.audit.models import AuditEvent
from warehouse.audit.selectors import audit_events_in_sequence
from warehouse.cards import services as card_services
from warehouse.cards.models import CardRevision
from warehouse.cards.registration import (
    NewModel,
    registration_parse,
    version_register_named,
    version_register_with_card,
)
from warehouse.errors import InvalidInput
from warehouse.registry.models import (
    Artifact,
    EvaluationMetric,
    EvaluationReport,
    ModelVersion,
    PerformanceProfile,
    RegisteredModel,
    SliceMetric,
    SourceRun,
    Stage,
)
from warehouse.registry.services import version_register

WRITTEN = (
    RegisteredModel,
    ModelVersion,
    Artifact,
    SourceRun,
    EvaluationReport,
    EvaluationMetric,
    SliceMetric,
    PerformanceProfile,
    CardRevision,
    AuditEvent,
)


def written() -> dict[str, int]:
    return {table.__name__: table.objects.count() for table in WRITTEN}


def register(actor, name: str, payload) -> ModelVersion:
    """What every door does: parse the body, then register into the model named in the URL."""
    return version_register_named(actor=actor, model_name=name, registration=registration_parse(payload))


def _with(changes: dict) -> dict:
    """The valid payload with `changes` applied; keys are paths like `artifacts.0.uri`; None drops a key."""
    payload = evidence_payload()
    for dotted, value in changes.items():
        target = payload
        *parents, last = dotted.split(".")
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        elif value is None:
            del target[last]
        else:
            target[last] = value
    return payload


def _uri(uri: str) -> dict:
    return {"artifacts.0.uri": uri}


# (id, changes to the valid payload, the field path the refusal must name)
BAD_INPUT = [
    ("missing-artifacts", {"artifacts": None}, "artifacts"),
    ("empty-artifacts", {"artifacts": []}, "artifacts"),
    ("unknown-artifact-kind", {"artifacts.0.kind": "pickle"}, "artifacts[0].kind"),
    ("sha256-not-hex", {"artifacts.1.sha256": "g" * 64}, "artifacts[1].sha256"),
    ("sha256-too-short", {"artifacts.0.sha256": "ab" * 20}, "artifacts[0].sha256"),
    ("negative-size", {"artifacts.0.size_bytes": -1}, "artifacts[0].size_bytes"),
    ("uri-ftp", _uri("ftp://files.example.com/model.onnx"), "artifacts[0].uri"),
    ("uri-file", _uri("file:///etc/passwd"), "artifacts[0].uri"),
    ("uri-http", _uri("http://models.example.com/model.onnx"), "artifacts[0].uri"),
    ("uri-javascript", _uri("javascript:alert(document.cookie)"), "artifacts[0].uri"),
    ("uri-data", _uri("data:text/html;base64,PHNjcmlwdD4="), "artifacts[0].uri"),
    ("uri-no-host", _uri("s3:///model.onnx"), "artifacts[0].uri"),
    ("uri-no-slashes", _uri("s3:models/model.onnx"), "artifacts[0].uri"),
    ("uri-credentials", _uri("s3://AKIAEXAMPLE:secret@models/model.onnx"), "artifacts[0].uri"),
    ("uri-user", _uri("https://deploy@models.example.com/model.onnx"), "artifacts[0].uri"),
    ("uri-dotdot", _uri("s3://models/fraud/../../secrets/key"), "artifacts[0].uri"),
    ("uri-encoded-dotdot", _uri("s3://models/%2e%2e/secrets"), "artifacts[0].uri"),
    ("uri-double-encoded-dotdot", _uri("s3://models/%252e%252e/secrets"), "artifacts[0].uri"),
    ("uri-dotdot-encoded-slash", _uri("s3://models/fraud/..%2fsecrets"), "artifacts[0].uri"),
    ("uri-dotdot-encoded-backslash", _uri("s3://models/fraud/%2e%2e%5csecrets"), "artifacts[0].uri"),
    ("uri-backslashes", _uri("s3://models\\..\\secrets"), "artifacts[0].uri"),
    ("uri-dot-segment", _uri("gs://models/./model.onnx"), "artifacts[0].uri"),
    ("uri-control-character", _uri("s3://models/model\x07.onnx"), "artifacts[0].uri"),
    ("uri-encoded-control-character", _uri("s3://models/model%00.onnx"), "artifacts[0].uri"),
    ("name-control-character", {"artifacts.0.name": "model\x1b[31m.onnx"}, "artifacts[0].name"),
    (
        "unknown-metric-without-direction",
        {"evaluation.metrics": [{"name": "lift", "value": 1.2}]},
        "evaluation.metrics[0].direction",
    ),
    (
        "metric-nan",
        {"evaluation.metrics.0": {"name": "auc", "value": math.nan}},
        "evaluation.metrics[0].value",
    ),
    (
        "metric-infinity",
        {"evaluation.metrics.1": {"name": "log_loss", "value": math.inf}},
        "evaluation.metrics[1].value",
    ),
    (
        "metric-infinity-text",
        {"evaluation.metrics.0": {"name": "auc", "value": "Infinity"}},
        "evaluation.metrics[0].value",
    ),
    ("metric-bool", {"evaluation.metrics.0": {"name": "auc", "value": True}}, "evaluation.metrics[0].value"),
    (
        "duplicate-metric",
        {"evaluation.metrics": [{"name": "auc", "value": 0.9}, {"name": "auc", "value": 0.8}]},
        "evaluation.metrics[1].name",
    ),
    (
        "duplicate-slice",
        {"evaluation.slices.1": {"slice": "region=r0", "metric": "auc", "value": 0.7, "sample_count": 10}},
        "evaluation.slices[1]",
    ),
    ("slice-key-without-value", {"evaluation.slices.0.slice": "region"}, "evaluation.slices[0].slice"),
    (
        "slice-key-empty-part",
        {"evaluation.slices.0.slice": "region=EU,,device=mobile"},
        "evaluation.slices[0].slice",
    ),
    ("slice-key-without-name", {"evaluation.slices.0.slice": "=EU"}, "evaluation.slices[0].slice"),
    ("slice-zero-samples", {"evaluation.slices.0.sample_count": 0}, "evaluation.slices[0].sample_count"),
    (
        "slice-samples-beyond-the-column",
        {"evaluation.slices.0.sample_count": 2**31},
        "evaluation.slices[0].sample_count",
    ),
    ("percentiles-decreasing", {"profile.latency_p95_ms": 30.0}, "profile.latency_p95_ms"),
    ("unknown-top-level-field", {"colour": "blue"}, "colour"),
    ("unknown-nested-field", {"artifacts.0.md5": "x"}, "artifacts[0].md5"),
    ("source-run-link-javascript", {"source_run.url": "javascript:alert(1)"}, "source_run.url"),
    ("card-unknown-section", {"card": {"task": "Scores payments.", "colour": "blue"}}, "card.colour"),
    ("model-team-unknown", {"model": {"team": "nobody"}}, "model.team"),
]


@pytest.mark.parametrize(
    ("changes", "field"), [case[1:] for case in BAD_INPUT], ids=[case[0] for case in BAD_INPUT]
)
def test_it_refuses_bad_input_naming_the_field_and_writes_nothing(model, contributor, changes, field):
    before = written()

    with pytest.raises(InvalidInput) as refused:
        register(contributor, "fraud-scorer", _with(changes))

    assert field in refused.value.errors, refused.value.errors
    assert all(message for message in refused.value.errors[field])
    assert written() == before


@pytest.mark.parametrize("name", ["Fraud Scorer", "-fraud", "fraud_scorer", "a" * 65, "admin", "new", "api"])
def test_it_refuses_an_invalid_or_reserved_model_name_and_writes_nothing(contributor, name):
    before = written()

    with pytest.raises(InvalidInput) as refused:
        register(contributor, name, evidence_payload())

    assert list(refused.value.errors) == ["model"]
    assert written() == before


def test_it_lists_every_bad_field_at_once(contributor):
    payload = _with(
        {
            "artifacts.0.kind": "pickle",
            "artifacts.1.uri": "ftp://x/y",
            "colour": "blue",
            "evaluation.slices.0.sample_count": 0,
            "card": {"colour": "blue"},
        }
    )

    with pytest.raises(InvalidInput) as refused:
        registration_parse(payload)

    assert set(refused.value.errors) == {
        "artifacts[0].kind",
        "artifacts[1].uri",
        "colour",
        "evaluation.slices[0].sample_count",
        "card.colour",
    }


# --- Registering -------------------------------------------------------------------------------------------


def test_it_registers_the_next_version_with_its_evidence_and_card(model, contributor):
    payload = evidence_payload(slices=4)

    version = register(contributor, "fraud-scorer", payload)

    assert (version.model_id, version.number, version.stage) == (model.pk, 2, Stage.DRAFT)
    assert version.registered_by_id == contributor.pk
    assert sorted(version.artifacts.values_list("name", "kind", "uri", "sha256", "size_bytes")) == sorted(
        (a["name"], a["kind"], a["uri"], a["sha256"], a["size_bytes"]) for a in payload["artifacts"]
    )
    assert version.source_run.run_id == "run-42"
    assert dict(version.evaluation.metrics.values_list("name", "direction")) == {
        "auc": "higher",
        "log_loss": "lower",
    }
    assert version.evaluation.slices.count() == 4
    assert (version.profile.latency_p95_ms, str(version.profile.cost_per_1k_predictions)) == (9.5, "0.012500")
    assert version.card.current.sections["task"] == "Scores card payments for fraud."
    event = AuditEvent.objects.get(action="version.registered", target_id=str(version.pk))
    assert event.data["number"] == 2 and event.data["slice_count"] == 4
    assert event.target_label == "fraud-scorer/v2"


@pytest.mark.parametrize(
    ("team_name", "problem"),
    [("contributor", "No team named 'contributor'."), ("search", "a team you belong to, not 'search'")],
)
def test_it_creates_a_model_only_for_a_team_of_the_creator(contributor, team_name, problem):
    Group.objects.create(name="search")  # a real team, but not the contributor's
    before = written()

    with pytest.raises(InvalidInput) as refused:
        register(contributor, "churn-predictor", evidence_payload(model={"team": team_name}))

    assert problem in refused.value.errors["model.team"][0]
    assert written() == before


def test_it_lets_a_contributor_create_a_model_by_registering(contributor, team):
    version = register(
        contributor, "churn-predictor", evidence_payload(model={"team": "payments", "description": "Churn."})
    )

    model = version.model
    assert (model.name, model.team, model.description, model.owner, version.number) == (
        "churn-predictor",
        team,
        "Churn.",
        contributor,
        1,
    )
    assert [e.action for e in AuditEvent.objects.order_by("sequence")][-3:] == [
        "model.created",
        "version.registered",
        "card.revised",
    ]


def test_it_writes_nothing_when_a_late_step_fails(contributor, monkeypatch):
    def rendering_fails(text):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(card_services, "markdown_to_safe_html", rendering_fails)
    before = written()

    with pytest.raises(RuntimeError):
        register(contributor, "churn-predictor", evidence_payload())

    assert written() == before


def test_it_numbers_versions_without_gaps(model, contributor):
    numbers = [register(contributor, "fraud-scorer", evidence_payload()).number for _ in range(3)]

    assert numbers == [2, 3, 4]


def test_it_stores_large_metric_values_in_a_verifiable_chain(model, contributor):
    # PostgreSQL gives 1e+16 back as 10000000000000000 and -0.0 as 0.0; the chain must not break on that.
    metrics = [
        {"name": "mse", "value": 1e15, "direction": "lower"},
        {"name": "r2", "value": -0.0},
        {"name": "ece", "value": 1e-7},
    ]
    register(contributor, "fraud-scorer", evidence_payload(evaluation={"dataset": "d", "metrics": metrics}))

    report = chain_verify(audit_events_in_sequence())

    assert report.ok, report.problem


@pytest.mark.parametrize("value", [1e16, -1e16, 1.7976931348623157e308])
def test_it_refuses_numbers_no_evidence_holds(model, contributor, value):
    # Beyond 1e15 no metric is meaningful, and the page's deltas and chart scales would overflow.
    payload = evidence_payload(evaluation={"dataset": "d", "metrics": [{"name": "mse", "value": value}]})

    with pytest.raises(InvalidInput) as refused:
        register(contributor, "fraud-scorer", payload)

    assert list(refused.value.errors) == ["evaluation.metrics[0].value"]


def test_it_registers_500_slices_in_a_fixed_number_of_queries(
    model, contributor, django_assert_max_num_queries
):
    registration = registration_parse(evidence_payload(slices=500))
    # As in a request: a user object fresh from the database, no permissions cached on it yet.
    actor = type(contributor).objects.get(pk=contributor.pk)

    with django_assert_max_num_queries(29):  # under 30, on SQLite too, which inserts 199 slices a statement
        version = version_register_with_card(
            actor=actor, model=model, evidence=registration.evidence, card_sections=registration.card_sections
        )

    assert SliceMetric.objects.filter(report__version=version).count() == 500


# --- Who may register ----------------------------------------------------------------------------------


def test_it_refuses_a_viewer(model, viewer):
    before = written()

    with pytest.raises(PermissionDenied):
        register(viewer, "fraud-scorer", evidence_payload())

    denied = AuditEvent.objects.get(action="permission.denied")
    assert (denied.actor_id, denied.model_name, denied.data["permission"]) == (
        viewer.pk,
        "fraud-scorer",
        "registry.register_version",
    )
    assert written() == {**before, "AuditEvent": before["AuditEvent"] + 1}


@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_record_of_a_refused_registration(model, viewer):
    with pytest.raises(PermissionDenied):
        register(viewer, "fraud-scorer", evidence_payload())

    # Committed, not left in a transaction that the refusal rolled back.
    assert not connection.in_atomic_block
    assert AuditEvent.objects.filter(action="permission.denied", actor=viewer).count() == 1
    assert ModelVersion.objects.filter(model=model).count() == 1
    assert chain_verify(audit_events_in_sequence()).ok


def test_it_refuses_to_create_a_model_for_someone_without_the_permission(viewer):
    before = written()

    with pytest.raises(Http404):
        register(viewer, "churn-predictor", evidence_payload())

    assert not RegisteredModel.objects.filter(name="churn-predictor").exists()
    denied = AuditEvent.objects.get(action="permission.denied")
    assert denied.data == {
        "permission": "registry.add_registeredmodel",
        "attempted": "create the model 'churn-predictor' by registering into it",
    }
    assert written() == {**before, "AuditEvent": before["AuditEvent"] + 1}


def test_it_refuses_to_create_a_model_for_someone_who_may_register_but_not_create(db, team):
    registrar = user_with_roles("reggie", teams=(team,))
    registrar.user_permissions.add(*_permissions("register_version"))
    registrar = type(registrar).objects.get(pk=registrar.pk)

    with pytest.raises(PermissionDenied):
        version_register_with_card(
            actor=registrar,
            model=NewModel(name="churn-predictor"),
            evidence=registration_parse(evidence_payload()).evidence,
            card_sections={},
        )

    assert not RegisteredModel.objects.filter(name="churn-predictor").exists()


def test_it_answers_404_to_an_outsider_registering_into_a_model_they_cannot_see(model, outsider):
    before = written()
    last_event = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()

    with pytest.raises(Http404):
        register(outsider, "fraud-scorer", evidence_payload())

    after = written()
    assert {**after, "AuditEvent": 0} == {**before, "AuditEvent": 0}
    # At most the record of the attempt, which names no more than the outsider already typed.
    new_events = AuditEvent.objects.filter(sequence__gt=last_event)
    assert set(new_events.values_list("action", flat=True)) <= {"permission.denied"}
    assert all(event.actor_id == outsider.pk for event in new_events)


def test_it_refuses_an_outsider_calling_the_version_service_directly(model, outsider):
    with pytest.raises(PermissionDenied):
        version_register(
            actor=outsider, model=model, evidence=registration_parse(evidence_payload()).evidence
        )

    assert model.versions.count() == 1


def test_it_lets_a_superuser_register_anywhere(model, superuser):
    version = register(superuser, "fraud-scorer", evidence_payload())

    assert version.number == 2


def _permissions(*codenames):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="registry", codename__in=codenames)
