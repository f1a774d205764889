"""Formatting for the gate and policy pages: status badges and icons, check titles, durations, links to a
run or a policy revision. None of them reads anything: the views shape the pages' parts (see
warehouse/promotions/presentation) and these only write them out."""

import json

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from warehouse.promotions.forms import SECTION_TITLES
from warehouse.promotions.gates.selectors import VERDICT_LABELS
from warehouse.promotions.models import GateState
from warehouse.promotions.policies.rules import Check
from warehouse.promotions.policies.selectors import policy_page_url
from warehouse.registry.models import Stage

register = template.Library()

_STATE_LABELS = dict(GateState.choices)
_STATUS_LABELS = {
    "passed": "Passed",
    "failed": "Failed",
    "warning": "Warning",
    "error": "Error",
    "not_configured": "Not configured",
}


# 16×16 icons drawn with presentation attributes only; their colours come from the stylesheet.
_ICONS = {
    "passed": '<circle cx="8" cy="8" r="7.5"/><path class="mark" d="M4.6 8.3l2.2 2.2 4.6-4.8"/>',
    "failed": '<circle cx="8" cy="8" r="7.5"/><path class="mark" d="M5.3 5.3l5.4 5.4M10.7 5.3l-5.4 5.4"/>',
    "warning": '<path d="M8 .9l7.4 13.6H.6z"/><path class="mark" d="M8 5.6v4"/>'
    '<circle class="dotmark" cx="8" cy="12.2" r=".9"/>',
    "error": '<rect x=".5" y=".5" width="15" height="15" rx="3.5"/><path class="mark" d="M8 3.8v5.2"/>'
    '<circle class="dotmark" cx="8" cy="11.9" r=".95"/>',
    "not_configured": '<circle cx="8" cy="8" r="6.5"/><path class="mark" d="M5 8h6"/>',
    "pending": '<circle cx="8" cy="8" r="7"/><path class="mark" d="M8 4.2V8l2.6 1.7"/>',
    "running": '<circle class="track" cx="8" cy="8" r="6.2"/>'
    '<path class="arc" d="M8 1.8a6.2 6.2 0 0 1 6.2 6.2"/>',
    "done": '<circle cx="8" cy="8" r="7"/><path class="mark" d="M4.8 8.2l2.1 2.1 4.3-4.5"/>',
    "waiting": '<circle cx="8" cy="8" r="6.5"/>',
}


@register.simple_tag
def status_icon(status: str, label: str = "", decorative: bool = False):
    """A small icon for a check status or a gate state, named for screen readers unless the text beside
    it already says the same (`decorative`)."""
    shape = _ICONS.get(status, _ICONS["waiting"])
    css = status if status in _ICONS else "waiting"
    if decorative:
        return format_html(
            '<svg class="icon icon-{}" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" '
            'focusable="false">{}</svg>',
            css,
            mark_safe(shape),  # noqa: S308 - constant markup from _ICONS above
        )
    name = label or _STATUS_LABELS.get(status) or _STATE_LABELS.get(status, status)
    return format_html(
        '<svg class="icon icon-{}" viewBox="0 0 16 16" width="16" height="16" role="img" aria-label="{}">'
        "{}</svg>",
        css,
        name,
        mark_safe(shape),  # noqa: S308 - constant markup from _ICONS above
    )


@register.simple_tag
def gate_badge(state: str, big: bool = False):
    """The state of a gate run as a coloured pill with its icon: Queued, Running, Passed, Failed, Error."""
    css = state if state in _STATE_LABELS else "unknown"
    return format_html(
        '<span class="badge gate-{}{}">{} {}</span>',
        css,
        " big" if big else "",
        status_icon(state, decorative=True),
        _STATE_LABELS.get(state, state),
    )


@register.simple_tag
def check_badge(status: str):
    return format_html(
        '<span class="badge check-{}">{}</span>',
        status if status in _STATUS_LABELS else "unknown",
        _STATUS_LABELS.get(status, status),
    )


@register.filter
def check_title(name: str) -> str:
    return Check.TITLES.get(name, name.replace("_", " ").capitalize())


@register.filter
def duration(seconds) -> str:
    """1.4 s, 2 min 05 s, 1 h 02 min."""
    if seconds is None or seconds == "":
        return "—"
    seconds = float(seconds)
    if seconds < 0.1:
        return "under 0.1 s"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@register.filter
def pretty_json(data) -> str:
    """Indented JSON, keys in their stored order. Returned as text: the template escapes it."""
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


@register.filter
def stage_label_of(stage: str) -> str:
    return dict(Stage.choices).get(stage, stage)


@register.simple_tag
def revision_url(revision) -> str:
    return policy_page_url(revision)


@register.filter
def revision_label(revision) -> str:
    """r3 of fraud-scorer's policy, or r2 of the global default."""
    if revision.policy.model_id is None:
        return f"global default r{revision.number}"
    return f"r{revision.number}"


@register.simple_tag
def gate_run_url(run) -> str:
    return reverse("promotions:gate-run", args=[run.version.model.name, run.version.number, run.pk])


@register.filter
def verdict_label(verdict: str) -> str:
    return VERDICT_LABELS.get(verdict, verdict)


@register.filter
def policy_warning(text: str) -> str:
    """A warning from policy_warnings, with its section named as the page names it."""
    for name, title in SECTION_TITLES.items():
        if text.startswith(f"{name}: "):
            return f"{title}: {text.removeprefix(f'{name}: ')}"
    return text


@register.filter
def policy_section_title(name: str) -> str:
    """Draft → Staging, for a policy's section name."""
    return SECTION_TITLES.get(name, name)
