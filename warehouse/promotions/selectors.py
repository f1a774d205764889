"""Reads about policies and gate runs, shaped for pages and the API. Each runs a fixed number of queries,
whatever the number of runs, results, slices or revisions."""

from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.urls import reverse

from warehouse.accounts.permissions import ModelAccess, model_access, models_visible_to, permissions_on_models
from warehouse.errors import InvalidInput
from warehouse.promotions.models import (
    OPEN_REQUEST_STATES,
    CheckResult,
    Decision,
    GateRun,
    PolicyRevision,
    PromotionPolicy,
    PromotionRequest,
    RequestState,
    SignOff,
)
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


# --- Promotion requests ---------------------------------------------------------------------------------

REQUESTS_SHOWN = 50
TIMELINE_SHOWN = 100


def _request_queryset() -> QuerySet[PromotionRequest]:
    """Requests as lists show them. Few joins on purpose: past eight or so tables, PostgreSQL spends longer
    planning the query than running it (a thirteen-table version took 40 ms to plan, 0.7 ms to run)."""
    return PromotionRequest.objects.select_related(
        "model", "version", "requested_by", "gate_run__policy_revision__policy"
    )


# Who signed each request, in one more query for a whole list of them.
_SIGNERS = Prefetch(
    "signoffs", queryset=SignOff.objects.select_related("signer").order_by("created_at", "pk")
)


def _bind(promotions: list[PromotionRequest]) -> list[PromotionRequest]:
    # Templates name versions as `model/vN` and policies by their model: the model is already loaded.
    for promotion in promotions:
        promotion.version.model = promotion.model
        promotion.gate_run.version = promotion.version
        policy = promotion.gate_run.policy_revision.policy
        if policy.model_id == promotion.model_id:
            policy.model = promotion.model
        if "baseline" in promotion.gate_run._state.fields_cache and promotion.gate_run.baseline is not None:
            promotion.gate_run.baseline.model = promotion.model
    return promotions


def promotion_request_get(*, model: RegisteredModel, request_id: int) -> PromotionRequest:
    """One request of `model` with everything its page shows, or 404 (a request of another model is not
    found under this one). The people it names come in one more query each, not as more joins."""
    promotion = (
        _request_queryset()
        .select_related("version__registered_by", "gate_run__baseline", "transition")
        .prefetch_related("closed_by", "overridden_by", "gate_run__requested_by")
        .filter(model=model, pk=request_id)
        .first()
    )
    if promotion is None:
        raise Http404("No such promotion request.")
    return _bind([promotion])[0]


def _rules_for(revision: PolicyRevision, target_stage: str, cache: dict) -> SectionRules | None:
    key = (revision.pk, target_stage)
    if key not in cache:
        cache[key] = _section_of(revision, target_stage)
    return cache[key]


@dataclass(frozen=True)
class ChecklistItem:
    title: str
    automatic: bool  # checked by the gate; otherwise a person must look
    status: str  # a check status, "pending" while the gate runs, or "person" for a person's judgement
    evidence: str
    anchor: str = ""  # where on the page (or the gate report) the evidence is


# The reviewer's checklist: what a review board asks before a model serves. Most items are gate checks;
# two need a person's eyes on evidence the gate can only count.
_CHECKLIST = (
    ("Tracked source run exists", Check.SOURCE_RUN),
    ("Artifacts complete", Check.ARTIFACTS),
    ("Evaluation report attached", Check.EVALUATION),
    ("Slice regressions reviewed", Check.SLICES),
    ("Latency within budget", Check.LATENCY),
    ("Cost within budget", Check.COST),
    ("Known failures documented", None),
    ("Owner assigned", Check.OWNER),
    ("Rollback target exists", Check.ROLLBACK_TARGET),
)


@dataclass(frozen=True)
class RequestPage:
    promotion: PromotionRequest
    gate: GateRunPage
    slices: SliceRegressionView
    signoffs: list[SignOff]
    card_sections: list[tuple[str, str, str]]  # (key, title, sanitised HTML) of the version's card
    timeline: list
    eligibility: object  # services.SignoffEligibility for the person reading; None once closed
    rules: SectionRules | None
    reader_id: int | None

    @property
    def current_signoffs(self) -> list[SignOff]:
        return [s for s in self.signoffs if s.gate_run_id == self.promotion.gate_run_id]

    @property
    def approvals(self) -> int:
        return sum(1 for s in self.current_signoffs if s.decision == Decision.APPROVE)

    @property
    def required_signoffs(self) -> int:
        return self.rules.signoffs.count if self.rules is not None else 0

    @property
    def signoff_roles(self) -> tuple[str, ...]:
        return self.rules.signoffs.roles if self.rules is not None else ()

    @property
    def signed_by_reader(self) -> SignOff | None:
        return next((s for s in self.signoffs if s.signer_id == self.reader_id), None)

    @property
    def regressions(self) -> list[dict]:
        return [row for row in self.slices.all_rows if row.get("verdict") in ("regressed", "missing")]

    @property
    def checklist(self) -> list[ChecklistItem]:
        results = {result.check_name: result for result in self.gate.results}
        run = self.promotion.gate_run
        items = []
        for title, check in _CHECKLIST:
            if check is None:
                text = next((html for key, _, html in self.card_sections if key == "known_failures"), "")
                items.append(
                    ChecklistItem(
                        title,
                        False,
                        "person",
                        "The card documents known failures: read them below."
                        if text
                        else "The card has no known failures section: ask the requester to write it.",
                        "#card",
                    )
                )
                continue
            result = results.get(check)
            if result is None:
                status = "pending" if run.is_open else "error"
                evidence = "Checking…" if run.is_open else "Not recorded by the gate run."
            else:
                status, evidence = result.status, result.summary
            automatic = check != Check.SLICES
            if check == Check.SLICES:
                evidence = f"{evidence} A person reviews them: see the regressions below."
            items.append(ChecklistItem(title, automatic, status, evidence, f"#check-{check}"))
        return items


def request_page(*, promotion: PromotionRequest, user, access: ModelAccess) -> RequestPage:
    """The reviewer's one screen, in a fixed number of queries: the results, the sign-offs, the card and
    the timeline, whatever their number."""
    from warehouse.audit.models import AuditEvent
    from warehouse.cards.models import ModelCard
    from warehouse.cards.sections import Section
    from warehouse.promotions.services import signoff_eligibility

    gate = gate_run_page(run=promotion.gate_run)
    slices = slice_regression_view(result=gate.slices_result)
    signoffs = list(
        SignOff.objects.filter(request=promotion).select_related("signer").order_by("created_at", "pk")
    )
    card = ModelCard.objects.filter(version_id=promotion.version_id).select_related("current").first()
    stored = card.current.sections_html if card is not None and card.current_id else {}
    card_sections = [(key, label, stored[key]) for key, label in Section.choices if stored.get(key)]
    timeline = list(
        AuditEvent.objects.filter(
            target_type=PromotionRequest._meta.label_lower, target_id=str(promotion.pk)
        ).order_by("sequence")[:TIMELINE_SHOWN]
    )
    eligibility = (
        signoff_eligibility(user=user, promotion=promotion, access=access) if promotion.is_open else None
    )
    return RequestPage(
        promotion=promotion,
        gate=gate,
        slices=slices,
        signoffs=signoffs,
        card_sections=card_sections,
        timeline=timeline,
        eligibility=eligibility,
        rules=gate.rules,
        reader_id=user.pk,
    )


# --- The reviewer queue ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewQueue:
    awaiting_me: list[PromotionRequest]  # oldest first
    mine: list[PromotionRequest]  # newest first
    limit: int = REQUESTS_SHOWN


def review_queue(*, user, limit: int = REQUESTS_SHOWN) -> ReviewQueue:
    """Requests awaiting `user`'s sign-off (gate passed, `user` holds a role the policy names on that
    model, did not ask for it nor register the version, has not signed yet), and `user`'s own open and
    recent requests. A fixed number of queries, whatever the number of requests and models."""
    from warehouse.promotions.services import SIGNOFF_PERMISSION

    visible = models_visible_to(user, RegisteredModel.objects.all())
    candidates = _bind(
        list(
            _request_queryset()
            .filter(state=RequestState.AWAITING_SIGNOFF, model__in=visible)
            .exclude(requested_by=user)
            .exclude(version__registered_by=user)
            .exclude(signoffs__signer=user)
            .order_by("created_at", "pk")
        )
    )
    on_model, org_wide = (
        permissions_on_models(user, sorted({p.model_id for p in candidates})) if candidates else ({}, set())
    )
    rules_cache: dict = {}
    awaiting = []
    for promotion in candidates:
        held = on_model.get(promotion.model_id, set()) | org_wide
        rules = _rules_for(promotion.gate_run.policy_revision, promotion.target_stage, rules_cache)
        roles = rules.signoffs.roles if rules is not None else ()
        if user.is_superuser or any(SIGNOFF_PERMISSION[role] in held for role in roles):
            awaiting.append(promotion)
    mine = _bind(
        list(
            _request_queryset()
            .filter(requested_by=user, model__in=visible)
            .prefetch_related(_SIGNERS)
            .order_by("-created_at", "-pk")[:limit]
        )
    )
    return ReviewQueue(awaiting_me=awaiting[:limit], mine=mine, limit=limit)


def review_queue_count(*, user) -> int:
    """How many requests await `user`'s sign-off: the number the home page and the menu show."""
    return len(review_queue(user=user, limit=REQUESTS_SHOWN).awaiting_me)


# --- Requests on the version and model pages ------------------------------------------------------------


@dataclass(frozen=True)
class VersionRequestsPanel:
    version: ModelVersion
    requests: list[PromotionRequest]  # newest first
    next_stage: str | None
    can_request: bool
    can_archive: bool
    archive_needs_approver: bool

    @property
    def open_request(self) -> PromotionRequest | None:
        return next((p for p in self.requests if p.is_open and p.target_stage == self.next_stage), None)

    @property
    def next_stage_label(self) -> str:
        return Stage(self.next_stage).label if self.next_stage else ""


def version_requests_panel(*, user, version: ModelVersion, access: ModelAccess | None = None):
    """The promotion part of the version page: its requests (one query) and what `user` may do."""
    access = access or model_access(user, version.model)
    next_stage = NEXT_STAGE.get(version.stage)
    requests = _bind(
        list(
            _request_queryset()
            .filter(version=version)
            .prefetch_related(_SIGNERS)
            .order_by("-created_at", "-pk")[:20]
        )
    )
    in_production = version.stage == Stage.PRODUCTION
    can_archive = version.stage != Stage.ARCHIVED and access.can("registry.archive_version")
    if in_production:
        can_archive = can_archive and access.can("registry.archive_production")
    return VersionRequestsPanel(
        version=version,
        requests=requests,
        next_stage=next_stage.value if next_stage else None,
        can_request=next_stage is not None and access.can("registry.request_promotion"),
        can_archive=can_archive,
        archive_needs_approver=in_production,
    )


def model_open_requests(*, model: RegisteredModel) -> list[PromotionRequest]:
    """The model's open requests, oldest first: one query."""
    return _bind(
        list(
            _request_queryset()
            .filter(model=model, state__in=OPEN_REQUEST_STATES)
            .prefetch_related(_SIGNERS)
            .order_by("created_at", "pk")
        )
    )


# --- What a card must hold ------------------------------------------------------------------------------


def card_required_sections(*, version: ModelVersion) -> tuple[tuple[str, ...], str]:
    """The card sections the policy in force requires for `version`'s next move up (for a version already
    in Production or Archived, those of the move to Production), and where the rule comes from. Named by
    `settings.CARD_REQUIRED_SECTIONS` for the card pages."""
    target = NEXT_STAGE.get(version.stage, Stage.PRODUCTION)
    revision = policy_in_force_read(model=version.model)
    rules = _section_of(revision, target)
    if rules is None:
        from warehouse.cards.selectors import DEFAULT_REQUIRED_SECTIONS

        return DEFAULT_REQUIRED_SECTIONS, "the default list (the policy in force could not be read)"
    source = revision.policy.model.name if revision.policy.model_id else "the global default"
    source_stage = Stage(version.stage).label if version.stage in NEXT_STAGE else "Staging"
    where = f"the promotion policy ({source}, r{revision.number}) for {source_stage} → {Stage(target).label}"
    return tuple(rules.required_card_sections), where
