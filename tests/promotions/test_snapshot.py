"""Loading what a gate looks at: the candidate and production's evidence in a fixed number of queries, the
current card, and the digests of the files the warehouse itself stores, never a file outside its storage."""

import hashlib
import os

import pytest

from tests.factories import version_move, version_register_for_tests
from warehouse.cards.services import card_revise
from warehouse.promotions.gates.snapshot import (
    READ_CHUNK,
    ArtifactFacts,
    MetricFacts,
    SliceFacts,
    sha256_of_file,
    snapshot_load,
    stored_artifact_path,
)
from warehouse.promotions.policies.rules import DEFAULT_RULES
from warehouse.registry.evidence import KNOWN_DIRECTIONS
from warehouse.registry.models import Stage

RULES = DEFAULT_RULES.staging_to_production
QUERIES = 6  # candidate, production, artifacts, metrics, slices, cards


def load(version, target=Stage.PRODUCTION):
    return snapshot_load(version=version, target_stage=target, rules=RULES)


def artifact(name: str, uri: str, sha256: str, kind: str = "weights") -> dict:
    return {"name": name, "kind": kind, "uri": uri, "sha256": sha256, "size_bytes": 10}


@pytest.fixture
def storage(settings, tmp_path):
    root = tmp_path / "artifacts"
    root.mkdir()
    settings.ARTIFACT_STORAGE_ROOT = root
    return root


@pytest.fixture
def in_production(model, contributor):
    other = version_register_for_tests(
        actor=contributor, model=model, metrics={"auc": 0.95, "log_loss": 0.18}, slices=2
    )
    return version_move(other, Stage.STAGING, Stage.PRODUCTION, actor=contributor)


def test_it_reads_the_candidates_evidence(version):
    snapshot = load(version)

    candidate = snapshot.candidate
    assert candidate.identifier == version.identifier
    assert (candidate.has_source_run, candidate.source_run) == (True, "mlflow:run-42")
    assert candidate.artifacts == (
        ArtifactFacts("config.json", "config", "s3://models/fraud/config.json", "cd" * 32),
        ArtifactFacts("model.onnx", "weights", "s3://models/fraud/model.onnx", "ab" * 32),
    )
    assert (candidate.has_evaluation, candidate.dataset) == (True, "payments-holdout@2026-10")
    assert candidate.metrics == {"auc": MetricFacts(0.91, "higher"), "log_loss": MetricFacts(0.21, "lower")}
    assert candidate.slices == {
        ("region=r0", "auc"): SliceFacts(0.8, 100),
        ("region=r1", "auc"): SliceFacts(0.8001, 101),
        ("region=r2", "auc"): SliceFacts(0.8002, 102),
    }
    assert (candidate.latency_p95_ms, candidate.cost_per_1k) == (9.5, 0.0125)
    assert isinstance(candidate.cost_per_1k, float)
    assert snapshot.target_stage == "production"
    assert snapshot.rules == RULES
    assert snapshot.owner == "carol"
    assert snapshot.stored_digests == {}


def test_without_production_there_is_no_baseline(version):
    snapshot = load(version)

    assert (snapshot.baseline, snapshot.baseline_version_id) == (None, None)


def test_the_baseline_is_the_production_version(version, in_production):
    snapshot = load(version)

    assert snapshot.baseline_version_id == in_production.pk
    assert snapshot.baseline.identifier == in_production.identifier
    assert snapshot.baseline.metrics["auc"] == MetricFacts(0.95, "higher")
    assert set(snapshot.baseline.slices) == {("region=r0", "auc"), ("region=r1", "auc")}


def test_the_production_version_is_not_its_own_baseline(in_production):
    assert load(in_production).baseline is None


def test_it_loads_in_a_fixed_number_of_queries(version, in_production, django_assert_num_queries):
    with django_assert_num_queries(QUERIES):
        load(version)


def test_the_number_of_queries_does_not_grow_with_the_evidence(
    model, contributor, in_production, django_assert_num_queries
):
    big = version_register_for_tests(
        actor=contributor,
        model=model,
        slices=200,
        metrics=dict.fromkeys(list(KNOWN_DIRECTIONS)[:30], 0.5),
        card={"task": "t", "known_failures": "k", "owners_contacts": "o"},
    )

    with django_assert_num_queries(QUERIES):
        snapshot = load(big)

    assert len(snapshot.candidate.slices) == 200
    assert len(snapshot.candidate.metrics) == 30
    assert snapshot.candidate.card_sections["owners_contacts"] == "o"


def test_it_reads_the_card_sections_of_the_current_revision(version, contributor):
    card_revise(actor=contributor, version=version, sections={"task": "First draft."})
    card_revise(
        actor=contributor,
        version=version,
        sections={"task": "Scores payments.", "known_failures": "New merchants."},
        summary="Second pass",
    )

    assert load(version).candidate.card_sections == {
        "task": "Scores payments.",
        "known_failures": "New merchants.",
    }


def test_a_version_without_a_card_has_no_sections(version):
    assert load(version).candidate.card_sections == {}


def test_an_inactive_owner_reads_as_no_owner(version, model):
    model.owner.is_active = False
    model.owner.save(update_fields=["is_active"])

    assert load(version).owner == ""


# --- files in the warehouse's own storage ---------------------------------------------------------------


def test_it_recomputes_the_digest_of_a_stored_file(model, contributor, storage):
    content = b"onnx weights " * 1000
    (storage / "models" / "fraud").mkdir(parents=True)
    (storage / "models" / "fraud" / "model.onnx").write_bytes(content)
    digest = hashlib.sha256(content).hexdigest()
    uri = "warehouse://models/fraud/model.onnx"
    candidate = version_register_for_tests(
        actor=contributor, model=model, artifacts=[artifact("model.onnx", uri, digest)]
    )

    snapshot = load(candidate)

    assert snapshot.stored_digests == {uri: digest}


def test_it_reports_the_digest_a_changed_file_has_now(model, contributor, storage):
    (storage / "models").mkdir()
    (storage / "models" / "model.onnx").write_bytes(b"swapped after registration")
    uri = "warehouse://models/model.onnx"
    candidate = version_register_for_tests(
        actor=contributor, model=model, artifacts=[artifact("model.onnx", uri, "ab" * 32)]
    )

    snapshot = load(candidate)

    assert snapshot.stored_digests == {uri: hashlib.sha256(b"swapped after registration").hexdigest()}


def test_it_reports_a_missing_stored_file_as_none(model, contributor, storage):
    uri = "warehouse://models/gone.onnx"
    candidate = version_register_for_tests(
        actor=contributor, model=model, artifacts=[artifact("gone.onnx", uri, "ab" * 32)]
    )

    assert load(candidate).stored_digests == {uri: None}


def test_it_reports_a_uri_naming_a_folder_as_no_file(model, contributor, storage):
    (storage / "models").mkdir()
    uri = "warehouse://models/"
    candidate = version_register_for_tests(
        actor=contributor, model=model, artifacts=[artifact("model.onnx", uri, "ab" * 32)]
    )

    assert load(candidate).stored_digests == {uri: None}


def test_it_never_opens_files_outside_the_warehouse(version, storage):
    # The fixture's artifacts are on s3://: stored, shown, never fetched.
    assert load(version).stored_digests == {}


def test_it_hashes_a_file_larger_than_one_read(tmp_path):
    path = tmp_path / "big.bin"
    content = os.urandom(READ_CHUNK * 2 + 123)
    path.write_bytes(content)

    assert sha256_of_file(path) == hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize(
    "uri",
    [
        "warehouse://models/../../etc/passwd",
        "warehouse://models/%2e%2e/%2e%2e/etc/passwd",
        "warehouse://models/%252e%252e/x",  # decoded once here: a file literally named %2e%2e, inside
        "warehouse://../etc/passwd",
        "warehouse://models/%00.onnx",
        "warehouse://models/" + "a" * 5000,
    ],
)
def test_a_stored_artifact_path_never_leaves_the_storage_root(storage, uri):
    path = stored_artifact_path(uri)

    assert path is None or path.is_relative_to(storage.resolve())


def test_a_stored_artifact_path_refuses_walking_out(storage):
    assert stored_artifact_path("warehouse://models/../../etc/passwd") is None
    assert stored_artifact_path("warehouse://../etc/passwd") is None
    assert stored_artifact_path("warehouse://models/%00.onnx") is None


def test_a_stored_artifact_path_does_not_follow_a_symlink_out(storage, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("not yours")
    (storage / "models").mkdir()
    (storage / "models" / "link.onnx").symlink_to(outside)

    assert stored_artifact_path("warehouse://models/link.onnx") is None


def test_a_stored_artifact_path_names_the_file_inside_the_root(storage):
    assert stored_artifact_path("warehouse://models/fraud/model%20v2.onnx") == (
        storage.resolve() / "models" / "fraud" / "model v2.onnx"
    )
    assert stored_artifact_path("WAREHOUSE://models/a.onnx") == storage.resolve() / "models" / "a.onnx"


@pytest.mark.parametrize(
    "uri", ["s3://models/a.onnx", "https://example.com/a.onnx", "file:///etc/passwd", ""]
)
def test_only_warehouse_uris_name_stored_files(storage, uri):
    assert stored_artifact_path(uri) is None
