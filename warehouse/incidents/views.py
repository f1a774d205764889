"""The responder's pages: the jump page an alert links to (`/go/<model>`), incidents, and the rollback.
Thin: get the object for this user (or 404), call one service or read a selector, render or redirect."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_GET, require_POST

from warehouse.errors import Conflict, InvalidInput
from warehouse.incidents.models import IncidentStatus
from warehouse.incidents.rollback import RESPOND, production_rollback
from warehouse.incidents.selectors import incident_get, incident_list, incidents_visible_to, jump_page
from warehouse.numbers import whole_number
from warehouse.registry.models import ModelVersion
from warehouse.registry.selectors import model_get_with_access


def _jump_context(request, model, access, incident=None) -> dict:
    page = jump_page(model=model)
    firing = page.firing[0] if page.firing else None
    about = incident or firing
    return {
        "page": page,
        "model": model,
        "incident": incident,
        "can_rollback": access.can(RESPOND),
        # An incident's page offers the rollback only while it fires: once mitigated or resolved it shows
        # what happened instead (the jump page itself always offers it, to a responder).
        "rollback_closed": incident is not None and not incident.is_firing,
        "reason": (
            f"Incident #{about.pk}: {about.alertname or 'alert'}: {about.summary}"[:2000] if about else ""
        ),
    }


@login_required
@require_GET
def production_jump(request, name: str):
    """Where an alert's link lands: the version in production now, its evidence, card and rollback target."""
    model, access = model_get_with_access(user=request.user, name=name)
    return render(request, "incidents/go.html", _jump_context(request, model, access))


@login_required
@require_POST
def rollback(request, name: str):
    """One confirmed click: roll production back to its recorded target."""
    model, _ = model_get_with_access(user=request.user, name=name)
    number = request.POST.get("expected_current", "")
    number = whole_number(number)
    expected = ModelVersion.objects.filter(model=model, number=number).first() if number is not None else None
    if expected is None:
        messages.error(request, "Nothing was rolled back: say which production version you are replacing.")
        return redirect("incidents:go", name)
    incident = None
    incident_id = whole_number(request.POST.get("incident", ""))
    if incident_id is not None:
        incident = incidents_visible_to(request.user).filter(pk=incident_id, model=model).first()
    try:
        transition = production_rollback(
            actor=request.user,
            model=model,
            expected_current=expected,
            reason=request.POST.get("reason", ""),
            incident=incident,
        )
    except Conflict as refusal:
        messages.error(request, f"Nothing was rolled back: {refusal.message}")
    except InvalidInput as error:
        problems = " ".join(problem for found in error.errors.values() for problem in found)
        messages.error(request, f"Nothing was rolled back: {problems}")
    else:
        mitigated = transition.incidents.filter(mitigated_at__isnull=False).count()
        messages.success(
            request,
            f"Rolled back: v{transition.version.number} is in production again; v{expected.number} is "
            "archived and marked rolled back. Serving systems asking for production get it now."
            + (f" {mitigated} firing incident{pluralize(mitigated)} marked mitigated." if mitigated else ""),
        )
    if incident is not None:
        return redirect("incidents:incident", incident.pk)
    return redirect("incidents:go", name)


@login_required
@require_GET
def incidents(request):
    status = request.GET.get("status", "")
    unmatched = request.GET.get("unmatched") == "1"
    return render(
        request,
        "incidents/list.html",
        {
            "incidents": incident_list(user=request.user, status=status, unmatched=unmatched),
            "status": status if status in IncidentStatus.values else "",
            "unmatched": unmatched,
            "statuses": IncidentStatus.choices,
        },
    )


@login_required
@require_GET
def incident_detail(request, incident_id: int):
    incident = incident_get(user=request.user, incident_id=incident_id)
    context = {"incident": incident}
    if incident.model is not None:
        model, access = model_get_with_access(user=request.user, name=incident.model.name)
        context.update(_jump_context(request, model, access, incident=incident))
    return render(request, "incidents/incident.html", context)
