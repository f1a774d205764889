"""REST API v1. Thin: authenticate (see http.py), read, call one service or selector, answer JSON."""

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from warehouse.api.http import api_endpoint, error_response, method_not_allowed, read_json
from warehouse.api.openapi import CARD_SUMMARY_MAX, openapi_document
from warehouse.api.production import (
    DATABASE_UNAVAILABLE,
    UNREACHABLE,
    Asker,
    Reply,
    SignedIn,
    bearer_caller,
    production_reply,
    production_reply_waiting,
    unauthenticated,
    wait_seconds,
)
from warehouse.api.serializers import (
    absolute,
    card_json,
    gate_run_json,
    model_json,
    policy_json,
    policy_revision_json,
    promotion_json,
    signoff_json,
    version_detail_json,
    version_summary_json,
)
from warehouse.cards.interchange import card_export_huggingface, card_export_toolkit
from warehouse.cards.models import CardRevision, ModelCard
from warehouse.cards.selectors import completeness_of, required_sections_for
from warehouse.cards.services import (
    candidate_register_named,
    card_revise,
    card_sections_parse,
    registration_parse,
)
from warehouse.changes import current_stamp
from warehouse.errors import InvalidInput
from warehouse.incidents.rollback import production_rollback
from warehouse.incidents.selectors import incidents_visible_to
from warehouse.promotions.gates.selectors import gate_run_get, gate_run_list, gate_run_page, gate_version_get
from warehouse.promotions.gates.services import gate_run_start
from warehouse.promotions.models import PromotionRequest, SignOff
from warehouse.promotions.policies.rules import revision_rules
from warehouse.promotions.policies.selectors import (
    policy_in_force_read,
    policy_revision_get,
    policy_warnings_read,
)
from warehouse.promotions.policies.services import policy_revise
from warehouse.promotions.requests.selectors import promotion_request_get
from warehouse.promotions.requests.services import (
    promotion_request_cancel,
    promotion_request_open,
    version_archive,
)
from warehouse.promotions.requests.signoffs import signoff_record
from warehouse.registry.models import ModelVersion, Stage
from warehouse.registry.selectors import (
    ModelFilters,
    model_get_for_user,
    model_list_for_user,
    version_get_for_user,
    version_page,
)

PAGE_SIZE = 50


def _page_number(request) -> int:
    raw = request.GET.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidInput({"page": ["Must be a whole number from 1."]})
    return int(raw)


@api_endpoint(methods=("GET",))
def models(request):
    stage = request.GET.get("stage", "")
    if stage and stage not in Stage.values:
        # A typo must not silently widen the answer to every model.
        raise InvalidInput({"stage": [f"Unknown stage; use one of: {', '.join(Stage.values)}."]})
    filters = ModelFilters(
        search=request.GET.get("search", ""),
        stage=stage,
        team=request.GET.get("team", ""),
        owner=request.GET.get("owner", ""),
    )
    paginator = Paginator(model_list_for_user(user=request.user, filters=filters), PAGE_SIZE)
    page = paginator.get_page(_page_number(request))
    return JsonResponse(
        {
            "count": paginator.count,
            "page": page.number,
            "pages": paginator.num_pages,
            "results": [model_json(model) for model in page.object_list],
        }
    )


@api_endpoint(methods=("GET",))
def model_detail(request, name: str):
    # Through the list's queryset, so the model carries the same counts as in the list.
    model = model_list_for_user(user=request.user).filter(name=name).first()
    if model is None:
        raise Http404("No such model, or you may not see it.")
    return JsonResponse(model_json(model))


@api_endpoint(methods=("GET", "POST"))
def versions(request, name: str):
    if request.method == "POST":
        registration = registration_parse(read_json(request))
        version = candidate_register_named(actor=request.user, model_name=name, registration=registration)
        response = JsonResponse(version_summary_json(version), status=201)
        # The body's `url` is the page for people; Location is this API's resource for the new version.
        response["Location"] = absolute(reverse("api:version", args=[version.model.name, version.number]))
        return response
    model = model_get_for_user(user=request.user, name=name)
    rows = model.versions.select_related("registered_by", "rollback_target").order_by("-number")
    results = []
    for version in rows:
        version.model = model
        results.append(version_summary_json(version))
    return JsonResponse({"count": len(results), "results": results})


@api_endpoint(methods=("GET",))
def version_detail(request, name: str, number: int):
    version = version_get_for_user(user=request.user, name=name, number=number)
    return JsonResponse(version_detail_json(version_page(version=version)))


@csrf_exempt
def production(request, name: str):
    """The serving systems' lookup; see api/production.py. Not through `api_endpoint`: a warm lookup runs
    no query, and authenticating the token goes through what this process remembers of it."""
    if request.method != "GET":
        return method_not_allowed(request, ("GET",))
    try:
        # Most lookups carry no query string: not worth parsing one.
        wait = wait_seconds(request.GET.getlist("wait")) if request.META.get("QUERY_STRING") else 0
    except InvalidInput as error:
        return error_response(400, error.code, error.message, error.errors)
    stamp = current_stamp()
    authorization = request.META.get("HTTP_AUTHORIZATION")
    if authorization:
        asker = Asker(authorization=authorization)
        caller = bearer_caller(authorization, stamp)
    else:
        try:
            user = request.user if request.user.is_authenticated else None
        except UNREACHABLE:
            return _as_response(DATABASE_UNAVAILABLE)
        if user is None:
            return _as_response(
                unauthenticated("Sign in, or send an API token: 'Authorization: Bearer <token>'.")
            )
        asker, caller = Asker(user_id=user.pk), SignedIn(user.pk, user.is_superuser)
    if isinstance(caller, Reply):
        return _as_response(caller)
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH", "")
    if not wait:
        reply = production_reply(
            asker=asker, caller=caller, name=name, if_none_match=if_none_match, stamp=stamp
        )
    else:
        reply = production_reply_waiting(
            asker=asker, caller=caller, name=name, if_none_match=if_none_match, wait=wait
        )
    return _as_response(reply)


# Read by the contract tests, as on the views `api_endpoint` wraps.
production.allowed_methods = ("GET",)


def _as_response(reply: Reply) -> HttpResponse:
    response = HttpResponse(reply.body, status=reply.status, headers=dict(reply.header_items()))
    if not reply.body:
        del response["Content-Type"]
    return response


@api_endpoint(methods=("GET",), public=True)
def openapi(request):
    return JsonResponse(openapi_document())


@csrf_exempt
def not_found(request, path: str = ""):
    """Anything else under /api/v1/: a JSON 404, not the HTML page a program cannot read."""
    return error_response(
        404, "not_found", "No such API endpoint; the routes are listed in /api/v1/openapi.json."
    )


# --- Policies -------------------------------------------------------------------------------------------

POLICY_BODY_FIELDS = ("rules", "reason")


def _policy_body(body) -> tuple[object, str]:
    """The rules and reason of a PUT body; the rules themselves are read by the policy service."""
    if not isinstance(body, dict):
        raise InvalidInput({"body": ['Send an object: {"rules": {...}, "reason": "..."}.']})
    unknown = sorted(set(body) - set(POLICY_BODY_FIELDS))
    if unknown:
        raise InvalidInput({key: ["Unknown field; expected rules and reason."] for key in unknown})
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput({"reason": ["Must be text."]})
    return body.get("rules"), reason or ""


def _in_body(path: str) -> str:
    # The parser names fields inside the rules (`staging_to_production.metric_bars[0].op`); the body nests
    # them under `rules`.
    return path if path in POLICY_BODY_FIELDS or path == "body" else f"rules.{path}"


def _policy_answer(request, model) -> JsonResponse:
    revision = policy_in_force_read(model=model)
    warnings = policy_warnings_read(rules=_rules_of(revision), model=model, user=request.user)
    return JsonResponse(policy_json(model=model, revision=revision, warnings=warnings))


def _rules_of(revision):
    try:
        return revision_rules(revision)
    except InvalidInput:
        return None


def _policy_put(request, model) -> None:
    rules, reason = _policy_body(read_json(request))
    try:
        policy_revise(actor=request.user, model=model, rules_data=rules, reason=reason)
    except InvalidInput as error:
        raise InvalidInput(
            {_in_body(path): found for path, found in error.errors.items()}, error.message
        ) from None


@api_endpoint(methods=("GET", "PUT"))
def policy(request, name: str):
    model = model_get_for_user(user=request.user, name=name)
    if request.method == "PUT":
        _policy_put(request, model)
    return _policy_answer(request, model)


@api_endpoint(methods=("GET",))
def policy_revision(request, name: str, number: int):
    model = model_get_for_user(user=request.user, name=name)
    return JsonResponse(policy_revision_json(policy_revision_get(model=model, number=number)))


@api_endpoint(methods=("GET", "PUT"))
def global_policy(request):
    if request.method == "PUT":
        _policy_put(request, None)
    return _policy_answer(request, None)


@api_endpoint(methods=("GET",))
def global_policy_revision(request, number: int):
    return JsonResponse(policy_revision_json(policy_revision_get(model=None, number=number)))


# --- Gate runs ------------------------------------------------------------------------------------------


@api_endpoint(methods=("GET", "POST"))
def gate_runs(request, name: str, number: int):
    version, _ = gate_version_get(user=request.user, name=name, number=number)
    if request.method == "POST":
        body = read_json(request)
        if not isinstance(body, dict):
            raise InvalidInput({"body": ['Send an object: {"target_stage": "staging"}.']})
        unknown = sorted(set(body) - {"target_stage"})
        if unknown:
            raise InvalidInput({key: ["Unknown field; expected target_stage."] for key in unknown})
        started = gate_run_start(actor=request.user, version=version, target_stage=body.get("target_stage"))
        run = gate_run_get(version=version, run_id=started.pk)
        answer = gate_run_json(run)
        response = JsonResponse(answer, status=202)
        response["Location"] = answer["api_url"]
        return response
    runs = gate_run_list(version=version)
    return JsonResponse({"count": len(runs), "results": [gate_run_json(run) for run in runs]})


@api_endpoint(methods=("GET",))
def gate_run_detail(request, name: str, number: int, run_id: int):
    version, _ = gate_version_get(user=request.user, name=name, number=number)
    page = gate_run_page(run=gate_run_get(version=version, run_id=run_id))
    return JsonResponse(gate_run_json(page.run, results=page.results))


# --- Promotion requests and sign-offs -------------------------------------------------------------------


def _object_body(request, fields: tuple[str, ...], example: str) -> dict:
    """The JSON object of the body, holding no field but `fields`; every value is read by a service."""
    body = read_json(request)
    if not isinstance(body, dict):
        raise InvalidInput({"body": [f"Send an object: {example}."]})
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise InvalidInput({key: [f"Unknown field; expected {', '.join(fields)}."] for key in unknown})
    return body


def _optional_text(body: dict, field: str) -> str:
    value = body.get(field)
    if value is not None and not isinstance(value, str):
        raise InvalidInput({field: ["Must be text."]})
    return value or ""


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


def _signoffs(promotion) -> list[SignOff]:
    return list(
        SignOff.objects.filter(request=promotion).select_related("signer").order_by("created_at", "pk")
    )


def _promotion_get(request, name: str, promotion_id: int):
    model = model_get_for_user(user=request.user, name=name)
    return promotion_request_get(model=model, request_id=promotion_id)


def _promotion_answer(promotion) -> dict:
    return promotion_json(promotion, signoffs=_signoffs(promotion))


@api_endpoint(methods=("GET", "POST"))
def promotions(request, name: str, number: int):
    version, _ = gate_version_get(user=request.user, name=name, number=number)
    if request.method == "POST":
        body = _object_body(
            request,
            ("target_stage", "justification"),
            '{"target_stage": "staging", "justification": "..."}',
        )
        created = promotion_request_open(
            actor=request.user,
            version=version,
            target_stage=body.get("target_stage"),
            justification=body.get("justification"),
        )
        answer = _promotion_answer(promotion_request_get(model=version.model, request_id=created.pk))
        response = JsonResponse(answer, status=201)
        response["Location"] = answer["api_url"]
        return response
    rows = _version_promotions(version)
    return JsonResponse({"count": len(rows), "results": [promotion_json(row) for row in rows]})


@api_endpoint(methods=("GET",))
def promotion_detail(request, name: str, promotion_id: int):
    return JsonResponse(_promotion_answer(_promotion_get(request, name, promotion_id)))


@api_endpoint(methods=("POST",))
def promotion_signoff(request, name: str, promotion_id: int):
    promotion = _promotion_get(request, name, promotion_id)
    body = _object_body(
        request, ("decision", "comment", "override", "gate_run"), '{"decision": "approve", "comment": "..."}'
    )
    override = body.get("override", False)
    if not isinstance(override, bool):
        # "false" is truthy: only a JSON boolean may ask for an override.
        raise InvalidInput({"override": ["Must be true or false."]})
    signoff = signoff_record(
        actor=request.user,
        promotion=promotion,
        decision=body.get("decision"),
        comment=_optional_text(body, "comment"),
        override=override,
        gate_run_id=body.get("gate_run"),
    )
    answer = _promotion_answer(promotion_request_get(model=promotion.model, request_id=promotion.pk))
    return JsonResponse({"signoff": signoff_json(signoff), "promotion_request": answer}, status=201)


@api_endpoint(methods=("POST",))
def promotion_cancel(request, name: str, promotion_id: int):
    promotion = _promotion_get(request, name, promotion_id)
    reason = _optional_text(_object_body(request, ("reason",), '{"reason": "..."}'), "reason")
    promotion_request_cancel(actor=request.user, promotion=promotion, reason=reason)
    return JsonResponse(
        _promotion_answer(promotion_request_get(model=promotion.model, request_id=promotion.pk))
    )


@api_endpoint(methods=("POST",))
def archive(request, name: str, number: int):
    version, _ = gate_version_get(user=request.user, name=name, number=number)
    body = _object_body(request, ("reason",), '{"reason": "..."}')
    version_archive(actor=request.user, version=version, reason=body.get("reason"))
    return JsonResponse(
        version_summary_json(version_get_for_user(user=request.user, name=name, number=number))
    )


# --- Rollback -------------------------------------------------------------------------------------------


def _whole_number(body: dict, field: str, *, required: bool) -> int | None:
    value = body.get(field)
    if value is None and not required:
        return None
    # bool is an int to Python: `true` must not name version 1.
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidInput({field: ["A whole number from 1."]})
    return value


@api_endpoint(methods=("POST",))
def rollback(request, name: str):
    """Put production's recorded rollback target back into production: the same service, permission,
    refusals and audit as the one-click rollback on /go/<model>."""
    model = model_get_for_user(user=request.user, name=name)
    body = _object_body(
        request,
        ("expected_current", "reason", "incident"),
        '{"expected_current": 7, "reason": "INC-42: p99 latency doubled"}',
    )
    number = _whole_number(body, "expected_current", required=True)
    expected = ModelVersion.objects.filter(model=model, number=number).first()
    if expected is None:
        raise InvalidInput({"expected_current": [f"{model.name} has no version {number}."]})
    incident = None
    incident_id = _whole_number(body, "incident", required=False)
    if incident_id is not None:
        incident = incidents_visible_to(request.user).filter(pk=incident_id, model=model).first()
        if incident is None:
            raise InvalidInput({"incident": [f"You may see no incident {incident_id} about {model.name}."]})
    transition = production_rollback(
        actor=request.user,
        model=model,
        expected_current=expected,
        reason=_optional_text(body, "reason"),
        incident=incident,
    )
    # Read back without asking again who may see them: the rollback committed, and is reported as done.
    restored, archived = (
        ModelVersion.objects.select_related("model", "registered_by", "rollback_target").get(pk=pk)
        for pk in (transition.version_id, expected.pk)
    )
    return JsonResponse(
        {"production": version_summary_json(restored), "rolled_back": version_summary_json(archived)}
    )


# --- Model cards ----------------------------------------------------------------------------------------

CARD_BODY_FIELDS = ("sections", "summary")


def _card_revision(version) -> CardRevision | None:
    return (
        CardRevision.objects.filter(pk__in=ModelCard.objects.filter(version=version).values("current"))
        .select_related("author")
        .first()
    )


def _card_body(request) -> tuple[dict[str, str], str]:
    body = _object_body(request, CARD_BODY_FIELDS, '{"sections": {"task": "..."}, "summary": "..."}')
    if "sections" not in body:
        raise InvalidInput({"sections": ["Required: the whole card, as an object of sections."]})
    sections = card_sections_parse(body["sections"], path="sections")
    summary = _optional_text(body, "summary")
    if len(summary) > CARD_SUMMARY_MAX or "\x00" in summary:
        raise InvalidInput({"summary": [f"A line of at most {CARD_SUMMARY_MAX} characters."]})
    return sections, summary


@api_endpoint(methods=("GET", "PUT"))
def card(request, name: str, number: int):
    version = version_get_for_user(user=request.user, name=name, number=number)
    if request.method == "PUT":
        sections, summary = _card_body(request)
        revision = card_revise(actor=request.user, version=version, sections=sections, summary=summary)
        # The author is the caller: no query to read them back.
        revision.author = request.user
    else:
        revision = _card_revision(version)
    completeness = completeness_of(
        revision.sections if revision is not None else {}, *required_sections_for(version)
    )
    return JsonResponse(card_json(version=version, revision=revision, completeness=completeness))


@api_endpoint(methods=("GET",))
def card_export_hf(request, name: str, number: int):
    version = version_get_for_user(user=request.user, name=name, number=number)
    response = HttpResponse(
        card_export_huggingface(version=version), content_type="text/markdown; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{version.model.name}-v{version.number}-README.md"'
    )
    return response


@api_endpoint(methods=("GET",))
def card_export_mct(request, name: str, number: int):
    version = version_get_for_user(user=request.user, name=name, number=number)
    response = JsonResponse(card_export_toolkit(version=version))
    response["Content-Disposition"] = (
        f'attachment; filename="{version.model.name}-v{version.number}-model-card.json"'
    )
    return response
