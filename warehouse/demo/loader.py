"""Load the demo from its data files, through the services, on the clock of the day each step happened.

A model's history (data/models/<name>.yaml) and the day the demo opens (data/today.yaml) are lists of steps;
each step's `do` names one of the kinds below, and each kind is one service call:

  register            version_register_with_card: the version with its evidence and first card (evidence.py)
  promote             version_transition up a stage, expecting the production version the step saw
  archive             version_transition to Archived
  roll back           version_transition back to a previous production version
  add known failure   card_revise: a line added to the card's known failures
  request promotion   promotion_request: a request and its gate run
  run gates           gate_run_execute: the request's gate run, here and now
  create receiver     receiver_create: an alert receiver (its token is shown once)
  receive alert       alerts_receive: an alert body as the receiver's source sends it

A model with `recorded_runs` (data/models/late-delivery-risk.yaml) registers what its tracked runs held, as
recorded; left out of the load (`recorded_runs=False`), its versions come from live runs instead:
`tracked_versions_register` logs them on a tracking server and registers each from its run, for a worker to
import.

`by` names the demo user who acts; `refused: true` marks an attempt the services refuse (it is on the record
all the same). Every model's history is replayed in one timeline, so the audit trail reads in date order and
`manage.py verify_audit` passes. A model that exists is not touched, and a step about it does not run.

The services are imported here and nowhere else in the demo: when one moves, this is the file to change.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from warehouse import clock
from warehouse.accounts.roles import role_groups_sync
from warehouse.cards.registration import NewModel, registration_parse, version_register_with_card
from warehouse.cards.services import card_revise, card_sections_parse
from warehouse.demo.evidence import fill, filled, registration_body
from warehouse.demo.files import data_file, demo_models, tracked_model
from warehouse.demo.sign_ins import DEMO_PASSWORD, DEMO_USERS, TEAMS, DemoUser
from warehouse.errors import Conflict
from warehouse.incidents.services import alerts_receive, receiver_create
from warehouse.promotions.gates.services import gate_run_execute
from warehouse.promotions.requests.services import promotion_request_open
from warehouse.registry.evidence import ArtifactIn, Evidence, evidence_parse
from warehouse.registry.model_services import model_create
from warehouse.registry.models import ModelVersion, RegisteredModel, Stage
from warehouse.registry.services import version_transition
from warehouse.tracking.imports import version_register_from_run
from warehouse.tracking.models import RunImport
from warehouse.tracking.selectors import tracking_server_for


class DemoDataError(Exception):
    """The data files ask for something the demo cannot do (a typo, or a refusal that was allowed)."""


@dataclass(frozen=True)
class Alert:
    model: str
    receiver: str
    token: str  # the receiver's token, shown once


@dataclass
class Load:
    """One load of the demo: who acts, the models it loads, and what its steps handed on to later steps."""

    users: dict[str, User]
    teams: dict[str, Group]
    models: dict[str, dict]  # name: its data file, for the models this load writes
    gate_runs: dict[tuple[str, int], int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)


def demo_load(*, start: datetime, recorded_runs: bool = True) -> Load:
    """Write the demo: the sign-ins and teams, then every model not there yet with its history from `start`
    on, then what happens today. Returns what was loaded (`models` empty: nothing was). Without
    `recorded_runs`, the model whose versions come from tracked runs is left to
    `tracked_versions_register`."""
    role_groups_sync()
    teams = {name: Group.objects.get_or_create(name=name)[0] for name in TEAMS}
    users = {demo.username: _user(demo, teams, joined=start - timedelta(days=1)) for demo in DEMO_USERS}
    models = [model for model in demo_models() if recorded_runs or "recorded_runs" not in model]
    names = [model["name"] for model in models]
    existing = set(RegisteredModel.objects.filter(name__in=names).values_list("name", flat=True))
    load = Load(users=users, teams=teams, models={m["name"]: m for m in models if m["name"] not in existing})
    for moment, step in _timeline(list(load.models.values()), start):
        with clock.frozen_at(moment):
            step_run(load, step, moment)
    for step in data_file("today.yaml"):
        if step["model"] in load.models:
            step_run(load, step, timezone.now())
    return load


def history_start(now: datetime) -> datetime:
    """Midnight, `history_days` (data/demo.yaml) before `now`: the history's day 0."""
    start = now - timedelta(days=data_file("demo.yaml")["history_days"])
    return start.replace(hour=0, minute=0, second=0, microsecond=0)


def _timeline(models: list[dict], start: datetime) -> list[tuple[datetime, dict]]:
    """Every history step of `models` with its moment, in date order (a model's steps on one hour a minute
    apart; steps of different models at one moment in the models' order)."""
    moments = [
        (
            start + timedelta(days=step["day"], hours=step["hour"], minutes=index),
            step | {"model": model["name"]},
        )
        for model in models
        for index, step in enumerate(model["history"])
    ]
    return sorted(moments, key=lambda item: item[0])


def _user(demo: DemoUser, teams: dict[str, Group], joined: datetime) -> User:
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
        user.groups.add(Group.objects.get(name=demo.role.value), *teams.values())
    # A fresh instance: Django caches permissions on the user object.
    return User.objects.get(pk=user.pk)


def step_run(load: Load, step: dict, when: datetime) -> None:
    """Run one step of the data files: its kind's service call, expecting a refusal when it says `refused`."""
    kind = STEPS.get(step["do"])
    if kind is None:
        raise DemoDataError(f"{step['model']}: no step kind {step['do']!r} (known: {', '.join(STEPS)}).")
    if not step.get("refused"):
        kind(load, step, when)
        return
    try:
        kind(load, step, when)
    except (PermissionDenied, Conflict):
        return  # refused, and on the record: what the step is there to show
    raise DemoDataError(f"{step['model']}: {step['do']} v{step['version']} by {step['by']} was allowed.")


def _version(step: dict) -> ModelVersion:
    return ModelVersion.objects.select_related("model").get(model__name=step["model"], number=step["version"])


# --- The step kinds: one service call each ----------------------------------------------------------------


def _register(load: Load, step: dict, when: datetime) -> None:
    data = load.models[step["model"]]
    if "recorded_runs" in data:
        evidence, card_sections = _recorded_registration(data, step["version"])
        description = _provenanced(data["description"], data, recorded=True)
    else:
        registration = registration_parse(registration_body(data, step["version"], when))
        evidence, card_sections = registration.evidence, registration.card_sections
        description = data["description"]
    model = RegisteredModel.objects.filter(name=data["name"]).first() or NewModel(
        name=data["name"], description=description, team=load.teams[data["team"]]
    )
    version_register_with_card(
        actor=load.users[step["by"]], model=model, evidence=evidence, card_sections=card_sections
    )


def _provenanced(text: str, data: dict, *, recorded: bool, server: str = "") -> str:
    """`text` saying where the versions' evidence came from: tracked runs, live or as recorded."""
    provenance = data["provenance"]["recorded" if recorded else "live"].format(server=server)
    return fill(text, {"provenance": provenance})


def _card_sections(data: dict, number: int, metrics: dict[str, float], dataset: str, **provenance):
    text = _provenanced(data["card"], data, **provenance)
    summary = ", ".join(f"{name} {metric_value:g}" for name, metric_value in metrics.items())
    return card_sections_parse(fill(text, {"number": number, "dataset": dataset, "metrics": summary}))


def _recorded_registration(data: dict, number: int) -> tuple[Evidence, dict[str, str]]:
    """A version's evidence as its tracked run held it when it was imported: the files the warehouse hashed
    then (on the tracking server, never fetched again), the run, its evaluation and profile."""
    recorded = data["recorded_runs"][number]
    artifacts = tuple(ArtifactIn(**artifact) for artifact in recorded["artifacts"])
    payload = {key: recorded[key] for key in ("source_run", "evaluation", "profile")}
    evidence = evidence_parse(
        {"description": data["tracked_runs"]["versions"][number]["notes"], **payload},
        hashed_artifacts=artifacts,
    )
    metrics = {metric["name"]: metric["value"] for metric in recorded["evaluation"]["metrics"]}
    return evidence, _card_sections(data, number, metrics, recorded["evaluation"]["dataset"], recorded=True)


def _promote(load: Load, step: dict, when: datetime) -> None:
    version = _version(step)
    current = ModelVersion.objects.filter(model=version.model, stage=Stage.PRODUCTION).first()
    version_transition(
        version=version,
        to_stage=Stage(step["to"]),
        actor=load.users[step["by"]],
        reason=step["reason"],
        expected_production=current,
    )


def _archive(load: Load, step: dict, when: datetime) -> None:
    version_transition(
        version=_version(step), to_stage=Stage.ARCHIVED, actor=load.users[step["by"]], reason=step["reason"]
    )


def _roll_back(load: Load, step: dict, when: datetime) -> None:
    version_transition(
        version=_version(step), to_stage=Stage.PRODUCTION, actor=load.users[step["by"]], reason=step["reason"]
    )


def _add_known_failure(load: Load, step: dict, when: datetime) -> None:
    version = _version(step)
    sections = dict(version.card.current.sections)
    sections["known_failures"] = f"{sections.get('known_failures', '')}\n- {step['known_failure']}".strip()
    card_revise(actor=load.users[step["by"]], version=version, sections=sections, summary=step["summary"])


def _request_promotion(load: Load, step: dict, when: datetime) -> None:
    version = _version(step)
    promotion = promotion_request_open(
        actor=load.users[step["by"]],
        version=version,
        target_stage=Stage(step["to"]),
        justification=filled(step["justification"], {"identifier": version.identifier}),
    )
    load.gate_runs[step["model"], step["version"]] = promotion.gate_run_id


def _run_gates(load: Load, step: dict, when: datetime) -> None:
    gate_run_execute(run_id=load.gate_runs[step["model"], step["version"]])


def _create_receiver(load: Load, step: dict, when: datetime) -> None:
    _receiver, token = receiver_create(
        actor=load.users[step["by"]], name=step["name"], description=step["description"]
    )
    load.tokens[step["name"]] = token


def _receive_alert(load: Load, step: dict, when: datetime) -> None:
    production = ModelVersion.objects.get(model__name=step["model"], stage=Stage.PRODUCTION)
    started = when - timedelta(minutes=step["started_minutes_ago"])
    context = {
        "model": step["model"],
        "production": production.number,
        "started": started.isoformat().replace("+00:00", "Z"),
    }
    token = load.tokens[step["receiver"]]
    alerts_receive(
        receiver_name=step["receiver"],
        kind=step["kind"],
        token=token,
        body=json.dumps(filled(step["body"], context)).encode(),
    )
    load.alerts.append(Alert(model=step["model"], receiver=step["receiver"], token=token))


# --- Versions from live tracked runs ----------------------------------------------------------------------


class TrackedRunsRefused(Exception):
    """The tracked model's versions cannot come from live runs here (no server, no demo, recorded already)."""


@dataclass(frozen=True)
class TrackedVersion:
    identifier: str
    run_id: str
    source: str


def tracked_versions_register(*, server_name: str, announce=lambda line: None) -> list[TrackedVersion]:
    """Log each version of the tracked model that is not registered yet as a run on the tracking server named
    `server_name`, and register it from its run as the demo's contributor: in Draft, its evidence imported
    by a worker. Returns what was registered (nothing when every version is there already)."""
    from warehouse.demo.tracked_runs import run_log, training_unavailable

    data = tracked_model()
    model = RegisteredModel.objects.filter(name=data["name"]).first()
    if (
        model is not None
        and model.versions.exists()
        and not RunImport.objects.filter(version__model=model).exists()
    ):
        raise TrackedRunsRefused(
            f"{data['name']} holds the recorded runs already; its versions stay as they are."
        )
    server = tracking_server_for(name=server_name)
    if server is None:
        raise TrackedRunsRefused(f"No active tracking server named {server_name!r} is configured.")
    contributor = User.objects.filter(username="contributor").first()
    team = Group.objects.filter(name=data["team"]).first()
    if contributor is None or team is None:
        raise TrackedRunsRefused(
            "Load the demo first (manage.py seed_demo): its contributor registers the runs."
        )
    registered_numbers = set(model.versions.values_list("number", flat=True)) if model else set()
    missing = training_unavailable()
    if missing and set(data["tracked_runs"]["versions"]) - registered_numbers:
        raise TrackedRunsRefused(f"Cannot train {data['name']}: {missing}.")
    registered = []
    for number in sorted(data["tracked_runs"]["versions"]):
        if number in registered_numbers:
            continue
        announce(f"Training {data['name']} v{number} and logging it to {server.name} ({server.url})...")
        run = run_log(tracking_url=server.url, model=data, number=number)
        with transaction.atomic():
            if model is None:
                description = _provenanced(data["description"], data, recorded=False, server=server.name)
                model = model_create(actor=contributor, name=data["name"], description=description, team=team)
            version = version_register_from_run(
                actor=contributor,
                model=model,
                server_name=server.name,
                run_id=run.run_id,
                source=run.source,
                description=data["tracked_runs"]["versions"][number]["notes"],
            )
            sections = _card_sections(
                data, version.number, run.metrics, run.dataset, recorded=False, server=server.name
            )
            card_revise(
                actor=contributor, version=version, sections=sections, summary="First card, from the pipeline"
            )
        registered.append(TrackedVersion(identifier=version.identifier, run_id=run.run_id, source=run.source))
        announce(
            f"Registered {version.identifier} from run {run.run_id} ({run.source}); a worker imports its "
            "evidence."
        )
    return registered


STEPS = {
    "register": _register,
    "promote": _promote,
    "archive": _archive,
    "roll back": _roll_back,
    "add known failure": _add_known_failure,
    "request promotion": _request_promotion,
    "run gates": _run_gates,
    "create receiver": _create_receiver,
    "receive alert": _receive_alert,
}
