"""Reads about policies and gate runs, shaped for pages and the API. Each runs a fixed number of queries,
whatever the number of runs, results, slices or revisions."""

from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.urls import reverse

from warehouse.accounts.permissions import ModelAccess, model_access, models_visible_to
from warehouse.errors import InvalidInput
from warehouse.promotions.models import CheckResult, GateRun, PolicyRevision, PromotionPolicy
from warehouse.promotions.policy import (
    Check,
    PolicyRules,
    SectionRules,
    policy_parse,
    policy_warnings,
)
from warehouse.promotions.services import NEXT_STAGE, policy_in_force
from warehouse.registry.models import EvaluationMetric, ModelVersion, RegisteredModel, SliceMetric, Stage
from warehouse.registry.selectors import model_get_with_access

GATE_RUNS_SHOWN = 50
REVISIONS_SHOWN = 100


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
        counts = {"passed": 0, "failed": 0, "warning": 0, "error": 0}
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
            return (3, result.position)

        return sorted(self.results, key=rank)

    @property
    def slices_result(self) -> CheckResult | None:
        return next((r for r in self.results if r.check_name == Check.SLICES), None)

    @property
    def pending_checks(self) -> list[dict]:
        """While the run is open: every check the worker will run, and whether it got there yet."""
        done = self.run.checks_done
        return [
            {"name": name, "title": Check.TITLES[name], "done": index < done}
            for index, name in enumerate(Check.ALL)
        ]

    @property
    def required_checks(self) -> tuple[str, ...]:
        return self.rules.required_checks if self.rules is not None else ()


def _section_of(revision: PolicyRevision, target_stage: str) -> SectionRules | None:
    try:
        return policy_parse(revision.rules).for_target(target_stage)
    except (InvalidInput, KeyError, ValueError):
        return None


def gate_run_page(*, run: GateRun) -> GateRunPage:
    """A gate run with its results: one query for the results."""
    results = list(run.results.order_by("position"))
    for result in results:
        result.gate_run = run
    return GateRunPage(run=run, results=results, rules=_section_of(run.policy_revision, run.target_stage))


# --- The slice regression view ---------------------------------------------------------------------------

VERDICTS = ("regressed", "missing", "within", "improved", "too_few_samples", "no_baseline", "not_checked")
VERDICT_LABELS = {
    "regressed": "Regressed",
    "missing": "Missing from the candidate",
    "within": "Within tolerance",
    "improved": "Improved",
    "too_few_samples": "Too few samples",
    "no_baseline": "No baseline",
    "not_checked": "Not checked",
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


def slice_regression_view(
    *, result: CheckResult | None, sort: str = "", verdict: str = ""
) -> SliceRegressionView:
    """The rows the slices check recorded (not a recomputation), filtered to one verdict and sorted by a
    column: `sort` is a column name, with a leading '-' for descending. Unknown values fall back to the
    gate's own order."""
    numbers = dict(result.numbers) if result is not None and isinstance(result.numbers, dict) else {}
    rows = [row for row in numbers.get("rows") or [] if isinstance(row, dict)]
    counts = {name: 0 for name in VERDICTS}
    for row in rows:
        counts[row.get("verdict")] = counts.get(row.get("verdict"), 0) + 1
    descending = sort.startswith("-")
    column = sort.removeprefix("-")
    if column not in SORTABLE:
        column, descending = "verdict", False
    verdict = verdict if verdict in VERDICTS else ""
    shown = [row for row in rows if not verdict or row.get("verdict") == verdict]
    if SORTABLE[column] is not None:
        present = [row for row in shown if row.get(column) is not None]
        absent = [row for row in shown if row.get(column) is None]
        present.sort(key=_sort_key(column), reverse=descending)
        shown = present + absent
    elif descending:
        shown = list(reversed(shown))
    return SliceRegressionView(
        rows=shown,
        all_rows=rows,
        counts=counts,
        sort=column,
        descending=descending,
        verdict=verdict,
        numbers={key: value for key, value in numbers.items() if key != "rows"},
    )


# --- Policies -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyPage:
    model: RegisteredModel | None  # None: the global default's page
    in_force: PolicyRevision  # the revision that applies now (the model's own, or the global default's)
    own: PromotionPolicy | None  # the policy this page edits: the model's (None until it has one) or global
    revisions: list[PolicyRevision]  # of `own`, newest first
    viewed: PolicyRevision  # the revision shown (in force, unless one was asked for)
    viewed_rules: PolicyRules | None  # None when a stored revision no longer parses
    warnings: list[str]
    revisions_limit: int = REVISIONS_SHOWN

    @property
    def uses_global_default(self) -> bool:
        return self.model is not None and self.in_force.policy.model_id is None

    @property
    def viewing_in_force(self) -> bool:
        return self.viewed.pk == self.in_force.pk

    @property
    def revisions_truncated(self) -> bool:
        return len(self.revisions) >= self.revisions_limit


def _known_names(models_queryset) -> tuple[set[str], set[str]]:
    """The metric and slice names the versions of these models report: two queries."""
    metrics = set(
        EvaluationMetric.objects.filter(report__version__model__in=models_queryset)
        .values_list("name", flat=True)
        .distinct()
        .order_by()
    )
    slices = set()
    for key, metric in (
        SliceMetric.objects.filter(report__version__model__in=models_queryset)
        .values_list("slice_key", "metric")
        .distinct()
        .order_by()
    ):
        slices.add(key)
        metrics.add(metric)
    return metrics, slices


def _rules_or_none(revision: PolicyRevision) -> PolicyRules | None:
    try:
        return policy_parse(revision.rules)
    except InvalidInput:
        return None


def _policies_for(model: RegisteredModel | None) -> tuple[PromotionPolicy | None, PromotionPolicy]:
    """The model's own policy (None if it has none) and the global default, in one query; the global
    default is written the first time anyone needs it."""
    scope = Q(model__isnull=True) | (Q(model=model) if model is not None else Q(pk__in=[]))
    for _ in range(2):
        policies = {
            policy.model_id: policy
            for policy in PromotionPolicy.objects.filter(scope).select_related(
                "current__author", "current__policy"
            )
        }
        global_policy = policies.get(None)
        if global_policy is not None and global_policy.current is not None:
            own = policies.get(model.pk) if model is not None else None
            if own is not None:
                own.model = model
                if own.current is not None:
                    own.current.policy = own
            return own, global_policy
        # Only ever once per installation: the first reader has the service write the built-in default
        # (asked about no model, it looks for the global default's revision and writes it if missing).
        policy_in_force(model=None)
    raise RuntimeError("The global default policy could not be read.")


def policy_page(*, model: RegisteredModel | None, user, revision_number: int | None = None) -> PolicyPage:
    """A model's policy page (or, with `model` None, the global default's): the revision in force, the
    history of the policy the page edits, the revision asked for, and warnings about names no version
    reports. A fixed number of queries: policies, revisions, (the revision asked for when it is older than
    the history shown), metric names, slice names."""
    own, global_policy = _policies_for(model)
    if model is None:
        own = global_policy
    in_force = own.current if own is not None and own.current is not None else global_policy.current
    revisions = []
    if own is not None:
        revisions = list(own.revisions.select_related("author").order_by("-number")[:REVISIONS_SHOWN])
        for revision in revisions:
            revision.policy = own
    viewed = in_force
    if revision_number is not None:
        viewed = next((r for r in revisions if r.number == revision_number), None)
        if viewed is None and own is not None:
            viewed = own.revisions.select_related("author").filter(number=revision_number).first()
        if viewed is None:
            raise Http404("No such policy revision.")
        viewed.policy = own
    viewed_rules = _rules_or_none(viewed)
    warnings = policy_warnings_read(rules=viewed_rules, model=model, user=user)
    return PolicyPage(
        model=model,
        in_force=in_force,
        own=own,
        revisions=revisions,
        viewed=viewed,
        viewed_rules=viewed_rules,
        warnings=warnings,
    )


def policy_warnings_read(*, rules: PolicyRules | None, model: RegisteredModel | None, user) -> list[str]:
    """Names `rules` use that no version reports: of `model`, or, for the global default, of the models
    `user` can see. Two queries."""
    if rules is None:
        return []
    if model is not None:
        scope = RegisteredModel.objects.filter(pk=model.pk)
    else:
        scope = models_visible_to(user, RegisteredModel.objects.all())
    known_metrics, known_slices = _known_names(scope)
    return policy_warnings(rules, known_metrics=known_metrics, known_slices=known_slices)


def policy_revision_get(*, model: RegisteredModel | None, number: int) -> PolicyRevision:
    """Revision `number` of the model's own policy (or of the global default): 404 if there is none."""
    scope = Q(policy__model=model) if model is not None else Q(policy__model__isnull=True)
    revision = PolicyRevision.objects.filter(scope, number=number).select_related("policy", "author").first()
    if revision is None:
        raise Http404("No such policy revision.")
    if model is not None:
        revision.policy.model = model
    return revision


def policy_in_force_read(*, model: RegisteredModel | None) -> PolicyRevision:
    """The revision that applies to `model` now (or the global default's), read without locking."""
    own, global_policy = _policies_for(model)
    if own is not None and own.current is not None:
        return own.current
    return global_policy.current


def policy_page_url(revision: PolicyRevision) -> str:
    """The policy page showing `revision`, at its anchor."""
    policy = revision.policy
    if policy.model_id is None:
        base = reverse("promotions:global-policy")
    else:
        base = reverse("promotions:policy", args=[policy.model.name])
    return f"{base}?revision={revision.number}#revision-{revision.number}"


def policy_revision_document(revision: PolicyRevision) -> dict:
    """A revision as a JSON document (the page's download; the API adds its links). Needs the revision
    fetched with its policy, the policy's model and its author."""
    return {
        "scope": revision.policy.model.name if revision.policy.model_id else "global",
        "number": revision.number,
        "author": revision.author.get_username() if revision.author_id else None,
        "created_at": revision.created_at.isoformat(),
        "reason": revision.reason,
        "rules": revision.rules,
    }
