"""Pages of the registry. Thin: get the object for this user (or 404), read a selector, render."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from warehouse.accounts.permissions import models_visible_to
from warehouse.audit.selectors import AuditFilters, audit_event_list
from warehouse.registry.forms import AUDIT_ACTION_PREFIXES, AuditFilterForm, ModelFilterForm
from warehouse.registry.models import RegisteredModel, Stage
from warehouse.registry.selectors import (
    ModelFilters,
    model_filter_choices,
    model_get_with_access,
    model_list_for_user,
    model_page,
    production_overview_for_user,
    version_counts_for_user,
    version_get_for_user,
    version_page,
)

MODELS_PER_PAGE = 25
EVENTS_PER_PAGE = 50
HOME_PRODUCTION_ROWS = 50
HOME_RECENT_EVENTS = 12


def _visible_model_names(user):
    """None when `user` may read the whole audit trail, else a subquery of the model names they can see."""
    if user.is_superuser or user.has_perm("audit.view_auditevent"):
        return None
    return models_visible_to(user, RegisteredModel.objects.all()).values("name")


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@login_required
def home(request):
    production = list(production_overview_for_user(user=request.user)[: HOME_PRODUCTION_ROWS + 1])
    recent = list(
        audit_event_list(
            visible_model_names=_visible_model_names(request.user),
            filters=AuditFilters(),
            reader_id=request.user.pk,
        )[:HOME_RECENT_EVENTS]
    )
    return render(
        request,
        "registry/home.html",
        {
            "production": production[:HOME_PRODUCTION_ROWS],
            "production_more": len(production) > HOME_PRODUCTION_ROWS,
            "counts": version_counts_for_user(user=request.user),
            "recent_events": recent,
        },
    )


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
def model_detail(request, name: str):
    model, access = model_get_with_access(user=request.user, name=name)
    return render(
        request,
        "registry/model_detail.html",
        {"page": model_page(model=model), "can_register": access.can("registry.register_version")},
    )


@login_required
def version_detail(request, name: str, number: int):
    version = version_get_for_user(user=request.user, name=name, number=number)
    return render(request, "registry/version_detail.html", {"page": version_page(version=version)})


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
    visible_names = _visible_model_names(request.user)
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
