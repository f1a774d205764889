"""Pages of the registry: the models list and the audit trail. Thin: read a selector, render. (The home, model
and version pages, which show other apps' parts too, are in warehouse/pages.)"""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from warehouse.accounts.permissions import models_visible_to
from warehouse.audit.selectors import AuditFilters, audit_event_list
from warehouse.registry.forms import AUDIT_ACTION_PREFIXES, AuditFilterForm, ModelFilterForm
from warehouse.registry.models import RegisteredModel, Stage
from warehouse.registry.selectors import (
    ModelFilters,
    audit_visible_model_names,
    model_filter_choices,
    model_list_for_user,
)

MODELS_PER_PAGE = 25
EVENTS_PER_PAGE = 50


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@login_required
def model_list(request):
    form = ModelFilterForm(request.GET or None)
    filters = ModelFilters(**form.cleaned_data) if form.is_valid() else ModelFilters()
    paginator = Paginator(model_list_for_user(user=request.user, filters=filters), MODELS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "registry/model_list.html",
        {
            "form": form,
            "filters": filters,
            "filtered": any((filters.search, filters.stage, filters.team, filters.owner)),
            "page": page,
            "choices": model_filter_choices(user=request.user),
            "stages": Stage.choices,
            "query": _query_without_page(request),
        },
    )


@login_required
def audit_trail(request):
    form = AuditFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    filters = AuditFilters(
        model_name=data.get("model") or "",
        actor=data.get("actor") or "",
        action=data.get("action") or "",
        since=data.get("since"),
        until=data.get("until"),
    )
    visible_names = audit_visible_model_names(user=request.user)
    events = audit_event_list(visible_model_names=visible_names, filters=filters, reader_id=request.user.pk)
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    visible_models = models_visible_to(request.user, RegisteredModel.objects.all())
    return render(
        request,
        "registry/audit_trail.html",
        {
            "form": form,
            "page": page,
            "query": _query_without_page(request),
            "sees_everything": visible_names is None,
            "filtered": any(data.values()) if data else False,
            "model_names": list(visible_models.order_by("name").values_list("name", flat=True)[:500]),
            "action_prefixes": AUDIT_ACTION_PREFIXES,
        },
    )
