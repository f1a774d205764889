"""Worker tasks for evidence imports. Thin: they take ids and call services, and are safe to run twice."""

from celery import shared_task

from warehouse.audit.services import acting_via
from warehouse.retries import DATABASE_BLIP_RETRY
from warehouse.tracking.imports import run_import_execute, run_imports_sweep


@shared_task(
    name="tracking.run_import_execute",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    **DATABASE_BLIP_RETRY,
)
def run_import_execute_task(import_id: int) -> str | None:
    with acting_via("worker"):
        return run_import_execute(import_id=import_id)


@shared_task(name="tracking.run_imports_sweep", ignore_result=True)
def run_imports_sweep_task() -> int:
    with acting_via("worker"):
        return run_imports_sweep()
