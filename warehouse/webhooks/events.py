"""Which audit events become which webhook events, and the JSON body a delivery carries. The one place
that knows the mapping."""

import json
import re

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse

from warehouse.audit.models import AuditEvent
from warehouse.webhooks.models import WebhookEvent

# Audit action → webhook event. A stage change that is a rollback is announced as one (see event_for).
EVENT_FOR_ACTION: dict[str, WebhookEvent] = {
    "version.registered": WebhookEvent.VERSION_REGISTERED,
    "promotion.requested": WebhookEvent.PROMOTION_REQUESTED,
    "promotion.superseded": WebhookEvent.PROMOTION_SUPERSEDED,
    "gate.finished": WebhookEvent.GATE_FINISHED,
    "signoff.recorded": WebhookEvent.SIGNOFF_RECORDED,
    "version.stage_changed": WebhookEvent.STAGE_CHANGED,
}
AUDIT_ACTIONS = tuple(EVENT_FOR_ACTION)

_VERSION_LABEL = re.compile(r"^(?P<name>[^/]+)/v(?P<number>\d+)$")


def event_for(event: AuditEvent) -> WebhookEvent | None:
    """The webhook event announcing this audit event, or None if webhooks do not announce it."""
    if event.action == "version.stage_changed" and (event.data or {}).get("kind") == "rollback":
        return WebhookEvent.ROLLED_BACK
    return EVENT_FOR_ACTION.get(event.action)


def _links(event: AuditEvent) -> dict[str, str]:
    if not event.model_name:
        return {}
    base = settings.WAREHOUSE_BASE_URL
    links = {"model": base + reverse("registry:model", args=[event.model_name])}
    version = _VERSION_LABEL.match(event.target_label or "")
    about_version = event.target_type in ("registry.modelversion", "promotions.promotionrequest")
    if about_version and version and version["name"] == event.model_name:
        links["version"] = base + reverse("registry:version", args=[event.model_name, int(version["number"])])
    if event.target_type == "promotions.promotionrequest" and event.target_id.isdigit():
        links["promotion_request"] = base + reverse(
            "promotions:request", args=[event.model_name, int(event.target_id)]
        )
    return links


def delivery_body(*, delivery_uuid: str, name: str, event: AuditEvent) -> str:
    """The JSON text sent, and signed, for one delivery: compact, keys sorted, ASCII only (so its bytes are
    the same whichever way a receiver decodes it)."""
    payload = {
        "id": str(delivery_uuid),
        "event": str(name),
        "occurred_at": event.created_at,
        "sequence": event.sequence,
        "model": event.model_name or None,
        "actor": event.actor_label,
        "via": event.via,
        "target": {"type": event.target_type, "id": event.target_id, "label": event.target_label},
        "data": event.data or {},
        "links": _links(event),
    }
    return json.dumps(
        payload, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )
