"""The model or version a caller names, if they may see it: otherwise RESOURCE_DOES_NOT_EXIST, the same for
a model that does not exist and one the caller may not see (DESIGN invariant 9)."""

from warehouse.accounts.permissions import model_access
from warehouse.api.mlflow.http import Params, invalid, not_found
from warehouse.api.mlflow.shapes import models_annotated, versions_shaped
from warehouse.registry.models import ModelVersion, RegisteredModel


def model_missing(name: str):
    return not_found(f"Registered Model with name={name} not found.")


def model_for(user, name: str, *, annotated: bool = False) -> RegisteredModel:
    models = RegisteredModel.objects.select_related("owner").filter(name=name)
    model = (models_annotated(models) if annotated else models).first()
    if model is None or not model_access(user, model).can_view:
        raise model_missing(name)
    return model


def version_number(params: Params) -> int:
    text = params.text("version", required=True)
    if not text.isascii() or not text.isdigit():
        raise invalid(f"Parameter 'version' must be a version number, not {text!r}.")
    return int(text)


def version_for(user, params: Params) -> ModelVersion:
    name = params.text("name", required=True)
    number = version_number(params)
    model = model_for(user, name)
    version = versions_shaped(ModelVersion.objects.filter(model=model, number=number)).first()
    if version is None:
        raise not_found(f"Model Version (name={name}, version={number}) not found.")
    version.model = model
    return version
