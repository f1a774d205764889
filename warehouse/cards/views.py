import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Max
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from warehouse.accounts.permissions import models_visible_to, permission_denied
from warehouse.cards.forms import CardForm, RegistrationDocumentForm, RegistrationForm, rendered_preview
from warehouse.cards.interchange import card_import
from warehouse.cards.registration import (
    registration_document_parse,
    registration_of,
    registration_open_to,
    registration_parse,
    version_register_named,
)
from warehouse.cards.selectors import (
    card_page,
    card_revision_get,
    card_revisions,
    card_version_get,
    previous_card_version,
    sections_diff,
)
from warehouse.cards.services import card_prefill, card_revise
from warehouse.errors import Conflict, InvalidInput
from warehouse.numbers import whole_number
from warehouse.registry.menus import model_filter_choices
from warehouse.registry.models import ArtifactKind, ModelVersion, RegisteredModel, Stage
from warehouse.registry.selectors import model_get_with_access, version_get_for_user


@login_required
@require_http_methods(["GET", "POST"])
def version_register(request):
    """The page twin of POST /api/v1/models/<name>/versions: the same parser, the same service. The
    registration comes field by field, or whole as the API's JSON body, pasted or uploaded; `?from=<model>/
    <number>` starts that JSON from the evidence of a version the user may see (404 for any other)."""
    if request.method == "GET" and not registration_open_to(request.user):
        # Said before the form is filled in, not after: a 403 that explains, with nothing to lose.
        return render(request, "cards/version_register.html", {"may_register": False}, status=403)
    as_document = request.method == "POST" and request.POST.get("via") == "document"
    started_from, form, document_form = _register_forms(request, as_document)
    status = 200
    if request.method == "POST":
        outcome = _registered(request, document_form if as_document else form)
        if not isinstance(outcome, int):
            return outcome
        status = outcome
    latest = _latest_versions(request.user)
    return render(
        request,
        "cards/version_register.html",
        {
            "may_register": True,
            "form": form,
            "document_form": document_form,
            "document_open": as_document or started_from is not None,
            "started_from": started_from,
            "model_names": list(latest),
            "latest_versions": [f"{name}/{number}" for name, number in latest.items() if number],
            "suggested_start": _suggested_start(latest, request.GET.get("model", ""), started_from),
            "team_names": model_filter_choices(user=request.user)["teams"],
            "artifact_kinds": ArtifactKind.choices,
        },
        status=status,
    )


def _register_forms(request, as_document: bool):
    """The version started from, if any, and the page's two forms, the posted one bound."""
    started_from, document_initial = _registration_start(request)
    named_model = document_initial.get("model") or request.GET.get("model", "")
    form = RegistrationForm(None if as_document else (request.POST or None), initial={"model": named_model})
    document_form = RegistrationDocumentForm(
        request.POST if as_document else None,
        request.FILES if as_document else None,
        prefix="json",
        initial=document_initial or {"model": named_model},
    )
    return started_from, form, document_form


def _registration_start(request) -> tuple[ModelVersion | None, dict]:
    """The version named by `?from=<model>/<number>` and the JSON form's start from it; 404 if unseen."""
    named = request.GET.get("from")
    if named is None or request.method != "GET":
        return None, {}
    name, _, number = named.strip().partition("/")
    number = whole_number(number.removeprefix("v"))
    if number is None:
        raise Http404("Say which version to start from: ?from=<model>/<number>.")
    version = version_get_for_user(user=request.user, name=name, number=number)
    document = json.dumps(registration_of(version), indent=2, ensure_ascii=False)
    return version, {"model": version.model.name, "document": document}


def _registered(request, form) -> HttpResponse | int:
    """Register what `form` holds (fields, or the API's JSON): the redirect to the new version, or the
    status of the page that shows why not, with nothing written."""
    if not form.is_valid():
        return 400
    try:
        if isinstance(form, RegistrationDocumentForm):
            registration = registration_document_parse(form.body())
        else:
            registration = registration_parse(form.payload())
    except InvalidInput as error:
        form.add_service_errors(error.errors)
        return 400
    try:
        version = version_register_named(
            actor=request.user, model_name=form.cleaned_data["model"], registration=registration
        )
    except InvalidInput as error:
        form.add_service_errors(error.errors, registering=True)
        return 400
    except Http404:
        # The service says only "no such model" (it reveals no names); the page says what to do about it.
        form.add_error(
            "model",
            f"There is no model called {form.cleaned_data['model']!r} that you may see, and you may not "
            "create models. Pick one from the list, or ask an admin for the contributor role.",
        )
        return 404
    messages.success(request, f"Registered {version.identifier} in Draft.")
    return redirect("registry:version", version.model.name, version.number)


def _latest_versions(user) -> dict[str, int | None]:
    """The models `user` can see, by name, with their latest version's number (one query)."""
    visible = models_visible_to(user, RegisteredModel.objects.all()).order_by("name")
    return dict(visible.annotate(latest=Max("versions__number")).values_list("name", "latest")[:1000])


def _suggested_start(latest: dict[str, int | None], model: str, started_from: ModelVersion | None) -> str:
    """What "Start from" offers: the version started from, else the latest of the model named."""
    if started_from is not None:
        return f"{started_from.model.name}/{started_from.number}"
    return f"{model}/{latest[model]}" if latest.get(model) else ""


README_UPLOAD_MAX_BYTES = 1024 * 1024

# --- The card pages -------------------------------------------------------------------------------------


def _card_target(request, name: str, number: int):
    """The version whose card is asked for, and what the reader may do on its model (404 if unseen)."""
    model, access = model_get_with_access(user=request.user, name=name)
    return card_version_get(model=model, number=number), access


def _refuse_edit(request, version):
    return permission_denied(
        actor=request.user,
        target=version.model,
        permission="registry.edit_card",
        attempted=f"edit the card of {version.identifier}",
    )


@login_required
@require_GET
def card_detail(request, name: str, number: int):
    version, access = _card_target(request, name, number)
    page = card_page(version=version)
    return render(
        request,
        "cards/card.html",
        {
            "page": page,
            "version": version,
            "model": version.model,
            "can_edit": access.can("registry.edit_card"),
            "previous": previous_card_version(version=version) if version.stage == Stage.DRAFT else None,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def card_edit(request, name: str, number: int):
    """Every section side by side with its preview. Without JavaScript, "Preview" re-renders this page with
    the preview filled in; with it, the preview follows typing (static/js/card-editor.js)."""
    version, access = _card_target(request, name, number)
    if not access.can("registry.edit_card"):
        raise _refuse_edit(request, version)
    current = card_page(version=version).revision
    status, preview = 200, None
    if request.method == "POST":
        form = CardForm(request.POST)
        if form.is_valid():
            if "preview" in request.POST:
                preview = rendered_preview(form.sections())
            else:
                try:
                    revision = card_revise(
                        actor=request.user,
                        version=version,
                        sections=form.sections(),
                        summary=form.cleaned_data["summary"],
                    )
                except InvalidInput as error:
                    form.add_service_errors(error.errors)
                else:
                    messages.success(request, f"Saved revision {revision.number} of the card.")
                    return redirect("cards:card", name, number)
        if form.errors:
            status = 400
    else:
        form = CardForm(initial=current.sections if current is not None else {})
    return render(
        request,
        "cards/card_edit.html",
        {
            "form": form,
            "version": version,
            "model": version.model,
            "revision": current,
            "preview": preview,
            "section_fields": form.section_fields(preview),
        },
        status=status,
    )


@login_required
@require_POST
def card_preview(request, name: str, number: int):
    """The live preview: Markdown in, the HTML the card would store out, sanitised by the same code."""
    version, access = _card_target(request, name, number)
    if not access.can("registry.edit_card"):
        raise _refuse_edit(request, version)
    form = CardForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    return JsonResponse({"html": rendered_preview(form.sections())})


@login_required
@require_POST
def card_prefill_view(request, name: str, number: int):
    version, _ = _card_target(request, name, number)
    try:
        revision = card_prefill(actor=request.user, version=version)
    except Conflict as refusal:
        messages.error(request, f"Nothing was prefilled: {refusal.message}")
    else:
        messages.success(
            request, f"{revision.summary}: revision {revision.number}. Edit it to fit this version."
        )
    return redirect("cards:card", name, number)


@login_required
@require_POST
def card_import_view(request, name: str, number: int):
    """Prefill a draft's card from a Hugging Face style README.md, pasted or uploaded."""
    version, _ = _card_target(request, name, number)
    upload = request.FILES.get("readme_file")
    if upload is not None:
        if upload.size > README_UPLOAD_MAX_BYTES:
            messages.error(request, "Nothing was imported: the file is larger than 1 MB.")
            return redirect("cards:card", name, number)
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            messages.error(request, "Nothing was imported: the file is not UTF-8 text.")
            return redirect("cards:card", name, number)
    else:
        text = request.POST.get("readme", "")
    try:
        revision = card_import(actor=request.user, version=version, text=text)
    except Conflict as refusal:
        messages.error(request, f"Nothing was imported: {refusal.message}")
    except InvalidInput as error:
        problems = " ".join(problem for found in error.errors.values() for problem in found)
        messages.error(request, f"Nothing was imported: {problems or error.message}")
    else:
        messages.success(
            request, f"Imported the README as revision {revision.number}. Read it through and edit."
        )
    return redirect("cards:card", name, number)


@login_required
@require_GET
def card_history(request, name: str, number: int):
    version, access = _card_target(request, name, number)
    revisions = card_revisions(version=version)
    others = list(
        version.model.versions.exclude(pk=version.pk).filter(card__current__isnull=False).order_by("-number")
    )
    return render(
        request,
        "cards/card_history.html",
        {"version": version, "model": version.model, "revisions": revisions, "others": others},
    )


def _number(request, key: str) -> int:
    number = whole_number(request.GET.get(key, ""))
    if number is None:
        raise Http404(f"Say which revision: ?{key}=<number>.")
    return number


@login_required
@require_GET
def card_diff(request, name: str, number: int):
    """Two revisions of this card, section by section."""
    version, _ = _card_target(request, name, number)
    before = card_revision_get(version=version, number=_number(request, "from"))
    after = card_revision_get(version=version, number=_number(request, "to"))
    return render(
        request,
        "cards/card_diff.html",
        {
            "version": version,
            "model": version.model,
            "title": f"Revision {before.number} → revision {after.number}",
            "before_label": f"r{before.number} by {before.author.get_username()}",
            "after_label": f"r{after.number} by {after.author.get_username()}",
            "diffs": sections_diff(before.sections, after.sections),
        },
    )
