"""Cards in and out: a Hugging Face style README.md and Model Card Toolkit JSON."""

import json
from pathlib import Path

import pytest
import yaml
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from guardian.shortcuts import assign_perm
from jsonschema import Draft7Validator

from tests.factories import user_with_roles, version_move, version_register_for_tests
from warehouse.accounts.roles import Role
from warehouse.audit.models import AuditEvent
from warehouse.cards.interchange import (
    IMPORT_SUMMARY,
    card_export_huggingface,
    card_export_toolkit,
    card_import,
    card_import_huggingface,
)
from warehouse.cards.models import CardRevision, ModelCard
from warehouse.cards.sections import Section
from warehouse.cards.services import card_revise
from warehouse.errors import Conflict, InvalidInput
from warehouse.registry.models import Stage

SCHEMA_PATH = Path(__file__).parent / "schemas" / "model_card_toolkit.v0.0.2.schema.json"

FULL_CARD = {
    "task": "Scores card payments for fraud before authorisation.\n\nUsed by the payments risk team.",
    "intended_users": "The payment gateway; fraud operations analysts.",
    "decision_influenced": "Approve, step up or decline a card payment.",
    "out_of_scope": "Bank transfers; anything outside card payments.",
    "data_summary": "Six months of labelled card payments; thin in LATAM.",
    "evaluation_notes": "Out-of-time holdout, November.",
    "known_failures": "- Merchants in their first week score high.\n- Gift cards.",
    "latency_cost_notes": "Batch scoring halves the cost.",
    "ethical_considerations": "Declines fall on customers: a human reviews every decline.",
    "owners_contacts": "payments-ml@example.com, #payments-ml",
}


def _front_matter(readme: str) -> dict:
    assert readme.startswith("---\n")
    front, _, _ = readme[4:].partition("\n---\n")
    return yaml.safe_load(front)


@pytest.fixture
def carded(model, contributor):
    """Version 2: full evidence (five slices), every section of the card written."""
    return version_register_for_tests(
        actor=contributor,
        model=model,
        slices=5,
        metrics={"auc": 0.912345678901234, "log_loss": 0.2, "recall": 1e-20},
        card=FULL_CARD,
    )


# --- Hugging Face README.md ----------------------------------------------------------------------------


def test_the_readme_front_matter_reads_back_as_the_same_metrics(carded):
    readme = card_export_huggingface(version=carded)

    front = _front_matter(readme)
    (entry,) = front["model-index"]
    assert entry["name"] == "fraud-scorer"
    (result,) = entry["results"]
    assert result["task"] == {"type": "other", "name": FULL_CARD["task"].splitlines()[0]}
    assert result["dataset"] == {
        "name": "payments-holdout",
        "type": "payments-holdout",
        "revision": "2026-10",
    }
    expected = {m.name: m.value for m in carded.evaluation.metrics.all()}
    # Exactly the same floats, not merely close ones.
    assert {m["type"]: m["value"] for m in result["metrics"]} == expected
    assert all(m["name"] == m["type"] for m in result["metrics"])
    assert front["tags"] == ["warehouse", "stage-draft"]
    assert "library_name" not in front


def test_the_readme_keeps_the_slices_outside_the_hub_schema(carded):
    front = _front_matter(card_export_huggingface(version=carded))

    slices = front["warehouse"]["slices"]
    assert slices == [
        {"slice": s.slice_key, "metric": s.metric, "value": s.value, "sample_count": s.sample_count}
        for s in carded.evaluation.slices.order_by("metric", "slice_key")
    ]
    assert len(slices) == 5
    assert front["warehouse"]["id"] == "fraud-scorer/v2"
    assert front["warehouse"]["metric_directions"]["log_loss"] == "lower"


def test_the_readme_has_every_written_section_in_reading_order(carded):
    readme = card_export_huggingface(version=carded)

    body = readme.split("\n---\n", 1)[1]
    headings = [line for line in body.splitlines() if line.startswith("#")]
    assert headings == ["# fraud-scorer v2"] + [f"## {label}" for _, label in Section.choices]
    assert "- Merchants in their first week score high.\n- Gift cards." in body


def test_empty_sections_are_left_out_of_the_readme(model, contributor, version):
    card_revise(actor=contributor, version=version, sections={"known_failures": "New merchants."})

    readme = card_export_huggingface(version=version)

    assert "## Known failures\n\nNew merchants." in readme
    assert "## Task" not in readme
    # No task written: the model-index task is named after the model.
    assert _front_matter(readme)["model-index"][0]["results"][0]["task"]["name"] == "fraud-scorer"


def test_a_version_without_evaluation_has_no_model_index(model, contributor):
    version = version_register_for_tests(actor=contributor, model=model, evaluation=None)

    front = _front_matter(card_export_huggingface(version=version))

    assert "model-index" not in front
    assert front["warehouse"]["slices"] == []


def test_an_exported_readme_imports_back_to_the_same_sections(carded):
    assert card_import_huggingface(card_export_huggingface(version=carded)) == FULL_CARD


def test_front_matter_holding_yaml_syntax_in_card_text_stays_valid(model, contributor):
    tricky = "key: value\n---\n- [ ] *not a list* & 'quotes' \"double\" #hash"
    version = version_register_for_tests(actor=contributor, model=model, card={"task": tricky})

    readme = card_export_huggingface(version=version)

    assert _front_matter(readme)["model-index"][0]["results"][0]["task"]["name"] == "key: value"
    assert card_import_huggingface(readme) == {"task": tricky}


# --- Model Card Toolkit JSON -----------------------------------------------------------------------------


def _closed(node):
    # The toolkit's schema closes only its top level; closed everywhere, a misspelt field fails too.
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    copy = {key: _closed(value) for key, value in node.items()}
    if copy.get("type") == "object" and "properties" in copy:
        copy.setdefault("additionalProperties", False)
    return copy


@pytest.fixture(scope="module")
def toolkit_validators() -> list[Draft7Validator]:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft7Validator.check_schema(schema)
    return [
        Draft7Validator(variant, format_checker=Draft7Validator.FORMAT_CHECKER)
        for variant in (schema, _closed(schema))
    ]


def _problems(validators, document) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for validator in validators
        for error in validator.iter_errors(document)
    ]


def test_the_toolkit_json_validates_against_the_toolkit_schema(carded, toolkit_validators):
    document = card_export_toolkit(version=carded)

    assert _problems(toolkit_validators, document) == []
    # And survives a trip through JSON, as the API sends it.
    assert _problems(toolkit_validators, json.loads(json.dumps(document))) == []


def test_the_toolkit_json_has_a_metric_per_overall_metric_and_per_slice(carded):
    metrics = card_export_toolkit(version=carded)["quantitative_analysis"]["performance_metrics"]

    overall = [m for m in metrics if m["slice"] == ""]
    sliced = [m for m in metrics if m["slice"]]
    assert {m["type"]: float(m["value"]) for m in overall} == {
        m.name: m.value for m in carded.evaluation.metrics.all()
    }
    assert sorted((m["slice"], m["type"], float(m["value"])) for m in sliced) == sorted(
        (s.slice_key, s.metric, s.value) for s in carded.evaluation.slices.all()
    )
    assert all(isinstance(m["value"], str) for m in metrics)


def test_the_toolkit_json_places_each_section(carded, contributor):
    document = card_export_toolkit(version=carded)

    details = document["model_details"]
    assert details["name"] == "fraud-scorer"
    assert details["overview"] == "Scores card payments for fraud before authorisation."
    assert details["version"] == {
        "name": "v2",
        "date": carded.created_at.date().isoformat(),
        "diff": "Retrained on October data.",
    }
    assert details["owners"] == [
        {"name": "carol", "contact": "carol@example.com"},
        {"name": "Team payments"},
    ]
    assert details["references"] == [{"reference": "https://mlflow.example.com/runs/42"}]
    assert details["path"] == "s3://models/fraud/model.onnx"
    assert card_import_huggingface(details["documentation"]) == FULL_CARD
    evaluation, training = document["model_parameters"]["data"]
    assert (
        evaluation["name"] == "payments-holdout"
        and FULL_CARD["evaluation_notes"] in evaluation["description"]
    )
    assert training["name"] == "s3://data/payments/2026-10"
    assert FULL_CARD["data_summary"] in training["description"]
    considerations = document["considerations"]
    assert considerations["users"] == [{"description": FULL_CARD["intended_users"]}]
    assert considerations["use_cases"] == [
        {"description": FULL_CARD["task"]},
        {"description": f"Decision influenced: {FULL_CARD['decision_influenced']}"},
        {"description": f"Out of scope: {FULL_CARD['out_of_scope']}"},
    ]
    assert considerations["limitations"] == [{"description": FULL_CARD["known_failures"]}]
    profile, notes = considerations["tradeoffs"]
    assert "p95 9.5 ms" in profile["description"] and "0.012500 USD" in profile["description"]
    assert notes == {"description": FULL_CARD["latency_cost_notes"]}
    assert considerations["ethical_considerations"] == [{"name": FULL_CARD["ethical_considerations"]}]


def test_a_bare_version_still_validates(model, contributor, toolkit_validators):
    version = version_register_for_tests(
        actor=contributor, model=model, evaluation=None, source_run=None, profile=None, card=None
    )

    document = card_export_toolkit(version=version)

    assert _problems(toolkit_validators, document) == []
    assert document["quantitative_analysis"]["performance_metrics"] == []
    assert document["considerations"] == {}
    assert "references" not in document["model_details"]


def test_a_source_run_link_that_is_not_https_is_not_a_reference(model, contributor, toolkit_validators):
    run = {"tracking_system": "mlflow", "run_id": "r1", "url": "http://mlflow.internal/runs/1"}
    version = version_register_for_tests(actor=contributor, model=model, source_run=run)

    document = card_export_toolkit(version=version)

    assert "references" not in document["model_details"]
    assert _problems(toolkit_validators, document) == []


# --- Importing a README.md -------------------------------------------------------------------------------

HF_README = """---
license: mit
language: [en]
model-index:
- name: fraud-scorer
  results: []
---

# Model Card for fraud-scorer

Scores card payments for fraud.

## Uses

Used before authorisation.

## Out-of-Scope Use

Bank transfers.

## Training Data

Six months of payments.

## Limitations

New merchants.

### Gift cards

Also gift cards.

## Bias, Risks, and Limitations

Declines fall on customers.

## Contact

payments-ml@example.com
"""


def test_a_hugging_face_readme_maps_to_the_sections():
    assert card_import_huggingface(HF_README) == {
        "task": "Scores card payments for fraud.\n\n\nUsed before authorisation.",
        "out_of_scope": "Bank transfers.",
        "data_summary": "Six months of payments.",
        "known_failures": "New merchants.\n\n### Gift cards\n\nAlso gift cards.",
        "ethical_considerations": "Declines fall on customers.",
        "owners_contacts": "payments-ml@example.com",
    }


def test_intended_users_and_the_decision_are_read_under_the_headings_people_write():
    readme = (
        "# fraud-scorer\n\nScores payments.\n\n## Intended users\nFraud analysts.\n\n"
        "## Decision influenced\nDecline or approve.\n\n## Primary intended users\nThe gateway.\n"
    )
    assert card_import_huggingface(readme) == {
        "task": "Scores payments.",
        "intended_users": "Fraud analysts.\n\nThe gateway.",
        "decision_influenced": "Decline or approve.",
    }
    assert card_import_huggingface("## Users\nAnalysts.\n## Decisions\nDeclines.") == {
        "intended_users": "Analysts.",
        "decision_influenced": "Declines.",
    }


def test_a_readme_without_front_matter_is_read_as_a_card():
    assert card_import_huggingface("Scores payments.\n\n## Known failures\nNew merchants.\r\n") == {
        "task": "Scores payments.",
        "known_failures": "New merchants.",
    }


def test_a_byte_order_mark_and_empty_front_matter_are_fine():
    assert card_import_huggingface("\ufeff---\n---\n## Task\nScores.") == {"task": "Scores."}


@pytest.mark.parametrize(
    ("readme", "line"),
    [
        # The unclosed bracket on the README's line 3 runs into line 4.
        ("---\nlicense: mit\ntags: [a, b\nlanguage: en\n---\n## Task\nx", "Line 4"),
        ("---\nlicense: mit\n  bad: indent\n---\n", "Line 3"),
        ("---\nlicense: mit\nlicense: [\n---\n", "Line 3"),
        ("---\n\n- just\n- a list\n---\n## Task\nx", "Line 3"),
        ("---\njust text\n---\n", "Line 2"),
        ("---\nlicense: mit\n\n## Task\nNo closing line.", "Line 1"),
        ("---\nevil: !!python/object/apply:os.system ['true']\n---\n", "Line 2"),
        ("---\nlicense: mit\nbell: \x07\n---\n", "Line 3"),
        ("---\nlicense: mit\n\nname: \ud800\n---\n", "Line 4"),
    ],
    ids=[
        "flow-sequence",
        "indentation",
        "unclosed-bracket",
        "list",
        "scalar",
        "unterminated",
        "python-tag",
        "control-character",
        "lone-surrogate",
    ],
)
def test_bad_front_matter_is_refused_naming_its_line(readme, line):
    with pytest.raises(InvalidInput) as raised:
        card_import_huggingface(readme)

    (message,) = raised.value.errors["readme"]
    assert message.startswith(f"{line}"), message


def test_front_matter_nested_too_deep_is_an_input_error():
    with pytest.raises(InvalidInput) as raised:
        card_import_huggingface("---\nx: " + "[" * 50_000 + "\n---\n")

    assert "Line" in raised.value.errors["readme"][0]


def test_an_overlong_or_binary_readme_is_refused():
    for text in ("x" * 200_001, "a\x00b", 42):
        with pytest.raises(InvalidInput):
            card_import_huggingface(text)


# --- The import service ----------------------------------------------------------------------------------


def test_importing_into_a_draft_saves_a_revision(carded, contributor):
    revision = card_import(actor=contributor, version=carded, text=HF_README)

    assert revision.number == 2
    assert revision.summary == IMPORT_SUMMARY
    assert revision.author == contributor
    assert revision.sections["known_failures"].startswith("New merchants.")
    assert "<h3>Gift cards</h3>" in revision.sections_html["known_failures"]
    assert ModelCard.objects.get(version=carded).current == revision
    event = AuditEvent.objects.order_by("-sequence").first()
    assert (event.action, event.data["summary"]) == ("card.revised", IMPORT_SUMMARY)


def test_imported_html_is_sanitised(version, contributor):
    readme = "---\nlicense: mit\n---\n## Known failures\n[x](javascript:alert(1)) <script>alert(1)</script>"

    revision = card_import(actor=contributor, version=version, text=readme)

    html = revision.sections_html["known_failures"]
    assert "javascript:" not in html and "<script" not in html


@pytest.mark.parametrize("stage", [Stage.STAGING, Stage.PRODUCTION, Stage.ARCHIVED])
def test_importing_is_refused_past_draft_and_on_the_record(version, contributor, stage):
    path = {
        Stage.STAGING: (Stage.STAGING,),
        Stage.PRODUCTION: (Stage.STAGING, Stage.PRODUCTION),
        Stage.ARCHIVED: (Stage.ARCHIVED,),
    }[stage]
    version_move(version, *path, actor=contributor)
    revisions = CardRevision.objects.count()

    with pytest.raises(Conflict) as raised:
        card_import(actor=contributor, version=version, text=HF_README)

    assert raised.value.code == "not_draft"
    assert CardRevision.objects.count() == revisions
    event = AuditEvent.objects.order_by("-sequence").first()
    assert (event.action, event.data) == ("card.import_refused", {"code": "not_draft", "stage": stage.value})


def test_bad_front_matter_writes_nothing(version, contributor):
    revisions = CardRevision.objects.count()

    with pytest.raises(InvalidInput):
        card_import(actor=contributor, version=version, text="---\nlicense: [\n---\n## Task\nx")

    assert CardRevision.objects.count() == revisions


def test_a_readme_without_card_text_is_refused(version, contributor):
    with pytest.raises(InvalidInput) as raised:
        card_import(actor=contributor, version=version, text="---\nlicense: mit\n---\n# Title only\n")

    assert "readme" in raised.value.errors


# The ladder: who may see the model but not edit its cards is refused (403, audited); the card edit
# permission, through the contributor role or granted on this one model, is enough; an outsider, who may
# not see the model, is refused too (the API answers them 404 before any service runs).


@pytest.mark.parametrize("who", ["viewer", "reviewer", "approver", "outsider"])
def test_importing_needs_the_card_edit_permission(request, version, who):
    actor = request.getfixturevalue(who)

    with pytest.raises(PermissionDenied):
        card_import(actor=actor, version=version, text=HF_README)

    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.action == "permission.denied"
    assert event.data["permission"] == "registry.edit_card"
    assert not CardRevision.objects.filter(card__version=version).exists()


def test_the_card_edit_permission_on_one_model_is_enough(version, team):
    editor = user_with_roles("eddie", Role.VIEWER, teams=(team,))
    assign_perm(Permission.objects.get(codename="edit_card"), editor, version.model)

    revision = card_import(actor=editor, version=version, text=HF_README)

    assert revision.author == editor


def test_a_superuser_may_import(version, superuser):
    assert card_import(actor=superuser, version=version, text=HF_README).number == 1
