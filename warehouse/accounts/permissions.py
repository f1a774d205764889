"""Deny by default: who may see and do what on a RegisteredModel.

Two layers, both needed:
- *where*: an object permission `view_registeredmodel` on the model (django-guardian), granted to a person
  or to a group such as the model's team. Without it the model does not exist for that person (404).
- *what*: the permission for the action, held through a role group (org-wide) or granted on that one model
  as an object permission. Without it the action is refused (403) and the refusal is audited.
Superusers pass both.
"""

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import DEFAULT_DB_ALIAS
from django.db.models import (
    BooleanField,
    CharField,
    Exists,
    Expression,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce
from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

from warehouse.audit.services import audit_record

VIEW_MODEL = "registry.view_registeredmodel"


class ModelAccess:
    """What one person may do on one registered model. Reads permissions once, in one query, then answers
    from memory."""

    def __init__(self, user, model: Model):
        self.user = user
        self.model = model
        self._perms: tuple[frozenset[str], frozenset[str]] | None = None

    def _read(self) -> tuple[frozenset[str], frozenset[str]]:
        if self._perms is None:
            if not self.user.is_authenticated or not self.user.is_active:
                self._perms = (frozenset(), frozenset())
            else:
                self._perms = _permissions_on(self.user, self.model)
        return self._perms

    def _object(self) -> frozenset[str]:
        return self._read()[0]

    @property
    def can_view(self) -> bool:
        if self.user.is_authenticated and self.user.is_active and self.user.is_superuser:
            return True
        return VIEW_MODEL in self._object()

    def can(self, perm: str) -> bool:
        if not self.can_view:
            return False
        if self.user.is_superuser:
            return True
        on_model, org_wide = self._read()
        return perm in on_model or perm in org_wide

    def require(self, perm: str, *, attempted: str) -> None:
        """Raise PermissionDenied, after writing a `permission.denied` audit event, unless allowed."""
        if not self.can(perm):
            raise permission_denied(actor=self.user, target=self.model, permission=perm, attempted=attempted)


def _permissions_on(user, obj: Model) -> tuple[frozenset[str], frozenset[str]]:
    """The permissions `user` holds on `obj` (granted to them or to one of their groups, by guardian) and
    org-wide (held directly or through a role group, as Django's ModelBackend reads them), as
    `app_label.codename`, in one query: guardian's checker and ModelBackend would take four."""
    content_type = ContentType.objects.get_for_model(obj)
    object_pk = str(obj.pk)
    columns = ("permission__content_type__app_label", "permission__codename", "scope")
    on_object = Value("object", output_field=CharField())
    org_wide = Value("global", output_field=CharField())
    direct = (
        get_user_obj_perms_model()
        .objects.filter(user=user, content_type=content_type, object_pk=object_pk)
        .annotate(scope=on_object)
        .values_list(*columns)
    )
    through_groups = (
        get_group_obj_perms_model()
        .objects.filter(group__user=user, content_type=content_type, object_pk=object_pk)
        .annotate(scope=on_object)
        .values_list(*columns)
    )
    held = (
        Permission.objects.filter(user=user)
        .annotate(scope=org_wide)
        .values_list("content_type__app_label", "codename", "scope")
    )
    through_roles = (
        Permission.objects.filter(group__user=user)
        .annotate(scope=org_wide)
        .values_list("content_type__app_label", "codename", "scope")
    )
    # No ORDER BY in the parts (Permission has a default ordering): SQLite refuses one inside a UNION.
    parts = [part.order_by() for part in (direct, through_groups, held, through_roles)]
    rows = list(parts[0].union(*parts[1:]))
    return (
        frozenset(f"{app}.{codename}" for app, codename, scope in rows if scope == "object"),
        frozenset(f"{app}.{codename}" for app, codename, scope in rows if scope == "global"),
    )


def permissions_on_models(user, model_ids: list[int]) -> tuple[dict[int, set[str]], set[str]]:
    """What `user` holds on each of `model_ids` (granted on the model, to them or a group) and org-wide,
    in three queries whatever the number of models: the batched twin of `_permissions_on`, for lists
    (the reviewer queue) where a ModelAccess per model would take a query each."""
    # By natural key: accounts sits below registry and cannot import its models.
    content_type = ContentType.objects.get_by_natural_key("registry", "registeredmodel")
    keys = [str(pk) for pk in model_ids]
    columns = ("object_pk", "permission__content_type__app_label", "permission__codename")
    direct = (
        get_user_obj_perms_model()
        .objects.filter(user=user, content_type=content_type, object_pk__in=keys)
        .values_list(*columns)
    )
    groups = (
        get_group_obj_perms_model()
        .objects.filter(group__user=user, content_type=content_type, object_pk__in=keys)
        .values_list(*columns)
    )
    on_model: dict[int, set[str]] = {pk: set() for pk in model_ids}
    for object_pk, app_label, codename in [*direct, *groups]:
        on_model[int(object_pk)].add(f"{app_label}.{codename}")
    org_wide = {
        f"{app_label}.{codename}"
        for app_label, codename in Permission.objects.filter(Q(user=user) | Q(group__user=user))
        .values_list("content_type__app_label", "codename")
        .distinct()
    }
    return on_model, org_wide


_permission_ids: dict[tuple[str, str], int] = {}


def model_permission_id(codename: str, *, using: str = DEFAULT_DB_ALIAS) -> int:
    """The id of the permission `codename` (without its app label) on registered models, read once per
    process and database, as Django keeps content types (ContentType.objects): permissions are made by
    migrations and never change their id. A query then names it as a number, which PostgreSQL plans with
    the grants' real statistics, where a subquery is planned blind and compiled on every request."""
    key = (using, codename)
    if key not in _permission_ids:
        _permission_ids[key] = (
            Permission.objects.using(using)
            .get(content_type__app_label="registry", content_type__model="registeredmodel", codename=codename)
            .pk
        )
    return _permission_ids[key]


def model_grants_of(codename: str) -> dict:
    """Guardian's filter for grants of `codename` (without its app label) on registered models, by the
    permission's and the content type's ids, so that PostgreSQL looks the grants up in guardian's
    (permission, user or group, content type, object) index. Joined by name instead, it reads every grant in
    the registry."""
    content_type = ContentType.objects.get_by_natural_key("registry", "registeredmodel")
    return {"content_type_id": content_type.pk, "permission_id": model_permission_id(codename)}


def model_permission_held(user, permission: str, *, model) -> Q:
    """`user` was granted `permission` ("registry.signoff_staging") on `model` (a key, or an OuterRef to
    one), themselves or through a group: a condition for a query over requests or versions."""
    where = {**model_grants_of(permission.split(".", 1)[1]), "object_pk": Cast(model, CharField())}
    direct = get_user_obj_perms_model().objects.filter(user=user, **where)
    through_groups = get_group_obj_perms_model().objects.filter(group__user=user, **where)
    return Q(Exists(direct)) | Q(Exists(through_groups))


def model_access(user, model: Model) -> ModelAccess:
    return ModelAccess(user, model)


def models_visible_to(user, queryset: QuerySet) -> QuerySet:
    """The models in `queryset` that `user` may see, as one lazy queryset: those with a view grant to them or
    to one of their groups (django-guardian's object permissions, as get_objects_for_user reads them
    without global permissions).

    Asked per model, as EXISTS on the grants' index, rather than as guardian's `id IN (every grant of the
    person)`: a page of 50 models then costs 50 index lookups whatever the number of grants, where the IN
    list read all 10,000 grants of a 10,000-model registry on every list (10-15 ms each time)."""
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    return queryset.filter(model_permission_held(user, VIEW_MODEL, model=OuterRef("pk")))


def model_visible_check(user, *, model: OuterRef, groups: list[int]) -> Expression:
    """Whether `user` may see `model` (an OuterRef to a model's key), checked for each row on its own.

    Written as EXISTS, PostgreSQL plans the check for every row of the table and prefers to hash all of
    the reader's grants first (5 ms at 10,000 grants, on every page). A scalar subquery with LIMIT 1 is
    never hashed: each row costs one probe of guardian's (permission, group, content type, object) index.
    `groups` are the reader's groups that hold view grants, read beforehand (accounts.visibility's
    `reader_for`), so that the probe names them as numbers: asked as a subquery, each probe would read
    the reader's memberships again; and a group that holds no view grant (a role) would cost a probe.
    Where to use it rather than `models_visible_to`: accounts/visibility.py."""
    if not user.is_authenticated or not user.is_active:
        return Value(False)
    if user.is_superuser:
        return Value(True)
    grant = {**model_grants_of(VIEW_MODEL.partition(".")[2]), "object_pk": Cast(model, CharField())}
    held = Value(True, output_field=BooleanField())
    direct = get_user_obj_perms_model().objects.filter(user=user, **grant).values(held=held)[:1]
    through_groups = (
        get_group_obj_perms_model().objects.filter(group__in=groups, **grant).values(held=held)[:1]
    )
    return Coalesce(Subquery(through_groups), Subquery(direct), Value(False))


def permission_denied(*, actor, target: Model | None, permission: str, attempted: str) -> PermissionDenied:
    """Record the refused attempt and return the error to raise.

    Call it before opening the transaction the refusal protects: inside a caller's atomic block the event
    would be rolled back with everything else when the error propagates.
    """
    model_name = getattr(target, "name", "") if target is not None else ""
    audit_record(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action="permission.denied",
        target=target,
        model_name=model_name,
        data={"permission": permission, "attempted": attempted},
    )
    return PermissionDenied(f"You do not have permission to {attempted}.")


def model_visible_to_user_id(*, user_id: int, model_id: int) -> bool:
    """Whether the person `user_id` holds `view_registeredmodel` on model `model_id` (themselves or through
    a group), in one query: the serving path's twin of ModelAccess.can_view, for a caller who knows who the
    person is (active, not a superuser) without loading them."""
    content_type = ContentType.objects.get_by_natural_key("registry", "registeredmodel")
    grant = {
        "content_type": content_type,
        "object_pk": str(model_id),
        "permission__codename": VIEW_MODEL.partition(".")[2],
    }
    direct = get_user_obj_perms_model().objects.filter(user_id=user_id, **grant).values("pk")
    through_groups = get_group_obj_perms_model().objects.filter(group__user=user_id, **grant).values("pk")
    return bool(list(direct.union(through_groups)[:1]))
