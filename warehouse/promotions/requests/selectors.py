"""Reads about promotion requests and their sign-offs, shaped for pages and the API: who may sign, the
reviewer's page of one request, the reviewer queue, and the requests on the version and model pages. Each
runs a fixed number of queries, whatever the number of requests, sign-offs or events."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from warehouse import clock
from warehouse.accounts.permissions import (
    ModelAccess,
    model_access,
    models_visible_to,
)
from warehouse.promotions.gates.comparison import JUDGED, SliceVerdict
from warehouse.promotions.gates.selectors import (
    GateRunPage,
    SliceRegressionView,
    gate_run_page,
    slice_regression_view,
)
from warehouse.promotions.models import (
    OPEN_REQUEST_STATES,
    Decision,
    PolicyRevision,
    PromotionRequest,
    RequestState,
    SignOff,
)
from warehouse.promotions.policies.rules import (
    NEXT_STAGE,
    Check,
    SectionRules,
    revision_rules,
    revision_section,
)
from warehouse.registry.comparison import SideBySide, metrics_side_by_side, profiles_side_by_side
from warehouse.registry.models import (
    EvaluationMetric,
    ModelVersion,
    PerformanceProfile,
    RegisteredModel,
    Stage,
)

REQUESTS_SHOWN = 50
TIMELINE_SHOWN = 100


# --- Who may sign ---------------------------------------------------------------------------------------

# The role a policy names, and the permission (held through the role group, or on the one model) that
# makes someone that role for sign-off.
SIGNOFF_PERMISSION = {"reviewer": "registry.signoff_staging", "approver": "registry.signoff_production"}
OVERRIDE_PERMISSION = "registry.override_gate"


@dataclass(frozen=True)
class SignoffEligibility:
    """Whether one person may sign one request, and if not, why: what the request page shows them."""

    role: str | None
    can_override: bool
    refusal: str  # "" when they may sign
    permission: str  # what the refusal is about, for the audit event


def signoff_eligibility(*, user, promotion: PromotionRequest, access=None) -> SignoffEligibility:
    """Who may sign: the roles the policy names for this move (reviewer to Staging and approver to
    Production by default), on this model; never the requester nor the version's registrant (four eyes)."""
    access = access or model_access(user, promotion.model)
    rules = revision_rules(promotion.gate_run.policy_revision).for_target(promotion.target_stage)
    role = next((r for r in rules.signoffs.roles if access.can(SIGNOFF_PERMISSION[r])), None)
    can_override = access.can(OVERRIDE_PERMISSION)
    names = " or ".join(rules.signoffs.roles) or "nobody"
    if role is None:
        return SignoffEligibility(
            None,
            False,
            f"Signing off a move to {Stage(promotion.target_stage).label} of {promotion.model.name} needs "
            f"the {names} role on that model.",
            "/".join(SIGNOFF_PERMISSION[r] for r in rules.signoffs.roles),
        )
    if user.pk == promotion.requested_by_id:
        return SignoffEligibility(
            role,
            can_override,
            "You asked for this promotion: someone else must sign it (four eyes).",
            "four-eyes",
        )
    if user.pk == promotion.version.registered_by_id:
        return SignoffEligibility(
            role,
            can_override,
            "You registered this version: someone else must sign it (four eyes).",
            "four-eyes",
        )
    return SignoffEligibility(role, can_override, "", "")


# --- One request ----------------------------------------------------------------------------------------


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
        cache[key] = revision_section(revision, target_stage)
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
class AgainstProduction:
    """The candidate beside the production version, figure by figure: what the reviewer approves."""

    production: ModelVersion | None
    as_the_gate_saw_it: bool  # the gate's recorded baseline; else what is in production now
    metrics: list[SideBySide]
    profile: list[SideBySide]
    latency_budget: float | None
    cost_budget: float | None


@dataclass(frozen=True)
class RequestPage:
    against_production: AgainstProduction
    promotion: PromotionRequest
    gate: GateRunPage
    slices: SliceRegressionView
    signoffs: list[SignOff]
    card_sections: list[tuple[str, str, str]]  # (key, title, sanitised HTML) of the version's card
    timeline: list
    eligibility: SignoffEligibility | None  # for the person reading; None once closed
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
        """Slice results compared with production and worse beyond what the policy allows."""
        return [row for row in self.slices.all_rows if row.get("verdict") == SliceVerdict.WORSE]

    @property
    def missing_slices(self) -> list[dict]:
        """Slice results production reports and the candidate does not: unmeasured, not worse."""
        return [
            row for row in self.slices.all_rows if row.get("verdict") == SliceVerdict.MISSING_FROM_CANDIDATE
        ]

    @property
    def compared_slices(self) -> int:
        return sum(self.slices.counts.get(verdict, 0) for verdict in JUDGED)

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
        against_production=_against_production(promotion, gate),
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


def _against_production(promotion: PromotionRequest, gate: GateRunPage) -> AgainstProduction:
    """Two queries: the versions' overall metrics and performance profiles (and one more to find production
    while the gate has not recorded its baseline)."""
    production, recorded = gate.run.baseline, True
    if production is None:
        recorded = False
        production = (
            ModelVersion.objects.filter(model_id=promotion.version.model_id, stage=Stage.PRODUCTION)
            .exclude(pk=promotion.version_id)
            .first()
        )
    rules = gate.rules
    budgets = {
        "latency_budget": rules.latency_p95_ms_max if rules is not None else None,
        "cost_budget": rules.cost_per_1k_max if rules is not None else None,
    }
    if production is None:
        return AgainstProduction(None, recorded, [], [], **budgets)
    ids = [production.pk, promotion.version_id]
    metrics: dict[int, list] = {pk: [] for pk in ids}
    for metric in (
        EvaluationMetric.objects.filter(report__version_id__in=ids).select_related("report").order_by("name")
    ):
        metrics[metric.report.version_id].append(metric)
    profiles = {
        profile.version_id: profile for profile in PerformanceProfile.objects.filter(version_id__in=ids)
    }
    return AgainstProduction(
        production=production,
        as_the_gate_saw_it=recorded,
        metrics=metrics_side_by_side(metrics[production.pk], metrics[promotion.version_id]),
        profile=profiles_side_by_side(profiles.get(production.pk), profiles.get(promotion.version_id)),
        **budgets,
    )


# --- The reviewer queue ---------------------------------------------------------------------------------


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


SUPERSEDED_NOTICE_DAYS = 14


def requests_superseded_for_requester(*, user, limit: int = 5) -> list[PromotionRequest]:
    """The requester's own requests that the warehouse superseded in the last two weeks (a policy change or
    a stage change made them stale), newest first, on models they can still see: their home page tells
    them, with the reason, so that they can ask again. One query."""
    since = clock.now() - timedelta(days=SUPERSEDED_NOTICE_DAYS)
    superseded = list(
        PromotionRequest.objects.filter(
            requested_by=user,
            state=RequestState.SUPERSEDED,
            closed_at__gte=since,
            model__in=models_visible_to(user, RegisteredModel.objects.all()),
        )
        .select_related("model", "version")
        .order_by("-closed_at", "-pk")[:limit]
    )
    for promotion in superseded:
        promotion.version.model = promotion.model
    return superseded
