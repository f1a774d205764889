"""A task that exists only for `make bench`: the bench's worker imports it (`celery worker --include
bench.tasks`); the product's workers never do.

It does what `gate_run_execute` does before the checks, and nothing else: read the run, its rules and the
evidence snapshot (the candidate's and the baseline's evidence, and the digests of stored files). The bench
runs it on the same worker, through the same broker and queue, for the same runs: the floor under a gate run.
"""

from celery import shared_task

from warehouse.promotions.gates.snapshot import snapshot_load
from warehouse.promotions.models import GateRun
from warehouse.promotions.policies.rules import revision_rules


@shared_task(name="bench.snapshot_load", ignore_result=True)
def snapshot_load_task(gate_run_id: int) -> int:
    run = GateRun.objects.select_related("version__model", "policy_revision").get(pk=gate_run_id)
    rules = revision_rules(run.policy_revision).for_target(run.target_stage)
    snapshot = snapshot_load(version=run.version, target_stage=run.target_stage, rules=rules)
    return len(snapshot.candidate.slices)
