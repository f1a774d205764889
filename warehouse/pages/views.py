"""The cross-app screens: home, a model, a version. Each reads what it shows from the selectors of the apps
that own it (registry, audit, promotions, incidents), shapes it for its template, and renders; the
templates only format what they are given."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from warehouse.audit.selectors import AuditFilters, audit_event_list
from warehouse.cards.selectors import card_summary
from warehouse.errors import Conflict
from warehouse.incidents.selectors import incidents_open
from warehouse.pages.charts import slice_chart
from warehouse.promotions.gates.selectors import version_gate_panel
from warehouse.promotions.requests.queue import review_queue
from warehouse.promotions.requests.selectors import (
    model_open_requests,
    requests_superseded_for_requester,
    version_requests_panel,
)
from warehouse.registry.audit_access import audit_visible_model_names
from warehouse.registry.selectors import (
    model_get_with_access,
    model_page,
    production_overview_for_user,
    version_counts_for_user,
    version_get_with_access,
    version_page,
)
from warehouse.tracking.imports import run_import_retry
from warehouse.tracking.selectors import run_import_for_version, run_import_of

HOME_PRODUCTION_ROWS = 50
HOME_RECENT_EVENTS = 12
HOME_QUEUE_ROWS = 10
HOME_INCIDENT_ROWS = 10


@login_required
def home(request):
    shown = HOME_PRODUCTION_ROWS + 1
    production = list(production_overview_for_user(user=request.user, rows=shown)[:shown])
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
            **_import_panel(version, access),
        },
    )


# Seconds between reloads of the version page while its evidence is being imported, for a browser without
# JavaScript; with it, htmx asks for the import panel alone every second.
IMPORT_REFRESH_SECONDS = 2


def _import_panel(version, access, run_import=None) -> dict:
    run_import = run_import or run_import_for_version(version=version)
    is_open = run_import is not None and run_import.open
    return {
        "run_import": run_import,
        "can_register": access.can("registry.register_version"),
        "import_poll_url": (
            reverse("registry:version-import", args=[version.model.name, version.number]) if is_open else None
        ),
        "refresh": IMPORT_REFRESH_SECONDS,
    }


@login_required
def version_import_live(request, name: str, number: int):
    """The import panel alone, which the version page swaps in place every second while the import runs."""
    version, access = version_get_with_access(user=request.user, name=name, number=number)
    run_import = run_import_of(version=version)  # 404 for a version not registered from a run
    context = {"version": version, "model": version.model, **_import_panel(version, access, run_import)}
    response = render(request, "pages/_version_import.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_POST
def version_import_retry(request, name: str, number: int):
    version, _ = version_get_with_access(user=request.user, name=name, number=number)
    try:
        run_import_retry(actor=request.user, version=version)
    except Conflict as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, "The import is queued again; this page follows it.")
    return redirect(f"{reverse('registry:version', args=[name, number])}#evidence-import")
