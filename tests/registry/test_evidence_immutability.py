"""Evidence is immutable (DESIGN invariant 3): the models refuse, the database refuses, and the admin
offers nothing."""

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.urls import reverse

from warehouse.registry.models import (
    Artifact,
    EvaluationMetric,
    EvaluationReport,
    EvidenceChangeRefused,
    PerformanceProfile,
    SliceMetric,
    SourceRun,
)

EVIDENCE = [Artifact, SourceRun, EvaluationReport, EvaluationMetric, SliceMetric, PerformanceProfile]
# A column of each table, and a new value for it.
CHANGES = {
    Artifact: ("uri", "s3://elsewhere/model.onnx"),
    SourceRun: ("run_id", "run-43"),
    EvaluationReport: ("dataset", "easier-holdout"),
    EvaluationMetric: ("value", 0.99),
    SliceMetric: ("value", 0.99),
    PerformanceProfile: ("latency_p95_ms", 1.0),
}
TABLES = [table._meta.db_table for table in EVIDENCE]
# WhiteNoise looks for collected static files that the admin pages here do not need.
ids = [table.__name__ for table in EVIDENCE]


def _one(table, version):
    field = "report__version" if table in (EvaluationMetric, SliceMetric) else "version"
    return table.objects.filter(**{field: version}).first()


@pytest.mark.parametrize("table", EVIDENCE, ids=ids)
def test_it_refuses_to_save_changed_evidence(version, table):
    row = _one(table, version)
    column, value = CHANGES[table]
    before = getattr(row, column)
    setattr(row, column, value)

    with pytest.raises(EvidenceChangeRefused):
        row.save()
    with pytest.raises(EvidenceChangeRefused):
        row.save(update_fields=[column])

    assert getattr(table.objects.get(pk=row.pk), column) == before


@pytest.mark.parametrize("table", EVIDENCE, ids=ids)
def test_it_refuses_to_delete_evidence(version, table):
    row = _one(table, version)

    with pytest.raises(EvidenceChangeRefused):
        row.delete()

    assert table.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("table", EVIDENCE, ids=ids)
def test_it_refuses_queryset_updates_and_deletes(version, table):
    column, value = CHANGES[table]
    count = table.objects.count()

    with pytest.raises(EvidenceChangeRefused):
        table.objects.all().update(**{column: value})
    with pytest.raises(EvidenceChangeRefused):
        table.objects.filter(pk=_one(table, version).pk).delete()

    assert table.objects.count() == count
    assert not table.objects.filter(**{column: value}).exists()


def test_it_refuses_updates_through_a_versions_related_manager(version):
    with pytest.raises(EvidenceChangeRefused):
        version.artifacts.update(uri="s3://elsewhere/model.onnx")
    with pytest.raises(EvidenceChangeRefused):
        version.evaluation.slices.all().delete()


def test_it_never_turns_a_new_row_with_a_stored_pk_into_an_update(version):
    stored = version.artifacts.get(name="model.onnx")
    impostor = Artifact(
        pk=stored.pk,
        version=version,
        name="model.onnx",
        kind="weights",
        uri="s3://attacker/model.onnx",
        sha256="ef" * 32,
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        impostor.save()

    assert Artifact.objects.get(pk=stored.pk).uri == "s3://models/fraud/model.onnx"


@pytest.mark.parametrize("table", TABLES)
def test_the_database_refuses_a_raw_update(version, table):
    with pytest.raises(DatabaseError) as refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET id = id")

    assert "refused" in str(refused.value)
    assert table in str(refused.value)


@pytest.mark.parametrize("table", TABLES)
def test_the_database_refuses_a_raw_delete(version, table):
    with pytest.raises(IntegrityError) as refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")

    assert f"DELETE on {table} is refused" in str(refused.value)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # TRUNCATE cannot run beside a test transaction's pending FK checks
@pytest.mark.parametrize("table", TABLES)
def test_postgres_refuses_a_truncate(version, table):
    with pytest.raises(IntegrityError) as refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table} CASCADE")

    assert "TRUNCATE on" in str(refused.value) and "is refused" in str(refused.value)


@pytest.mark.postgres
@pytest.mark.parametrize("table", TABLES)
def test_the_trigger_names_why_on_postgres(version, table):
    with pytest.raises(IntegrityError) as refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET id = id WHERE id = (SELECT min(id) FROM {table})")

    assert f"warehouse: UPDATE on {table} is refused: evidence is immutable" in str(refused.value)


# --- The admin: versions and evidence are read-only, even for a superuser ----------------------------------


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def test_the_admin_shows_a_version_without_a_save_button(admin_client, version):
    response = admin_client.get(reverse("admin:registry_modelversion_change", args=[version.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="_save"' not in page
    assert 'name="_continue"' not in page
    assert "s3://models/fraud/model.onnx" in page  # the evidence is there to read
    assert reverse("admin:registry_modelversion_delete", args=[version.pk]) not in page


def test_the_admin_refuses_a_posted_change_to_a_version(admin_client, version):
    response = admin_client.post(
        reverse("admin:registry_modelversion_change", args=[version.pk]),
        {"stage": "production", "description": "changed", "_save": "Save"},
    )

    assert response.status_code == 403
    version.refresh_from_db()
    assert (version.stage, version.description) == ("draft", "Retrained on October data.")


def test_the_admin_refuses_to_delete_a_version(admin_client, version):
    url = reverse("admin:registry_modelversion_delete", args=[version.pk])

    assert admin_client.get(url).status_code == 403
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert type(version).objects.filter(pk=version.pk).exists()


def test_the_admin_offers_no_bulk_delete_of_versions(admin_client, version):
    response = admin_client.get(reverse("admin:registry_modelversion_changelist"))

    assert response.status_code == 200
    assert "delete_selected" not in response.content.decode()
    response = admin_client.post(
        reverse("admin:registry_modelversion_changelist"),
        {"action": "delete_selected", "_selected_action": [version.pk], "post": "yes"},
    )
    assert type(version).objects.filter(pk=version.pk).exists()


def test_the_admin_cannot_add_a_version(admin_client, version):
    assert admin_client.get(reverse("admin:registry_modelversion_add")).status_code == 403


@pytest.mark.parametrize("table", [EvaluationMetric, SliceMetric], ids=["EvaluationMetric", "SliceMetric"])
def test_the_admin_shows_metrics_read_only(admin_client, version, table):
    row = _one(table, version)
    change_url = reverse(f"admin:registry_{table._meta.model_name}_change", args=[row.pk])

    page = admin_client.get(change_url)
    refused = admin_client.post(change_url, {"value": "0.99"})

    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert refused.status_code == 403
    assert (
        admin_client.post(
            reverse(f"admin:registry_{table._meta.model_name}_delete", args=[row.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert table.objects.get(pk=row.pk).value == row.value


@pytest.mark.parametrize(
    "table",
    [Artifact, SourceRun, EvaluationReport, PerformanceProfile],
    ids=["Artifact", "SourceRun", "EvaluationReport", "PerformanceProfile"],
)
def test_the_admin_has_no_page_that_edits_other_evidence(admin_client, table):
    from django.contrib import admin

    model_admin = admin.site._registry.get(table)

    assert model_admin is None or not model_admin.has_change_permission(None)
