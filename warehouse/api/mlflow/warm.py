"""`registered-models/alias?alias=production` on a warm path: what `models:/<name>@production` resolves
through, answered the way `/api/v1/models/<name>/production` is.

Who the token speaks for, whether they may see the model and which model it is come from this process's
memory while the change feed vouches for them (warehouse/changes.py, the same memos as the v1 lookup), and
the production version is read in one query, straight from the database's stage: the answer is what
PostgreSQL holds, never a remembered version. Anything the warm path cannot answer for certain (no feed,
an unknown or locked-out token, Basic credentials, a model not visible or with nothing in production) goes
the ordinary way, which answers or refuses it, counts wrong tokens and audits what it must.
"""

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Case, IntegerField, OuterRef, Value, When
from django.db.models.functions import JSONObject
from django.http import HttpRequest

from warehouse.accounts.serving import TokenHolder, model_visible
from warehouse.accounts.token_throttle import Knock, token_door_locked
from warehouse.api.http import API_TOKEN_DOOR
from warehouse.api.mlflow.shapes import source_of, version_document
from warehouse.api.models import MlflowAlias, MlflowVersionTag
from warehouse.api.production import bearer_caller
from warehouse.changes import current_stamp
from warehouse.registry.models import Artifact, ArtifactKind, ModelVersion, Stage
from warehouse.registry.serving import production_answer_get


def production_alias_warm(request: HttpRequest) -> dict | None:
    """The answer to a GET of the `production` alias, or None to take the ordinary way."""
    if request.method != "GET" or request.GET.get("alias", "").lower() != "production":
        return None
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    stamp = current_stamp()
    if stamp is None or not authorization.lower().startswith("bearer "):
        return None
    if token_door_locked(Knock.of(request, API_TOKEN_DOOR)):
        return None
    # No knock: a wrong token is left to the ordinary way, which counts it once.
    holder = bearer_caller(authorization, stamp)
    if not isinstance(holder, TokenHolder):
        return None
    answer = production_answer_get(name=request.GET.get("name", ""), stamp=stamp)
    if answer is None or not answer.in_production:
        return None
    if not model_visible(
        user_id=holder.user_id, is_superuser=holder.is_superuser, model_id=answer.model_id, stamp=stamp
    ):
        return None
    version = _production_version(answer.model_id)
    if version is None:
        return None
    return {"model_version": _version_json(version)}


def _production_version(model_id: int) -> ModelVersion | None:
    """The model's production version with what MLflow shows of it, in one query (PostgreSQL: the warm
    path runs only where the change feed does)."""
    tags = MlflowVersionTag.objects.filter(version=OuterRef("pk")).order_by("key")
    aliases = MlflowAlias.objects.filter(version=OuterRef("pk")).order_by("alias")
    # The weights first, as shapes.version_source reads them.
    artifacts = (
        Artifact.objects.filter(version=OuterRef("pk"))
        .annotate(
            weights_last=Case(
                When(kind=ArtifactKind.WEIGHTS, then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        )
        .order_by("weights_last", "pk")
    )
    return (
        ModelVersion.objects.filter(model_id=model_id, stage=Stage.PRODUCTION)
        .select_related("model", "registered_by", "source_run")
        .annotate(
            tag_pairs=ArraySubquery(tags.values(pair=JSONObject(key="key", value="value"))),
            alias_names=ArraySubquery(aliases.values("alias")),
            artifact_uris=ArraySubquery(artifacts.values("uri")),
        )
        .first()
    )


def _version_json(version: ModelVersion) -> dict:
    """What shapes.version_json answers for a production version, from the one query's arrays."""
    return version_document(
        version,
        source=source_of(version, version.artifact_uris),
        tags=[(pair["key"], pair["value"]) for pair in version.tag_pairs],
        aliases=["production", *version.alias_names],
    )
