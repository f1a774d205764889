"""Pages of the registry: the models list and the audit trail with its exports. Thin: read a selector, render.
and version pages, which show other apps' parts too, are in warehouse/pages.)"""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseBadRequest, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from warehouse import clock
from warehouse.audit.export import EXPORT_FORMATS, export_filename, export_lines
from warehouse.audit.selectors import AuditFilters, audit_event_list, audit_event_page
from warehouse.registry.audit_access import audit_reader, audit_visible_model_names
from warehouse.registry.forms import AUDIT_ACTION_SUGGESTIONS, AuditFilterForm, ModelFilterForm
from warehouse.registry.listing import ListInputInvalid, Window, model_list_page
from warehouse.registry.menus import model_filter_choices
from warehouse.registry.models import Stage
from warehouse.registry.selectors import ModelFilters

MODELS_PER_PAGE = 25
EVENTS_PER_PAGE = 50
# What `?before=` and `?after=` may name: a sequence number PostgreSQL's bigint holds.
SEQUENCE_MAX = 2**63 - 1
EXPORT_CHUNK = 2000  # rows per fetch while an export streams: memory stays flat however long the trail


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _model_list_window(request) -> Window:
    """The page asked for: after a cursor (Next, past the numbered pages), or a numbered page (1 when the
    number is not one: a person's typo shows the first page, as it always did)."""
    cursor = request.GET.get("cursor") or None
    if cursor is not None:
        return Window(size=MODELS_PER_PAGE, cursor=cursor)
    number = request.GET.get("page", "")
    return Window(size=MODELS_PER_PAGE, number=int(number) if number.isdigit() and int(number) > 0 else 1)


@login_required
def model_list(request):
    form = ModelFilterForm(request.GET or None)
    filters = ModelFilters(**form.cleaned_data) if form.is_valid() else ModelFilters()
    notice = ""
    try:
        listing = model_list_page(user=request.user, filters=filters, window=_model_list_window(request))
    except ListInputInvalid as error:
        # A link that no longer points into the list (an altered cursor, a page past the numbered ones).
        notice = " ".join(message for messages in error.errors.values() for message in messages)
        listing = model_list_page(user=request.user, filters=filters, window=Window(size=MODELS_PER_PAGE))
    query = request.GET.copy()
    for name in ("page", "cursor"):
        query.pop(name, None)
    query = query.urlencode()
    return render(
        request,
        "registry/model_list.html",
        {
            "form": form,
            "filters": filters,
            "filtered": any((filters.search, filters.stage, filters.team, filters.owner)),
            "listing": listing,
            "notice": notice,
            "choices": model_filter_choices(user=request.user),
            "stages": Stage.choices,
            "query": query,
            "next_url": f"?{query}&cursor={listing.next_cursor}"
            if query
            else f"?cursor={listing.next_cursor}",
        },
    )


def _audit_filters(request) -> tuple[AuditFilterForm, dict, AuditFilters]:
    form = AuditFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    filters = AuditFilters(
        model_name=data.get("model") or "",
        actor=data.get("actor") or "",
        action=data.get("action") or "",
        since=data.get("since"),
        until=data.get("until"),
    )
    return form, data, filters


def _export_links(request) -> list[tuple[str, str]]:
    """The page's filters, carried to its exports (the empty boxes left out of the link)."""
    query = QueryDict(mutable=True)
    for name in AuditFilterForm.base_fields:
        if request.GET.get(name):
            query[name] = request.GET[name]
    suffix = f"?{query.urlencode()}" if query else ""
    return [
        (label, reverse("audit-trail-export", args=[export_format]) + suffix)
        for export_format, label in (("csv", "CSV"), ("jsonl", "JSON Lines"))
    ]


def _sequence_param(request, name: str) -> int | None:
    text = request.GET.get(name)
    if text is None or text == "":
        return None
    if not (text.isascii() and text.isdigit()) or int(text) > SEQUENCE_MAX:
        raise ValueError(f"?{name}= takes an event's sequence number (a whole number), not {text[:40]!r}.")
    return int(text)


def _trail_query(request) -> str:
    """The page's filters, for its page links (which add their own `before` or `after`)."""
    query = request.GET.copy()
    for name in ("page", "before", "after"):
        query.pop(name, None)
    return query.urlencode()


@login_required
def audit_trail(request):
    try:
        before, after = _sequence_param(request, "before"), _sequence_param(request, "after")
    except ValueError as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    if before is not None and after is not None:
        return HttpResponseBadRequest(
            "Give ?before= or ?after=, not both.", content_type="text/plain; charset=utf-8"
        )
    form, data, filters = _audit_filters(request)
    reader = audit_reader(user=request.user)
    visible_names, model_names = reader.visible, reader.model_names
    events = audit_event_list(visible_model_names=visible_names, filters=filters, reader_id=request.user.pk)
    page = audit_event_page(events=events, before=before, after=after, size=EVENTS_PER_PAGE)
    filtered = any(data.values()) if data else False
    first_page = before is None and after is None
    return render(
        request,
        "registry/audit_trail.html",
        {
            "form": form,
            "page": page,
            "query": _trail_query(request),
            "first_page": first_page,
            "sees_everything": visible_names is None,
            # The whole trail's size, free: on its newest page the first event's sequence number.
            "trail_size": (
                page.object_list[0].sequence
                if visible_names is None and first_page and not filtered and page.object_list
                else None
            ),
            "filtered": filtered,
            "model_names": model_names,
            "action_suggestions": AUDIT_ACTION_SUGGESTIONS,
            "exports": _export_links(request),
        },
    )


@login_required
@require_GET
def audit_trail_export(request, export_format: str):
    if export_format not in EXPORT_FORMATS:
        raise Http404("No such export format.")
    form, _, filters = _audit_filters(request)
    if form.is_bound and not form.is_valid():
        # The page shows every event when its filters are wrong; a file must never hold more than was asked.
        errors = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in form.errors.items())
        return HttpResponseBadRequest(
            f"The filters have errors, so nothing was exported. {errors}\n",
            content_type="text/plain; charset=utf-8",
        )
    # Exactly what the page shows this reader: the same selector, the same visibility, the same filters.
    events = audit_event_list(
        visible_model_names=audit_visible_model_names(user=request.user),
        filters=filters,
        reader_id=request.user.pk,
    ).iterator(chunk_size=EXPORT_CHUNK)
    response = StreamingHttpResponse(
        export_lines(export_format, events), content_type=EXPORT_FORMATS[export_format]
    )
    filename = export_filename(filters=filters, moment=clock.now(), extension=export_format)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
