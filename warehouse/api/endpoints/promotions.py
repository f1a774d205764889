"""Promotion requests and sign-offs."""

from django.http import HttpRequest, HttpResponse
from ninja import Router, Status

from warehouse.api.endpoints.common import (
    READ_ERRORS,
    WRITE_ERRORS,
    answered_with,
    location,
    model_name,
    whole,
)
from warehouse.api.schemas.answers import Error
from warehouse.api.schemas.promotions import (
    PromotionCancel,
    PromotionRequestCreate,
    PromotionRequestDetail,
    PromotionRequestList,
    SignOffCreate,
    SignOffRecorded,
)
from warehouse.api.serializers import promotion_json, signoff_json
from warehouse.promotions.gates.selectors import gate_version_get
from warehouse.promotions.models import PromotionRequest, SignOff
from warehouse.promotions.requests.selectors import promotion_request_get
from warehouse.promotions.requests.services import promotion_request_cancel, promotion_request_open
from warehouse.promotions.requests.signoffs import signoff_record
from warehouse.registry.selectors import model_get_for_user

router = Router(tags=["promotions"])


def promotion_id():
    return whole("The promotion request's id.")


def _version_promotions(version) -> list[PromotionRequest]:
    rows = list(
        PromotionRequest.objects.filter(version=version)
        .select_related(
            "requested_by", "closed_by", "overridden_by", "gate_run__policy_revision__policy__model"
        )
        .order_by("-created_at", "-pk")
    )
    for row in rows:
        row.model, row.version = version.model, version
    return rows


def _promotion_get(request: HttpRequest, name: str, pk: int):
    model = model_get_for_user(user=request.user, name=name)
    return promotion_request_get(model=model, request_id=pk)


def _promotion_answer(promotion) -> dict:
    signoffs = SignOff.objects.filter(request=promotion).select_related("signer").order_by("created_at", "pk")
    return promotion_json(promotion, signoffs=list(signoffs))


@router.get(
    "/models/{name}/versions/{int:number}/promotions",
    response={200: PromotionRequestList, **READ_ERRORS},
    operation_id="listPromotionRequests",
    summary="The version's promotion requests, newest first",
    url_name="promotions",
)
def promotions(request: HttpRequest, name: str = model_name(), number: int = whole()):
    version, _ = gate_version_get(user=request.user, name=name, number=number)
    rows = _version_promotions(version)
    return {"count": len(rows), "results": [promotion_json(row) for row in rows]}


@router.post(
    "/models/{name}/versions/{int:number}/promotions",
    response={201: PromotionRequestDetail, **WRITE_ERRORS, 409: Error},
    operation_id="requestPromotion",
    summary="Ask for the version to move up one stage",
    description=(
        "Records the request with a gate run and queues the run; the answer does not wait for the checks. "
        "The request moves to awaiting_signoff when the gate passes (checks_failed otherwise), and the "
        "approval that completes the sign-offs the policy asks for makes the move. One open request per "
        "version and target stage (409 `request_open`; 409 `not_next_stage` for a move that is not the "
        "next). Needs the permission to request promotion (refusals are audited). Session callers send the "
        "CSRF token in the X-CSRFToken header."
    ),
    openapi_extra=answered_with(
        201,
        headers=location("This API's URL of the request."),
        examples={
            "to-staging": {
                "target_stage": "staging",
                "justification": "Better recall on new merchants; see the slice report.",
            }
        },
    ),
)
def promotion_post(
    request: HttpRequest,
    response: HttpResponse,
    body: PromotionRequestCreate,
    name: str = model_name(),
    number: int = whole(),
):
    version, _ = gate_version_get(user=request.user, name=name, number=number)
    created = promotion_request_open(
        actor=request.user, version=version, target_stage=body.target_stage, justification=body.justification
    )
    answer = _promotion_answer(promotion_request_get(model=version.model, request_id=created.pk))
    response["Location"] = answer["api_url"]
    return Status(201, answer)


@router.get(
    "/models/{name}/promotions/{int:promotion_id}",
    response={200: PromotionRequestDetail, **READ_ERRORS},
    operation_id="getPromotionRequest",
    summary="One promotion request with its gate run and sign-offs",
    url_name="promotion",
)
def promotion_detail(request: HttpRequest, name: str = model_name(), promotion_id: int = promotion_id()):
    return _promotion_answer(_promotion_get(request, name, promotion_id))


@router.post(
    "/models/{name}/promotions/{int:promotion_id}/signoffs",
    response={201: SignOffRecorded, **WRITE_ERRORS, 409: Error},
    operation_id="signOff",
    summary="Approve or reject a promotion request",
    description=(
        "The sign-off is bound to the request's current gate run. Approval needs a passed gate, or "
        "`override` with the override permission and a written justification in `comment`; a rejection needs "
        "a comment and closes the request. The approval that completes what the policy asks for makes the "
        "move in the same transaction (`promotion_request.state` approved). Only people holding the role the "
        "policy names may sign, never the requester nor the version's registrant (four eyes): 403, audited. "
        "409 when the request's state refuses it: `request_closed`, `already_signed`, `gate_run_changed`, "
        "`policy_changed`, `gate_not_passed`, `gate_running`, `override_not_needed`."
    ),
    openapi_extra=answered_with(
        201,
        examples={
            "approve": {"decision": "approve", "comment": "Slices look fine."},
            "reject": {"decision": "reject", "comment": "region=EU regressed; retrain first."},
        },
    ),
    url_name="promotion-signoffs",
)
def promotion_signoff(
    request: HttpRequest, body: SignOffCreate, name: str = model_name(), promotion_id: int = promotion_id()
):
    promotion = _promotion_get(request, name, promotion_id)
    signoff = signoff_record(
        actor=request.user,
        promotion=promotion,
        decision=body.decision,
        comment=body.comment,
        override=body.override,
        gate_run_id=body.gate_run,
    )
    answer = _promotion_answer(promotion_request_get(model=promotion.model, request_id=promotion.pk))
    return Status(201, {"signoff": signoff_json(signoff), "promotion_request": answer})


@router.post(
    "/models/{name}/promotions/{int:promotion_id}/cancel",
    response={200: PromotionRequestDetail, **WRITE_ERRORS, 409: Error},
    operation_id="cancelPromotionRequest",
    summary="Withdraw an open promotion request",
    description="The requester may, and so may a superuser; others get 403 (audited). 409 `request_closed`.",
    openapi_extra=answered_with(200, examples={"withdraw": {"reason": "Found a bug in the features."}}),
    url_name="promotion-cancel",
)
def promotion_cancel(
    request: HttpRequest, body: PromotionCancel, name: str = model_name(), promotion_id: int = promotion_id()
):
    promotion = _promotion_get(request, name, promotion_id)
    promotion_request_cancel(actor=request.user, promotion=promotion, reason=body.reason)
    return _promotion_answer(promotion_request_get(model=promotion.model, request_id=promotion.pk))
