"""What a gate looks at: the candidate's evidence, its baseline's, and the rules, read once into plain values.

Checks are plain functions of an EvidenceSnapshot, so they can be tested without a database and run
without touching one. Loading is the only I/O: a few queries, and reading the files the warehouse itself
stores (warehouse:// artifacts), and those the apps above lend a reader for (an imported version's files on
its tracking server), to recompute their digests.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings

from warehouse.cards.models import ModelCard
from warehouse.promotions.policies.rules import SectionRules
from warehouse.registry.models import (
    Artifact,
    EvaluationMetric,
    ModelVersion,
    SliceMetric,
    Stage,
)
from warehouse.registry.read_back import artifacts_read_back

READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ArtifactFacts:
    name: str
    kind: str
    uri: str
    sha256: str  # "" when the registration gave none


@dataclass(frozen=True)
class MetricFacts:
    value: float
    direction: str  # "higher" or "lower"


@dataclass(frozen=True)
class SliceFacts:
    value: float
    sample_count: int


@dataclass(frozen=True)
class VersionEvidence:
    identifier: str
    has_source_run: bool = False
    source_run: str = ""  # "mlflow:run-42", for the summary
    artifacts: tuple[ArtifactFacts, ...] = ()
    has_evaluation: bool = False
    dataset: str = ""
    metrics: dict[str, MetricFacts] = field(default_factory=dict)
    slices: dict[tuple[str, str], SliceFacts] = field(default_factory=dict)  # (slice key, metric) → facts
    latency_p95_ms: float | None = None
    cost_per_1k: float | None = None
    card_sections: dict[str, str] = field(default_factory=dict)
    # Registered with only its source (MLflow's registry API): no digests, evaluation or profile yet.
    evidence_pending: bool = False
    source_uri: str = ""
    attach_with: str = ""  # the API call that attaches the evidence

    @property
    def evidence_missing(self) -> str:
        """Why the checks of evidence cannot judge this version, or "" when its evidence is attached."""
        if not self.evidence_pending:
            return ""
        return (
            f"Evidence not attached: the version was registered from {self.source_uri or 'a source'} without "
            f"digests, evaluation or profile; attach it with {self.attach_with}."
        )


@dataclass(frozen=True)
class EvidenceSnapshot:
    candidate: VersionEvidence
    baseline: VersionEvidence | None  # the model's production version, when there is one and it is another
    target_stage: str
    rules: SectionRules
    owner: str = ""  # the model owner's username, "" when the owner is no longer active
    # Digests the worker recomputed from the files it could reach (the warehouse's own storage, an imported
    # version's files on its tracking server): uri → sha256, or None when the file is not there.
    stored_digests: dict[str, str | None] = field(default_factory=dict)
    # Files it should have reached and could not this time: uri → why.
    unreachable_files: dict[str, str] = field(default_factory=dict)
    baseline_version_id: int | None = None


# --- Loading --------------------------------------------------------------------------------------------


def stored_artifact_path(uri: str) -> Path | None:
    """The file a warehouse:// URI names inside the artifact storage, or None for any other URI."""
    parts = urlsplit(uri)
    if parts.scheme.lower() != "warehouse":
        return None
    root = Path(settings.ARTIFACT_STORAGE_ROOT).resolve()
    # uri_validate refused '..' in every spelling at registration; resolving again keeps it true here.
    try:
        path = (root / parts.netloc / unquote(parts.path).lstrip("/")).resolve()
    except (OSError, ValueError, RuntimeError):
        # A NUL byte, a name too long for the file system, a symlink loop: no file the warehouse can read.
        return None
    return path if path.is_relative_to(root) and path != root else None


def sha256_of_file(path: Path) -> str | None:
    """The file's sha256, or None when there is no file to read there (missing, a folder, unreadable)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(READ_CHUNK):
                digest.update(chunk)
    except OSError:
        # Not only FileNotFoundError: `warehouse://models/` names a folder, and a crash here would fail the
        # whole gate run, attempt after attempt, instead of failing the artifacts check once.
        return None
    return digest.hexdigest()


def _artifacts_of(ids: list[int]) -> dict[int, list[ArtifactFacts]]:
    artifacts: dict[int, list[ArtifactFacts]] = {pk: [] for pk in ids}
    for artifact in Artifact.objects.filter(version_id__in=ids).order_by("kind", "name"):
        artifacts[artifact.version_id].append(
            ArtifactFacts(artifact.name, artifact.kind, artifact.uri, artifact.sha256)
        )
    return artifacts


def _metrics_of(ids: list[int]) -> dict[int, dict[str, MetricFacts]]:
    metrics: dict[int, dict[str, MetricFacts]] = {pk: {} for pk in ids}
    for row in EvaluationMetric.objects.filter(report__version_id__in=ids).values(
        "report__version_id", "name", "value", "direction"
    ):
        metrics[row["report__version_id"]][row["name"]] = MetricFacts(row["value"], row["direction"])
    return metrics


def _slices_of(ids: list[int]) -> dict[int, dict[tuple[str, str], SliceFacts]]:
    slices: dict[int, dict[tuple[str, str], SliceFacts]] = {pk: {} for pk in ids}
    for row in SliceMetric.objects.filter(report__version_id__in=ids).values_list(
        "report__version_id", "slice_key", "metric", "value", "sample_count"
    ):
        slices[row[0]][(row[1], row[2])] = SliceFacts(row[3], row[4])
    return slices


def _cards_of(ids: list[int]) -> dict[int, dict[str, str]]:
    return {
        card.version_id: card.current.sections if card.current_id else {}
        for card in ModelCard.objects.filter(version_id__in=ids).select_related("current")
    }


def _cost_per_1k(profile) -> float | None:
    if profile is None or profile.cost_per_1k_predictions is None:
        return None
    return float(profile.cost_per_1k_predictions)


def _evidence_of(versions: list[ModelVersion]) -> dict[int, VersionEvidence]:
    """Evidence of several versions in a fixed number of queries."""
    ids = [version.pk for version in versions]
    artifacts, metrics, slices = _artifacts_of(ids), _metrics_of(ids), _slices_of(ids)
    cards = _cards_of(ids)
    evidence = {}
    for version in versions:
        source_run = getattr(version, "source_run", None)
        evaluation = getattr(version, "evaluation", None)
        profile = getattr(version, "profile", None)
        evidence[version.pk] = VersionEvidence(
            identifier=version.identifier,
            has_source_run=source_run is not None,
            source_run=f"{source_run.tracking_system}:{source_run.run_id}" if source_run else "",
            artifacts=tuple(artifacts[version.pk]),
            has_evaluation=evaluation is not None,
            dataset=str(evaluation) if evaluation else "",
            metrics=metrics[version.pk],
            slices=slices[version.pk],
            latency_p95_ms=profile.latency_p95_ms if profile else None,
            cost_per_1k=_cost_per_1k(profile),
            card_sections=cards.get(version.pk, {}),
            evidence_pending=version.evidence_pending,
            source_uri=version.source_uri,
            attach_with=f"PUT /api/v1/models/{version.model.name}/versions/{version.number}/evidence",
        )
    return evidence


def snapshot_load(*, version: ModelVersion, target_stage: str, rules: SectionRules) -> EvidenceSnapshot:
    """Read the candidate and the model's current production version (its baseline) for a gate."""
    related = ("model", "model__owner", "source_run", "evaluation", "profile")
    candidate = ModelVersion.objects.select_related(*related).get(pk=version.pk)
    baseline = (
        ModelVersion.objects.select_related(*related)
        .filter(model_id=candidate.model_id, stage=Stage.PRODUCTION)
        .exclude(pk=candidate.pk)
        .first()
    )
    evidence = _evidence_of([v for v in (candidate, baseline) if v is not None])
    stored_digests = {}
    for artifact in evidence[candidate.pk].artifacts:
        path = stored_artifact_path(artifact.uri)
        if path is not None or artifact.uri.lower().startswith("warehouse://"):
            stored_digests[artifact.uri] = sha256_of_file(path) if path is not None else None
    read_back = artifacts_read_back(
        version=candidate,
        uris=[a.uri for a in evidence[candidate.pk].artifacts if a.uri not in stored_digests],
    )
    stored_digests.update(read_back.digests)
    owner = candidate.model.owner
    return EvidenceSnapshot(
        candidate=evidence[candidate.pk],
        baseline=evidence[baseline.pk] if baseline is not None else None,
        target_stage=str(target_stage),
        rules=rules,
        owner=owner.get_username() if owner.is_active else "",
        stored_digests=stored_digests,
        unreachable_files=read_back.unreachable,
        baseline_version_id=baseline.pk if baseline is not None else None,
    )
