"""Worker tasks for webhooks. Thin: they take ids and call services, and are safe to run twice."""

from celery import shared_task

from warehouse.audit.services import acting_via
from warehouse.retries import DATABASE_BLIP_RETRY
from warehouse.webhooks.services import delivery_send, webhook_fan_out, webhooks_sweep


@shared_task(
    name="webhooks.deliver",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    **DATABASE_BLIP_RETRY,
)
def delivery_send_task(delivery_id: int) -> str | None:
    with acting_via("worker"):
        return delivery_send(delivery_id=delivery_id)


@shared_task(name="webhooks.fan_out", acks_late=True, ignore_result=True)
def webhook_fan_out_task() -> int:
    with acting_via("worker"):
        return webhook_fan_out()


@shared_task(name="webhooks.sweep", ignore_result=True)
def webhooks_sweep_task() -> dict:
    with acting_via("worker"):
        report = webhooks_sweep()
    return {
        "fanned_out": report.fanned_out,
        "republished": report.republished,
        "given_up": report.given_up,
        "publish_failed": report.publish_failed,
    }
