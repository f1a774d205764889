"""The policy pages: a model's promotion policy and the global default's, their history with what each
revision changed, the edit form that warns before it supersedes anyone's open request, and each revision as
a JSON download."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from warehouse.accounts.permissions import permission_denied
from warehouse.errors import InvalidInput
from warehouse.numbers import whole_number
from warehouse.promotions.forms import PolicyForm
from warehouse.promotions.policies.selectors import (
    policy_change_preview,
    policy_page,
    policy_revision_document,
    policy_revision_get,
)
from warehouse.promotions.policies.services import UnseenSupersessions, policy_revise
from warehouse.promotions.presentation.policy import policy_changes, policy_rule_rows, unruled_required
from warehouse.registry.selectors import model_get_with_access

# The confirming button carries the ids of the requests the warning listed.
CONFIRM_FIELD = "confirm_supersede"


def _revision_number(request) -> int | None:
    raw = request.GET.get("revision", "")
    if not raw:
        return None
    number = whole_number(raw)
    if number is None:
        raise Http404("No such policy revision.")
    return number


def _acknowledged(request) -> set[int] | None:
    """The requests the person confirmed superseding, or None when they have not been warned yet."""
    raw = request.POST.get(CONFIRM_FIELD)
    if raw is None:
        return None
    ids = [whole_number(part) for part in raw.split(",") if part.strip()]
    return None if None in ids else set(ids)


def _saved_message(revision, model) -> str:
    where = model.name if model is not None else "the global default"
    superseded = revision.superseded_requests
    if not superseded:
        return f"Saved revision {revision.number} of the policy of {where}. No open request was superseded."
    numbers = ", ".join(f"#{promotion.pk}" for promotion in superseded)
    return (
        f"Saved revision {revision.number} of the policy of {where}. It superseded {len(superseded)} open "
        f"request{'s' if len(superseded) != 1 else ''} ({numbers}) for the moves it changed; their "
        "requesters are told on their home page."
    )


def _policy_save(request, model, form):
    """Save the form, unless that would supersede open requests the person has not confirmed: then the
    requests to confirm. Returns (revision or None, requests to confirm)."""
    acknowledged = _acknowledged(request)
    # Without a reason the save is refused anyway: the service says so, with every other problem.
    if acknowledged is None and form.reason_text.strip():
        superseded = policy_change_preview(model=model, rules_data=form.rules_data())
        if superseded:
            return None, superseded
    try:
        revision = policy_revise(
            actor=request.user,
            model=model,
            rules_data=form.rules_data(),
            reason=form.reason_text,
            acknowledged=acknowledged or set(),
        )
    except UnseenSupersessions as unseen:
        return None, unseen.requests
    return revision, []


def _policy_view(request, *, model, can_edit: bool, refuse):
    """The policy page of `model` (None: the global default), and its edit form for those who may."""
    page = policy_page(model=model, user=request.user, revision_number=_revision_number(request))
    form, status, to_confirm = None, 200, []
    if request.method == "POST":
        # A refusal first, and on the record, whatever the form holds.
        if not can_edit:
            raise refuse()
        form = PolicyForm(request.POST)
        if form.is_valid():
            try:
                revision, to_confirm = _policy_save(request, model, form)
            except InvalidInput as error:
                form.add_service_errors(error.errors)
                status = 400
            else:
                if revision is not None:
                    messages.success(request, _saved_message(revision, model))
                    # The new revision is in force: the page opens at its top (the form posted to #edit, and
                    # a browser keeps that anchor through a redirect without one), on the message and on
                    # what the revision changed.
                    return redirect(f"{request.path}#main")
        else:
            form.add_parser_errors()
            status = 400
    elif can_edit:
        form = PolicyForm(rules=page.viewed_rules if page.viewed_rules is not None else None)
    viewed_rules, previous_rules = page.viewed_rules, page.previous_rules
    return render(
        request,
        "promotions/policy.html",
        {
            "page": page,
            "rule_rows": policy_rule_rows(viewed_rules) if viewed_rules is not None else [],
            "unruled": unruled_required(viewed_rules) if viewed_rules is not None else [],
            "changes": (
                policy_changes(previous_rules, viewed_rules)
                if viewed_rules is not None and previous_rules is not None
                else None
            ),
            "form": form,
            "to_confirm": to_confirm,
            "confirm_value": ",".join(str(promotion.pk) for promotion in to_confirm),
            "confirm_field": CONFIRM_FIELD,
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
