"""Alert receivers and the alerts they receive: every write of the incidents app except the rollback
(`warehouse.incidents.rollback`).

A delivery is authenticated, then stored exactly as it arrived in a transaction of its own, then read: what
an alerting system said is never lost, even when it cannot be understood. Each alert then becomes or
updates one Incident, keyed by (receiver, fingerprint, start time), so a repeated delivery changes nothing
that was already known.
"""

import hmac
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef

from warehouse import clock
from warehouse.accounts.permissions import permission_denied
from warehouse.accounts.services import secret_digest, secret_issue
from warehouse.accounts.token_throttle import (
    Knock,
    TokenLockedOut,
    presented_prefix,
    token_door_locked,
    token_refusal_record,
)
from warehouse.audit.services import acting_via, audit_record
from warehouse.errors import InvalidInput
from warehouse.incidents.alerts import AlertPayloadError, AlertRecord, alerts_parse
from warehouse.incidents.models import (
    AlertPayload,
    AlertReceiver,
    Incident,
    IncidentStatus,
    PayloadKind,
    default_model_labels,
    default_version_labels,
)
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage, StageTransition

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "whr_"
MAX_BODY_BYTES = 1024 * 1024
# A receiver's last_used_at is refreshed at most this often, so each delivery is not also a write to it.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_NAME = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,99}$")  # Prometheus label names
_VERSION_VALUE = re.compile(r"^[vV]?(?P<number>[0-9]{1,9})$")


class ReceiverUnauthorized(Exception):
    """No active receiver by that name, or the token is missing or wrong. One error for all of these, so a
    caller learns nothing about which receivers exist."""


class PayloadTooLarge(Exception):
    """The body is over MAX_BODY_BYTES; it was not stored."""


class PayloadUnreadable(InvalidInput):
    """The body was stored but cannot be read; the stored payload row says why."""

    code = "invalid_payload"

    def __init__(self, *, payload_id: int, message: str):
        super().__init__({"body": [message]}, message)
        self.payload_id = payload_id


@dataclass(frozen=True)
class Receipt:
    payload_id: int
    alerts: int
    incidents: tuple[int, ...]  # the incident of each alert, in the order the payload listed them
    opened: int = 0
    resolved: int = 0
    unmatched: int = 0


# --- Receivers ----------------------------------------------------------------------------------------


def receiver_name_problem(name: str) -> str | None:
    if not _NAME.match(name or ""):
        return "1 to 64 letters, digits, hyphens or underscores: it is the last part of the hook's URL."
    if AlertReceiver.objects.filter(name=name).exists():
        return f"A receiver named {name!r} exists already."
    return None


def labels_problem(labels) -> str | None:
    if not isinstance(labels, list) or not labels:
        return "Name at least one label."
    if len(labels) > 10:
        return "At most 10 labels."
    for label in labels:
        if not isinstance(label, str) or not _LABEL.match(label):
            return f"{label!r} is not a label name (letters, digits and underscores, not first a digit)."
    if len(set(labels)) != len(labels):
        return "Each label once."
    return None


def receiver_create(
    *,
    actor,
    name: str,
    description: str = "",
    model_labels: list[str] | None = None,
    version_labels: list[str] | None = None,
) -> tuple[AlertReceiver, str]:
    """A receiver and its token. The token is returned once and only its digest is kept."""
    if not getattr(actor, "is_superuser", False) or not actor.is_active:
        raise permission_denied(
            actor=actor, target=None, permission="superuser", attempted="create an alert receiver"
        )
    name = (name or "").strip()
    description = (description or "").strip()
    model_labels = default_model_labels() if model_labels is None else list(model_labels)
    version_labels = default_version_labels() if version_labels is None else list(version_labels)
    errors = {}
    if problem := receiver_name_problem(name):
        errors["name"] = [problem]
    if len(description) > 300:
        errors["description"] = ["At most 300 characters."]
    if problem := labels_problem(model_labels):
        errors["model_labels"] = [problem]
    if problem := labels_problem(version_labels):
        errors["version_labels"] = [problem]
    if errors:
        raise InvalidInput(errors)
    prefix, token = secret_issue(TOKEN_PREFIX)
    with transaction.atomic():
        receiver = AlertReceiver.objects.create(
            name=name,
            description=description,
            token_prefix=prefix,
            token_digest=secret_digest(token),
            model_labels=model_labels,
            version_labels=version_labels,
            created_by=actor,
            created_at=clock.now(),
        )
        audit_record(
            actor=actor,
            action="alert_receiver.created",
            target=receiver,
            data={
                "name": name,
                "prefix": prefix,
                "model_labels": model_labels,
                "version_labels": version_labels,
            },
        )
    return receiver, token


def receiver_revoke(*, actor, receiver: AlertReceiver) -> AlertReceiver:
    """Stop accepting deliveries for `receiver`. Its payloads and incidents stay."""
    if not getattr(actor, "is_superuser", False) or not actor.is_active:
        raise permission_denied(
            actor=actor, target=receiver, permission="superuser", attempted="revoke an alert receiver"
        )
    with transaction.atomic():
        receiver = AlertReceiver.objects.select_for_update().get(pk=receiver.pk)
        if not receiver.active:
            return receiver
        receiver.active = False
        receiver.save(update_fields=["active"])
        audit_record(
            actor=actor,
            action="alert_receiver.revoked",
            target=receiver,
            data={"name": receiver.name, "prefix": receiver.token_prefix},
        )
    return receiver


def receiver_refusal_record(*, knock: Knock, receiver_name: str, token: str | None) -> bool:
    """A refused delivery on the audit trail (`alert_receiver.refused`, naming the receiver if there is one
    by that name, and the prefix the token carries), counted against the sender's address at that receiver;
    whether the address is now locked out there."""
    name = receiver_name[:64]
    receiver = AlertReceiver.objects.filter(name=name).first() if _NAME.match(name) else None
    return token_refusal_record(
        knock=knock,
        target=receiver,
        target_label=name,
        data={"receiver": name, "prefix": presented_prefix(token or "", TOKEN_PREFIX)},
    )


def receiver_authenticate(*, receiver_name: str, token: str | None) -> AlertReceiver:
    """The active receiver named `receiver_name` if `token` is its token, else ReceiverUnauthorized."""
    token = token or ""
    well_formed = token.startswith(TOKEN_PREFIX) and len(token) <= 200 and bool(_NAME.match(receiver_name))
    receiver = AlertReceiver.objects.filter(name=receiver_name, active=True).first() if well_formed else None
    expected = receiver.token_digest if receiver is not None else secret_digest("")
    if not hmac.compare_digest(expected, secret_digest(token)) or receiver is None:
        raise ReceiverUnauthorized()
    return receiver


# --- Receiving alerts --------------------------------------------------------------------------------


def alerts_receive(
    *, receiver_name: str, kind: str, token: str | None, body: bytes, knock: Knock | None = None
) -> Receipt:
    """Authenticate, store the body as it came, then read it and upsert one Incident per alert. With `knock`
    (where the delivery came from), a refusal is recorded and counted, and an address locked out at this
    receiver for too many of them is refused without looking at its token (accounts/token_throttle.py).

    Raises TokenLockedOut or ReceiverUnauthorized (nothing stored), PayloadTooLarge (nothing stored) or
    PayloadUnreadable (stored, with the reason on the payload row).
    """
    kind = PayloadKind(kind)
    if knock is not None and token_door_locked(knock):
        raise TokenLockedOut()
    try:
        receiver = receiver_authenticate(receiver_name=receiver_name, token=token)
    except ReceiverUnauthorized:
        if knock is not None and receiver_refusal_record(
            knock=knock, receiver_name=receiver_name, token=token
        ):
            raise TokenLockedOut() from None
        raise
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    now = clock.now()
    with transaction.atomic():
        payload = AlertPayload.objects.create(
            receiver=receiver, kind=kind, body=_storable_text(body), received_at=now
        )
        if receiver.last_used_at is None or now - receiver.last_used_at > LAST_USED_RESOLUTION:
            AlertReceiver.objects.filter(pk=receiver.pk).update(last_used_at=now)
    try:
        records = alerts_parse(kind, body)
    except AlertPayloadError as error:
        AlertPayload.objects.filter(pk=payload.pk).update(error=error.message, processed_at=clock.now())
        raise PayloadUnreadable(payload_id=payload.pk, message=error.message) from None
    try:
        with acting_via(f"alert-receiver:{receiver.name}"):
            return _incidents_upsert(receiver=receiver, payload=payload, records=records)
    except Exception as error:
        # Stored but not processed (processed_at stays empty); the sender retries on the 5xx.
        try:
            AlertPayload.objects.filter(pk=payload.pk).update(
                error=f"Stored, but processing failed ({type(error).__name__}); a retry may succeed."
            )
        except Exception:  # noqa: BLE001 - the database may be what failed; the first error is the one to see
            logger.exception("Could not note the failure on alert payload %s.", payload.pk)
        raise


def _storable_text(body: bytes) -> str:
    # The body as text, as near to the bytes as a text column allows: PostgreSQL keeps no NUL character, and
    # bytes that are not UTF-8 are replaced. The bytes themselves are what gets parsed.
    return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


@dataclass
class _Outcome:
    incident: Incident
    record: AlertRecord
    opened: bool = False
    resolved: bool = False
    version_from: str = ""


def _incidents_upsert(
    *, receiver: AlertReceiver, payload: AlertPayload, records: list[AlertRecord]
) -> Receipt:
    now = clock.now()
    matcher = _Matcher(receiver)
    by_key: dict[tuple, _Outcome] = {}
    with transaction.atomic():
        # The lock order everywhere: model rows, then incident rows, then the head of the audit chain (a
        # rollback takes its model, its incident, then writes events). The models the alerts name come
        # first, in pk order: inserting an incident takes a key-share lock on its model's row at commit,
        # which would otherwise wait for a rollback that waits for an incident this delivery holds.
        named = {matcher.model(record.labels)[0] for record in records} - {None}
        list(
            RegisteredModel.objects.select_for_update(of=("self",))
            .filter(pk__in=[model.pk for model in named])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        # A twin delivery that inserted the same alert a moment earlier is read back, not duplicated.
        # In key order, so that alerts are always locked in one order whatever order a body lists them in.
        for record in sorted(records, key=lambda r: r.key):
            outcome = _incident_upsert(receiver, payload, record, matcher, now)
            previous = by_key.get(record.key)
            if previous is not None:  # the same alert twice in one body
                outcome.opened = outcome.opened or previous.opened
                outcome.resolved = outcome.resolved or previous.resolved
                outcome.version_from = outcome.version_from or previous.version_from
            by_key[record.key] = outcome
        # The events once every row is written, one per change.
        for outcome in by_key.values():
            _outcome_record(receiver, payload, outcome)
        AlertPayload.objects.filter(pk=payload.pk).update(
            processed_at=now, alert_count=len(records), error=""
        )
    outcomes = list(by_key.values())
    return Receipt(
        payload_id=payload.pk,
        alerts=len(records),
        incidents=tuple(by_key[record.key].incident.pk for record in records),
        opened=sum(outcome.opened for outcome in outcomes),
        resolved=sum(outcome.resolved for outcome in outcomes),
        unmatched=sum(outcome.opened and outcome.incident.model_id is None for outcome in outcomes),
    )


def _incident_upsert(receiver, payload, record: AlertRecord, matcher: "_Matcher", now) -> _Outcome:
    resolved = record.status == IncidentStatus.RESOLVED
    described = {
        "ends_at": record.ends_at,
        "alertname": record.alertname[:200],
        "severity": record.severity[:64],
        "summary": record.summary,
        "labels": record.labels,
        "annotations": record.annotations,
        "generator_url": record.generator_url,
        "runbook_url": record.runbook_url,
    }
    existing = (
        Incident.objects.select_for_update()
        .filter(receiver=receiver, fingerprint=record.fingerprint, starts_at=record.starts_at)
        .first()
    )
    if existing is None:
        model, label_value = matcher.model(record.labels)
        version, version_from = matcher.version(model, record) if model is not None else (None, "")
        # get_or_create inserts in a savepoint and, if an identical delivery inserted the same key first
        # (IntegrityError on the unique constraint), reads that row instead.
        incident, created = Incident.objects.select_for_update().get_or_create(
            receiver=receiver,
            fingerprint=record.fingerprint,
            starts_at=record.starts_at,
            defaults={
                **described,
                "status": record.status,
                "model": model,
                "version": version,
                "model_label_value": label_value[:200],
                "first_payload": payload,
                "last_payload": payload,
                "first_seen_at": now,
                "last_seen_at": now,
                "resolved_at": now if resolved else None,
            },
        )
        if created:
            return _Outcome(
                incident=incident, record=record, opened=True, resolved=resolved, version_from=version_from
            )
        existing = incident
    return _incident_update(existing, payload, record, described, now)


def _incident_update(incident: Incident, payload, record: AlertRecord, described: dict, now) -> _Outcome:
    incident.last_payload = payload
    incident.last_seen_at = now
    fields = ["last_payload", "last_seen_at"]
    outcome = _Outcome(incident=incident, record=record)
    # A late "firing" for a resolved incident is a delivery that arrived out of order: the same fingerprint
    # and start time are the same alert, which has ended. It never reopens the incident. A "firing" for a
    # mitigated incident is the alert still firing after the rollback (the alerting system has not seen the
    # effect yet, or waits out its `for:`): it refreshes what the alert says but keeps the incident
    # mitigated, so the page never offers a second rollback for it. Only "resolved" closes an incident.
    if not (incident.status == IncidentStatus.RESOLVED and record.status == IncidentStatus.FIRING):
        for name, value in described.items():
            setattr(incident, name, value)
        fields += list(described)
        if record.status == IncidentStatus.RESOLVED and incident.status != IncidentStatus.RESOLVED:
            incident.status = IncidentStatus.RESOLVED
            incident.resolved_at = now
            fields += ["status", "resolved_at"]
            outcome.resolved = True
    incident.save(update_fields=fields)
    return outcome


def _outcome_record(receiver: AlertReceiver, payload: AlertPayload, outcome: _Outcome) -> None:
    incident, record = outcome.incident, outcome.record
    model_name = incident.model.name if incident.model is not None else ""
    common = {
        "receiver": receiver.name,
        "payload": payload.pk,
        "fingerprint": incident.fingerprint,
        "alertname": incident.alertname,
    }
    if outcome.opened:
        audit_record(
            actor=None,
            action="incident.opened",
            target=incident,
            model_name=model_name,
            data={
                **common,
                "status": record.status,
                "starts_at": incident.starts_at,
                "severity": incident.severity,
                "matched": incident.model_id is not None,
                "model_label_value": incident.model_label_value,
                "version": incident.version.number if incident.version is not None else None,
                "version_from": outcome.version_from or None,
            },
        )
    if outcome.resolved:
        audit_record(
            actor=None,
            action="incident.resolved",
            target=incident,
            model_name=model_name,
            data={**common, "ends_at": incident.ends_at},
        )


class _Matcher:
    """Which model and version an alert is about, from the labels the receiver names. Reads only; one
    lookup per model name per delivery."""

    def __init__(self, receiver: AlertReceiver):
        self.model_labels = receiver.model_labels or default_model_labels()
        self.version_labels = receiver.version_labels or default_version_labels()
        self._models: dict[str, RegisteredModel | None] = {}

    def model(self, labels: dict) -> tuple[RegisteredModel | None, str]:
        """The model the first of the receiver's model labels present names, and that label's value."""
        value = next(
            (
                labels[label]
                for label in self.model_labels
                if isinstance(labels.get(label), str) and labels[label]
            ),
            "",
        )
        if not value:
            return None, ""
        if value not in self._models:
            self._models[value] = RegisteredModel.objects.filter(name=value).first()
        return self._models[value], value

    def version(self, model: RegisteredModel, record: AlertRecord) -> tuple[ModelVersion | None, str]:
        """The version a version label names, if it exists; else the one in production when the alert
        started; else the one in production now."""
        for label in self.version_labels:
            value = record.labels.get(label)
            match = _VERSION_VALUE.match(value) if isinstance(value, str) else None
            if match:
                version = model.versions.filter(number=int(match["number"])).first()
                if version is not None:
                    return version, "label"
                break
        version = production_at(model=model, moment=record.starts_at)
        if version is not None:
            return version, "production_at_start"
        version = model.versions.filter(stage=Stage.PRODUCTION).first()
        return (version, "production_now") if version is not None else (None, "")


def production_at(*, model: RegisteredModel, moment: datetime) -> ModelVersion | None:
    """The version that was in Production at `moment`, from the stage history: the last one to enter
    Production at or before then that had not left it by then. None if the history does not say."""
    left = StageTransition.objects.filter(
        version=OuterRef("version"),
        from_stage=Stage.PRODUCTION,
        created_at__gte=OuterRef("created_at"),
        created_at__lte=moment,
    )
    entered = (
        StageTransition.objects.filter(model=model, to_stage=Stage.PRODUCTION, created_at__lte=moment)
        .exclude(Exists(left))
        .select_related("version")
        .order_by("-created_at", "-pk")
        .first()
    )
    return entered.version if entered is not None else None
