"""Models, versions, the production lookup's document, archiving and rollback."""

from typing import Literal

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Header, Query, Router, Status

from warehouse.api import views
from warehouse.api.endpoints.common import (
    READ_ERRORS,
    WRITE_ERRORS,
    answered_with,
    cursor,
    listing_json,
    location,
    model_name,
    page_size,
    whole,
)
from warehouse.api.examples import EXAMPLE_REGISTRATION
from warehouse.api.remembered import list_answer
from warehouse.api.schemas.answers import (
    Error,
    Model,
    ModelList,
    Production,
    RollbackResult,
    VersionDetail,
    VersionList,
    VersionSummary,
)
from warehouse.api.schemas.common import NO_NUL
from warehouse.api.schemas.promotions import Rollback, VersionArchive
from warehouse.api.schemas.registration import Evidence, Registration
from warehouse.api.serializers import absolute, model_json, version_detail_json, version_summary_json
from warehouse.cards.registration import registration_parse, version_register_named
from warehouse.errors import InvalidInput
from warehouse.incidents.rollback import production_rollback
from warehouse.incidents.selectors import incidents_visible_to
from warehouse.promotions.gates.selectors import gate_version_get
from warehouse.promotions.requests.services import version_archive
from warehouse.registry.evidence import evidence_parse
from warehouse.registry.listing import COUNT_LIMIT, Window, model_list_page, version_list_page
from warehouse.registry.models import ModelVersion, Stage
from warehouse.registry.selectors import (
    ModelFilters,
    model_get_for_user,
    models_versions_counted,
    version_get_for_user,
    version_page,
)
from warehouse.registry.services import version_evidence_attach

router = Router()


@router.get(
    "/models",
    response={200: ModelList, 400: Error, 401: Error},
    operation_id="listModels",
    summary="The models the caller may see",
    description=(
        "Sorted by name, `page_size` a page (50 unless asked, at most 100). Follow `next` for the next page "
        "until it is null: each page is found from where the previous one ended (`cursor`), so every page "
        "costs the same however deep, and a model added or removed meanwhile neither repeats nor hides "
        "another.\n\n"
        f"Numbered pages (`page=2`) still work, for the clients that use them: they reach the first "
        f"{COUNT_LIMIT:,} models, and cost more the deeper they go. `count` is exact up to {COUNT_LIMIT:,} "
        "(`count_exact`). A numbered page past the last answers the last page."
    ),
    tags=["models"],
    url_name="models",
)
def models(
    request: HttpRequest,
    search: str = Query(
        "",
        max_length=100,
        pattern=NO_NUL,
        description="Part of the name, the description, the team's name or the owner's username, any case.",
    ),
    stage: Literal["", *Stage.values] = Query("", description="Only models with a version in this stage."),
    team: str = Query("", max_length=150, pattern=NO_NUL, description="Team name."),
    owner: str = Query("", max_length=150, pattern=NO_NUL, description="Owner's username."),
    page_size: int = page_size(),
    cursor: str = cursor(),
    page: int = Query(
        None,
        ge=1,
        description=f"A numbered page (the older, offset form: within the first {COUNT_LIMIT:,} models). "
        "Not with `cursor`.",
    ),
):
    filters = ModelFilters(search=search, stage=stage, team=team, owner=owner)

    def read() -> dict:
        shown = model_list_page(
            user=request.user, filters=filters, window=Window(size=page_size, cursor=cursor, number=page)
        )
        return {
            **listing_json(
                request, shown, [model_json(model) for model in shown.rows], url=reverse("api:models")
            ),
            "page": shown.number,
            "pages": shown.pages,
        }

    return list_answer(request, read)


@router.get(
    "/models/{name}",
    response={200: Model, **READ_ERRORS},
    operation_id="getModel",
    summary="One model",
    tags=["models"],
    url_name="model",
)
def model_detail(request: HttpRequest, name: str = model_name()):
    # With the same counts as the list shows.
    model = model_get_for_user(user=request.user, name=name)
    return model_json(models_versions_counted([model])[0])


@router.get(
    "/models/{name}/versions",
    response={200: VersionList, 400: Error, **READ_ERRORS},
    operation_id="listVersions",
    summary="The model's versions, newest first",
    description=(
        "`page_size` a page (50 unless asked, at most 100): follow `next` until it is null. Every page "
        "costs the same however deep."
    ),
    tags=["versions"],
    url_name="versions",
)
def versions(
    request: HttpRequest, name: str = model_name(), page_size: int = page_size(), cursor: str = cursor()
):
    model = model_get_for_user(user=request.user, name=name)
    shown = version_list_page(model=model, window=Window(size=page_size, cursor=cursor))
    results = [version_summary_json(version) for version in shown.rows]
    return listing_json(request, shown, results, url=reverse("api:versions", args=[model.name]))


@router.post(
    "/models/{name}/versions",
    response={201: VersionSummary, **WRITE_ERRORS, 409: Error},
    operation_id="registerVersion",
    summary="Register a candidate version with its evidence and first card",
    description=(
        "Registers the next version in Draft. When no model has this name yet, it is created first (needs "
        "the permission to create models; `model` then sets its description and team); otherwise the caller "
        "needs the register permission on the model. All or nothing: on any error nothing is written. "
        "Session callers send the CSRF token in the X-CSRFToken header."
    ),
    tags=["versions"],
    openapi_extra=answered_with(
        201,
        headers=location("This API's URL of the new version."),
        examples={"fraud-scorer": EXAMPLE_REGISTRATION},
    ),
)
def register(request: HttpRequest, response: HttpResponse, body: Registration, name: str = model_name()):
    registration = registration_parse(body.model_dump(exclude_unset=True))
    version = version_register_named(actor=request.user, model_name=name, registration=registration)
    # The body's `url` is the page for people; Location is this API's resource for the new version.
    response["Location"] = absolute(reverse("api:version", args=[version.model.name, version.number]))
    return Status(201, version_summary_json(version))


@router.get(
    "/models/{name}/versions/{int:number}",
    response={200: VersionDetail, **READ_ERRORS},
    operation_id="getVersion",
    summary="One version with its evidence",
    description=(
        "Read-only: evidence never changes once written (PUT, PATCH and DELETE answer 405). A version "
        "registered with its evidence pending gets it once through PUT …/evidence."
    ),
    tags=["versions"],
    url_name="version",
)
def version_detail(request: HttpRequest, name: str = model_name(), number: int = whole()):
    version = version_get_for_user(user=request.user, name=name, number=number)
    return version_detail_json(version_page(version=version))


@router.put(
    "/models/{name}/versions/{int:number}/evidence",
    response={200: VersionDetail, **WRITE_ERRORS, 409: Error},
    operation_id="attachEvidence",
    summary="Attach the evidence of a version registered without it",
    description=(
        "For a version registered with only its source (through MLflow's registry API, say): its evidence "
        "is pending, the gate fails it and it cannot leave Draft until this attaches it. The body is the "
        "evidence part of a registration (artifacts, source run, evaluation, profile, description), checked "
        "the same way. Accepted once, while the evidence is pending; then it is immutable like any "
        "version's: 409 `evidence_already_attached` (on the record). A source run must be the run the "
        "version was registered from. Needs the register permission on the model. Answers the version as "
        "GET does. Session callers send the CSRF token in the X-CSRFToken header."
    ),
    tags=["versions"],
    openapi_extra=answered_with(
        200,
        examples={
            "fraud-scorer": {
                key: EXAMPLE_REGISTRATION[key]
                for key in ("artifacts", "source_run", "evaluation", "profile")
                if key in EXAMPLE_REGISTRATION
            }
        },
    ),
    url_name="version-evidence",
)
def evidence_attach(request: HttpRequest, body: Evidence, name: str = model_name(), number: int = whole()):
    version = version_get_for_user(user=request.user, name=name, number=number)
    version_evidence_attach(
        actor=request.user, version=version, evidence=evidence_parse(body.model_dump(exclude_unset=True))
    )
    return version_detail_json(version_page(version=version))


ETAG = {"ETag": {"schema": {"type": "string"}, "description": "A strong ETag of the answer: send it back."}}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait before asking."}}


@router.get(
    "/models/{name}/production",
    response={200: Production, 304: None, 400: Error, 401: Error, 404: Error, 429: Error, 503: Error},
    operation_id="getProduction",
    summary="What is in production for the model",
    description=(
        "The serving systems' lookup: the production version's artifact URIs and digests and its rollback "
        "target. It answers what the last committed stage change wrote, from the moment that change commits; "
        "it is never answered from a cache that could be older.\n\nPolling: send the `ETag` you hold in "
        "`If-None-Match`; while production is unchanged the answer is 304 with no body.\n\nWatching: add "
        "`wait=<seconds>` (up to 60) and the request is held while what you hold is still what there is "
        "(your ETag matches, or nothing is in production and you sent no ETag). It is answered as soon as "
        "production changes (200, or 404 when production is retired), or at the end of the wait with 304 (or "
        "the same 404). Ask again at once with the ETag you now hold.\n\n404 `no_production_version`: "
        "nothing of the model is in production. 429 `too_many_waiting`: the web server holds as many waits "
        "as it may; 429 `locked_out`: too many wrong tokens came from your address lately. 503 "
        "`database_unavailable`: nothing is answered rather than a guess. Each with Retry-After."
    ),
    tags=["serving"],
    url_name="production",
    openapi_extra={
        "responses": {
            200: {"headers": ETAG},
            304: {"headers": ETAG},
            429: {"headers": RETRY_AFTER},
            503: {"headers": RETRY_AFTER},
        }
    },
)
def production(
    request: HttpRequest,
    name: str = model_name(),
    wait: int = Query(
        None, ge=0, le=60, description="Hold the request up to this many seconds for production to change."
    ),
    if_none_match: str = Header(
        None,
        alias="If-None-Match",
        description="The ETag of the answer you hold: 304 while it is still current.",
    ),
):
    # The serving path is a plain Django view, routed before this API (warehouse/urls.py): a warm lookup runs
    # no query and pays for no framework. It is declared here for the document, and answers the same here.
    return views.production(request, name)


@router.post(
    "/models/{name}/versions/{int:number}/archive",
    response={200: VersionSummary, **WRITE_ERRORS, 409: Error},
    operation_id="archiveVersion",
    summary="Retire a version",
    description=(
        "Moves the version to Archived through the one stage-change service. Needs the archive permission; "
        "archiving the production version also needs the approver's, and leaves nothing in production. The "
        "version's open requests, and the model's requests to Production when production changes, are "
        "superseded. 409 `already_in_stage` or `stage_changed`."
    ),
    tags=["versions"],
    openapi_extra=answered_with(200, examples={"retire": {"reason": "Replaced by v8."}}),
    url_name="version-archive",
)
def archive(request: HttpRequest, body: VersionArchive, name: str = model_name(), number: int = whole()):
    version, _ = gate_version_get(user=request.user, name=name, number=number)
    version_archive(actor=request.user, version=version, reason=body.reason)
    return version_summary_json(version_get_for_user(user=request.user, name=name, number=number))


@router.post(
    "/models/{name}/rollback",
    response={200: RollbackResult, **WRITE_ERRORS, 409: Error},
    operation_id="rollBack",
    summary="Roll production back to its recorded rollback target",
    description=(
        "For runbooks and chat-ops: the same service, permission (incident responder), refusals and audit "
        "events as the one-click rollback on `/go/<model>`. `expected_current` is the production version you "
        "are replacing: if production changed meanwhile, nothing happens and the 409 says what did "
        "(`production_changed`, `already_rolled_back`, `no_rollback_target`, `target_evidence_failed`). "
        "Every incident about the model that is firing becomes `mitigated` in the same transaction; "
        "`mitigated` lists them."
    ),
    tags=["serving"],
    url_name="rollback",
    openapi_extra=answered_with(
        200, examples={"incident": {"expected_current": 7, "reason": "INC-42: p99 latency doubled"}}
    ),
)
def rollback(request: HttpRequest, body: Rollback, name: str = model_name()):
    model = model_get_for_user(user=request.user, name=name)
    expected = ModelVersion.objects.filter(model=model, number=body.expected_current).first()
    if expected is None:
        raise InvalidInput({"expected_current": [f"{model.name} has no version {body.expected_current}."]})
    incident = None
    if body.incident is not None:
        incident = incidents_visible_to(request.user).filter(pk=body.incident, model=model).first()
        if incident is None:
            raise InvalidInput({"incident": [f"You may see no incident {body.incident} about {model.name}."]})
    transition = production_rollback(
        actor=request.user, model=model, expected_current=expected, reason=body.reason, incident=incident
    )
    # Read back without asking again who may see them: the rollback committed, and is reported as done.
    restored, archived = (
        ModelVersion.objects.select_related("model", "registered_by", "rollback_target").get(pk=pk)
        for pk in (transition.version_id, expected.pk)
    )
    mitigated = (
        transition.incidents.filter(mitigated_at__isnull=False).order_by("pk").values_list("pk", flat=True)
    )
    return {
        "production": version_summary_json(restored),
        "rolled_back": version_summary_json(archived),
        "mitigated": list(mitigated),
    }
