"""Pages of the registry. Thin: get the object for this user (or 404), read a selector, render."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from warehouse.accounts.permissions import model_access, models_visible_to
from warehouse.audit.selectors import AuditFilters, audit_event_list
from warehouse.registry.forms import AuditFilterForm, ModelFilterForm
from warehouse.registry.models import RegisteredModel, Stage
from warehouse.registry.selectors import (
    ModelFilters,
    model_filter_choices,
    model_get_for_user,
    model_list_for_user,
    model_page,
    production_overview_for_user,
    version_get_for_user,
    version_page,
)

MODELS_PER_PAGE = 25
EVENTS_PER_PAGE = 50


@login_required
def home(request):
    production = production_overview_for_user(user=request.user)
    visible_names = models_visible_to(request.user, RegisteredModel.objects.all()).values("name")
    recent = audit_event_list(
        visible_model_names=None if request.user.is_superuser else visible_names, filters=AuditFilters()
    )[:10]
    return render(request, "registry/home.html", {"production": production, "recent_events": recent})


@login_required
def model_list(request):
    form = ModelFilterForm(request.GET or None)
    filters = ModelFilters(**form.cleaned_data) if form.is_valid() else ModelFilters()
    paginator = Paginator(model_list_for_user(user=request.user, filters=filters), MODELS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "registry/model_list.html",
        {
            "form": form,
            "page": page,
            "choices": model_filter_choices(user=request.user),
            "stages": Stage.choices,
            "query": query.urlencode(),
        },
    )


@login_required
def model_detail(request, name: str):
    model = model_get_for_user(user=request.user, name=name)
    access = model_access(request.user, model)
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
    sees_everything = request.user.is_superuser or request.user.has_perm("audit.view_auditevent")
    visible_names = None if sees_everything else models_visible_to(request.user, RegisteredModel.objects.all()).values("name")
    events = audit_event_list(visible_model_names=visible_names, filters=filters)
    paginator = Paginator(events, EVENTS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "registry/audit_trail.html",
        {"form": form, "page": page, "query": query.urlencode(), "sees_everything": sees_everything},
    )
