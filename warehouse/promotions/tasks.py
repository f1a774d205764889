"""Worker tasks for gates. Thin: they take ids and call services, and are safe to run twice."""

from celery import shared_task

from warehouse.audit.services import acting_via
from warehouse.promotions.gates.services import gate_run_execute, gate_runs_sweep
from warehouse.retries import DATABASE_BLIP_RETRY


@shared_task(
    name="promotions.gate_run_execute", acks_late=True, reject_on_worker_lost=True, **DATABASE_BLIP_RETRY
)
def gate_run_execute_task(gate_run_id: int) -> str | None:
    with acting_via("worker"):
        return gate_run_execute(run_id=gate_run_id)


@shared_task(name="promotions.gate_runs_sweep", ignore_result=True)
def gate_runs_sweep_task() -> dict:
    with acting_via("worker"):
        report = gate_runs_sweep()
    return {
        "republished": report.republished,
        "given_up": report.given_up,
        "publish_failed": report.publish_failed,
    }
