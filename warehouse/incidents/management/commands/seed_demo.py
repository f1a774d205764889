"""Load the demo: five teams' models with months of dated history, and one sign-in per role.

Everything is written through the services (`candidate_register`, `version_transition`, `card_revise`),
with the clock set to the day each step happened (`warehouse.clock.frozen_at`), so the audit chain
records the history in order and `manage.py verify_audit` passes afterwards. The history predates
promotion requests; today, the newest drafts of two models are asked for Staging through
`promotion_request_open`, their gates run at once, and they wait in the reviewer's queue; and a drift alert
about fraud-scorer's production version arrives through a demo Alertmanager receiver (`alerts_receive`),
so /go/fraud-scorer shows what a responder sees. It lives in the incidents app, the one that may use
every other app's services.

Idempotent: users and teams that exist are left as they are and a model that exists is not touched, so a
second run changes nothing. Refused with DEBUG off: the demo passwords are published in the README.
"""

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from warehouse import clock
from warehouse.accounts.roles import Role, role_groups_sync
from warehouse.audit.services import acting_via
from warehouse.cards.services import NewModel, candidate_register, card_revise, registration_parse
from warehouse.errors import Conflict
from warehouse.incidents.services import alerts_receive, receiver_create
from warehouse.promotions.gates.services import gate_run_execute
from warehouse.promotions.requests.services import promotion_request_open
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage
from warehouse.registry.services import version_transition

DEMO_PASSWORD = "warehouse-demo"
# The model a drift alert is firing about when the demo opens, and the receiver it came through.
ALERTED_MODEL = "fraud-scorer"
DEMO_RECEIVER = "demo-alertmanager"
# Models whose newest draft waits for a reviewer's sign-off when the demo opens.
OPEN_REQUESTS = 2
# The history runs from this many days ago until a few days ago.
HISTORY_DAYS = 200


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role | None  # None: the superuser
    first_name: str
    last_name: str
    does: str


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", None, "Ada", "Admin", "everything, plus the Django admin (/admin/)"),
    DemoUser(
        "viewer", Role.VIEWER, "Vera", "Lindqvist", "reads every model, version, card and the audit trail"
    ),
    DemoUser(
        "contributor",
        Role.CONTRIBUTOR,
        "Carlos",
        "Mendes",
        "registers models and versions, edits cards, archives drafts",
    ),
    DemoUser("reviewer", Role.REVIEWER, "Rita", "Okafor", "signs off promotions to Staging"),
    DemoUser(
        "approver",
        Role.APPROVER,
        "Amir",
        "Haddad",
        "signs off promotions to Production, archives production versions",
    ),
    DemoUser(
        "responder", Role.INCIDENT_RESPONDER, "Ines", "Kowalski", "responds to incidents and rolls back"
    ),
    DemoUser("policy-admin", Role.POLICY_ADMIN, "Paul", "Nakamura", "edits promotion policies"),
)

TEAMS = ("payments", "search", "imaging", "support", "logistics")


def sign_ins_table() -> str:
    """The demo sign-ins as a plain-text table, for the terminal."""
    rows = [("Role", "Username", "Password", "What the role allows")]
    rows += [
        (user.role.label if user.role else "Admin (superuser)", user.username, DEMO_PASSWORD, user.does)
        for user in DEMO_USERS
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


# --- What each demo model is made of ---------------------------------------------------------------------


@dataclass(frozen=True)
class MetricSpec:
    name: str
    direction: str  # "higher" or "lower": which way is better
    spread: float  # how far a hard or easy slice sits from the overall value
    digits: int = 4


@dataclass(frozen=True)
class Step:
    """One thing that happened to a model: `day` counts from the start of the history."""

    day: int
    hour: int
    action: str  # register, promote, archive, rollback, card-edit, refused-rollback, refused-register
    number: int
    reason: str = ""
    to: Stage | None = None


@dataclass(frozen=True)
class DemoModel:
    name: str
    team: str
    description: str
    dataset: str
    metrics: tuple[MetricSpec, ...]
    # version number -> overall value of each metric, in the order of `metrics`
    headline: dict[int, tuple[float, ...]]
    slice_metrics: tuple[str, ...]
    # (slice, sample count, difficulty): a positive difficulty is a slice where the model does worse
    slices: tuple[tuple[str, int, float], ...]
    # version number -> {slice: extra difficulty}: the slices that regressed in that version
    regressions: dict[int, dict[str, float]]
    version_notes: dict[int, str]
    artifacts: Callable[[int], list[dict]]
    source_run: Callable[[int, datetime], dict]
    profile: Callable[[int], dict]
    card: Callable[[int, dict[str, float], "DemoModel"], str]
    history: tuple[Step, ...]
    card_edits: dict[int, str] = field(default_factory=dict)


def _digest(*parts: object) -> str:
    return hashlib.sha256(":".join(str(part) for part in parts).encode()).hexdigest()


def _commit(*parts: object) -> str:
    return hashlib.sha1(":".join(str(part) for part in parts).encode(), usedforsecurity=False).hexdigest()


def _metrics_text(values: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:g}" for name, value in values.items())


# --- payments: fraud-scorer ------------------------------------------------------------------------------

FRAUD_SLICES = (
    ("region=EU", 1_840_000, -0.2),
    ("region=UK", 612_000, -0.1),
    ("region=NA", 2_130_000, -0.3),
    ("region=LATAM", 388_000, 0.7),
    ("region=APAC", 455_000, 0.4),
    ("region=MEA", 97_500, 0.9),
    ("device=mobile-app", 2_410_000, -0.2),
    ("device=mobile-web", 1_120_000, 0.5),
    ("device=desktop", 940_000, 0.1),
    ("device=pos-terminal", 1_050_000, -0.6),
    ("merchant_category=grocery", 1_310_000, -0.7),
    ("merchant_category=travel", 286_000, 0.6),
    ("merchant_category=digital-goods", 402_000, 1.0),
    ("merchant_category=electronics", 233_000, 0.8),
    ("merchant_category=fuel", 515_000, -0.4),
    ("merchant_category=restaurants", 870_000, -0.5),
    ("merchant_category=gambling", 41_200, 1.4),
    ("merchant_category=marketplaces", 640_000, 0.3),
    ("card_type=credit", 2_700_000, -0.1),
    ("card_type=debit", 2_350_000, 0.0),
    ("card_type=prepaid", 183_000, 1.2),
    ("channel=card-present", 2_180_000, -0.8),
    ("channel=card-not-present", 3_050_000, 0.6),
    ("customer_tenure=first-90-days", 264_000, 1.1),
)


def _fraud_artifacts(number: int) -> list[dict]:
    base = f"s3://acme-ml-models/payments/fraud-scorer/v{number}"
    return [
        {
            "name": "model.onnx",
            "kind": "weights",
            "uri": f"{base}/model.onnx",
            "sha256": _digest("fraud", number, "model.onnx"),
            "size_bytes": 18_400_000 + number * 611_000,
        },
        {
            "name": "feature_spec.json",
            "kind": "config",
            "uri": f"{base}/feature_spec.json",
            "sha256": _digest("fraud", number, "feature_spec"),
            "size_bytes": 9_800 + number * 140,
        },
        {
            "name": "signature.json",
            "kind": "signature",
            "uri": f"{base}/signature.json",
            "sha256": _digest("fraud", number, "signature"),
            "size_bytes": 2_150,
        },
        {
            "name": "requirements.lock",
            "kind": "environment",
            "uri": f"{base}/requirements.lock",
            "sha256": _digest("fraud", number, "env"),
            "size_bytes": 4_310,
        },
    ]


def _fraud_run(number: int, when: datetime) -> dict:
    run_id = _digest("fraud-run", number)[:32]
    return {
        "tracking_system": "mlflow",
        "run_id": run_id,
        "url": f"https://mlflow.payments.acme.example/#/experiments/17/runs/{run_id}",
        "git_commit": _commit("fraud", number),
        "training_data": f"s3://acme-lake/payments/transactions/labelled/{when:%Y-%m}/",
    }


def _fraud_profile(number: int) -> dict:
    return {
        "latency_p50_ms": 3.1 + number * 0.1,
        "latency_p95_ms": 7.8 + number * 0.3,
        "latency_p99_ms": 13.5 + number * 0.5,
        "hardware": "c6i.xlarge (4 vCPU), ONNX Runtime",
        "throughput_rps": 2400 - number * 60,
        "cost_per_1k_predictions": f"{0.0118 + number * 0.0004:.4f}",
        "currency": "USD",
    }


def _fraud_card(number: int, values: dict[str, float], spec: "DemoModel") -> str:
    return f"""Scores every card payment for fraud risk before authorisation. The score (0–1) feeds the
payment gateway's decision: above **0.85** the payment is declined, between 0.6 and 0.85 it goes to
step-up authentication (3-D Secure), below 0.6 it is approved.

## Out of scope
- Account-takeover and first-party (friendly) fraud: separate models own those.
- Bank transfers and wallets other than card-on-file.

## Data summary
Twelve months of card transactions from the EU, UK, North America, LATAM, APAC and MEA, labelled by
chargebacks and confirmed fraud reports up to 90 days after the payment. Fraud is about 0.14% of
payments; the training set down-samples legitimate payments 20:1 and re-weights.

## Evaluation notes
Evaluated on `{spec.dataset}` (out-of-time holdout, the most recent month): {_metrics_text(values)}.
Precision and recall are measured at the production decline threshold of 0.85. Slices cover regions,
devices, merchant categories, card types and channels; sample counts are payments.

## Known failures
- Merchants in their first week have no history: scores run high, so expect more step-ups there.
- Prepaid cards and gambling merchants have few labelled frauds: their slice numbers move a lot
  between versions.

## Latency and cost notes
Runs inline in authorisation: the budget is 15 ms at p95 on the gateway's c6i fleet.

## Ethical considerations
A decline blocks a customer's purchase. No protected attributes are features; the false positive rate
is monitored per region and card type so no group carries the declines of another.

## Owners and contacts
Payments risk ML (#payments-risk-ml). On call: payments-ml-oncall. Version {number}.
"""


FRAUD = DemoModel(
    name="fraud-scorer",
    team="payments",
    description="Scores card payments for fraud before authorisation; the score decides decline, "
    "step-up or approve at the payment gateway.",
    dataset="payments-oot-holdout",
    metrics=(
        MetricSpec("auc", "higher", 0.025),
        MetricSpec("precision@0.85", "higher", 0.06),
        MetricSpec("recall@0.85", "higher", 0.07),
        MetricSpec("false_positive_rate", "lower", 0.0012, digits=5),
    ),
    headline={
        1: (0.912, 0.71, 0.58, 0.0041),
        2: (0.918, 0.69, 0.61, 0.0047),
        3: (0.924, 0.74, 0.62, 0.0036),
        4: (0.931, 0.75, 0.66, 0.0033),
        5: (0.935, 0.77, 0.67, 0.0031),
        6: (0.938, 0.78, 0.69, 0.0030),
        7: (0.941, 0.77, 0.71, 0.0032),
    },
    slice_metrics=("auc", "recall@0.85"),
    slices=FRAUD_SLICES,
    regressions={
        2: {"merchant_category=digital-goods": 1.6, "region=LATAM": 1.1},
        4: {"merchant_category=travel": 1.8, "region=APAC": 0.6},
        7: {"card_type=prepaid": 1.3},
    },
    version_notes={
        1: "Gradient-boosted trees on 180 transaction and merchant features. First governed version.",
        2: "Adds device fingerprint velocity features; retrained on the last 12 months.",
        3: "Re-weights LATAM and digital goods after v2's regressions; drops two leaky merchant features.",
        4: "Adds merchant-category embeddings learned from 2 years of payments.",
        5: "v4's embeddings with travel seasonality features; recalibrated on post-incident data.",
        6: "Monthly retrain with the new chargeback labels; same features as v5.",
        7: "Experiment: 40% more trees, new prepaid-card features.",
    },
    artifacts=_fraud_artifacts,
    source_run=_fraud_run,
    profile=_fraud_profile,
    card=_fraud_card,
    history=(
        Step(0, 9, "register", 1),
        Step(
            2,
            14,
            "promote",
            1,
            "Offline evaluation reviewed; shadow scoring on 5% of EU traffic.",
            Stage.STAGING,
        ),
        Step(
            9,
            10,
            "promote",
            1,
            "Two weeks in shadow: decline rate within 0.1 pt of the rules engine.",
            Stage.PRODUCTION,
        ),
        Step(31, 11, "register", 2),
        Step(33, 15, "promote", 2, "Headline AUC up; slices to be checked in shadow.", Stage.STAGING),
        Step(38, 9, "refused-register", 2, "viewer tried to register a version"),
        Step(
            40,
            16,
            "archive",
            2,
            "Digital goods and LATAM recall dropped in shadow; not promoting.",
            Stage.ARCHIVED,
        ),
        Step(46, 10, "register", 3),
        Step(48, 13, "promote", 3, "Regressions of v2 fixed on every slice.", Stage.STAGING),
        Step(55, 11, "promote", 3, "Shadow week clean; fraud ops signed off.", Stage.PRODUCTION),
        Step(84, 9, "register", 4),
        Step(
            86, 14, "promote", 4, "Best offline AUC so far; travel slice flagged for watching.", Stage.STAGING
        ),
        Step(92, 10, "promote", 4, "Shadow fortnight within budget.", Stage.PRODUCTION),
        Step(95, 7, "refused-rollback", 1, "Decline spike on travel merchants: rolling back to v1."),
        Step(95, 8, "rollback", 3, "INC-4471: declines on travel merchants tripled after v4; back to v3."),
        Step(118, 10, "register", 5),
        Step(120, 15, "promote", 5, "Travel recall back above v3 on the new holdout.", Stage.STAGING),
        Step(
            128, 11, "promote", 5, "Two weeks of shadow including the holiday peak: clean.", Stage.PRODUCTION
        ),
        Step(130, 16, "card-edit", 5),
        Step(160, 9, "register", 6),
        Step(163, 14, "promote", 6, "Monthly retrain; all slices within 0.5 pt of v5.", Stage.STAGING),
        Step(188, 10, "register", 7),
    ),
    card_edits={
        5: "Travel merchants: v4 declined 3× more travel payments after a seasonality shift (INC-4471). "
        "v5 adds seasonality features; the travel slice is watched daily for the first month.",
    },
)


# --- search: search-ranker -------------------------------------------------------------------------------

SEARCH_SLICES = (
    ("locale=en-US", 412_000, -0.5),
    ("locale=en-GB", 128_000, -0.4),
    ("locale=de-DE", 96_500, 0.0),
    ("locale=fr-FR", 74_200, 0.1),
    ("locale=es-ES", 51_800, 0.2),
    ("locale=it-IT", 33_900, 0.3),
    ("locale=nl-NL", 21_400, 0.2),
    ("locale=pl-PL", 14_700, 0.8),
    ("locale=ja-JP", 18_300, 1.1),
    ("locale=pt-BR", 27_600, 0.6),
    ("device=ios", 301_000, -0.1),
    ("device=android", 268_000, 0.1),
    ("device=desktop-web", 244_000, -0.3),
    ("device=mobile-web", 117_000, 0.4),
    ("query_type=head", 389_000, -1.2),
    ("query_type=torso", 221_000, 0.0),
    ("query_type=tail", 174_000, 1.3),
    ("query_type=navigational", 58_000, -1.5),
    ("query_type=product-sku", 22_400, -0.8),
    ("query_type=misspelled", 31_700, 1.6),
    ("category=fashion", 143_000, 0.4),
    ("category=electronics", 162_000, -0.2),
    ("category=home-garden", 88_400, 0.5),
)


def _search_artifacts(number: int) -> list[dict]:
    base = f"gs://acme-search-models/ranker/v{number}"
    return [
        {
            "name": "ranker.lgbm.txt",
            "kind": "weights",
            "uri": f"{base}/ranker.lgbm.txt",
            "sha256": _digest("search", number, "weights"),
            "size_bytes": 61_000_000 + number * 2_300_000,
        },
        {
            "name": "features.yaml",
            "kind": "config",
            "uri": f"{base}/features.yaml",
            "sha256": _digest("search", number, "features"),
            "size_bytes": 14_200,
        },
        {
            "name": "query_tokenizer.json",
            "kind": "tokenizer",
            "uri": f"{base}/query_tokenizer.json",
            "sha256": _digest("search", number, "tokenizer"),
            "size_bytes": 2_450_000,
        },
    ]


def _search_run(number: int, when: datetime) -> dict:
    run_id = _digest("search-run", number)[:8]
    return {
        "tracking_system": "wandb",
        "run_id": run_id,
        "url": f"https://wandb.ai/acme-search/ranker/runs/{run_id}",
        "git_commit": _commit("search", number),
        "training_data": f"gs://acme-search-logs/judgements/{when:%Y-%m-%d}/",
    }


def _search_profile(number: int) -> dict:
    return {
        "latency_p50_ms": 10.5 + number * 0.4,
        "latency_p95_ms": 23.0 + number * 0.9,
        "latency_p99_ms": 39.0 + number * 1.5,
        "hardware": "n2-standard-8, 200 candidates per query",
        "throughput_rps": 1450 - number * 35,
        "cost_per_1k_predictions": f"{0.0029 + number * 0.0002:.4f}",
        "currency": "USD",
    }


def _search_card(number: int, values: dict[str, float], spec: "DemoModel") -> str:
    return f"""Re-ranks the top 200 candidates from the retrieval stage for every product search on the
web shop and the apps. The order decides what a customer sees first.

## Out of scope
- Retrieval (which 200 candidates): owned by the retrieval index.
- Sponsored placements: inserted after ranking by the ads service.

## Data summary
Query logs with clicks, add-to-carts and purchases from the last 90 days, de-biased for position, plus
18,000 queries judged by the relevance team on a 4-point scale.

## Evaluation notes
Evaluated on `{spec.dataset}`: {_metrics_text(values)}. nDCG@10 uses graded judgements; MRR uses the
first purchase. Sample counts are queries.

## Known failures
- Misspelled and tail queries rank worse; the spelling corrector upstream matters more than the ranker.
- Japanese queries have few judgements: their numbers are noisy.

## Latency and cost notes
Budget: 30 ms at p95 for 200 candidates on the search cluster.

## Owners and contacts
Search relevance (#search-relevance). Version {number}.
"""


SEARCH = DemoModel(
    name="search-ranker",
    team="search",
    description="Learning-to-rank model that orders the top 200 product candidates for every shop search.",
    dataset="judged-queries",
    metrics=(MetricSpec("ndcg@10", "higher", 0.04), MetricSpec("mrr", "higher", 0.05)),
    headline={
        1: (0.412, 0.538),
        2: (0.405, 0.531),
        3: (0.428, 0.552),
        4: (0.436, 0.559),
        5: (0.441, 0.566),
        6: (0.449, 0.571),
    },
    slice_metrics=("ndcg@10", "mrr"),
    slices=SEARCH_SLICES,
    regressions={
        2: {"locale=de-DE": 1.0},
        4: {"query_type=tail": 1.5, "query_type=misspelled": 1.2},
        6: {"locale=ja-JP": 0.9},
    },
    version_notes={
        1: "LambdaMART on 96 features: text match, popularity, price, freshness.",
        2: "Experiment: removes the price features.",
        3: "Adds dense query–product similarity from the two-tower model.",
        4: "Doubles the tree count; trained on the holiday logs.",
        5: "v3 features plus add-to-cart labels; position-bias correction.",
        6: "Retrained on the autumn logs with new judgements for non-English locales.",
    },
    artifacts=_search_artifacts,
    source_run=_search_run,
    profile=_search_profile,
    card=_search_card,
    history=(
        Step(4, 10, "register", 1),
        Step(6, 11, "promote", 1, "Offline nDCG above the heuristic ranker by 9%.", Stage.STAGING),
        Step(13, 14, "promote", 1, "A/B test: +2.1% search conversion.", Stage.PRODUCTION),
        Step(28, 10, "register", 2),
        Step(29, 17, "archive", 2, "Price features matter: nDCG dropped on every locale.", Stage.ARCHIVED),
        Step(51, 9, "register", 3),
        Step(53, 12, "promote", 3, "Offline gain on every slice.", Stage.STAGING),
        Step(61, 13, "promote", 3, "A/B test: +1.4% conversion, no latency change.", Stage.PRODUCTION),
        Step(99, 10, "register", 4),
        Step(101, 11, "promote", 4, "Best headline numbers; tail queries need a look.", Stage.STAGING),
        Step(108, 15, "archive", 4, "Tail and misspelled queries regressed in the A/B test.", Stage.ARCHIVED),
        Step(136, 10, "register", 5),
        Step(138, 14, "promote", 5, "All slices at or above v3.", Stage.STAGING),
        Step(146, 11, "promote", 5, "A/B test: +0.9% conversion, tail queries flat.", Stage.PRODUCTION),
        Step(181, 9, "register", 6),
        Step(
            183, 16, "promote", 6, "Judgements for non-English locales added; A/B test queued.", Stage.STAGING
        ),
    ),
)


# --- imaging: chest-xray-assist --------------------------------------------------------------------------

IMAGING_SLICES = (
    ("site=northgate-general", 5_840, -0.3),
    ("site=riverside-university", 4_920, -0.5),
    ("site=st-agnes", 2_310, 0.2),
    ("site=harbour-view", 1_770, 0.6),
    ("site=mercy-valley", 1_460, 0.4),
    ("site=kingsbridge", 3_080, 0.0),
    ("site=elm-park-clinic", 640, 0.9),
    ("site=westfield-community", 980, 0.7),
    ("scanner=vendor-a-dr", 9_600, -0.3),
    ("scanner=vendor-b-dr", 7_350, 0.1),
    ("scanner=portable-cr", 4_050, 1.2),
    ("view=pa", 13_200, -0.6),
    ("view=ap", 6_900, 0.8),
    ("view=lateral", 3_720, 0.5),
    ("age=18-39", 4_480, -0.4),
    ("age=40-64", 8_150, -0.1),
    ("age=65-79", 6_300, 0.3),
    ("age=80-plus", 2_070, 1.0),
    ("sex=female", 10_400, 0.0),
    ("sex=male", 10_600, 0.0),
    ("finding=pneumothorax", 720, 1.3),
    ("finding=effusion", 2_940, -0.4),
    ("finding=nodule", 1_180, 1.5),
    ("finding=consolidation", 2_260, 0.2),
)


def _imaging_artifacts(number: int) -> list[dict]:
    base = f"abfss://models@acmeimagingml.dfs.core.windows.net/chest-xray-assist/v{number}"
    return [
        {
            "name": "model.pt",
            "kind": "weights",
            "uri": f"{base}/model.pt",
            "sha256": _digest("imaging", number, "weights"),
            "size_bytes": 94_300_000 + number * 120_000,
        },
        {
            "name": "preprocess.json",
            "kind": "preprocessor",
            "uri": f"{base}/preprocess.json",
            "sha256": _digest("imaging", number, "preprocess"),
            "size_bytes": 3_600,
        },
        {
            "name": "calibration.json",
            "kind": "config",
            "uri": f"{base}/calibration.json",
            "sha256": _digest("imaging", number, "calibration"),
            "size_bytes": 1_900,
        },
        {
            "name": "conda-env.yaml",
            "kind": "environment",
            "uri": f"{base}/conda-env.yaml",
            "sha256": _digest("imaging", number, "env"),
            "size_bytes": 2_800,
        },
    ]


def _imaging_run(number: int, when: datetime) -> dict:
    job = f"chest-xray-assist-{when:%Y-%m-%d}-v{number}"
    return {
        "tracking_system": "sagemaker",
        "run_id": job,
        "url": f"https://eu-west-1.console.aws.amazon.com/sagemaker/home?region=eu-west-1#/jobs/{job}",
        "git_commit": _commit("imaging", number),
        "training_data": f"s3://acme-imaging-deid/cxr/curated/{when:%Y-%m}/",
    }


def _imaging_profile(number: int) -> dict:
    return {
        "latency_p50_ms": 310 + number * 6,
        "latency_p95_ms": 780 + number * 15,
        "latency_p99_ms": 1210 + number * 20,
        "hardware": "g5.xlarge (A10G), batch of 1 study",
        "throughput_rps": 11.5,
        "cost_per_1k_predictions": f"{1.92 + number * 0.03:.2f}",
        "currency": "EUR",
    }


def _imaging_card(number: int, values: dict[str, float], spec: "DemoModel") -> str:
    return f"""Flags chest X-rays that likely show pneumothorax, pleural effusion, a nodule or consolidation,
so radiologists read those studies first. It prioritises the worklist; it never reports on its own and
every study is still read by a radiologist.

## Out of scope
- Patients under 18: not trained or evaluated on paediatric studies.
- Diagnosis without a radiologist; CT or any modality other than chest radiographs.

## Data summary
De-identified chest radiographs from eight partner hospitals, labelled by two radiologists with a third
reading disagreements. Studies from each site's most recent quarter are held out.

## Evaluation notes
Evaluated on `{spec.dataset}`: {_metrics_text(values)}. Sensitivity and specificity at the operating
point agreed with the clinical safety board. Slices cover sites, scanners, views, age bands, sex and
findings; sample counts are studies.

## Known failures
- Portable (CR) scanners and AP views: lower sensitivity; lines and tubes confuse the model.
- Small nodules under 8 mm are often missed.

## Latency and cost notes
Runs asynchronously when a study arrives; the budget is 2 s at p95, well within the worklist refresh.

## Ethical considerations
Performance is reviewed per site, sex and age band before every promotion. A missed finding delays a
read, it does not cancel it.

## Owners and contacts
Clinical imaging ML (#imaging-ml), clinical safety officer: Dr. M. Byrne. Version {number}.
"""


IMAGING = DemoModel(
    name="chest-xray-assist",
    team="imaging",
    description="Prioritises chest X-rays with likely urgent findings on the radiology worklist. "
    "Assists radiologists; never reports on its own.",
    dataset="cxr-multisite-holdout",
    metrics=(
        MetricSpec("sensitivity", "higher", 0.035),
        MetricSpec("specificity", "higher", 0.03),
        MetricSpec("auc", "higher", 0.02),
    ),
    headline={
        1: (0.902, 0.861, 0.941),
        2: (0.915, 0.858, 0.946),
        3: (0.921, 0.870, 0.952),
        4: (0.928, 0.873, 0.956),
        5: (0.931, 0.869, 0.957),
    },
    slice_metrics=("sensitivity", "specificity"),
    slices=IMAGING_SLICES,
    regressions={2: {"site=harbour-view": 2.0, "scanner=portable-cr": 1.0}, 5: {"site=elm-park-clinic": 1.2}},
    version_notes={
        1: "DenseNet-121 fine-tuned on 110k studies from six sites.",
        2: "Adds two sites' studies; higher input resolution (1024 px).",
        3: "v2 plus scanner-specific augmentation for portable CR studies.",
        4: "Larger backbone (ConvNeXt-S); recalibrated operating point.",
        5: "Adds the lateral views to training; experimental.",
    },
    artifacts=_imaging_artifacts,
    source_run=_imaging_run,
    profile=_imaging_profile,
    card=_imaging_card,
    history=(
        Step(7, 10, "register", 1),
        Step(12, 15, "promote", 1, "Clinical safety board reviewed the retrospective study.", Stage.STAGING),
        Step(
            33,
            10,
            "promote",
            1,
            "Silent trial at two sites for three weeks: no safety events.",
            Stage.PRODUCTION,
        ),
        Step(70, 11, "register", 2),
        Step(74, 14, "promote", 2, "Better overall sensitivity; silent trial at all sites.", Stage.STAGING),
        Step(
            89,
            9,
            "archive",
            2,
            "Harbour View sensitivity fell 7 pt after its portable scanner upgrade.",
            Stage.ARCHIVED,
        ),
        Step(104, 10, "register", 3),
        Step(108, 13, "promote", 3, "Harbour View and portable CR back above v1.", Stage.STAGING),
        Step(
            131,
            10,
            "promote",
            3,
            "Silent trial clean at all eight sites; safety board approved.",
            Stage.PRODUCTION,
        ),
        Step(170, 11, "register", 4),
        Step(175, 15, "promote", 4, "All slices at or above v3; silent trial started.", Stage.STAGING),
        Step(192, 10, "register", 5),
    ),
)


# --- support: support-copilot ----------------------------------------------------------------------------

SUPPORT_SLICES = (
    ("language=en", 9_120, -0.6),
    ("language=de", 2_870, -0.2),
    ("language=fr", 2_140, -0.1),
    ("language=es", 1_960, 0.0),
    ("language=it", 980, 0.2),
    ("language=pt", 1_240, 0.3),
    ("language=nl", 720, 0.2),
    ("language=pl", 430, 0.7),
    ("language=sv", 380, 0.5),
    ("language=ja", 610, 1.1),
    ("language=ko", 290, 1.3),
    ("language=zh", 520, 1.0),
    ("channel=chat", 11_800, -0.2),
    ("channel=email", 6_300, 0.3),
    ("channel=in-app", 3_400, 0.0),
    ("product=billing", 5_600, 0.1),
    ("product=accounts", 4_100, -0.4),
    ("product=shipping", 6_900, -0.3),
    ("product=returns", 3_800, 0.2),
    ("product=api-integrations", 1_150, 1.4),
    ("tier=free", 12_300, 0.2),
    ("tier=pro", 6_200, -0.1),
    ("tier=enterprise", 2_900, 0.5),
)


def _support_artifacts(number: int) -> list[dict]:
    base = f"s3://acme-support-ml/copilot/v{number}"
    return [
        {
            "name": "adapter.safetensors",
            "kind": "weights",
            "uri": f"{base}/adapter.safetensors",
            "sha256": _digest("support", number, "adapter"),
            "size_bytes": 167_800_000 + number * 1_100_000,
        },
        {
            "name": "tokenizer.json",
            "kind": "tokenizer",
            "uri": f"{base}/tokenizer.json",
            "sha256": _digest("support", number, "tokenizer"),
            "size_bytes": 9_085_000,
        },
        {
            "name": "prompt_template.md",
            "kind": "config",
            "uri": f"https://git.acme.example/support-ml/copilot/raw/v{number}/prompt_template.md",
            "sha256": _digest("support", number, "prompt"),
            "size_bytes": 6_400 + number * 250,
        },
        {
            "name": "retrieval_index.manifest.json",
            "kind": "other",
            "uri": f"{base}/retrieval_index.manifest.json",
            "sha256": _digest("support", number, "index"),
            "size_bytes": 48_000,
        },
    ]


def _support_run(number: int, when: datetime) -> dict:
    run = f"copilot-sft-{when:%Y%m%d}-{number:02d}"
    return {
        "tracking_system": "vertex",
        "run_id": run,
        "url": f"https://console.cloud.google.com/vertex-ai/experiments/locations/europe-west4/"
        f"experiments/support-copilot/runs/{run}",
        "git_commit": _commit("support", number),
        "training_data": f"gs://acme-support-data/resolved-tickets/{when:%Y-%m}/",
    }


def _support_profile(number: int) -> dict:
    return {
        "latency_p50_ms": 860 - number * 20,
        "latency_p95_ms": 2200 - number * 40,
        "latency_p99_ms": 4100 - number * 60,
        "hardware": "1× A100 80GB, vLLM, 8B base + LoRA adapter",
        "throughput_rps": 12 + number,
        "cost_per_1k_predictions": f"{0.92 - number * 0.03:.2f}",
        "currency": "USD",
    }


def _support_card(number: int, values: dict[str, float], spec: "DemoModel") -> str:
    return f"""Drafts replies for support agents from the ticket, the customer's account state and the help
centre. An agent reads, edits and sends every reply; nothing goes to a customer unreviewed.

## Out of scope
- Replying to customers directly, refunds or any account change.
- Legal, security and safety escalations: routed to people before the copilot sees them.

## Data summary
Resolved tickets with the agent's final reply and the customer's rating, in 12 languages, with personal
data removed before training; the help centre as the retrieval corpus.

## Evaluation notes
Evaluated on `{spec.dataset}`: {_metrics_text(values)}. Resolution rate: tickets closed by the drafted
reply with at most light edits. Hallucination rate: replies with a claim not supported by the account
or the help centre, judged by two reviewers. CSAT on a 1–5 scale. Sample counts are conversations.

## Known failures
- Korean and Japanese replies are less often usable; the retrieval corpus is thinner there.
- API integration questions need code the model gets wrong about one time in five.

## Latency and cost notes
The draft streams; p95 to the full draft is the budget (2.5 s).

## Ethical considerations
Agents are told a reply is machine-drafted; hallucination rate is the first number reviewed for every
version.

## Owners and contacts
Support ML (#support-copilot). Version {number}.
"""


SUPPORT = DemoModel(
    name="support-copilot",
    team="support",
    description="Drafts replies for support agents in 12 languages from the ticket, the account and the "
    "help centre; agents review every reply.",
    dataset="support-eval-conversations",
    metrics=(
        MetricSpec("resolution_rate", "higher", 0.05),
        MetricSpec("hallucination_rate", "lower", 0.015),
        MetricSpec("csat", "higher", 0.15, digits=2),
    ),
    headline={
        1: (0.412, 0.061, 4.02),
        2: (0.455, 0.052, 4.11),
        3: (0.461, 0.071, 4.05),
        4: (0.498, 0.044, 4.19),
        5: (0.512, 0.047, 4.21),
        6: (0.521, 0.039, 4.27),
        7: (0.534, 0.036, 4.30),
        8: (0.541, 0.041, 4.28),
    },
    slice_metrics=("resolution_rate", "hallucination_rate"),
    slices=SUPPORT_SLICES,
    regressions={
        3: {"product=billing": 1.5},
        5: {"language=ja": 1.8, "language=ko": 1.6},
        8: {"product=api-integrations": 1.1},
    },
    version_notes={
        1: "LoRA on an 8B open model, English and German only at first.",
        2: "Adds French, Spanish, Italian and Portuguese tickets.",
        3: "Experiment: longer context with the full ticket history.",
        4: "Retrieval over the help centre; citations in the draft.",
        5: "Adds Japanese, Korean and Chinese tickets.",
        6: "v4 retrieval with a re-ranked corpus; v5's languages with more data.",
        7: "Preference-tuned on agent edits.",
        8: "Experiment: tool use for order lookups.",
    },
    artifacts=_support_artifacts,
    source_run=_support_run,
    profile=_support_profile,
    card=_support_card,
    history=(
        Step(15, 10, "register", 1),
        Step(17, 13, "promote", 1, "Internal pilot with 20 agents approved.", Stage.STAGING),
        Step(
            24,
            10,
            "promote",
            1,
            "Pilot: agents kept 41% of drafts; hallucinations reviewed.",
            Stage.PRODUCTION,
        ),
        Step(44, 11, "register", 2),
        Step(45, 16, "promote", 2, "New languages reviewed by native-speaking agents.", Stage.STAGING),
        Step(52, 10, "promote", 2, "Pilot in the new languages: resolution up, CSAT up.", Stage.PRODUCTION),
        Step(65, 14, "register", 3),
        Step(
            66,
            11,
            "archive",
            3,
            "Hallucination rate up 2 pt on billing questions; not pursuing.",
            Stage.ARCHIVED,
        ),
        Step(79, 10, "register", 4),
        Step(81, 15, "promote", 4, "Citations checked on 500 drafts.", Stage.STAGING),
        Step(87, 11, "promote", 4, "Pilot: hallucinations down a quarter.", Stage.PRODUCTION),
        Step(111, 10, "register", 5),
        Step(113, 13, "promote", 5, "CJK languages to be piloted.", Stage.STAGING),
        Step(
            122,
            16,
            "archive",
            5,
            "Japanese and Korean drafts unusable in the pilot; more data first.",
            Stage.ARCHIVED,
        ),
        Step(141, 9, "register", 6),
        Step(143, 14, "promote", 6, "CJK slices now above the bar.", Stage.STAGING),
        Step(150, 10, "promote", 6, "Pilot in all 12 languages passed.", Stage.PRODUCTION),
        Step(176, 11, "register", 7),
        Step(178, 15, "promote", 7, "Agent-preference tuning; pilot group of 40 agents.", Stage.STAGING),
        Step(194, 10, "register", 8),
    ),
)


# --- logistics: demand-forecast --------------------------------------------------------------------------

LOGISTICS_SLICES = (
    ("warehouse=ams-1", 412_000, -0.4),
    ("warehouse=ams-2", 268_000, -0.2),
    ("warehouse=rtm-1", 305_000, -0.3),
    ("warehouse=fra-1", 377_000, -0.1),
    ("warehouse=fra-2", 198_000, 0.2),
    ("warehouse=muc-1", 244_000, 0.0),
    ("warehouse=mad-1", 221_000, 0.3),
    ("warehouse=bcn-1", 176_000, 0.4),
    ("warehouse=mil-1", 203_000, 0.2),
    ("warehouse=lyo-1", 132_000, 0.5),
    ("warehouse=waw-1", 89_000, 0.9),
    ("warehouse=prg-1", 64_000, 1.0),
    ("category=fresh", 518_000, 1.1),
    ("category=frozen", 231_000, 0.3),
    ("category=ambient", 904_000, -0.6),
    ("category=household", 377_000, -0.4),
    ("category=electronics", 126_000, 0.6),
    ("category=apparel", 188_000, 0.8),
    ("horizon=1d", 830_000, -1.0),
    ("horizon=7d", 830_000, 0.0),
    ("horizon=28d", 830_000, 1.2),
    ("promo=yes", 214_000, 1.4),
    ("promo=no", 2_276_000, -0.2),
)


def _logistics_artifacts(number: int) -> list[dict]:
    base = f"hdfs://namenode.logistics.acme.internal:8020/models/demand-forecast/v{number}"
    return [
        {
            "name": "model.lgbm",
            "kind": "weights",
            "uri": f"{base}/model.lgbm",
            "sha256": _digest("logistics", number, "weights"),
            "size_bytes": 212_000_000 + number * 4_700_000,
        },
        {
            "name": "feature_pipeline.pkl",
            "kind": "preprocessor",
            "uri": f"{base}/feature_pipeline.pkl",
            "sha256": _digest("logistics", number, "pipeline"),
            "size_bytes": 3_400_000,
        },
        {
            "name": "calendar.yaml",
            "kind": "config",
            "uri": f"https://git.acme.example/logistics/forecast/raw/v{number}/calendar.yaml",
            "sha256": _digest("logistics", number, "calendar"),
            "size_bytes": 21_000,
        },
    ]


def _logistics_run(number: int, when: datetime) -> dict:
    run_id = _digest("logistics-run", number)[:32]
    return {
        "tracking_system": "mlflow",
        "run_id": run_id,
        "url": f"https://mlflow.logistics.acme.example/#/experiments/4/runs/{run_id}",
        "git_commit": _commit("logistics", number),
        "training_data": f"hdfs://namenode.logistics.acme.internal:8020/warehouse/sales_daily/{when:%Y-%m-%d}/",
    }


def _logistics_profile(number: int) -> dict:
    return {
        "latency_p50_ms": 36 + number,
        "latency_p95_ms": 92 + number * 3,
        "latency_p99_ms": 155 + number * 5,
        "hardware": "m6i.2xlarge, 500 SKUs per request",
        "throughput_rps": 230 - number * 6,
        "cost_per_1k_predictions": f"{0.0041 + number * 0.0003:.4f}",
        "currency": "EUR",
    }


def _logistics_card(number: int, values: dict[str, float], spec: "DemoModel") -> str:
    return f"""Forecasts daily demand per SKU and warehouse for the next 28 days. Replenishment orders and
staffing plans are computed from it every night.

## Out of scope
- New SKUs in their first 14 days (a cold-start heuristic covers them).
- Intraday demand and marketplace sellers' own stock.

## Data summary
Three years of daily sales per SKU and warehouse, promotions calendar, public holidays per country, and
weather for the fresh category.

## Evaluation notes
Evaluated on `{spec.dataset}` (the last 8 weeks, rolling origin): {_metrics_text(values)}. WAPE weights
errors by volume; bias is the absolute share of over- or under-forecast. Sample counts are SKU-days.

## Known failures
- Promotions announced less than a week ahead are forecast poorly.
- Warsaw and Prague opened recently: less history, higher error.

## Latency and cost notes
Batch nightly; the online endpoint serves planners' what-if queries.

## Owners and contacts
Logistics data science (#demand-forecast). Version {number}.
"""


LOGISTICS = DemoModel(
    name="demand-forecast",
    team="logistics",
    description="Forecasts daily demand per SKU and warehouse 28 days ahead for replenishment and staffing.",
    dataset="sales-backtest",
    metrics=(
        MetricSpec("wape", "lower", 0.05),
        MetricSpec("mape", "lower", 0.07),
        MetricSpec("bias", "lower", 0.01),
    ),
    headline={
        1: (0.241, 0.318, 0.047),
        2: (0.228, 0.301, 0.031),
        3: (0.219, 0.292, 0.026),
        4: (0.223, 0.297, 0.029),
        5: (0.214, 0.288, 0.034),
        6: (0.209, 0.279, 0.022),
    },
    slice_metrics=("wape", "mape"),
    slices=LOGISTICS_SLICES,
    regressions={
        4: {"category=fresh": 1.2},
        5: {"warehouse=waw-1": -0.8, "warehouse=prg-1": -0.7, "category=apparel": 0.9},
        6: {"promo=yes": 1.0},
    },
    version_notes={
        1: "Global LightGBM over all SKUs and warehouses; calendar and price features.",
        2: "Adds promotions calendar features.",
        3: "Adds weather for the fresh category; tweedie loss.",
        4: "Experiment: drops the weather features to simplify the pipeline.",
        5: "Adds the Warsaw and Prague warehouses to training.",
        6: "v5 with per-country holiday features and a longer history.",
    },
    artifacts=_logistics_artifacts,
    source_run=_logistics_run,
    profile=_logistics_profile,
    card=_logistics_card,
    history=(
        Step(1, 10, "register", 1),
        Step(3, 15, "promote", 1, "Backtest beats the moving-average baseline by 6 pt WAPE.", Stage.STAGING),
        Step(10, 9, "promote", 1, "Parallel run for a week with planners.", Stage.PRODUCTION),
        Step(57, 10, "register", 2),
        Step(59, 14, "promote", 2, "Promotion weeks improved most.", Stage.STAGING),
        Step(66, 9, "promote", 2, "Parallel run clean; planners approved.", Stage.PRODUCTION),
        Step(96, 11, "register", 3),
        Step(98, 13, "promote", 3, "Fresh category WAPE down 3 pt.", Stage.STAGING),
        Step(106, 9, "promote", 3, "Parallel run: fewer fresh write-offs.", Stage.PRODUCTION),
        Step(139, 10, "register", 4),
        Step(142, 10, "archive", 4, "Fresh category regressed without the weather features.", Stage.ARCHIVED),
        Step(157, 11, "register", 5),
        Step(160, 15, "promote", 5, "New warehouses included; parallel run starting.", Stage.STAGING),
        Step(186, 10, "register", 6),
    ),
)

DEMO_MODELS: tuple[DemoModel, ...] = (FRAUD, SEARCH, IMAGING, SUPPORT, LOGISTICS)


# --- Building the registration bodies --------------------------------------------------------------------


def _metric_values(spec: DemoModel, number: int) -> dict[str, float]:
    return {
        metric.name: round(value, metric.digits)
        for metric, value in zip(spec.metrics, spec.headline[number], strict=True)
    }


def _slice_rows(spec: DemoModel, number: int) -> list[dict]:
    metrics = {metric.name: metric for metric in spec.metrics}
    overall = _metric_values(spec, number)
    regressions = spec.regressions.get(number, {})
    rows = []
    for slice_key, base_count, difficulty in spec.slices:
        # Seeded by name, so every run of the command writes the same numbers.
        rng = random.Random(f"{spec.name}:{number}:{slice_key}")
        count = max(1, round(base_count * (1 + 0.035 * (number - 1)) * rng.uniform(0.97, 1.03)))
        for name in spec.slice_metrics:
            metric = metrics[name]
            worse = (difficulty + regressions.get(slice_key, 0.0) + rng.gauss(0, 0.12)) * metric.spread
            value = overall[name] - worse if metric.direction == "higher" else overall[name] + worse
            value = min(max(value, 0.0005), 0.9995)
            rows.append(
                {
                    "slice": slice_key,
                    "metric": name,
                    "value": round(value, metric.digits),
                    "sample_count": count,
                }
            )
    return rows


def registration_body(spec: DemoModel, number: int, when: datetime) -> dict:
    """The body a CI pipeline would POST to /api/v1/models/<name>/versions for this version."""
    values = _metric_values(spec, number)
    return {
        "description": spec.version_notes[number],
        "artifacts": spec.artifacts(number),
        "source_run": spec.source_run(number, when),
        "evaluation": {
            "dataset": spec.dataset,
            "dataset_version": f"{when:%Y-%m-%d}",
            "metrics": [
                {"name": metric.name, "value": values[metric.name], "direction": metric.direction}
                for metric in spec.metrics
            ],
            "slices": _slice_rows(spec, number),
        },
        "profile": spec.profile(number),
        "card": spec.card(number, values, spec),
    }


# --- The command ------------------------------------------------------------------------------------------


class Command(BaseCommand):
    help = (
        "Load the demo: five teams' models with months of history, and one sign-in per role "
        f"(password {DEMO_PASSWORD!r}). Only with DEBUG on. Running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--sign-ins-only", action="store_true", help="Only print the demo sign-ins; change nothing."
        )

    def handle(self, *args, sign_ins_only: bool = False, **options):
        if not settings.DEBUG:
            raise CommandError(
                "Refusing to create demo users with DEBUG off: their passwords are published. "
                "The demo is for a laptop: run it with DEBUG=1 (make run does)."
            )
        if not sign_ins_only:
            start = (timezone.now() - timedelta(days=HISTORY_DAYS)).replace(
                hour=0, minute=0, second=0, microsecond=0
            )
            with acting_via("command"), transaction.atomic():
                seeded = self._seed(start)
            if seeded:
                self.stdout.write(self.style.SUCCESS(f"Demo loaded: {', '.join(seeded)}."))
                if getattr(self, "receiver_token", None):
                    self.stdout.write(
                        f"A drift alert about {ALERTED_MODEL} is firing: open /go/{ALERTED_MODEL}. "
                        f"Alert receiver {DEMO_RECEIVER!r}, token (shown once): {self.receiver_token}"
                    )
            else:
                self.stdout.write("Demo data already present: nothing changed.")
        self.stdout.write("")
        self.stdout.write(f"Demo sign-ins (every account's password is {DEMO_PASSWORD!r}):")
        self.stdout.write("")
        self.stdout.write(sign_ins_table())

    def _seed(self, start: datetime) -> list[str]:
        role_groups_sync()
        teams = {name: Group.objects.get_or_create(name=name)[0] for name in TEAMS}
        joined = start - timedelta(days=1)
        users = {user.username: self._user(user, teams, joined=joined) for user in DEMO_USERS}

        names = [spec.name for spec in DEMO_MODELS]
        existing = set(RegisteredModel.objects.filter(name__in=names).values_list("name", flat=True))
        todo = [spec for spec in DEMO_MODELS if spec.name not in existing]
        # Replay every model's history in one timeline, so the audit trail reads in date order.
        timeline = sorted(
            (
                (start + timedelta(days=step.day, hours=step.hour, minutes=index), spec, step)
                for spec in todo
                for index, step in enumerate(spec.history)
            ),
            key=lambda item: item[0],
        )
        for moment, spec, step in timeline:
            with clock.frozen_at(moment):
                self._step(spec, step, users, teams, moment)
        opened = 0
        for spec in todo:
            if opened < OPEN_REQUESTS and self._open_request(spec, users):
                opened += 1
        if ALERTED_MODEL in [spec.name for spec in todo]:
            self._firing_alert(users)
        return [spec.name for spec in todo]

    def _firing_alert(self, users: dict[str, User]) -> None:
        """An Alertmanager receiver, and a drift alert about fraud-scorer's production version received
        through it, so /go/fraud-scorer and /incidents/ show what a responder sees."""
        receiver, token = receiver_create(
            actor=users["admin"],
            name=DEMO_RECEIVER,
            description="The demo's Alertmanager (POST /hooks/alertmanager/demo-alertmanager)",
        )
        production = ModelVersion.objects.get(model__name=ALERTED_MODEL, stage=Stage.PRODUCTION)
        started = timezone.now() - timedelta(minutes=25)
        labels = {
            "alertname": "ModelPredictionDrift",
            "env": "prod",
            "model_name": ALERTED_MODEL,
            "model_version": str(production.number),
            "severity": "critical",
            "team": "ml-platform",
        }
        annotations = {
            "summary": f"PSI drift 0.31 > 0.25 on {ALERTED_MODEL} v{production.number}",
            "description": "Population stability index above threshold for 15m on travel merchants.",
            "runbook_url": "https://runbooks.example.com/ml/drift",
        }
        body = {
            "version": "4",
            "groupKey": '{}:{alertname="ModelPredictionDrift"}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "warehouse-webhook",
            "groupLabels": {"alertname": "ModelPredictionDrift"},
            "commonLabels": labels,
            "commonAnnotations": annotations,
            "externalURL": "https://alertmanager.example.com",
            "alerts": [
                {
                    "status": "firing",
                    "labels": labels,
                    "annotations": annotations,
                    "startsAt": started.isoformat().replace("+00:00", "Z"),
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "https://prometheus.example.com/graph?g0.expr=model_psi",
                    "fingerprint": "8c1b2f0e5a7d9c34",
                }
            ],
        }
        alerts_receive(
            receiver_name=receiver.name, kind="alertmanager", token=token, body=json.dumps(body).encode()
        )
        self.receiver_token = token

    def _open_request(self, spec: DemoModel, users: dict[str, User]) -> bool:
        """Ask for Staging for the model's newest draft and run its gate here, so the reviewer's queue has
        work in it when the demo opens (a worker that picks the message up later finds nothing to do)."""
        draft = (
            ModelVersion.objects.filter(model__name=spec.name, stage=Stage.DRAFT).order_by("-number").first()
        )
        if draft is None:
            return False
        promotion = promotion_request_open(
            actor=users["contributor"],
            version=draft,
            target_stage=Stage.STAGING,
            justification=f"{draft.identifier} is ready for shadow traffic: the evaluation and the card are "
            "complete. Please review the slices against production.",
        )
        gate_run_execute(run_id=promotion.gate_run_id)
        return True

    def _user(self, demo: DemoUser, teams: dict[str, Group], joined: datetime) -> User:
        user = User.objects.filter(username=demo.username).first()
        if user is None:
            user = User(
                username=demo.username,
                first_name=demo.first_name,
                last_name=demo.last_name,
                email=f"{demo.username}@warehouse.demo",
                date_joined=joined,
                is_staff=demo.role is None,
                is_superuser=demo.role is None,
            )
            user.set_password(DEMO_PASSWORD)
            user.save()
        if demo.role is not None:
            # Every role person is in every team, so the demo shows them every model.
            user.groups.add(Group.objects.get(name=demo.role.value), *teams.values())
        # A fresh instance: Django caches permissions on the user object.
        return User.objects.get(pk=user.pk)

    def _step(
        self, spec: DemoModel, step: Step, users: dict[str, User], teams: dict[str, Group], when: datetime
    ) -> None:
        version = None
        if step.action not in ("register", "refused-register"):
            version = ModelVersion.objects.select_related("model").get(
                model__name=spec.name, number=step.number
            )

        if step.action == "register":
            registration = registration_parse(registration_body(spec, step.number, when))
            model = RegisteredModel.objects.filter(name=spec.name).first() or NewModel(
                name=spec.name, description=spec.description, team=teams[spec.team]
            )
            candidate_register(
                actor=users["contributor"],
                model=model,
                evidence=registration.evidence,
                card_sections=registration.card_sections,
            )
        elif step.action == "promote":
            current = ModelVersion.objects.filter(model=version.model, stage=Stage.PRODUCTION).first()
            actor = users["approver"] if step.to == Stage.PRODUCTION else users["reviewer"]
            version_transition(
                version=version,
                to_stage=step.to,
                actor=actor,
                reason=step.reason,
                expected_production=current,
            )
        elif step.action == "archive":
            actor = users["approver"] if version.stage == Stage.PRODUCTION else users["contributor"]
            version_transition(version=version, to_stage=Stage.ARCHIVED, actor=actor, reason=step.reason)
        elif step.action == "rollback":
            version_transition(
                version=version, to_stage=Stage.PRODUCTION, actor=users["responder"], reason=step.reason
            )
        elif step.action == "card-edit":
            sections = dict(version.card.current.sections)
            known = sections.get("known_failures", "")
            sections["known_failures"] = f"{known}\n- {spec.card_edits[step.number]}".strip()
            card_revise(
                actor=users["contributor"],
                version=version,
                sections=sections,
                summary="Known failures: what the incident taught us",
            )
        elif step.action == "refused-rollback":
            # A responder in a hurry picks the wrong version: refused, and on the record.
            try:
                version_transition(
                    version=version, to_stage=Stage.PRODUCTION, actor=users["responder"], reason=step.reason
                )
            except Conflict:
                pass
            else:  # pragma: no cover - the demo history is written so this is refused
                raise CommandError(f"{version.identifier}: the demo's refused rollback was allowed.")
        elif step.action == "refused-register":
            # A viewer may read everything but register nothing: refused, and on the record.
            registration = registration_parse(registration_body(spec, step.number, when))
            try:
                candidate_register(
                    actor=users["viewer"],
                    model=RegisteredModel.objects.get(name=spec.name),
                    evidence=registration.evidence,
                    card_sections={},
                )
            except PermissionDenied:
                pass
            else:  # pragma: no cover
                raise CommandError(f"{spec.name}: the viewer's registration was allowed.")
        else:  # pragma: no cover - a typo in the history above
            raise CommandError(f"Unknown demo step {step.action!r}.")
