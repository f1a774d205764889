"""Pages of gates and policies. Thin: get the object for this user (or 404), call one service or read a
selector, render or redirect."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from warehouse import clock
from warehouse.accounts.permissions import permission_denied
from warehouse.errors import Conflict, InvalidInput
from warehouse.numbers import whole_number
from warehouse.promotions.forms import PolicyForm
from warehouse.promotions.gates.selectors import (
    gate_run_get,
    gate_run_page,
    gate_run_request,
    gate_version_get,
    slice_regression_view,
)
from warehouse.promotions.gates.services import gate_run_start
from warehouse.promotions.models import Decision
from warehouse.promotions.policies.selectors import policy_page, policy_revision_document, policy_revision_get
from warehouse.promotions.policies.services import policy_revise
from warehouse.promotions.presentation.checks import check_reports
from warehouse.promotions.presentation.policy import policy_rule_rows, unruled_required
from warehouse.promotions.presentation.slices import slice_page
from warehouse.promotions.requests.selectors import promotion_request_get, request_page, review_queue
from warehouse.promotions.requests.services import (
    promotion_request_cancel,
    promotion_request_open,
    promotion_request_recheck,
    version_archive,
)
from warehouse.promotions.requests.signoffs import signoff_record
from warehouse.registry.models import Stage
from warehouse.registry.selectors import model_get_with_access

# Seconds between reloads of a gate page while its run is queued or running.
REFRESH_SECONDS = 2


def _revision_number(request) -> int | None:
    raw = request.GET.get("revision", "")
    if not raw:
        return None
    number = whole_number(raw)
    if number is None:
        raise Http404("No such policy revision.")
    return number


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
    return render(
        request,
        "promotions/gate_run.html",
        {
            "page": page,
            "checks": check_reports(results=page.ordered_results, slices_url=slices_url),
            "run": page.run,
            "version": version,
            "promotion": gate_run_request(run=page.run),
            "refresh": REFRESH_SECONDS if page.run.is_open else None,
        },
    )


@login_required
@require_GET
def gate_run_slices(request, name: str, number: int, run_id: int):
    version, _ = gate_version_get(user=request.user, name=name, number=number)
    page = gate_run_page(run=gate_run_get(version=version, run_id=run_id))
    view = slice_regression_view(
        result=page.slices_result, sort=request.GET.get("sort", ""), verdict=request.GET.get("verdict", "")
    )
    return render(
        request,
        "promotions/gate_slices.html",
        {
            "page": page,
            "run": page.run,
            "version": version,
            "view": view,
            "promotion": gate_run_request(run=page.run),
            "slices": slice_page(view=view, query=request.GET),
            "refresh": REFRESH_SECONDS if page.run.is_open else None,
        },
    )


# --- Policies -------------------------------------------------------------------------------------------


def _policy_view(request, *, model, can_edit: bool, refuse):
    """The policy page of `model` (None: the global default), and its edit form for those who may."""
    page = policy_page(model=model, user=request.user, revision_number=_revision_number(request))
    form, status = None, 200
    if request.method == "POST":
        # A refusal first, and on the record, whatever the form holds.
        if not can_edit:
            raise refuse()
        form = PolicyForm(request.POST)
        if form.is_valid():
            try:
                revision = policy_revise(
                    actor=request.user, model=model, rules_data=form.rules_data(), reason=form.reason_text
                )
            except InvalidInput as error:
                form.add_service_errors(error.errors)
            else:
                where = model.name if model is not None else "the global default"
                messages.success(request, f"Saved revision {revision.number} of the policy of {where}.")
                return redirect(request.path)
        else:
            form.add_parser_errors()
        status = 400
    elif can_edit:
        form = PolicyForm(rules=page.viewed_rules if page.viewed_rules is not None else None)
    rule_rows = policy_rule_rows(page.viewed_rules) if page.viewed_rules is not None else []
    unruled = unruled_required(page.viewed_rules) if page.viewed_rules is not None else []
    return render(
        request,
        "promotions/policy.html",
        {
            "page": page,
            "rule_rows": rule_rows,
            "unruled": unruled,
            "form": form,
            "can_edit": can_edit,
            "model": model,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def policy_detail(request, name: str):
    model, access = model_get_with_access(user=request.user, name=name)

    def refuse():
        return permission_denied(
            actor=request.user,
            target=model,
            permission="registry.admin_policy",
            attempted=f"edit the promotion policy of {model.name}",
        )

    return _policy_view(request, model=model, can_edit=access.can("registry.admin_policy"), refuse=refuse)


@login_required
@require_http_methods(["GET", "POST"])
def global_policy_detail(request):
    def refuse():
        return permission_denied(
            actor=request.user,
            target=None,
            permission="superuser",
            attempted="edit the global promotion policy",
        )

    return _policy_view(request, model=None, can_edit=request.user.is_superuser, refuse=refuse)


def _revision_json(revision, filename: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(policy_revision_document(revision), indent=2, ensure_ascii=False) + "\n",
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def policy_revision_download(request, name: str, number: int):
    model, _ = model_get_with_access(user=request.user, name=name)
    revision = policy_revision_get(model=model, number=number)
    return _revision_json(revision, f"{model.name}-policy-r{number}.json")


@login_required
@require_GET
def global_policy_revision_download(request, number: int):
    revision = policy_revision_get(model=None, number=number)
    return _revision_json(revision, f"global-policy-r{number}.json")


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
    checking = promotion.state == "checking"
    return render(
        request,
        "promotions/request.html",
        {
            "page": page,
            "promotion": promotion,
            "version": promotion.version,
            "model": model,
            "run": promotion.gate_run,
            # The requester's own button, but the gate runs again only for who may still request promotion.
            "can_recheck": access.can("registry.request_promotion"),
            "decisions": Decision,
            "refresh": REFRESH_SECONDS if checking else None,
        },
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
