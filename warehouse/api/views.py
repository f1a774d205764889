"""REST API v1. Thin: authenticate (see http.py), read, call one service or selector, answer JSON."""

from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from warehouse.api.http import api_endpoint, error_response, read_json
from warehouse.api.openapi import openapi_document
from warehouse.api.serializers import absolute, model_json, version_detail_json, version_summary_json
from warehouse.cards.services import candidate_register_named, registration_parse
from warehouse.errors import InvalidInput
from warehouse.registry.models import Stage
from warehouse.registry.selectors import (
    ModelFilters,
    model_get_for_user,
    model_list_for_user,
    production_lookup,
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


@api_endpoint(methods=("GET",))
def production(request, name: str):
    model = model_get_for_user(user=request.user, name=name)
    answer = production_lookup(model=model)
    if answer is None:
        return error_response(404, "no_production_version", f"{model.name} has no version in production.")
    return JsonResponse(answer)


@api_endpoint(methods=("GET",), public=True)
def openapi(request):
    return JsonResponse(openapi_document())


@csrf_exempt
def not_found(request, path: str = ""):
    """Anything else under /api/v1/: a JSON 404, not the HTML page a program cannot read."""
    return error_response(
        404, "not_found", "No such API endpoint; the routes are listed in /api/v1/openapi.json."
    )
