"""Formatting for the promotion request pages: a request's state as a badge, a timeline line in words.
None of them reads anything."""

from django import template
from django.utils.html import format_html

from warehouse.promotions.models import RequestState

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
