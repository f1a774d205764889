"""The cross-app screens: home, a model, a version. Each reads what it shows from the selectors of the apps
that own it (registry, audit, promotions, incidents), shapes it for its template, and renders; the
templates only format what they are given."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from warehouse.audit.selectors import AuditFilters, audit_event_list
from warehouse.cards.selectors import card_summary
from warehouse.incidents.selectors import incidents_open
from warehouse.pages.charts import slice_chart
from warehouse.promotions.gates.selectors import version_gate_panel
from warehouse.promotions.requests.selectors import (
    model_open_requests,
    requests_superseded_for_requester,
    review_queue,
    version_requests_panel,
)
from warehouse.registry.selectors import (
    audit_visible_model_names,
    model_get_with_access,
    model_page,
    production_overview_for_user,
    version_counts_for_user,
    version_get_with_access,
    version_page,
)

HOME_PRODUCTION_ROWS = 50
HOME_RECENT_EVENTS = 12
HOME_QUEUE_ROWS = 10
HOME_INCIDENT_ROWS = 10


@login_required
def home(request):
    production = list(production_overview_for_user(user=request.user)[: HOME_PRODUCTION_ROWS + 1])
    recent = list(
        audit_event_list(
            visible_model_names=audit_visible_model_names(user=request.user),
            filters=AuditFilters(),
            reader_id=request.user.pk,
        )[:HOME_RECENT_EVENTS]
    )
    return render(
        request,
        "pages/home.html",
        {
            # What is on fire leads the page: firing incidents first, then mitigated ones still open.
            "open_incidents": incidents_open(user=request.user, limit=HOME_INCIDENT_ROWS),
            "production": production[:HOME_PRODUCTION_ROWS],
            "production_more": len(production) > HOME_PRODUCTION_ROWS,
            "counts": version_counts_for_user(user=request.user),
            "recent_events": recent,
            "queue": review_queue(user=request.user, limit=HOME_QUEUE_ROWS),
            # Told where they look first: requests of theirs that a policy or stage change closed.
            "superseded": requests_superseded_for_requester(user=request.user),
        },
    )


@login_required
def model_detail(request, name: str):
    model, access = model_get_with_access(user=request.user, name=name)
    return render(
        request,
        "pages/model_detail.html",
        {
            "page": model_page(model=model),
            "open_requests": model_open_requests(model=model),
            "can_register": access.can("registry.register_version"),
        },
    )


@login_required
def version_detail(request, name: str, number: int):
    version, access = version_get_with_access(user=request.user, name=name, number=number)
    page = version_page(version=version)
    return render(
        request,
        "pages/version_detail.html",
        {
            "page": page,
            "slice_chart": slice_chart(page),
            "card": card_summary(version=version),
            "requests_panel": version_requests_panel(user=request.user, version=version, access=access),
            "gate_panel": version_gate_panel(user=request.user, version=version),
        },
    )
