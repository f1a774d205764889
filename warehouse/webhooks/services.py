"""Every write about webhooks: subscriptions, the fan-out from the audit trail, and sending deliveries.

A delivery's life: an audit event commits, and the audit listener (`webhooks_wake`) queues a fan-out when
some subscription is active. `webhook_fan_out` locks the cursor, writes one pending delivery per matching
subscription for each new event, moves the cursor on and, after commit, queues each delivery.
`delivery_send` (the worker) claims it with a conditional update, checks every address of the target,
posts the signed body and records the outcome: delivered, retrying after a backoff, or failed (given up,
or refused for good). `webhooks_sweep` (Celery beat) runs the fan-out and queues again what is due or lost.
Publishing never raises: a broker that is down only delays deliveries until the next sweep.
"""

import http.client
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q

from warehouse import clock
from warehouse.accounts.permissions import model_access, permission_denied
from warehouse.audit.models import AuditEvent
from warehouse.audit.services import audit_record
from warehouse.errors import Conflict, InvalidInput
from warehouse.registry.models import RegisteredModel
from warehouse.webhooks.events import AUDIT_ACTIONS, delivery_body, event_for
from warehouse.webhooks.models import (
    DeliveryState,
    WebhookCursor,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from warehouse.webhooks.signing import signature_compute
from warehouse.webhooks.targets import TargetRefused, target_post, target_resolve, url_problems

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
DESCRIPTION_MAX_LENGTH = 200
USER_AGENT = "Warehouse-Webhooks/1"
# Audit events read per query by the fan-out, and deliveries re-queued per sweep.
FAN_OUT_BATCH = 500
SWEEP_LIMIT = 500
OPEN_STATES = (DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.RETRYING)


# --- Subscriptions --------------------------------------------------------------------------------------


def subscription_manage_permission(subscription_model: RegisteredModel | None) -> str:
    return "superuser" if subscription_model is None else "registry.admin_policy"


def _require_manage(actor, model: RegisteredModel | None, attempted: str) -> None:
    """Global subscriptions are a superuser's; a model's are for those who may edit its promotion policy.
    A refusal is on the record."""
    if model is None:
        if not (actor.is_authenticated and actor.is_active and actor.is_superuser):
            raise permission_denied(actor=actor, target=None, permission="superuser", attempted=attempted)
        return
    model_access(actor, model).require("registry.admin_policy", attempted=attempted)


def _events_clean(events) -> tuple[list[str], list[str]]:
    if not isinstance(events, list | tuple) or not all(isinstance(name, str) for name in events):
        return [], ["Give the events as a list of names."]
    unknown = sorted({name for name in events if name not in WebhookEvent.values})
    if unknown:
        known = ", ".join(WebhookEvent.values)
        return [], [f"Unknown event{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. Known: {known}."]
    if not events:
        return [], ["Choose at least one event."]
    # In the order of the list of events, whatever order they came in.
    return [name for name in WebhookEvent.values if name in events], []


def _origin(url: str) -> str:
    # The audit trail names where events go, but not the path or query: they often carry a token.
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}"


def subscription_create(
    *, actor, model: RegisteredModel | None, url: str, events, description: str = ""
) -> tuple[WebhookSubscription, str]:
    """Subscribe `url` to `events` of `model` (or of every model). Returns the subscription and its secret,
    which is shown to the person once; deliveries are signed with it."""
    where = model.name if model is not None else "every model"
    _require_manage(actor, model, f"subscribe a webhook to events of {where}")
    url = (url or "").strip()
    description = (description or "").strip()
    errors: dict[str, list[str]] = {}
    if problems := url_problems(url):
        errors["url"] = problems
    chosen, event_problems = _events_clean(events)
    if event_problems:
        errors["events"] = event_problems
    if len(description) > DESCRIPTION_MAX_LENGTH:
        errors["description"] = [f"At most {DESCRIPTION_MAX_LENGTH} characters."]
    if errors:
        raise InvalidInput(errors)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            model=model,
            url=url,
            events=chosen,
            secret=secret,
            description=description,
            created_by=actor,
            created_at=clock.now(),
        )
        event = audit_record(
            actor=actor,
            action="webhook.subscribed",
            target=subscription,
            model_name=model.name if model is not None else "",
            data={"url": _origin(url), "events": chosen, "global": model is None, "description": description},
        )
        # Its own event is the head of the trail while the chain is locked: everything after it is news.
        subscription.starts_after_sequence = event.sequence
        subscription.save(update_fields=["starts_after_sequence"])
    return subscription, secret


def subscription_deactivate(*, actor, subscription: WebhookSubscription) -> WebhookSubscription:
    """Stop sending: nothing new is written for it, and what was still on its way is given up."""
    model = subscription.model
    _require_manage(actor, model, f"deactivate webhook {subscription.pk}")
    with transaction.atomic():
        locked = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        if not locked.active:
            return locked
        now = clock.now()
        locked.active, locked.deactivated_at = False, now
        locked.save(update_fields=["active", "deactivated_at"])
        given_up = WebhookDelivery.objects.filter(subscription=locked, state__in=OPEN_STATES).update(
            state=DeliveryState.FAILED,
            lease_expires_at=None,
            last_error="The subscription was deactivated before this was delivered.",
        )
        audit_record(
            actor=actor,
            action="webhook.deactivated",
            target=locked,
            model_name=model.name if model is not None else "",
            data={"url": _origin(locked.url), "deliveries_given_up": given_up},
        )
    return locked


def delivery_redeliver(*, actor, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again, from its first attempt: the same body, id and event, signed anew."""
    subscription = delivery.subscription
    _require_manage(actor, subscription.model, f"redeliver webhook delivery {delivery.uuid}")
    try:
        with transaction.atomic():
            return _redeliver_locked(actor, delivery)
    except Conflict as refusal:
        # After the attempt's rollback, so the refusal itself stays on the record.
        audit_record(
            actor=actor,
            action="webhook.redeliver_refused",
            target=subscription,
            model_name=subscription.model.name if subscription.model_id else "",
            data={"delivery": str(delivery.uuid), "code": refusal.code, "message": refusal.message},
        )
        raise


def _redeliver_locked(actor, delivery: WebhookDelivery) -> WebhookDelivery:
    # The subscription, then its delivery: the order deactivating takes them in.
    subscription = WebhookSubscription.objects.select_for_update().get(pk=delivery.subscription_id)
    locked = WebhookDelivery.objects.select_for_update(of=("self",)).get(pk=delivery.pk)
    locked.subscription = subscription
    if not subscription.active:
        raise Conflict("The subscription is deactivated: nothing is sent for it.", code="inactive")
    if locked.state in (DeliveryState.PENDING, DeliveryState.SENDING):
        raise Conflict("This delivery is already on its way.", code="in_flight")
    previous = locked.state
    locked.state, locked.attempts, locked.next_attempt_at = DeliveryState.PENDING, 0, clock.now()
    locked.enqueued_at = locked.lease_expires_at = locked.delivered_at = None
    locked.save(
        update_fields=[
            "state",
            "attempts",
            "next_attempt_at",
            "enqueued_at",
            "lease_expires_at",
            "delivered_at",
        ]
    )
    audit_record(
        actor=actor,
        action="webhook.redelivered",
        target=locked.subscription,
        model_name=subscription.model.name if subscription.model_id else "",
        data={"delivery": str(locked.uuid), "event": locked.event, "previous_state": previous},
    )
    delivery_id = locked.pk
    transaction.on_commit(lambda: deliveries_publish(delivery_ids=[delivery_id]), robust=True)
    return locked


# --- Fan-out: audit events to deliveries ----------------------------------------------------------------


def _cursor_locked() -> WebhookCursor:
    cursor = WebhookCursor.objects.select_for_update().filter(pk=1).first()
    if cursor is not None:
        return cursor
    # No row yet: two first fan-outs can both get here. The primary key lets one create it; the other
    # waits for that one's commit, fails in its savepoint, and locks the row it made.
    try:
        with transaction.atomic():
            return WebhookCursor.objects.create(pk=1)
    except IntegrityError:
        return WebhookCursor.objects.select_for_update().get(pk=1)


def _matches(subscription: WebhookSubscription, event: AuditEvent, name: str) -> bool:
    if event.sequence <= subscription.starts_after_sequence or name not in subscription.events:
        return False
    return subscription.model_id is None or subscription.model.name == event.model_name


def webhook_fan_out() -> int:
    """Write the deliveries for the audit events recorded since the last fan-out; queue them after commit.
    Returns how many were written. Safe to run twice, or at the same time: the cursor row is locked, and a
    delivery is unique per subscription and event.

    Sequences commit in order (the chain's lock is held until commit), so once the head is read every
    event up to it is visible: the cursor never skips one still being written.
    """
    with transaction.atomic():
        cursor = _cursor_locked()
        head = AuditEvent.objects.aggregate(head=Max("sequence"))["head"] or 0
        # The head first, then the subscriptions: a subscription commits before any event after its own,
        # so every subscription that should receive an event up to the head is visible by now.
        subscriptions = list(WebhookSubscription.objects.filter(active=True).select_related("model"))
        position = cursor.last_sequence
        if subscriptions:
            position = max(position, min(s.starts_after_sequence for s in subscriptions))
        created: list[int] = []
        while subscriptions and position < head:
            batch = list(
                AuditEvent.objects.filter(
                    sequence__gt=position, sequence__lte=head, action__in=AUDIT_ACTIONS
                ).order_by("sequence")[:FAN_OUT_BATCH]
            )
            if not batch:
                break
            rows = []
            for event in batch:
                name = event_for(event)
                for subscription in subscriptions:
                    if name is not None and _matches(subscription, event, name):
                        delivery_uuid = uuid4()
                        rows.append(
                            WebhookDelivery(
                                uuid=delivery_uuid,
                                subscription=subscription,
                                event=name,
                                audit_sequence=event.sequence,
                                body=delivery_body(delivery_uuid=delivery_uuid, name=name, event=event),
                                created_at=clock.now(),
                                next_attempt_at=clock.now(),
                            )
                        )
            if rows:
                # ignore_conflicts: a cursor that was reset finds its deliveries already written.
                WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
                created += WebhookDelivery.objects.filter(uuid__in=[row.uuid for row in rows]).values_list(
                    "pk", flat=True
                )
            position = batch[-1].sequence
        cursor.last_sequence, cursor.updated_at = max(cursor.last_sequence, head), clock.now()
        cursor.save(update_fields=["last_sequence", "updated_at"])
        if created:
            transaction.on_commit(lambda: deliveries_publish(delivery_ids=sorted(created)), robust=True)
    return len(created)


def webhooks_wake() -> None:
    """The audit listener: after a commit that recorded events, queue a fan-out if anyone listens. One
    cheap query when no one does. Never raises: a fan-out the broker did not take is the sweeper's."""
    from warehouse.webhooks.tasks import webhook_fan_out_task

    try:
        if not WebhookSubscription.objects.filter(active=True).exists():
            return
        webhook_fan_out_task.apply_async(retry=True, retry_policy=settings.WEBHOOK_PUBLISH_RETRY_POLICY)
    except Exception:  # noqa: BLE001 - a database or broker failure after commit; the sweep catches up
        logger.warning("Could not queue a webhook fan-out; the sweeper will run it.", exc_info=True)


# --- Publishing -----------------------------------------------------------------------------------------


def deliveries_publish(*, delivery_ids: list[int]) -> int:
    """Hand each delivery's id to the broker, in order; stop at the first refusal (the broker is down: the
    sweeper sends the rest). Returns how many were queued. Never raises."""
    from warehouse.webhooks.tasks import delivery_send_task

    published: list[int] = []
    for delivery_id in delivery_ids:
        try:
            delivery_send_task.apply_async(
                args=[delivery_id], retry=True, retry_policy=settings.WEBHOOK_PUBLISH_RETRY_POLICY
            )
        except Exception:  # noqa: BLE001 - any broker failure; the row is the record, the sweeper retries
            logger.warning(
                "Could not queue webhook delivery %s; the sweeper will queue it again.",
                delivery_id,
                exc_info=True,
            )
            break
        published.append(delivery_id)
    if published:
        # Only those still waiting: one a worker already took (and perhaps set to retry) keeps its own times.
        WebhookDelivery.objects.filter(pk__in=published, state=DeliveryState.PENDING).update(
            enqueued_at=clock.now()
        )
    return len(published)


# --- Sending (the worker) -------------------------------------------------------------------------------


def _claim(delivery_id: int) -> int | None:
    """Take the delivery if it is due, or sending on a lease that expired; return the attempt number. One
    UPDATE: two workers cannot both win it, and a delivery done is never sent again."""
    now = clock.now()
    claimable = Q(state__in=[DeliveryState.PENDING, DeliveryState.RETRYING], next_attempt_at__lte=now) | Q(
        state=DeliveryState.SENDING, lease_expires_at__lt=now
    )
    taken = WebhookDelivery.objects.filter(
        Q(pk=delivery_id) & claimable, attempts__lt=settings.WEBHOOK_MAX_ATTEMPTS
    ).update(
        state=DeliveryState.SENDING,
        attempts=F("attempts") + 1,
        lease_expires_at=now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS),
        last_attempt_at=now,
    )
    if not taken:
        return None
    return WebhookDelivery.objects.values_list("attempts", flat=True).get(pk=delivery_id)


def _record(delivery_id: int, attempt: int, state: str, **fields) -> str | None:
    # Tied to this attempt: a worker whose lease ran out and was replaced cannot overwrite the outcome.
    done = WebhookDelivery.objects.filter(
        pk=delivery_id, state=DeliveryState.SENDING, attempts=attempt
    ).update(state=state, lease_expires_at=None, **fields)
    return state if done else None


def retry_delay_seconds(attempts: int) -> int:
    """Seconds to wait after the `attempts`-th failed attempt: doubling from the base, capped."""
    delay = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return min(delay, settings.WEBHOOK_RETRY_MAX_SECONDS)


def _failed_attempt(delivery_id: int, attempt: int, *, status: int | None, error: str, excerpt: str = ""):
    fields = {"last_status_code": status, "last_error": error[:1000], "response_excerpt": excerpt}
    if attempt >= settings.WEBHOOK_MAX_ATTEMPTS:
        fields["last_error"] = f"Gave up after {attempt} attempts. Last: {error}"[:1000]
        return _record(delivery_id, attempt, DeliveryState.FAILED, **fields)
    next_at = clock.now() + timedelta(seconds=retry_delay_seconds(attempt))
    # enqueued_at cleared: the sweeper queues it when it is due.
    return _record(
        delivery_id, attempt, DeliveryState.RETRYING, next_attempt_at=next_at, enqueued_at=None, **fields
    )


def delivery_headers(*, delivery: WebhookDelivery, secret: str, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Warehouse-Event": delivery.event,
        "X-Warehouse-Delivery": str(delivery.uuid),
        "X-Warehouse-Timestamp": str(timestamp),
        "X-Warehouse-Signature": signature_compute(secret, timestamp, delivery.body),
    }


def delivery_send(*, delivery_id: int) -> str | None:
    """Send one delivery. Returns its new state, or None when there was nothing to do (already delivered,
    not yet due, taken by a live worker, or gone)."""
    attempt = _claim(delivery_id)
    if attempt is None:
        return None
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    subscription = delivery.subscription
    if not subscription.active:
        return _record(
            delivery_id,
            attempt,
            DeliveryState.FAILED,
            last_error="The subscription was deactivated; nothing was sent.",
        )
    try:
        target = target_resolve(subscription.url)
    except TargetRefused as refusal:
        # Final: the same address would be refused at every attempt. Nothing left the warehouse.
        return _record(
            delivery_id, attempt, DeliveryState.FAILED, last_status_code=None, last_error=str(refusal)
        )
    except OSError as error:
        return _failed_attempt(
            delivery_id, attempt, status=None, error=f"Could not resolve the host: {error}"
        )
    timestamp = int(clock.now().timestamp())
    headers = delivery_headers(delivery=delivery, secret=subscription.secret, timestamp=timestamp)
    try:
        response = target_post(
            target,
            headers=headers,
            body=delivery.body.encode("utf-8"),
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        )
    except (OSError, http.client.HTTPException) as error:
        return _failed_attempt(delivery_id, attempt, status=None, error=f"{type(error).__name__}: {error}")
    if 200 <= response.status < 300:
        return _record(
            delivery_id,
            attempt,
            DeliveryState.DELIVERED,
            last_status_code=response.status,
            last_error="",
            response_excerpt=response.excerpt,
            delivered_at=clock.now(),
        )
    return _failed_attempt(
        delivery_id,
        attempt,
        status=response.status,
        error=f"The receiver answered HTTP {response.status}; only 2xx counts as delivered.",
        excerpt=response.excerpt,
    )


# --- The sweeper ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookSweepReport:
    fanned_out: int
    republished: int
    given_up: int
    publish_failed: int


def webhooks_sweep() -> WebhookSweepReport:
    """Fan out what the listener missed, then queue again what is due or lost: retries whose time has
    come, deliveries never queued (or queued long ago and never claimed), and deliveries whose worker died
    while sending (lease expired). One that died on its last attempt is given up."""
    fanned_out = webhook_fan_out()
    now = clock.now()
    stale = now - timedelta(seconds=settings.WEBHOOK_REQUEUE_AFTER_SECONDS)
    due = Q(state__in=[DeliveryState.PENDING, DeliveryState.RETRYING], next_attempt_at__lte=now) & (
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale)
    )
    lost = Q(state=DeliveryState.SENDING, lease_expires_at__lt=now)
    candidates = list(
        WebhookDelivery.objects.filter(due | lost)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "state", "attempts")[:SWEEP_LIMIT]
    )
    to_publish, given_up = [], 0
    for delivery_id, state, attempts in candidates:
        if state == DeliveryState.SENDING and attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            given_up += bool(
                _record(
                    delivery_id,
                    attempts,
                    DeliveryState.FAILED,
                    last_error=f"Gave up after {attempts} attempts: the worker sending the last one stopped.",
                )
            )
        else:
            to_publish.append(delivery_id)
    republished = deliveries_publish(delivery_ids=to_publish)
    return WebhookSweepReport(fanned_out, republished, given_up, len(to_publish) - republished)
