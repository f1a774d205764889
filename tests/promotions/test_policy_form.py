"""The policy page's form: typed text becomes the JSON shape the API takes, the same parser judges it, and
each problem lands on the field that was typed, with the line it is on. Nothing is written until all is
well."""

import pytest
from django.urls import reverse

from warehouse.audit.models import AuditEvent
from warehouse.promotions.forms import PolicyForm, SectionForm
from warehouse.promotions.models import PolicyRevision
from warehouse.promotions.policies.rules import DEFAULT_RULES, policy_parse

RULES = {
    "draft_to_staging": {
        "required_checks": ["source_run", "evaluation", "owner"],
        "required_artifact_kinds": ["weights", "config"],
        "metric_bars": [{"metric": "auc", "op": ">", "value": 0.75}],
        "signoffs": {"count": 0, "roles": []},
    },
    "staging_to_production": {
        "required_checks": ["slices", "metric_bars", "baseline", "latency"],
        "required_artifact_kinds": [],
        "metric_bars": [
            {"metric": "auc", "op": ">=", "value": 0.8},
            {"metric": "log_loss", "op": "<=", "value": 0.3},
        ],
        "baseline": [
            {"metric": "auc", "tolerance": 0.015, "relative": True},
            {"metric": "log_loss", "tolerance": 0.005, "direction": "lower"},
            {"metric": "recall@0.85", "tolerance": 0.1234567891234, "relative": True, "direction": "higher"},
            {"metric": "latency_score"},
        ],
        "slices": {
            "scope": "listed",
            "slices": ["region=EU", "region=US,device=mobile"],
            "metrics": ["auc", "recall@0.85"],
            "max_worsening": 0.02,
            "relative": True,
            "min_samples": 250,
        },
        "latency_p95_ms_max": 12.5,
        "cost_per_1k_max": 0.05,
        "required_card_sections": ["task", "known_failures"],
        "signoffs": {"count": 2, "roles": ["reviewer", "approver"]},
        "allow_first_production": True,
    },
}


def posted(form: PolicyForm, **changes) -> dict:
    """What a browser sends back for `form` as drawn, with `changes` (field name → typed value)."""
    data = {}
    for section in form.sections:
        for name, value in section.initial.items():
            if name not in section.fields or value in (None, False):
                continue
            data[f"{section.prefix}-{name}"] = "on" if value is True else value
    data["reason"] = "Tested."
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def bound(form: PolicyForm | None = None, **changes) -> PolicyForm:
    return PolicyForm(posted(form or PolicyForm(rules=DEFAULT_RULES), **changes))


@pytest.fixture
def signed_in(client, model, policy_admin):
    client.force_login(policy_admin)
    return client


def url(model) -> str:
    return reverse("promotions:policy", args=[model.name])


# --- Text → JSON ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("rules", [DEFAULT_RULES, policy_parse(RULES)], ids=["default", "everything"])
def test_the_form_as_drawn_gives_back_the_same_rules(rules):
    form = PolicyForm(posted(PolicyForm(rules=rules)))
    assert form.is_valid(), [section.errors for section in form.sections]
    assert policy_parse(form.rules_data()) == rules


@pytest.mark.parametrize(
    ("line", "bar"),
    [
        ("auc >= 0.8", {"metric": "auc", "op": ">=", "value": 0.8}),
        ("auc>=0.8", {"metric": "auc", "op": ">=", "value": 0.8}),
        ("auc => 0.8", {"metric": "auc", "op": "=>", "value": 0.8}),  # the parser refuses it
        ("auc ≥ 0.8", {"metric": "auc", "op": ">=", "value": 0.8}),
        ("log_loss < 0.3", {"metric": "log_loss", "op": "<", "value": 0.3}),
        ("recall@0.85 <= 1e-2", {"metric": "recall@0.85", "op": "<=", "value": 0.01}),
        ("auc == 0.8", {"metric": "auc", "op": "==", "value": 0.8}),  # the parser refuses it
        ("auc > high", {"metric": "auc", "op": ">", "value": "high"}),  # and this
    ],
)
def test_metric_bars_are_read_one_a_line(line, bar):
    form = bound(**{"staging_to_production-metric_bars": f"# our bars\n\n{line}\n"})
    assert form.is_valid()
    assert form.rules_data()["staging_to_production"]["metric_bars"] == [bar]


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("auc", {"metric": "auc"}),
        ("auc 0.01", {"metric": "auc", "tolerance": 0.01}),
        ("auc 2%", {"metric": "auc", "tolerance": 0.02, "relative": True}),
        ("auc 2% relative", {"metric": "auc", "tolerance": 0.02, "relative": True}),
        ("auc 0.02 relative", {"metric": "auc", "tolerance": 0.02, "relative": True}),
        ("log_loss 0.005 lower", {"metric": "log_loss", "tolerance": 0.005, "direction": "lower"}),
        (
            "auc 0.01 absolute Higher",
            {"metric": "auc", "tolerance": 0.01, "relative": False, "direction": "higher"},
        ),
    ],
)
def test_baseline_rules_are_read_one_a_line(line, rule):
    form = bound(**{"staging_to_production-baseline": line})
    assert form.is_valid()
    assert form.rules_data()["staging_to_production"]["baseline"] == [rule]


def test_an_unticked_slice_rule_means_no_slice_check():
    form = bound(**{"staging_to_production-slices_enabled": None})
    assert form.is_valid()
    assert form.rules_data()["staging_to_production"]["slices"] is None
    assert policy_parse(form.rules_data()).staging_to_production.slices is None


def test_only_the_move_to_production_asks_about_a_first_production_version():
    form = PolicyForm(rules=DEFAULT_RULES)
    drafts, staging = form.sections
    assert "allow_first_production" not in drafts.fields
    assert "allow_first_production" in staging.fields


# --- Errors land on the field and the line that was typed ----------------------------------------------

# (field changed, typed value, field expected to carry the error, part of the message)
BAD_INPUT = {
    "bar-without-operator": (
        "staging_to_production-metric_bars",
        "auc >= 0.8\n\n# a comment\nauc 0.8",
        "staging_to_production-metric_bars",
        "Line 4: write a metric, an operator",
    ),
    "bar-operator": (
        "staging_to_production-metric_bars",
        "auc >= 0.8\nauc == 0.8",
        "staging_to_production-metric_bars",
        "Line 2 (op): Use one of: >=, >, <=, <.",
    ),
    "bar-metric": (
        "draft_to_staging-metric_bars",
        "1st >= 0.8",
        "draft_to_staging-metric_bars",
        "Line 1 (metric): A metric name",
    ),
    "bar-value": (
        "staging_to_production-metric_bars",
        "auc >= high",
        "staging_to_production-metric_bars",
        "Line 1 (value): Must be a finite number.",
    ),
    "bar-infinite": (
        "staging_to_production-metric_bars",
        "auc >= inf",
        "staging_to_production-metric_bars",
        "Line 1 (value): Must be a finite number.",
    ),
    "baseline-word": (
        "staging_to_production-baseline",
        "auc 0.01 upward",
        "staging_to_production-baseline",
        "Line 1: 'upward' is not understood",
    ),
    "baseline-negative": (
        "staging_to_production-baseline",
        "auc 0.01\nlog_loss -0.5",
        "staging_to_production-baseline",
        "Line 2 (tolerance): Must be at least 0.",
    ),
    "baseline-twice": (
        "staging_to_production-baseline",
        "auc 0.01\n\nauc 2%",
        "staging_to_production-baseline",
        "Line 3 (metric): 'auc' has two baseline rules.",
    ),
    "listed-without-slices": (
        "staging_to_production-slices_scope",
        "listed",
        "staging_to_production-slices_slices",
        "Name at least one slice, or use scope 'all'.",
    ),
    "slice-key": (
        "staging_to_production-slices_slices",
        "region=EU\nEU",
        "staging_to_production-slices_slices",
        "Line 2: Write a slice as key=value",
    ),
    "slice-metric": (
        "staging_to_production-slices_metrics",
        "auc, 2nd",
        "staging_to_production-slices_metrics",
        "Entry 2: A metric name",
    ),
    "min-samples": (
        "staging_to_production-slices_min_samples",
        "0",
        "staging_to_production-slices_min_samples",
        "A whole number of samples, at least 1.",
    ),
    "min-samples-fraction": (
        "draft_to_staging-slices_min_samples",
        "10.5",
        "draft_to_staging-slices_min_samples",
        "A whole number of samples, at least 1.",
    ),
    "max-worsening": (
        "staging_to_production-slices_max_worsening",
        "-0.1",
        "staging_to_production-slices_max_worsening",
        "Must be at least 0.",
    ),
    "operator-backwards": (
        "staging_to_production-metric_bars",
        "auc => 0.8",
        "staging_to_production-metric_bars",
        "Use one of: >=, >, <=, <.",
    ),
    "latency": (
        "staging_to_production-latency_p95_ms_max",
        "fast",
        "staging_to_production-latency_p95_ms_max",
        "Must be a finite number.",
    ),
    "cost": (
        "staging_to_production-cost_per_1k_max",
        "-1",
        "staging_to_production-cost_per_1k_max",
        "Must be at least 0.",
    ),
    "signoff-count": (
        "draft_to_staging-signoffs_count",
        "11",
        "draft_to_staging-signoffs_count",
        "A whole number from 0 to 10.",
    ),
    "signoff-roles": (
        "staging_to_production-signoffs_roles",
        None,
        "staging_to_production-signoffs_roles",
        "Say which roles may sign off.",
    ),
    "reason": ("reason", "   ", "reason", "Say why the policy changes"),
}


@pytest.mark.parametrize(("changed", "typed", "field", "message"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_shown_on_its_field_and_nothing_is_written(
    signed_in, model, changed, typed, field, message
):
    form = signed_in.get(url(model)).context["form"]
    revisions, events = PolicyRevision.objects.count(), AuditEvent.objects.count()

    response = signed_in.post(url(model), posted(form, **{changed: typed}))

    assert response.status_code == 400
    assert (PolicyRevision.objects.count(), AuditEvent.objects.count()) == (revisions, events)
    shown = response.context["form"]
    errors = {}
    for part in [*shown.sections, shown.reason]:
        for name, problems in part.errors.items():
            errors[f"{part.prefix}-{name}" if part.prefix else name] = problems
    assert list(errors) == [field], errors
    assert any(message in problem for problem in errors[field]), errors[field]
    html = response.content.decode()
    assert "Nothing was saved: 1 problem to fix" in html
    # What was typed is still there, to be corrected.
    if typed and typed.strip():
        assert typed.split("\n")[-1].replace("'", "&#x27;").replace(">", "&gt;") in html


def test_every_problem_is_shown_at_once(signed_in, model):
    form = signed_in.get(url(model)).context["form"]
    revisions = PolicyRevision.objects.count()
    data = posted(
        form,
        **{
            "draft_to_staging-metric_bars": "auc >= x",
            "staging_to_production-metric_bars": "auc >= 0.8\nrecall = 0.5\nlatency fast",
            "staging_to_production-baseline": "auc nope\nlog_loss -1",
            "staging_to_production-latency_p95_ms_max": "-5",
            "reason": "",
        },
    )

    response = signed_in.post(url(model), data)

    # Lines the form cannot read, and what the parser says of the lines it could, and of the rest.
    shown = response.context["form"]
    drafts, staging = shown.sections
    assert drafts.errors == {"metric_bars": ["Line 1 (value): Must be a finite number."]}
    assert staging.errors["metric_bars"] == [
        "Line 3: write a metric, an operator (>=, >, <=, <) and a number, like auc >= 0.80.",
        "Line 2 (op): Use one of: >=, >, <=, <.",
    ]
    assert staging.errors["baseline"][0].startswith("Line 1: 'nope' is not understood")
    assert staging.errors["baseline"][1] == "Line 2 (tolerance): Must be at least 0."
    assert set(staging.errors) == {"metric_bars", "baseline", "latency_p95_ms_max"}
    assert set(shown.reason.errors) == {"reason"}
    assert "5 problems to fix" in response.content.decode()
    assert PolicyRevision.objects.count() == revisions


def test_an_error_the_form_has_no_field_for_is_shown_above_the_section():
    form = bound()
    assert form.is_valid()
    form.add_service_errors(
        {
            "staging_to_production": ["This section is required."],
            "colour": ["Unknown field."],
            "draft_to_staging.signoffs": ["Must be an object."],
        }
    )
    drafts, staging = form.sections
    assert staging.non_field_errors() == ["This section is required."]
    assert drafts.non_field_errors() == ["signoffs: Must be an object."]
    assert form.reason.non_field_errors() == ["colour: Unknown field."]


def test_the_section_form_reads_lines_with_their_numbers():
    section = SectionForm(
        {"x-metric_bars": "\n# bars\nauc >= 0.8\n\nlog_loss <= 0.3", "x-baseline": ""},
        section="draft_to_staging",
    )
    section.prefix = "x"
    assert section.is_valid(), section.errors
    assert section.lines["metric_bars"] == [3, 5]
    section.add_rule_error("metric_bars[1].value", "Too low.")
    assert section.errors["metric_bars"] == ["Line 5 (value): Too low."]


def test_intended_users_and_the_decision_are_offered_as_required_card_sections():
    choices = dict(SectionForm(section="staging_to_production").fields["required_card_sections"].choices)
    assert choices["intended_users"] == "Intended users"
    assert choices["decision_influenced"] == "Decision influenced"
    keys = list(choices)
    assert keys.index("task") + 1 == keys.index("intended_users") == keys.index("decision_influenced") - 1
