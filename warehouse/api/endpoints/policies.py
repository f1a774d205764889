"""Promotion policies and gate runs."""

from django.http import HttpRequest, HttpResponse
from ninja import Router, Status

from warehouse.api.endpoints.common import READ_ERRORS, WRITE_ERRORS, answered_with, model_name, whole
from warehouse.api.examples import EXAMPLE_POLICY_UPDATE
from warehouse.api.schemas.answers import Error
from warehouse.api.schemas.policies import (
    GateRun,
    GateRunDetail,
    GateRunList,
    GateRunRequest,
    Policy,
    PolicyRevised,
    PolicyUpdate,
)
from warehouse.api.schemas.policies import PolicyRevision as PolicyRevisionAnswer
from warehouse.api.serializers import (
    gate_run_json,
    policy_json,
    policy_revision_json,
    superseded_request_json,
)
from warehouse.errors import InvalidInput
from warehouse.promotions.gates.selectors import gate_run_get, gate_run_list, gate_run_page, gate_version_get
from warehouse.promotions.gates.services import gate_run_start
from warehouse.promotions.policies.rules import revision_rules
from warehouse.promotions.policies.selectors import (
    policy_in_force_read,
    policy_revision_get,
    policy_warnings_read,
)
from warehouse.promotions.policies.services import policy_revise
from warehouse.registry.selectors import model_get_for_user

router = Router(tags=["policies"])

POLICY_PUT = (
    "Nothing is overwritten: the rules become a new revision, in force at once, and later gate runs record "
    "it. All or nothing; every problem is listed in `error.fields` by its path in the body. Session callers "
    "send the CSRF token in the X-CSRFToken header."
)


def _rules_of(revision):
    try:
        return revision_rules(revision)
    except InvalidInput:
        return None


def _policy_answer(request: HttpRequest, model) -> dict:
    revision = policy_in_force_read(model=model)
    warnings = policy_warnings_read(rules=_rules_of(revision), model=model, user=request.user)
    return policy_json(model=model, revision=revision, warnings=warnings)


def _policy_put(request: HttpRequest, model, body: PolicyUpdate) -> dict:
    """Save the revision; the answer is the policy now in force and the requests the revision superseded."""
    try:
        revision = policy_revise(
            actor=request.user,
            model=model,
            rules_data=body.rules.model_dump(exclude_unset=True),
            reason=body.reason,
        )
    except InvalidInput as error:
        # The service names fields inside the rules (`staging_to_production.metric_bars[0].op`); the body
        # nests them under `rules`.
        raise InvalidInput(
            {_in_body(path): found for path, found in error.errors.items()}, error.message
        ) from None
    superseded = [superseded_request_json(promotion) for promotion in revision.superseded_requests]
    return {**_policy_answer(request, model), "superseded": superseded}


def _in_body(path: str) -> str:
    return path if path in ("reason", "body") else f"rules.{path}"


@router.get(
    "/models/{name}/policy",
    response={200: Policy, **READ_ERRORS},
    operation_id="getPolicy",
    summary="The promotion policy that applies to the model",
    description=(
        "The model's own policy revision in force, or the global default's when it has none (`applies`), "
        "with warnings about metric and slice names no version of the model reports."
    ),
    url_name="policy",
)
def policy(request: HttpRequest, name: str = model_name()):
    return _policy_answer(request, model_get_for_user(user=request.user, name=name))


@router.put(
    "/models/{name}/policy",
    response={200: PolicyRevised, **WRITE_ERRORS},
    operation_id="revisePolicy",
    summary="Save new rules as the next revision of the model's policy",
    description=f"Needs the policy admin permission on the model (refusals are audited). {POLICY_PUT}",
    openapi_extra=answered_with(200, examples={"review-board": EXAMPLE_POLICY_UPDATE}),
)
def policy_put(request: HttpRequest, body: PolicyUpdate, name: str = model_name()):
    return _policy_put(request, model_get_for_user(user=request.user, name=name), body)


@router.get(
    "/models/{name}/policy/revisions/{int:number}",
    response={200: PolicyRevisionAnswer, **READ_ERRORS},
    operation_id="getPolicyRevision",
    summary="One revision of the model's own policy",
    url_name="policy-revision",
)
def policy_revision(
    request: HttpRequest, name: str = model_name(), number: int = whole("The revision number.")
):
    model = model_get_for_user(user=request.user, name=name)
    return policy_revision_json(policy_revision_get(model=model, number=number))


@router.get(
    "/policy",
    response={200: Policy, 401: Error},
    operation_id="getGlobalPolicy",
    summary="The global default policy",
    description="What applies to every model without a policy of its own.",
    url_name="global-policy",
)
def global_policy(request: HttpRequest):
    return _policy_answer(request, None)


@router.put(
    "/policy",
    response={200: Policy, 400: Error, 401: Error, 403: Error},
    operation_id="reviseGlobalPolicy",
    summary="Save new rules as the next revision of the global default",
    description=(
        "Superusers only (refusals are audited). Applies at once to every model without its own. "
        f"{POLICY_PUT}"
    ),
    openapi_extra=answered_with(200, examples={"review-board": EXAMPLE_POLICY_UPDATE}),
)
def global_policy_put(request: HttpRequest, body: PolicyUpdate):
    return _policy_put(request, None, body)


@router.get(
    "/policy/revisions/{int:number}",
    response={200: PolicyRevisionAnswer, **READ_ERRORS},
    operation_id="getGlobalPolicyRevision",
    summary="One revision of the global default",
    url_name="global-policy-revision",
)
def global_policy_revision(request: HttpRequest, number: int = whole("The revision number.")):
    return policy_revision_json(policy_revision_get(model=None, number=number))


# --- Gate runs ------------------------------------------------------------------------------------------


@router.get(
    "/models/{name}/versions/{int:number}/gate-runs",
    response={200: GateRunList, **READ_ERRORS},
    operation_id="listGateRuns",
    summary="The version's gate runs, newest first",
    tags=["gates"],
    url_name="gate-runs",
)
def gate_runs(request: HttpRequest, name: str = model_name(), number: int = whole()):
    version, _ = gate_version_get(user=request.user, name=name, number=number)
    runs = gate_run_list(version=version)
    return {"count": len(runs), "results": [gate_run_json(run) for run in runs]}


@router.post(
    "/models/{name}/versions/{int:number}/gate-runs",
    response={202: GateRun, **WRITE_ERRORS, 409: Error},
    operation_id="startGateRun",
    summary="Run the gate for the next stage up",
    description=(
        "Records a gate run and queues it for a worker; the answer does not wait for the checks. Poll the "
        "run's `api_url` until `state` is passed, failed or error. Asking again while a run for the same "
        "stage is queued or running answers that run. If the broker is unreachable the run is still recorded "
        "(`enqueued_at` null) and the sweeper queues it when the broker is back. Needs the permission to "
        "request promotion (refusals are audited). 409 `not_next_stage`: the version is not in the stage "
        "just below `target_stage`."
    ),
    tags=["gates"],
    openapi_extra=answered_with(
        202,
        headers={
            "Location": {"schema": {"type": "string", "format": "uri"}, "description": "The run's URL."}
        },
        examples={"to-production": {"target_stage": "production"}},
    ),
)
def gate_run_post(
    request: HttpRequest,
    response: HttpResponse,
    body: GateRunRequest,
    name: str = model_name(),
    number: int = whole(),
):
    version, _ = gate_version_get(user=request.user, name=name, number=number)
    started = gate_run_start(actor=request.user, version=version, target_stage=body.target_stage)
    answer = gate_run_json(gate_run_get(version=version, run_id=started.pk))
    response["Location"] = answer["api_url"]
    return Status(202, answer)


@router.get(
    "/models/{name}/versions/{int:number}/gate-runs/{int:run_id}",
    response={200: GateRunDetail, **READ_ERRORS},
    operation_id="getGateRun",
    summary="One gate run with its check results",
    tags=["gates"],
    url_name="gate-run",
)
def gate_run_detail(
    request: HttpRequest, name: str = model_name(), number: int = whole(), run_id: int = whole()
):
    version, _ = gate_version_get(user=request.user, name=name, number=number)
    page = gate_run_page(run=gate_run_get(version=version, run_id=run_id))
    return gate_run_json(page.run, results=page.results)
