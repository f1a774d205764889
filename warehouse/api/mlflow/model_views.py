"""`/api/2.0/mlflow/registered-models/...`: create, read, search, describe and tag models; the stage
aliases are answered from the real stage and never set here."""

from warehouse.accounts.permissions import models_visible_to
from warehouse.api.mlflow import services
from warehouse.api.mlflow.access import model_for, version_number
from warehouse.api.mlflow.filters import Grammar, filter_parse, filter_q, order_parse
from warehouse.api.mlflow.http import Params, endpoint, invalid, not_found, page_token_of, page_token_read
from warehouse.api.mlflow.shapes import (
    ANSWERED_STAGE_ALIASES,
    STAGE_OF_MLFLOW,
    latest_versions,
    models_annotated,
    models_json,
    newest_staging_number,
    version_json,
    versions_shaped,
)
from warehouse.api.mlflow.warm import production_alias_warm
from warehouse.api.models import MlflowAlias, MlflowModelTag
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage

MODEL_GRAMMAR = Grammar(attributes={"name": ("name", "text")}, tag_model=MlflowModelTag, tag_owner="model")
MODEL_ORDER = {
    "name": "name",
    "creation_timestamp": "created_at",
    "timestamp": "created_at",
    "last_updated_timestamp": "last_updated",
}
MODELS_MAX_RESULTS = 1000


def _one(user, name: str) -> dict:
    return {"registered_model": models_json([model_for(user, name, annotated=True)])[0]}


@endpoint("POST")
def create(request, params: Params) -> dict:
    name = params.text("name", required=True)
    services.mlflow_model_create(
        actor=request.user, name=name, description=params.text("description"), tags=params.tags()
    )
    return _one(request.user, name)


@endpoint("GET")
def get(request, params: Params) -> dict:
    return _one(request.user, params.text("name", required=True))


@endpoint("GET")
def search(request, params: Params) -> dict:
    conditions = filter_parse(params.text("filter"), MODEL_GRAMMAR)
    ordering = order_parse(params.texts("order_by"), MODEL_ORDER, ["name", "pk"])
    max_results = params.integer("max_results", default=100)
    if not 1 <= max_results <= MODELS_MAX_RESULTS:
        raise invalid(f"max_results must be between 1 and {MODELS_MAX_RESULTS}.")
    offset = page_token_read(params.text("page_token"))
    models = models_visible_to(request.user, RegisteredModel.objects.select_related("owner"))
    models = models_annotated(models.filter(filter_q(conditions, MODEL_GRAMMAR))).order_by(*ordering)
    page = list(models[offset : offset + max_results + 1])
    answer: dict = {"registered_models": models_json(page[:max_results])}
    if len(page) > max_results:
        answer["next_page_token"] = page_token_of(offset + max_results)
    return answer


@endpoint("PATCH")
def update(request, params: Params) -> dict:
    name = params.text("name", required=True)
    model = model_for(request.user, name)
    if "description" in params.body:
        services.model_description_set(
            actor=request.user, model=model, description=params.text("description")
        )
    return _one(request.user, name)


@endpoint("DELETE")
def delete(request, params: Params) -> dict:
    model = model_for(request.user, params.text("name", required=True))
    raise services.removal_refused(
        actor=request.user, model=model, version=None, attempted=f"delete {model.name}"
    )


@endpoint("POST")
def rename(request, params: Params) -> dict:
    model = model_for(request.user, params.text("name", required=True))
    raise services.removal_refused(
        actor=request.user,
        model=model,
        version=None,
        attempted=f"rename {model.name}",
        why="A model's name is permanent: serving systems, alerts and pipelines refer to it.",
    )


@endpoint("POST")
def set_tag(request, params: Params) -> dict:
    model = model_for(request.user, params.text("name", required=True))
    key = params.text("key", required=True)
    services.model_tag_set(actor=request.user, model=model, key=key, value=params.text("value"))
    return {}


@endpoint("DELETE")
def delete_tag(request, params: Params) -> dict:
    model = model_for(request.user, params.text("name", required=True))
    services.model_tag_delete(actor=request.user, model=model, key=params.text("key", required=True))
    return {}


@endpoint("POST", "GET")
def get_latest_versions(request, params: Params) -> dict:
    model = model_for(request.user, params.text("name", required=True))
    stages = None
    if params.texts("stages"):
        unknown = [name for name in params.texts("stages") if name.lower() not in STAGE_OF_MLFLOW]
        if unknown:
            raise invalid(
                f"Invalid Model Version stage: {unknown[0]}. Use None, Staging, Production or Archived."
            )
        stages = [STAGE_OF_MLFLOW[name.lower()] for name in params.texts("stages")]
    versions = latest_versions([model], stages)
    staging = next((v.number for v in versions if v.stage == Stage.STAGING), None)
    for version in versions:
        version.model = model
    return {"model_versions": [version_json(v, staging_number=staging) for v in versions]}


@endpoint("GET", "POST", "DELETE", warm=production_alias_warm)
def alias(request, params: Params) -> dict:
    name, alias_name = params.text("name", required=True), params.text("alias", required=True)
    model = model_for(request.user, name)
    if request.method == "POST":
        number = version_number(params)
        version = ModelVersion.objects.filter(model=model, number=number).first()
        if version is None:
            raise not_found(f"Model Version (name={name}, version={number}) not found.")
        version.model = model
        services.alias_set(actor=request.user, version=version, alias=alias_name)
        return {}
    if request.method == "DELETE":
        services.alias_delete(actor=request.user, model=model, alias=alias_name)
        return {}
    return {"model_version": _aliased(model, alias_name)}


def _aliased(model: RegisteredModel, alias_name: str) -> dict:
    """The version an alias names: a stage alias answers from the real stage (production: the production
    version; staging: the newest staging one), any other from what was set."""
    versions = versions_shaped(ModelVersion.objects.filter(model=model))
    if alias_name.lower() in ANSWERED_STAGE_ALIASES:
        version = versions.filter(stage=alias_name.lower()).order_by("-number").first()
    else:
        chosen = MlflowAlias.objects.filter(model=model, alias=alias_name).values("version")
        version = versions.filter(pk__in=chosen).first()
    if version is None:
        raise not_found(f"Registered model alias {alias_name} not found.")
    version.model = model
    staging = None
    if version.stage == Stage.STAGING:
        staging = version.number if alias_name.lower() == "staging" else newest_staging_number(model)
    return version_json(version, staging_number=staging)
