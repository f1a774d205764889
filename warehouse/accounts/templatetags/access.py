"""An action the reader may not take, shown where they would look for it: its button, disabled, and why.

The one rule of the pages: the main navigation leaves out what the person cannot use; an object page shows
its own actions to everyone who sees the object, disabled with the reason for those who may not take them.
Formats only: whether the reader may act is decided by the view (a ModelAccess it already read).
"""

from django import template
from django.utils.html import format_html

from warehouse.accounts.roles import role_needed

register = template.Library()


@register.simple_tag
def refused_action(permission: str, model_name: str, *label, classes: str = "btn", id: str = "") -> str:
    """`{% refused_action "registry.respond_incident" model.name "Roll back to v" 3 classes="btn danger" %}`:
    the button, disabled, with the role it needs on the model beside it."""
    text = "".join(str(part) for part in label)
    why_id = id or "refused-" + "-".join(text.lower().split())
    return format_html(
        '<span class="refused-action"><button class="{}" type="button" disabled aria-describedby="{}">{}'
        '</button> <span class="refused-why" id="{}">{}</span></span>',
        classes,
        why_id,
        text,
        why_id,
        role_needed(permission, model_name),
    )
