"""Reads about gate runs, shaped for pages and the API: a version's runs, one run's report and the slice
regressions its slices check recorded. Each runs a fixed number of queries, whatever the number of runs,
results or slices."""

from dataclasses import dataclass, field
from functools import cached_property

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from warehouse.accounts.permissions import ModelAccess, model_access
from warehouse.promotions.gates.comparison import SliceVerdict, verdict_of
from warehouse.promotions.models import CheckResult, GateRun
from warehouse.promotions.policies.rules import NEXT_STAGE, Check, SectionRules, revision_section
from warehouse.registry.models import ModelVersion, Stage
from warehouse.registry.selectors import model_get_with_access

GATE_RUNS_SHOWN = 50


# --- Gate runs of a version -----------------------------------------------------------------------------


def _gate_runs(version: ModelVersion) -> QuerySet[GateRun]:
    return (
        GateRun.objects.filter(version=version)
        .select_related("policy_revision__policy__model", "requested_by", "baseline")
        .annotate(
            passed_count=Count("results", filter=Q(results__status="passed")),
            # Required checks that failed or erred keep the gate shut; the others only inform.
            blocking_count=Count(
                "results", filter=Q(results__required=True, results__status__in=("failed", "error"))
            ),
            advisory_count=Count(
                "results",
                filter=Q(results__status="warning")
                | Q(results__required=False, results__status__in=("failed", "error")),
            ),
            # No rule, nothing judged: counted apart, never as a pass.
            not_configured_count=Count("results", filter=Q(results__status="not_configured")),
        )
        .order_by("-requested_at", "-pk")
    )


def gate_run_list(*, version: ModelVersion, limit: int | None = None) -> list[GateRun]:
    """The version's gate runs, newest first, each with its results counted by status: one query."""
    runs = _gate_runs(version)
    runs = list(runs[:limit] if limit is not None else runs)
    for run in runs:
        run.version = version
        if run.baseline is not None:
            run.baseline.model = version.model
    return runs


@dataclass(frozen=True)
class VersionGatePanel:
    version: ModelVersion
    runs: list[GateRun]
    limit: int
    # The stage a gate would be run for next (None when the version is in no stage below another), and
    # whether the person reading may ask for it.
    next_stage: str | None
    can_request: bool

    @property
    def truncated(self) -> bool:
        return len(self.runs) > self.limit

    @property
    def shown(self) -> list[GateRun]:
        return self.runs[: self.limit]

    @property
    def open_run(self) -> GateRun | None:
        """The queued or running gate for the next stage, which asking again would only return."""
        return next((run for run in self.runs if run.is_open and run.target_stage == self.next_stage), None)

    @property
    def next_stage_label(self) -> str:
        return Stage(self.next_stage).label if self.next_stage else ""


def version_gate_panel(*, user, version: ModelVersion, limit: int = GATE_RUNS_SHOWN) -> VersionGatePanel:
    """The gate part of the version page: its runs (one query) and whether `user` may run the gate (one
    query)."""
    next_stage = NEXT_STAGE.get(version.stage)
    can_request = next_stage is not None and model_access(user, version.model).can(
        "registry.request_promotion"
    )
    return VersionGatePanel(
        version=version,
        runs=gate_run_list(version=version, limit=limit + 1),
        limit=limit,
        next_stage=next_stage.value if next_stage else None,
        can_request=can_request,
    )


# --- One gate run ---------------------------------------------------------------------------------------


def gate_version_get(*, user, name: str, number: int) -> tuple[ModelVersion, ModelAccess]:
    """The version and what `user` may do on its model; 404 if they may not see it."""
    model, access = model_get_with_access(user=user, name=name)
    version = ModelVersion.objects.select_related("registered_by").filter(model=model, number=number).first()
    if version is None:
        raise Http404("No such version.")
    version.model = model
    return version, access


def gate_run_get(*, version: ModelVersion, run_id: int) -> GateRun:
    """One gate run of `version` (404 for a run of another version), with what its page shows of it."""
    run = (
        GateRun.objects.filter(version=version, pk=run_id)
        .select_related(
            "policy_revision__policy__model", "policy_revision__author", "requested_by", "baseline"
        )
        .first()
    )
    if run is None:
        raise Http404("No such gate run.")
    run.version = version
    if run.baseline is not None:
        run.baseline.model = version.model
    return run


@dataclass(frozen=True)
class GateRunPage:
    run: GateRun
    results: list[CheckResult]
    rules: SectionRules | None  # the section of the run's policy revision that applied; None if unreadable

    @property
    def by_status(self) -> dict[str, int]:
        counts = {"passed": 0, "failed": 0, "warning": 0, "error": 0, "not_configured": 0}
        for result in self.results:
            counts[result.status] = counts.get(result.status, 0) + 1
        return counts

    @property
    def blocking(self) -> list[CheckResult]:
        """Required checks that failed or erred: what keeps the gate shut."""
        return [r for r in self.results if r.required and r.status in ("failed", "error")]

    @property
    def ordered_results(self) -> list[CheckResult]:
        """As a pull request lists its checks: what blocks first, then other failures, warnings, passes."""

        def rank(result: CheckResult) -> tuple[int, int]:
            if result.status in ("failed", "error"):
                return (0 if result.required else 1, result.position)
            if result.status == "warning":
                return (2, result.position)
            if result.status == "not_configured":
                return (4, result.position)
            return (3, result.position)

        return sorted(self.results, key=rank)

    @property
    def slices_result(self) -> CheckResult | None:
        return next((r for r in self.results if r.check_name == Check.SLICES), None)

    @cached_property
    def live_checks(self) -> list[dict]:
        """While the run is open: every check the worker will run, in its order, with what the current
        attempt found for those it finished (status and summary), which one it is on, and the others
        waiting. Read from the run's progress: no query."""
        found = {entry.get("check"): entry for entry in self.run.progress or () if isinstance(entry, dict)}
        running = self.run.state == "running"
        rows, current_marked = [], False
        for name in Check.ALL:
            entry = found.get(name)
            if entry is not None:
                status, summary = entry.get("status", ""), entry.get("summary", "")
            elif running and not current_marked:
                status, summary, current_marked = "running", "Checking…", True
            else:
                status, summary = "waiting", "Waiting"
            rows.append(
                {
                    "name": name,
                    "title": Check.TITLES[name],
                    "status": status,
                    "summary": summary,
                    "done": entry is not None,
                    "required": name in self.required_checks,
                }
            )
        return rows

    @property
    def live_done(self) -> int:
        return sum(1 for row in self.live_checks if row["done"])

    @property
    def required_checks(self) -> tuple[str, ...]:
        return self.rules.required_checks if self.rules is not None else ()

    @property
    def required_not_configured(self) -> list[CheckResult]:
        """Required checks the policy sets no rule for: they guarded nothing, and the report says so."""
        return [r for r in self.results if r.required and r.status == "not_configured"]


def gate_run_page(*, run: GateRun) -> GateRunPage:
    """A gate run with its results: one query for the results."""
    results = list(run.results.order_by("position"))
    for result in results:
        result.gate_run = run
    return GateRunPage(
        run=run, results=results, rules=revision_section(run.policy_revision, run.target_stage)
    )


def gate_run_request(*, run: GateRun):
    """The promotion request this gate run was run for (the latest, if a request re-ran it), or None: the
    gate pages lead back to it, so a reviewer reading the details stays inside the request."""
    return run.promotion_requests.order_by("-pk").first()


# --- The slice regression view ---------------------------------------------------------------------------

VERDICTS = SliceVerdict.ALL
VERDICT_LABELS = {
    SliceVerdict.WORSE: "Worse",
    SliceVerdict.MISSING_FROM_CANDIDATE: "Missing from the candidate",
    SliceVerdict.WITHIN_TOLERANCE: "Within tolerance",
    SliceVerdict.BETTER: "Better",
    SliceVerdict.TOO_FEW_SAMPLES: "Too few samples",
    SliceVerdict.NEW_IN_CANDIDATE: "New in the candidate",
    SliceVerdict.NOT_CHECKED: "Not checked",
}
SORTABLE = {
    "verdict": None,  # the order the gate recorded: regressions first, worst first
    "slice": "slice",
    "metric": "metric",
    "value": "value",
    "baseline": "baseline",
    "delta": "delta",
    "worse_by": "worse_by",
    "allowed": "allowed",
    "samples": "samples",
}


@dataclass(frozen=True)
class SliceRegressionView:
    rows: list[dict]  # as recorded by the slices check, in the order asked for
    all_rows: list[dict]  # as recorded, in the gate's order
    counts: dict[str, int]
    sort: str
    descending: bool
    verdict: str  # "" for every verdict
    numbers: dict = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.all_rows)


def _sort_key(column: str):
    def key(row: dict):
        value = row.get(column)
        # Missing values sort last whichever way the column is sorted (the caller flips only the present).
        return (value is None, value if value is not None else 0)

    return key


def _recorded_rows(result: CheckResult | None) -> tuple[list[dict], dict]:
    """The rows the slices check recorded, and its other numbers; nothing for a result that holds none."""
    numbers = dict(result.numbers) if result is not None and isinstance(result.numbers, dict) else {}
    rows = [row | {"verdict": verdict_of(row)} for row in numbers.get("rows") or [] if isinstance(row, dict)]
    return rows, {key: value for key, value in numbers.items() if key != "rows"}


def _verdict_counts(rows: list[dict]) -> dict[str, int]:
    counts = {name: 0 for name in VERDICTS}
    for row in rows:
        counts[row.get("verdict")] = counts.get(row.get("verdict"), 0) + 1
    return counts


def _sorted_rows(rows: list[dict], column: str, descending: bool) -> list[dict]:
    if SORTABLE[column] is None:
        return list(reversed(rows)) if descending else rows
    present = [row for row in rows if row.get(column) is not None]
    absent = [row for row in rows if row.get(column) is None]
    present.sort(key=_sort_key(column), reverse=descending)
    return present + absent


def slice_regression_view(
    *, result: CheckResult | None, sort: str = "", verdict: str = ""
) -> SliceRegressionView:
    """The rows the slices check recorded (not a recomputation), filtered to one verdict and sorted by a
    column: `sort` is a column name, with a leading '-' for descending. Unknown values fall back to the
    gate's own order."""
    rows, numbers = _recorded_rows(result)
    descending = sort.startswith("-")
    column = sort.removeprefix("-")
    if column not in SORTABLE:
        column, descending = "verdict", False
    verdict = SliceVerdict.LEGACY.get(verdict, verdict)  # links made before the verdicts were renamed
    verdict = verdict if verdict in VERDICTS else ""
    shown = [row for row in rows if not verdict or row.get("verdict") == verdict]
    return SliceRegressionView(
        rows=_sorted_rows(shown, column, descending),
        all_rows=rows,
        counts=_verdict_counts(rows),
        sort=column,
        descending=descending,
        verdict=verdict,
        numbers=numbers,
    )
