"""`/api/2.0/mlflow/model-versions/...`: read, search, describe and tag versions, and where their
weights are. No MLflow call changes a stage or removes a version: those are refused, audited, with the way
to do it."""

from django.db.models import Max

from warehouse.accounts.permissions import models_visible_to
from warehouse.api.mlflow import services
from warehouse.api.mlflow.access import model_for, version_for
from warehouse.api.mlflow.filters import Grammar, filter_parse, filter_q, order_parse
from warehouse.api.mlflow.http import MlflowError, Params, endpoint, invalid, page_token_of, page_token_read
from warehouse.api.mlflow.shapes import (
    imported_model_directory,
    version_json,
    version_source,
    versions_shaped,
)
from warehouse.api.models import MlflowVersionTag
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage

VERSION_GRAMMAR = Grammar(
    attributes={
        "name": ("model__name", "text"),
        "run_id": ("source_run__run_id", "list"),
        "version_number": ("number", "number"),
    },
    tag_model=MlflowVersionTag,
    tag_owner="version",
)
VERSION_ORDER = {
    "name": "model__name",
    "version_number": "number",
    "creation_timestamp": "created_at",
    "timestamp": "created_at",
    "last_updated_timestamp": "stage_changed_at",
}
VERSIONS_MAX_RESULTS = 10_000


def _staging_numbers(versions: list[ModelVersion]) -> dict[int, int]:
    """The newest staging version of each model among `versions` (one query, none without staging)."""
    models = {version.model_id for version in versions if version.stage == Stage.STAGING}
    if not models:
        return {}
    rows = (
        ModelVersion.objects.filter(model__in=models, stage=Stage.STAGING)
        .values("model")
        .annotate(top=Max("number"))
    )
    return {row["model"]: row["top"] for row in rows}


def _one(version: ModelVersion) -> dict:
    return {
        "model_version": version_json(
            version, staging_number=_staging_numbers([version]).get(version.model_id)
        )
    }


@endpoint("POST")
def create(request, params: Params) -> dict:
    """A Draft whose evidence is pending: answered READY (the client waits for READY), it is on the record
    and visible, but no gate passes it and no stage door admits it until its evidence is attached."""
    model = model_for(request.user, params.text("name", required=True))
    version = services.mlflow_version_create(
        actor=request.user,
        model=model,
        source=params.text("source", required=True),
        run_id=params.text("run_id"),
        description=params.text("description"),
        tags=params.tags(),
    )
    return _one(versions_shaped(ModelVersion.objects.filter(pk=version.pk)).get())


@endpoint("GET")
def get(request, params: Params) -> dict:
    return _one(version_for(request.user, params))


@endpoint("GET")
def search(request, params: Params) -> dict:
    conditions = filter_parse(params.text("filter"), VERSION_GRAMMAR)
    ordering = order_parse(params.texts("order_by"), VERSION_ORDER, ["model__name", "-number"])
    max_results = params.integer("max_results", default=VERSIONS_MAX_RESULTS)
    if not 1 <= max_results <= VERSIONS_MAX_RESULTS:
        raise invalid(f"max_results must be between 1 and {VERSIONS_MAX_RESULTS}.")
    offset = page_token_read(params.text("page_token"))
    visible = models_visible_to(request.user, RegisteredModel.objects.all())
    versions = ModelVersion.objects.filter(model__in=visible).filter(filter_q(conditions, VERSION_GRAMMAR))
    page = list(versions_shaped(versions.order_by(*ordering, "pk"))[offset : offset + max_results + 1])
    staging = _staging_numbers(page[:max_results])
    answer: dict = {
        "model_versions": [
            version_json(v, staging_number=staging.get(v.model_id)) for v in page[:max_results]
        ]
    }
    if len(page) > max_results:
        answer["next_page_token"] = page_token_of(offset + max_results)
    return answer


@endpoint("PATCH")
def update(request, params: Params) -> dict:
    version = version_for(request.user, params)
    if "description" in params.body:
        services.version_description_set(
            actor=request.user, version=version, description=params.text("description")
        )
    return _one(version)


@endpoint("DELETE")
def delete(request, params: Params) -> dict:
    version = version_for(request.user, params)
    raise services.removal_refused(
        actor=request.user, model=version.model, version=version, attempted=f"delete {version.identifier}"
    )


@endpoint("POST")
def transition_stage(request, params: Params) -> dict:
    version = version_for(request.user, params)
    stage = params.text("stage", required=True)
    raise services.stage_refused(
        actor=request.user,
        model=version.model,
        version=version,
        attempted=f"move {version.identifier} to {stage}",
    )


@endpoint("GET")
def get_download_uri(request, params: Params) -> dict:
    version = version_for(request.user, params)
    source = imported_model_directory(version) or version_source(version)
    if not source or source.startswith("warehouse:"):
        raise MlflowError(
            "RESOURCE_DOES_NOT_EXIST",
            f"{version.identifier} has no weights an MLflow client can fetch: read its artifacts through "
            f"/api/v1/models/{version.model.name}/versions/{version.number}.",
        )
    return {"artifact_uri": source}


@endpoint("POST")
def set_tag(request, params: Params) -> dict:
    version = version_for(request.user, params)
    key = params.text("key", required=True)
    services.version_tag_set(actor=request.user, version=version, key=key, value=params.text("value"))
    return {}


@endpoint("DELETE")
def delete_tag(request, params: Params) -> dict:
    version = version_for(request.user, params)
    services.version_tag_delete(actor=request.user, version=version, key=params.text("key", required=True))
    return {}


@endpoint("GET")
def server_info(request, params: Params) -> dict:
    return {}
