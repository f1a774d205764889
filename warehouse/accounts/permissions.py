"""Deny by default: who may see and do what on a RegisteredModel.

Two layers, both needed:
- *where*: an object permission `view_registeredmodel` on the model (django-guardian), granted to a person
  or to a group such as the model's team. Without it the model does not exist for that person (404).
- *what*: the permission for the action, held through a role group (org-wide) or granted on that one model
  as an object permission. Without it the action is refused (403) and the refusal is audited.
Superusers pass both.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from guardian.core import ObjectPermissionChecker
from guardian.shortcuts import get_objects_for_user

from warehouse.audit.services import audit_record

VIEW_MODEL = "registry.view_registeredmodel"


class ModelAccess:
    """What one person may do on one registered model. Reads permissions once, then answers from memory."""

    def __init__(self, user, model: Model):
        self.user = user
        self.model = model
        self._object_perms: set[str] | None = None

    def _object(self) -> set[str]:
        if self._object_perms is None:
            if not self.user.is_authenticated or not self.user.is_active:
                self._object_perms = set()
            else:
                app_label = self.model._meta.app_label
                checker = ObjectPermissionChecker(self.user)
                self._object_perms = {f"{app_label}.{codename}" for codename in checker.get_perms(self.model)}
        return self._object_perms

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
        return perm in self._object() or self.user.has_perm(perm)

    def require(self, perm: str, *, attempted: str) -> None:
        """Raise PermissionDenied, after writing a `permission.denied` audit event, unless allowed."""
        if not self.can(perm):
            raise permission_denied(actor=self.user, target=self.model, permission=perm, attempted=attempted)


def model_access(user, model: Model) -> ModelAccess:
    return ModelAccess(user, model)


def models_visible_to(user, queryset: QuerySet) -> QuerySet:
    """The models in `queryset` that `user` may see, as one lazy queryset."""
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    return get_objects_for_user(user, VIEW_MODEL, klass=queryset, accept_global_perms=False)


def permission_denied(*, actor, target: Model | None, permission: str, attempted: str) -> PermissionDenied:
    """Record the refused attempt, in its own transaction so it survives the refusal, and return the error."""
    model_name = getattr(target, "name", "") if target is not None else ""
    audit_record(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action="permission.denied",
        target=target,
        model_name=model_name,
        data={"permission": permission, "attempted": attempted},
    )
    return PermissionDenied(f"You do not have permission to {attempted}.")
