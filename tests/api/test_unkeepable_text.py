"""No text the database cannot keep gets in: a NUL character or a lone surrogate (`\\u0000`, `\\ud800`) in any
string of a registration or a card revision, wherever it sits in the string, is a 400 naming that string's
field, and nothing is written. Property-based: hypothesis picks the field, the character and where it goes;
on PostgreSQL, which refuses both in text (a 500 before the edge read the body strictly)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.support import API, bearer, error_fields, written
from tests.factories import evidence_payload
from warehouse.machine_http import NUL_MESSAGE, SURROGATE_MESSAGE

pytestmark = pytest.mark.postgres

UNKEEPABLE = st.one_of(
    st.just("\x00"),
    st.integers(min_value=0xD800, max_value=0xDFFF).map(chr),
)
EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)


def registration() -> dict:
    """A registration naming a new model, so that `model` (its description and team) is sent too."""
    return evidence_payload(
        model={"description": "Scores card payments.", "team": "payments"},
        card={
            "task": "Scores card payments for fraud.",
            "out_of_scope": "Bank transfers.",
            "known_failures": "New merchants in their first week.",
        },
    )


def string_paths(value, path: str = "") -> list[str]:
    """The path (as the API names fields: `artifacts[1].name`) of every string in `value`."""
    if isinstance(value, str):
        return [path]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in string_paths(item, f"{path}[{index}]")]
    if isinstance(value, dict):
        return [
            found
            for key, item in value.items()
            for found in string_paths(item, f"{path}.{key}" if path else key)
        ]
    return []


def spoiled(document, path: str, character: str, where: float):
    """`document` with `character` put into the string at `path`, `where` of the way along it."""
    copy = json.loads(json.dumps(document))
    parts = path.replace("[", ".[").split(".")
    parent = copy
    for part in parts[:-1]:
        parent = parent[int(part[1:-1])] if part.startswith("[") else parent[part]
    last = parts[-1]
    key = int(last[1:-1]) if last.startswith("[") else last
    text = parent[key]
    at = round(len(text) * where)
    parent[key] = text[:at] + character + text[at:]
    return copy


REGISTRATION_PATHS = string_paths(registration())


def test_the_registration_unspoiled_is_accepted(client, contributor, team):
    """So that the character put in is the only thing the refusals below can be about."""
    response = client.post(
        f"{API}/models/fraud-scorer/versions",
        data=json.dumps(registration()),
        content_type="application/json",
        **bearer(contributor),
    )

    assert response.status_code == 201, response.content[:500]


def test_the_property_covers_every_string_of_a_registration():
    assert {
        "description",
        "model.description",
        "model.team",
        "evaluation.dataset",
        "card.known_failures",
    } <= set(REGISTRATION_PATHS)
    assert "artifacts[1].name" in REGISTRATION_PATHS and "evaluation.slices[2].slice" in REGISTRATION_PATHS
    assert len(REGISTRATION_PATHS) >= 25


@EXAMPLES
@given(path=st.sampled_from(REGISTRATION_PATHS), character=UNKEEPABLE, where=st.floats(0, 1))
def test_unkeepable_text_anywhere_in_a_registration_is_refused_naming_the_field(
    client, contributor, team, path, character, where
):
    headers = bearer(contributor)
    before = written()
    body = json.dumps(spoiled(registration(), path, character, where))

    response = client.post(
        f"{API}/models/fraud-scorer/versions", data=body, content_type="application/json", **headers
    )

    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["code"] == "invalid"
    message = NUL_MESSAGE if character == "\x00" else SURROGATE_MESSAGE
    assert error_fields(response) == {path: [message]}
    assert written() == before


CARD_BODIES = {
    "sections as an object": {
        "sections": {"task": "Scores payments.", "limitations": "Cold start."},
        "summary": "Limitations written.",
    },
    "sections as Markdown": {"sections": "## Task\n\nScores payments.\n\n## Limitations\n\nCold start.\n"},
}


@EXAMPLES
@given(
    body_and_path=st.sampled_from(
        [(name, path) for name, body in CARD_BODIES.items() for path in string_paths(body)]
    ),
    character=UNKEEPABLE,
    where=st.floats(0, 1),
)
def test_unkeepable_text_anywhere_in_a_card_revision_is_refused_naming_the_field(
    client, contributor, model, body_and_path, character, where
):
    name, path = body_and_path
    headers = bearer(contributor)
    before = written()
    body = json.dumps(spoiled(CARD_BODIES[name], path, character, where))

    response = client.put(
        f"{API}/models/fraud-scorer/versions/1/card", data=body, content_type="application/json", **headers
    )

    assert response.status_code == 400, response.content[:300]
    message = NUL_MESSAGE if character == "\x00" else SURROGATE_MESSAGE
    assert error_fields(response) == {path: [message]}
    assert written() == before
