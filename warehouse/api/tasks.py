"""Worker tasks of the API. Thin: they call services, and are safe to run twice."""

from celery import shared_task

from warehouse.api.services import idempotency_keys_purge


@shared_task(name="api.idempotency_keys_purge", ignore_result=True)
def idempotency_keys_purge_task() -> int:
    return idempotency_keys_purge()
