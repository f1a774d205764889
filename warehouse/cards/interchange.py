"""Model cards in and out of the warehouse: a Hugging Face style README.md, and Model Card Toolkit JSON.

Exports read the version's current card and its evidence in a fixed number of queries, whatever the number
of metrics or slices. Numbers go out exactly: YAML and the toolkit's strings both carry Python's shortest
repr of a float, which reads back as the same float.

Importing reads only the written sections of a README: its front matter is checked (a person pasting a
README wants to hear that it is broken, and where) but not imported, since evidence such as metrics is
registered with the version and never typed into a card.
"""

import re
from dataclasses import dataclass

import yaml

from warehouse.accounts.permissions import model_access
from warehouse.audit.services import audit_record
from warehouse.cards.models import CardRevision, ModelCard
from warehouse.cards.sections import Section
from warehouse.cards.services import MAX_SECTION_LENGTH, _sections_from_document, card_revise
from warehouse.errors import Conflict, InvalidInput
from warehouse.registry.models import (
    ArtifactKind,
    EvaluationMetric,
    EvaluationReport,
    ModelVersion,
    SliceMetric,
    SourceRun,
    Stage,
)

TOOLKIT_SCHEMA_VERSION = "0.0.2"
IMPORT_SUMMARY = "Imported from README.md"
# The Hugging Face task of a model the warehouse knows nothing of beyond its card.
HF_TASK_TYPE = "other"
MAX_README_LENGTH = MAX_SECTION_LENGTH * 4
_FRONT_MATTER_OPEN = "---"
_FRONT_MATTER_CLOSE = ("---", "...")
_H1 = re.compile(r"^#\s+\S")


# --- What an export reads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardMaterial:
    """A version's current card and the evidence an export shows, read once."""

    version: ModelVersion
    sections: dict[str, str]
    evaluation: EvaluationReport | None
    metrics: list[EvaluationMetric]
    slices: list[SliceMetric]
    source_run: SourceRun | None
    weights_uri: str

    @property
    def model(self):
        return self.version.model

    def section(self, key: str) -> str:
        return (self.sections.get(key) or "").strip()


def card_material_read(*, version: ModelVersion) -> CardMaterial:
    """Four queries (the card, metrics, slices, weights) when the caller fetched the version with its
    evaluation, source run and profile, and its model with owner and team; a few more otherwise. Never more
    for more rows."""
    revision = CardRevision.objects.filter(
        pk__in=ModelCard.objects.filter(version=version).values("current")
    ).first()
    # getattr with a default: a missing reverse one-to-one raises an AttributeError (and is then cached).
    evaluation = getattr(version, "evaluation", None)
    metrics, slices = [], []
    if evaluation is not None:
        metrics = list(EvaluationMetric.objects.filter(report=evaluation).order_by("name"))
        slices = list(SliceMetric.objects.filter(report=evaluation).order_by("metric", "slice_key"))
    weights = (
        version.artifacts.filter(kind=ArtifactKind.WEIGHTS).order_by("name").values_list("uri", flat=True)
    ).first()
    return CardMaterial(
        version=version,
        sections=dict(revision.sections) if revision is not None else {},
        evaluation=evaluation,
        metrics=metrics,
        slices=slices,
        source_run=getattr(version, "source_run", None),
        weights_uri=weights or "",
    )


def _first_line(markdown: str) -> str:
    for line in markdown.splitlines():
        text = line.strip().lstrip("#>*-+ ").strip()
        if text:
            return text[:200]
    return ""


def _task_name(material: CardMaterial) -> str:
    return (
        _first_line(material.section(Section.TASK))
        or _first_line(material.model.description)
        or material.model.name
    )


def _number(value: float) -> str:
    # str() of a float is its shortest repr: float(_number(x)) == x.
    return str(value)


# --- Hugging Face README.md -----------------------------------------------------------------------------


def card_front_matter(material: CardMaterial) -> dict:
    """The YAML front matter as data: `model-index` in the Hub's schema, the slices (which that schema has
    no place for) under `warehouse`."""
    version, model = material.version, material.model
    front: dict = {}
    if material.evaluation is not None:
        dataset = {"name": material.evaluation.dataset, "type": material.evaluation.dataset}
        if material.evaluation.dataset_version:
            dataset["revision"] = material.evaluation.dataset_version
        front["model-index"] = [
            {
                "name": model.name,
                "results": [
                    {
                        "task": {"type": HF_TASK_TYPE, "name": _task_name(material)},
                        "dataset": dataset,
                        "metrics": [
                            {"type": metric.name, "value": metric.value, "name": metric.name}
                            for metric in material.metrics
                        ],
                    }
                ],
            }
        ]
    # str(): a version or metric fresh from registration holds its choices as enum members, which
    # safe_dump refuses to represent.
    front["tags"] = ["warehouse", f"stage-{version.stage}"]
    front["warehouse"] = {
        "model": model.name,
        "version": version.number,
        "id": version.identifier,
        "uuid": str(version.uuid),
        "stage": str(version.stage),
        "metric_directions": {metric.name: str(metric.direction) for metric in material.metrics},
        "slices": [
            {
                "slice": row.slice_key,
                "metric": row.metric,
                "value": row.value,
                "sample_count": row.sample_count,
            }
            for row in material.slices
        ],
    }
    return front


def card_export_huggingface(*, version: ModelVersion) -> str:
    """A README.md: YAML front matter, a title, then each written section under `## <label>`, in reading
    order. Importing it back gives the same sections."""
    material = card_material_read(version=version)
    front = yaml.safe_dump(
        card_front_matter(material), sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    parts = [f"---\n{front}---", f"# {material.model.name} v{material.version.number}"]
    for key, label in Section.choices:
        text = material.section(key)
        if text:
            parts.append(f"## {label}\n\n{text}")
    return "\n\n".join(parts) + "\n"


# --- Model Card Toolkit JSON ----------------------------------------------------------------------------


def _https(uri: str) -> bool:
    return uri.lower().startswith("https://") and len(uri) > len("https://")


def _described(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part)


def _profile_summary(version: ModelVersion) -> str:
    profile = getattr(version, "profile", None)
    if profile is None:
        return ""
    summary = (
        f"Latency p50 {_number(profile.latency_p50_ms)} ms, p95 {_number(profile.latency_p95_ms)} ms, "
        f"p99 {_number(profile.latency_p99_ms)} ms"
    )
    if profile.hardware:
        summary += f" on {profile.hardware}"
    if profile.throughput_rps is not None:
        summary += f"; throughput {_number(profile.throughput_rps)} requests/s"
    if profile.cost_per_1k_predictions is not None:
        summary += f"; {profile.cost_per_1k_predictions} {profile.currency} per 1,000 predictions"
    return summary + "."


def _card_document(material: CardMaterial) -> str:
    return "\n\n".join(
        f"## {label}\n\n{material.section(key)}" for key, label in Section.choices if material.section(key)
    )


def card_export_toolkit(*, version: ModelVersion) -> dict:
    """The card as Model Card Toolkit JSON (schema v0.0.2). Sections the toolkit has a field for go there;
    the whole written card is also in `model_details.documentation`, so nothing is lost."""
    material = card_material_read(version=version)
    return {
        "schema_version": TOOLKIT_SCHEMA_VERSION,
        "model_details": _toolkit_details(material, version),
        "model_parameters": {"data": _toolkit_data(material)},
        "quantitative_analysis": {"performance_metrics": _toolkit_metrics(material)},
        "considerations": _toolkit_considerations(material, version),
    }


def _toolkit_details(material: CardMaterial, version: ModelVersion) -> dict:
    model, run = material.model, material.source_run
    owners = [{"name": model.owner.get_full_name() or model.owner.get_username()}]
    if model.owner.email:
        owners[0]["contact"] = model.owner.email
    if model.team_id:
        owners.append({"name": f"Team {model.team.name}"})
    details: dict = {
        "name": model.name,
        "overview": _task_name(material),
        "documentation": _card_document(material),
        "owners": owners,
        "version": {"name": f"v{version.number}", "date": version.created_at.date().isoformat()},
    }
    if version.description:
        details["version"]["diff"] = version.description
    if run is not None and _https(run.url):
        details["references"] = [{"reference": run.url}]
    if material.weights_uri:
        details["path"] = material.weights_uri
    return details


def _toolkit_data(material: CardMaterial) -> list[dict]:
    evaluation, run = material.evaluation, material.source_run
    data = []
    if evaluation is not None:
        data.append(
            {
                "name": evaluation.dataset,
                "description": _described(
                    "Evaluation data"
                    + (f", version {evaluation.dataset_version}." if evaluation.dataset_version else "."),
                    material.section(Section.EVALUATION_NOTES),
                ),
            }
        )
    training_data = (run.training_data or "") if run is not None else ""
    if training_data or material.section(Section.DATA_SUMMARY):
        training = {
            "name": training_data or "Training data",
            "description": _described("Training data.", material.section(Section.DATA_SUMMARY)),
        }
        if _https(training_data):
            training["link"] = training_data
        data.append(training)
    return data


def _toolkit_metrics(material: CardMaterial) -> list[dict]:
    metrics = [
        {"type": metric.name, "value": _number(metric.value), "slice": ""} for metric in material.metrics
    ]
    return metrics + [
        {"type": row.metric, "value": _number(row.value), "slice": row.slice_key} for row in material.slices
    ]


def _toolkit_considerations(material: CardMaterial, version: ModelVersion) -> dict:
    considerations: dict = {}
    if material.section(Section.TASK):
        considerations["use_cases"] = [{"description": material.section(Section.TASK)}]
    if material.section(Section.INTENDED_USERS):
        considerations["users"] = [{"description": material.section(Section.INTENDED_USERS)}]
    if material.section(Section.DECISION_INFLUENCED):
        # No field for the decision a model feeds either: it is how the model is used, so a use case.
        considerations.setdefault("use_cases", []).append(
            {"description": f"Decision influenced: {material.section(Section.DECISION_INFLUENCED)}"}
        )
    if material.section(Section.OUT_OF_SCOPE):
        # The schema has no field for uses a model is not for: they are use cases, marked as excluded.
        considerations.setdefault("use_cases", []).append(
            {"description": f"Out of scope: {material.section(Section.OUT_OF_SCOPE)}"}
        )
    if material.section(Section.KNOWN_FAILURES):
        considerations["limitations"] = [{"description": material.section(Section.KNOWN_FAILURES)}]
    tradeoffs = [
        text for text in (_profile_summary(version), material.section(Section.LATENCY_COST_NOTES)) if text
    ]
    if tradeoffs:
        considerations["tradeoffs"] = [{"description": text} for text in tradeoffs]
    if material.section(Section.ETHICAL_CONSIDERATIONS):
        considerations["ethical_considerations"] = [
            {"name": material.section(Section.ETHICAL_CONSIDERATIONS)}
        ]
    return considerations


# --- Importing a README.md ------------------------------------------------------------------------------


def _front_matter_error(path: str, message: str) -> InvalidInput:
    return InvalidInput({path: [message]}, "The README's front matter is not valid; nothing was saved.")


def _front_matter_yaml(source: str, path: str):
    """The front matter's YAML read, or an error that points at the README's line (YAML starts on line 2)."""
    try:
        return yaml.safe_load(source)
    except yaml.reader.ReaderError as error:
        # A control character or a lone surrogate, found before any parsing: it has a position, no mark.
        line = source[: error.position].count("\n") + 2
        raise _front_matter_error(
            path,
            f"Line {line}: the front matter holds a character YAML does not allow (#x{error.character:04x}).",
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        problem = getattr(error, "problem", None) or getattr(error, "context", None) or "unreadable"
        # The mark counts from 0 within the YAML, which starts on the README's line 2.
        where = f"Line {mark.line + 2}, column {mark.column + 1}" if mark is not None else "Line 2"
        raise _front_matter_error(path, f"{where}: the front matter is not valid YAML: {problem}.") from None
    except RecursionError:
        raise _front_matter_error(path, "Line 2: the front matter nests too deeply.") from None
    except (ValueError, OverflowError) as error:
        # A value YAML reads but Python cannot hold, such as `date: 2020-02-30`: no mark to point at.
        raise _front_matter_error(
            path, f"Line 2: the front matter holds a value that is not valid: {error}."
        ) from None


def _front_matter_check(lines: list[str], path: str) -> int:
    """Check the front matter that opens on the first line; answer the index of the first body line."""
    close = next(
        (index for index in range(1, len(lines)) if lines[index].rstrip() in _FRONT_MATTER_CLOSE), None
    )
    if close is None:
        raise _front_matter_error(
            path, "Line 1 opens the front matter with '---', but no later '---' line closes it."
        )
    data = _front_matter_yaml("\n".join(lines[1:close]), path)
    if data is not None and not isinstance(data, dict):
        first = next((index for index in range(1, close) if lines[index].strip()), 1)
        raise _front_matter_error(
            path,
            f"Line {first + 1}: the front matter must be keys with values (like `license: mit`), "
            f"not a {type(data).__name__}.",
        )
    return close + 1


def card_import_huggingface(text: str, *, path: str = "readme") -> dict[str, str]:
    """The card sections of a Hugging Face style README.md.

    The optional YAML front matter (between `---` lines) is checked and then set aside; a broken one is
    refused with its line. A title (`# Name`) opening the body is dropped. The rest is read as a card
    document: `## Heading`s name the sections (`## Limitations` is the known failures, `## Uses` the task;
    see HEADING_ALIASES), text before the first known heading is the task.
    """
    if not isinstance(text, str):
        raise InvalidInput({path: ["Give the README as Markdown text."]})
    if len(text) > MAX_README_LENGTH or "\x00" in text:
        raise InvalidInput({path: [f"At most {MAX_README_LENGTH} characters, and no NUL characters."]})
    lines = text.removeprefix("\ufeff").splitlines()
    start = 0
    if lines and lines[0].rstrip() == _FRONT_MATTER_OPEN:
        start = _front_matter_check(lines, path)
    body = lines[start:]
    first = next((index for index, line in enumerate(body) if line.strip()), None)
    if first is not None and _H1.match(body[first]):
        del body[first]
    return _sections_from_document("\n".join(body), path)


def card_import(*, actor, version: ModelVersion, text: str) -> CardRevision:
    """Prefill a Draft version's card from a README.md, as a new revision. A version past Draft has a card
    that people have reviewed: it is edited, not replaced by an import (409 `not_draft`, on the record)."""
    model_access(actor, version.model).require(
        "registry.edit_card", attempted=f"import a README into the card of {version.identifier}"
    )
    stage = ModelVersion.objects.values_list("stage", flat=True).get(pk=version.pk)
    if stage != Stage.DRAFT:
        refusal = Conflict(
            f"{version.identifier} is in {Stage(stage).label}: a README is imported only into a Draft "
            "version's card. Edit this card instead.",
            code="not_draft",
        )
        audit_record(
            actor=actor,
            action="card.import_refused",
            target=version,
            target_label=version.identifier,
            model_name=version.model.name,
            data={"code": refusal.code, "stage": stage},
        )
        raise refusal
    sections = card_import_huggingface(text)
    if not sections:
        raise InvalidInput({"readme": ["The README holds no card text to import."]})
    return card_revise(actor=actor, version=version, sections=sections, summary=IMPORT_SUMMARY)
