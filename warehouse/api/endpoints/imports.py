"""Registering a version from a tracked run, and following (or retrying) the import of its evidence."""

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Router, Status

from warehouse.api.endpoints.common import (
    READ_ERRORS,
    WRITE_ERRORS,
    answered_with,
    location,
    model_name,
    whole,
)
from warehouse.api.schemas.answers import Error, VersionSummary
from warehouse.api.schemas.imports import EvidenceImport, RunRegistration
from warehouse.api.serializers import absolute, run_import_json, version_summary_json
from warehouse.registry.selectors import model_get_for_user, version_get_for_user
from warehouse.tracking.imports import run_import_retry, version_register_from_run
from warehouse.tracking.selectors import run_import_of

router = Router()

EXAMPLE = {
    "source_run": {
        "tracking_system": "mlflow",
        "tracking_server": "mlflow-prod",
        "run_id": "4f1c0a2b9d8e4c6f",
    },
    "source": "runs:/4f1c0a2b9d8e4c6f/model",
    "description": "Retrained on November's labels.",
}


@router.post(
    "/models/{name}/versions/from-run",
    response={201: VersionSummary, **WRITE_ERRORS, 409: Error},
    operation_id="registerVersionFromRun",
    summary="Register a candidate version from its tracked run",
    description=(
        "Registers the next version of an existing model in Draft with its evidence pending, and queues its "
        "import: a worker reads the run from the configured tracking server (metrics, tags, dataset "
        "inputs, warehouse/evaluation.json), streams every file of the model through the server's artifact "
        "proxy and records their SHA-256 digests and sizes itself, then writes the evidence once. Follow it "
        "with GET …/versions/<n>/import. Needs the register permission on the model. Session callers send "
        "the CSRF token in the X-CSRFToken header."
    ),
    tags=["versions"],
    openapi_extra=answered_with(
        201, headers=location("This API's URL of the new version."), examples={"from-run": EXAMPLE}
    ),
)
def register_from_run(
    request: HttpRequest, response: HttpResponse, body: RunRegistration, name: str = model_name()
):
    model = model_get_for_user(user=request.user, name=name)
    run = body.source_run
    version = version_register_from_run(
        actor=request.user,
        model=model,
        server_name=run.tracking_server,
        run_id=run.run_id,
        source=body.source or f"runs:/{run.run_id}/model",
        description=body.description or "",
        expected_digests={item.name: item.sha256 for item in body.artifacts or []},
    )
    response["Location"] = absolute(reverse("api:version", args=[model.name, version.number]))
    return Status(201, version_summary_json(version))


@router.get(
    "/models/{name}/versions/{int:number}/import",
    response={200: EvidenceImport, **READ_ERRORS},
    operation_id="getEvidenceImport",
    summary="The import of a version's evidence from its tracked run",
    description="404 for a version that was not registered from a tracked run.",
    tags=["versions"],
)
def import_detail(request: HttpRequest, name: str = model_name(), number: int = whole()):
    version = version_get_for_user(user=request.user, name=name, number=number)
    return run_import_json(run_import_of(version=version))


@router.post(
    "/models/{name}/versions/{int:number}/import/retry",
    response={200: EvidenceImport, 401: Error, 403: Error, 404: Error, 409: Error},
    operation_id="retryEvidenceImport",
    summary="Queue a failed import again",
    description=(
        "For an import that failed (the run was missing, the server down for good, a digest differed…): "
        "queues it again from its first attempt, on the record. 409 while it is queued, importing or "
        "retrying, or once imported. Needs the register permission on the model."
    ),
    tags=["versions"],
)
def import_retry(request: HttpRequest, name: str = model_name(), number: int = whole()):
    version = version_get_for_user(user=request.user, name=name, number=number)
    return run_import_json(run_import_retry(actor=request.user, version=version))
