"""Model cards: read, revise, export."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Router

from warehouse.api.endpoints.common import READ_ERRORS, WRITE_ERRORS, answered_with, model_name, whole
from warehouse.api.schemas.cards import Card, CardToolkit, CardUpdate
from warehouse.api.serializers import card_json
from warehouse.cards.interchange import card_export_huggingface, card_export_toolkit
from warehouse.cards.models import CardRevision, ModelCard
from warehouse.cards.selectors import completeness_of, required_sections_for
from warehouse.cards.services import card_revise
from warehouse.registry.selectors import version_get_for_user

router = Router(tags=["cards"])


def _answer(version, revision) -> dict:
    completeness = completeness_of(
        revision.sections if revision is not None else {}, *required_sections_for(version)
    )
    return card_json(version=version, revision=revision, completeness=completeness)


def _attachment(filename: str) -> dict:
    return {
        "Content-Disposition": {
            "schema": {"type": "string"},
            "description": f'attachment; filename="{filename}"',
        }
    }


@router.get(
    "/models/{name}/versions/{int:number}/card",
    response={200: Card, **READ_ERRORS},
    operation_id="getCard",
    summary="The version's model card",
    description=(
        "The current revision: its sections as Markdown and as sanitised HTML, who wrote it and when, and "
        "which sections are empty. A card never written answers with `revision` null and every section "
        "empty. Readable by anyone who may see the model."
    ),
    url_name="card",
)
def card(request: HttpRequest, name: str = model_name(), number: int = whole()):
    version = version_get_for_user(user=request.user, name=name, number=number)
    revision = (
        CardRevision.objects.filter(pk__in=ModelCard.objects.filter(version=version).values("current"))
        .select_related("author")
        .first()
    )
    return _answer(version, revision)


@router.put(
    "/models/{name}/versions/{int:number}/card",
    response={200: Card, **WRITE_ERRORS},
    operation_id="reviseCard",
    summary="Save the card as a new revision",
    description=(
        "Replaces the written sections; nothing is overwritten: each save is a new revision with its author, "
        "time and summary, and an audit event; a save that changes nothing is refused (400 on `sections`). "
        "Any stage's card may be edited (the evidence stays immutable). Needs the card edit permission on "
        "the model (refusals are audited). Session callers send the CSRF token in the X-CSRFToken header."
    ),
    openapi_extra=answered_with(
        200,
        examples={
            "revise": {
                "sections": {
                    "task": "Scores card payments for fraud before authorisation.",
                    "known_failures": "Merchants in their first week score high.",
                },
                "summary": "Known failures from the October incident review.",
            }
        },
    ),
)
def card_put(request: HttpRequest, body: CardUpdate, name: str = model_name(), number: int = whole()):
    version = version_get_for_user(user=request.user, name=name, number=number)
    sections = (
        body.sections if isinstance(body.sections, str) else body.sections.model_dump(exclude_none=True)
    )
    revision = card_revise(actor=request.user, version=version, sections=sections, summary=body.summary)
    # The author is the caller: no query to read them back.
    revision.author = request.user
    return _answer(version, revision)


@router.get(
    "/models/{name}/versions/{int:number}/card/export/huggingface",
    response={200: None, **READ_ERRORS},
    operation_id="exportCardHuggingFace",
    summary="The card as a Hugging Face style README.md",
    description=(
        "YAML front matter with `model-index` (the evaluation dataset and every overall metric, in the Hub's "
        "schema), `tags`, and a `warehouse` block with the version's identity, metric directions and every "
        "slice metric; then each written section under a `## <Section>` heading, in reading order."
    ),
    openapi_extra={
        "responses": {
            200: {
                "headers": _attachment("<model>-v<number>-README.md"),
                "content": {"text/markdown": {"schema": {"type": "string"}}},
            }
        }
    },
    url_name="card-export-huggingface",
)
def card_export_hf(request: HttpRequest, name: str = model_name(), number: int = whole()):
    version = version_get_for_user(user=request.user, name=name, number=number)
    response = HttpResponse(
        card_export_huggingface(version=version), content_type="text/markdown; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{version.model.name}-v{version.number}-README.md"'
    )
    return response


@router.get(
    "/models/{name}/versions/{int:number}/card/export/toolkit",
    response={200: CardToolkit, **READ_ERRORS},
    operation_id="exportCardToolkit",
    summary="The card as Model Card Toolkit JSON",
    description="Valid against the Model Card Toolkit's JSON schema, slices included.",
    openapi_extra={"responses": {200: {"headers": _attachment("<model>-v<number>-model-card.json")}}},
    url_name="card-export-toolkit",
)
def card_export_mct(request: HttpRequest, name: str = model_name(), number: int = whole()):
    version = version_get_for_user(user=request.user, name=name, number=number)
    response = JsonResponse(card_export_toolkit(version=version))
    response["Content-Disposition"] = (
        f'attachment; filename="{version.model.name}-v{version.number}-model-card.json"'
    )
    return response
