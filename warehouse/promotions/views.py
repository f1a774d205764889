"""Pages of gates and policies. Thin: get the object for this user (or 404), call one service or read a
selector, render or redirect."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from warehouse import clock
from warehouse.errors import Conflict, InvalidInput
from warehouse.numbers import whole_number
from warehouse.promotions.gates.selectors import (
    gate_run_get,
    gate_run_page,
    gate_run_request,
    gate_version_get,
    slice_regression_view,
)
from warehouse.promotions.gates.services import gate_run_start
from warehouse.promotions.models import Decision
from warehouse.promotions.presentation.checks import check_reports
from warehouse.promotions.presentation.slices import slice_page
from warehouse.promotions.requests.queue import review_queue
from warehouse.promotions.requests.selectors import promotion_request_get, request_page
from warehouse.promotions.requests.services import (
    promotion_request_cancel,
    promotion_request_open,
    promotion_request_recheck,
    version_archive,
)
from warehouse.promotions.requests.signoffs import signoff_record
from warehouse.registry.models import Stage
from warehouse.registry.selectors import model_get_with_access

# Seconds between reloads of a gate page while its run is queued or running, for a browser without
# JavaScript (a <noscript> refresh); with it, htmx asks for the page's live part every second instead.
REFRESH_SECONDS = 2


def _render_live(request, *, page: str, live: str, context: dict, is_open: bool):
    """A page with a live part: the whole page, or, asked by htmx (HX-Request), only the live part, the one
    template the page includes. While the gate is open the part carries the address it polls; once closed it
    carries none, and polling stops."""
    context = {
        **context,
        "poll_url": request.get_full_path() if is_open else None,
        "refresh": REFRESH_SECONDS,
    }
    response = render(request, live if request.headers.get("HX-Request") == "true" else page, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- Gates ----------------------------------------------------------------------------------------------


@login_required
@require_POST
def gate_start(request, name: str, number: int):
    """The version page's button: run the gate for the next stage up."""
    version, _ = gate_version_get(user=request.user, name=name, number=number)
    target = request.POST.get("target_stage", "")
    asked_at = clock.now()
    try:
        run = gate_run_start(actor=request.user, version=version, target_stage=target)
    except Conflict as refusal:
        messages.error(request, f"The gate was not started: {refusal.message}")
        return redirect("registry:version", name, number)
    except InvalidInput as error:
        problems = " ".join(problem for found in error.errors.values() for problem in found)
        messages.error(request, f"The gate was not started: {problems or error.message}")
        return redirect("registry:version", name, number)
    stage = Stage(run.target_stage).label
    if run.requested_at < asked_at:
        messages.info(
            request,
            f"A gate for {stage} is already {run.get_state_display().lower()} for {version.identifier} "
            f"(asked by {run.requested_by.get_username()}): here it is.",
        )
    else:
        messages.success(
            request,
            f"Gate run #{run.pk} queued: {version.identifier} is checked against the policy for {stage}.",
        )
    return redirect("promotions:gate-run", name, number, run.pk)


@login_required
@require_GET
def gate_run_detail(request, name: str, number: int, run_id: int):
    version, _ = gate_version_get(user=request.user, name=name, number=number)
    page = gate_run_page(run=gate_run_get(version=version, run_id=run_id))
    slices_url = reverse("promotions:gate-slices", args=[version.model.name, version.number, page.run.pk])
    return _render_live(
        request,
        page="promotions/gate_run.html",
        live="promotions/_gate_run_live.html",
        context={
            "page": page,
            "checks": check_reports(results=page.ordered_results, slices_url=slices_url),
            "run": page.run,
            "version": version,
            "promotion": gate_run_request(run=page.run),
        },
        is_open=page.run.is_open,
    )


@login_required
@require_GET
def gate_run_slices(request, name: str, number: int, run_id: int):
    version, _ = gate_version_get(user=request.user, name=name, number=number)
    page = gate_run_page(run=gate_run_get(version=version, run_id=run_id))
    view = slice_regression_view(
        result=page.slices_result, sort=request.GET.get("sort", ""), verdict=request.GET.get("verdict", "")
    )
    return _render_live(
        request,
        page="promotions/gate_slices.html",
        live="promotions/_gate_slices_live.html",
        context={
            "page": page,
            "run": page.run,
            "version": version,
            "view": view,
            "promotion": gate_run_request(run=page.run),
            "slices": slice_page(view=view, query=request.GET),
        },
        is_open=page.run.is_open,
    )


# --- Promotion requests ---------------------------------------------------------------------------------


def _problems(error: InvalidInput) -> str:
    return " ".join(problem for found in error.errors.values() for problem in found) or error.message


@login_required
@require_POST
def promotion_request_create(request, name: str, number: int):
    """The version page's form: ask for the next stage up, with a justification."""
    version, _ = gate_version_get(user=request.user, name=name, number=number)
    try:
        promotion = promotion_request_open(
            actor=request.user,
            version=version,
            target_stage=request.POST.get("target_stage", ""),
            justification=request.POST.get("justification", ""),
        )
    except (Conflict, InvalidInput) as error:
        why = error.message if isinstance(error, Conflict) else _problems(error)
        messages.error(request, f"Nothing was requested: {why}")
        return redirect(f"{reverse('registry:version', args=[name, number])}#promotion")
    messages.success(
        request,
        f"Request #{promotion.pk} opened: the gate is checking {version.identifier} for "
        f"{promotion.get_target_stage_display()}.",
    )
    return redirect("promotions:request", name, promotion.pk)


@login_required
@require_GET
def promotion_request_detail(request, name: str, request_id: int):
    model, access = model_get_with_access(user=request.user, name=name)
    promotion = promotion_request_get(model=model, request_id=request_id)
    page = request_page(promotion=promotion, user=request.user, access=access)
    return _render_live(
        request,
        page="promotions/request.html",
        live="promotions/_request_live.html",
        context={
            "page": page,
            "promotion": promotion,
            "version": promotion.version,
            "model": model,
            "run": promotion.gate_run,
            # The requester's own button, but the gate runs again only for who may still request promotion.
            "can_recheck": access.can("registry.request_promotion"),
            "decisions": Decision,
        },
        is_open=promotion.state == "checking",
    )


@login_required
@require_POST
def signoff_create(request, name: str, request_id: int):
    """Approve, reject, or approve despite the gate (override). Refusals are 403 pages, on the record."""
    model, _ = model_get_with_access(user=request.user, name=name)
    promotion = promotion_request_get(model=model, request_id=request_id)
    override = request.POST.get("override") == "1"
    looked_at = request.POST.get("gate_run", "")
    try:
        signoff_record(
            actor=request.user,
            promotion=promotion,
            decision=request.POST.get("decision", ""),
            comment=request.POST.get("comment", ""),
            override=override,
            gate_run_id=whole_number(looked_at),
        )
    except Conflict as refusal:
        messages.error(request, refusal.message)
        return redirect("promotions:request", name, request_id)
    except InvalidInput as error:
        messages.error(request, f"Nothing was signed: {_problems(error)}")
        return redirect(f"{reverse('promotions:request', args=[name, request_id])}#sign")
    promotion.refresh_from_db()
    if promotion.state == "approved":
        messages.success(
            request,
            f"Approved: {promotion.version.identifier} is now in {promotion.get_target_stage_display()}.",
        )
    elif promotion.state == "rejected":
        messages.success(request, f"Rejected request #{promotion.pk}; the requester sees your comment.")
    elif promotion.state == "superseded":
        messages.error(
            request, f"Your sign-off was recorded, but the request is superseded: {promotion.closed_reason}"
        )
    else:
        messages.success(request, "Your sign-off is recorded; the policy asks for more before the move.")
    return redirect("promotions:request", name, request_id)


@login_required
@require_POST
def promotion_request_cancel_view(request, name: str, request_id: int):
    model, _ = model_get_with_access(user=request.user, name=name)
    promotion = promotion_request_get(model=model, request_id=request_id)
    try:
        promotion_request_cancel(
            actor=request.user, promotion=promotion, reason=request.POST.get("reason", "")
        )
    except Conflict as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, f"Request #{promotion.pk} is cancelled.")
    return redirect("promotions:request", name, request_id)


@login_required
@require_POST
def promotion_request_recheck_view(request, name: str, request_id: int):
    model, _ = model_get_with_access(user=request.user, name=name)
    promotion = promotion_request_get(model=model, request_id=request_id)
    try:
        promotion_request_recheck(actor=request.user, promotion=promotion)
    except Conflict as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, "The gate runs again; sign-offs count on the new run only.")
    return redirect("promotions:request", name, request_id)


@login_required
@require_POST
def version_archive_view(request, name: str, number: int):
    """Retire a version, with a reason; for the production version, a confirmation that nothing will be
    in production afterwards."""
    version, _ = gate_version_get(user=request.user, name=name, number=number)
    back = f"{reverse('registry:version', args=[name, number])}#archive"
    if version.stage == Stage.PRODUCTION and request.POST.get("confirm_empty_production") != "1":
        messages.error(
            request,
            f"Nothing was archived: confirm that {version.model.name} will have nothing in production.",
        )
        return redirect(back)
    try:
        version_archive(actor=request.user, version=version, reason=request.POST.get("reason", ""))
    except Conflict as refusal:
        messages.error(request, f"Nothing was archived: {refusal.message}")
        return redirect(back)
    except InvalidInput as error:
        messages.error(request, f"Nothing was archived: {_problems(error)}")
        return redirect(back)
    messages.success(request, f"{version.identifier} is archived.")
    return redirect("registry:version", name, number)


@login_required
@require_GET
def review_queue_view(request):
    return render(request, "promotions/queue.html", {"queue": review_queue(user=request.user)})
