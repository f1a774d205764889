"""Helpers for the promotion request pages, and the promotion parts of the registry's pages.

The registry cannot import the promotions app (dependencies run one way), so its version, model and home
pages ask for their promotion parts through these tags; each runs a fixed number of queries.
"""

from django import template
from django.utils.html import format_html

from warehouse.promotions.models import RequestState
from warehouse.promotions.requests.selectors import model_open_requests, review_queue, version_requests_panel

register = template.Library()

_STATE_LABELS = dict(RequestState.choices)


@register.simple_tag
def request_badge(state: str):
    """A request's state as a pill: Checking, Checks failed, Awaiting sign-off, Approved…"""
    return format_html('<span class="badge req-{}">{}</span>', state, _STATE_LABELS.get(state, state))


_DECISION_PAST = {"approve": "approved", "reject": "rejected"}
_EVENT_PHRASES = {
    "promotion.requested": "asked for promotion",
    "promotion.refused": "was refused",
    "promotion.rechecked": "ran the gate again",
    "promotion.approved": "executed the move",
    "promotion.rejected": "closed it as rejected",
    "promotion.cancelled": "withdrew the request",
    "promotion.superseded": "superseded the request",
    "signoff.refused": "was refused a sign-off",
}


@register.filter
def request_event(event) -> str:
    """One line of a request's timeline, in words."""
    if event.action == "signoff.recorded":
        data = event.data or {}
        verb = (
            "approved despite the gate" if data.get("override") else _DECISION_PAST.get(data.get("decision"))
        )
        return f"{verb or 'signed'} as {data.get('role') or 'signer'}"
    return _EVENT_PHRASES.get(event.action, event.action)


def _user(context):
    request = context.get("request")
    return request.user if request is not None else context.get("user")


@register.inclusion_tag("promotions/_version_requests_panel.html", takes_context=True)
def requests_panel(context, version):
    return {
        "panel": version_requests_panel(user=_user(context), version=version),
        "csrf_token": context.get("csrf_token"),
        "request": context.get("request"),
    }


@register.inclusion_tag("promotions/_model_requests.html")
def model_requests(model):
    return {"requests": model_open_requests(model=model), "model": model}


@register.inclusion_tag("promotions/_home_queue.html", takes_context=True)
def home_review_queue(context):
    queue = review_queue(user=_user(context), limit=10)
    return {"queue": queue}
