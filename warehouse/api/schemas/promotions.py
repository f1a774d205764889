"""Promotion requests, sign-offs, archiving and rollback."""

from typing import Literal

from pydantic import Field

from warehouse.api.schemas.answers import Username, VersionId
from warehouse.api.schemas.common import NO_NUL, SOME_TEXT, Answer, Body, Link, Timestamp
from warehouse.api.schemas.policies import MoveUp, PolicyRevisionRef, SignoffRole
from warehouse.promotions.models import Decision, GateState, RequestState
from warehouse.promotions.requests.services import JUSTIFICATION_MAX

ARCHIVE_REASON_MAX = 2000


class PromotionRequestCreate(Body):
    target_stage: MoveUp = Field(
        description="The next stage up: staging for a draft, production for a staging version."
    )
    justification: str = Field(
        max_length=JUSTIFICATION_MAX,
        pattern=SOME_TEXT,
        description="Why the version should move up: reviewers read it first.",
    )


class SignOffCreate(Body):
    decision: Literal[tuple(Decision.values)]
    comment: str = Field(
        "",
        max_length=JUSTIFICATION_MAX,
        pattern=NO_NUL,
        description=(
            "Required to reject (the requester reads it) and to override (the written justification, shown "
            "wherever the version is)."
        ),
    )
    override: bool = Field(
        False, description="Approve despite a gate that did not pass; needs the override permission."
    )
    gate_run: int | None = Field(
        None,
        ge=1,
        description=(
            "The gate run you read. If the gate ran again since, nothing is signed (409 `gate_run_changed`): "
            "a sign-off binds to the run it looked at."
        ),
    )


class PromotionCancel(Body):
    reason: str = Field(
        "",
        pattern=NO_NUL,
        description="Kept with the request (its first 2000 characters). Left out: withdrawn.",
    )


class VersionArchive(Body):
    reason: str = Field(
        max_length=ARCHIVE_REASON_MAX,
        pattern=SOME_TEXT,
        description="Why the version is retired; shown on the stage timeline and audited.",
    )


class Rollback(Body):
    expected_current: int = Field(ge=1, description="The number of the production version you are replacing.")
    reason: str = Field(
        max_length=2000,
        pattern=SOME_TEXT,
        description="Why production is rolled back (the incident, what was seen); audited.",
    )
    incident: int | None = Field(
        None, ge=1, description="The incident about this model that the rollback answers, if any."
    )


class VersionRef(Answer):
    id: VersionId
    version: int = Field(ge=1)
    url: Link
    api_url: Link


class RequestGateRun(Answer):
    """The gate run the request is judged by: the latest one asked for it."""

    id: int = Field(ge=1)
    state: Literal[tuple(GateState.values)]
    policy_revision: PolicyRevisionRef
    url: Link = Field(description="The gate report page, for people.")
    api_url: Link = Field(description="The gate run with its check results.")


class PromotionRequest(Answer):
    id: int = Field(ge=1)
    model: str
    version: VersionRef
    from_stage: Literal["draft", "staging"]
    target_stage: MoveUp
    state: Literal[tuple(RequestState.values)] = Field(
        description=(
            "checking, checks_failed and awaiting_signoff are open; approved (the move was made), rejected, "
            "cancelled and superseded are final."
        )
    )
    justification: str
    requested_by: Username
    created_at: Timestamp
    closed_at: Timestamp | None
    closed_by: str | None = Field(
        description="Username; null while open, and when the warehouse closed it (superseded)."
    )
    closed_reason: str | None
    overridden: bool = Field(
        description="Approved despite a gate that did not pass, by someone holding the override permission."
    )
    override_justification: str | None
    overridden_by: str | None = Field(description="Username.")
    gate_run: RequestGateRun
    url: Link = Field(description="The request's page, for people.")
    api_url: Link


class SignOff(Answer):
    signer: Username
    role: SignoffRole = Field(description="The role signed as.")
    decision: Literal[tuple(Decision.values)]
    comment: str
    override: bool
    gate_run: int = Field(
        ge=1, description="The gate run the signer looked at; only those on the request's current run count."
    )
    created_at: Timestamp


class SignoffsRequired(Answer):
    """What the policy revision of the gate run asks for: how many approvals, from people holding which role
    on the model."""

    count: int = Field(ge=0)
    roles: list[SignoffRole]


class PromotionRequestDetail(PromotionRequest):
    signoffs: list[SignOff] = Field(description="Oldest first.")
    signoffs_required: SignoffsRequired | None = Field(description="null if the revision is unreadable.")
    signoffs_needed: int | None = Field(
        ge=0,
        description=(
            "Approvals still needed on the current gate run; 0 once the request is closed, null if the "
            "policy revision is unreadable."
        ),
    )


class PromotionRequestList(Answer):
    count: int = Field(ge=0)
    results: list[PromotionRequest] = Field(description="Newest first.")


class SignOffRecorded(Answer):
    signoff: SignOff
    promotion_request: PromotionRequestDetail
