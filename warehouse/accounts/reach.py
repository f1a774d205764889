"""What a signed-in person may reach from the main navigation: the same rules the pages behind it apply.

- Register a version: the registration page's rule (cards' `registration_open_to`): the permission to
  create models or to register versions, org-wide (a role) or on some model.
- Webhooks: the webhook page's rule (webhooks' `models_managed_by`): a superuser, or someone who sees a
  model and may edit its promotion policy, org-wide or on that model.
- API tokens: every active person may hold their own (the tokens page and `api_token_create`).
- Admin: staff, as Django's admin decides.

Asked on every page, so it is never a query of its own: the authentication backend (`PersonBackend`) reads
it in the same query that loads the signed-in person for the request. Nothing is remembered between
requests, so a permission granted or revoked shows on the very next page. Anything else that asks with a
person loaded some other way pays one query.

Object permissions name a registered model by content type and key; models are never deleted, so a grant
names a model that exists (accounts sits below registry and cannot join its table).
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

from warehouse.accounts.permissions import model_grants_of, model_permission_id

REGISTER_PERMISSIONS = ("add_registeredmodel", "register_version")
MANAGE_WEBHOOKS_PERMISSION = "admin_policy"  # webhooks.selectors.MANAGE_PERMISSION, without its app


@dataclass(frozen=True)
class Reach:
    register: bool = False
    webhooks: bool = False
    api_tokens: bool = False
    admin: bool = False


NOWHERE = Reach()


def _held_org_wide(codenames: tuple[str, ...]) -> Q:
    """The person (the outer query's row) holds one of `codenames` (permissions on registered models)
    org-wide: themselves or through a role. Named by their ids, so that PostgreSQL reads the person's and
    their roles' permission rows alone. Joined by name through the permissions and content types, and the
    groups through their own table, the query that loads the person on every page took 7-11 ms to plan
    (for half a millisecond of work); now 1-2 ms."""
    ids = [model_permission_id(codename) for codename in codenames]
    person = OuterRef("pk")
    directly = get_user_model().user_permissions.through.objects.filter(user=person, permission_id__in=ids)
    through_roles = Group.permissions.through.objects.filter(
        group__in=_groups_of(person), permission_id__in=ids
    )
    return Q(Exists(directly)) | Q(Exists(through_roles))


def _groups_of(person: OuterRef):
    """The groups of `person`, for a subquery that names the person as `person` (an OuterRef): read from
    the memberships alone, one level further in, so one more OuterRef out. Joined through the groups'
    table instead, each of this module's subqueries took one join more to plan."""
    return get_user_model().groups.through.objects.filter(user=OuterRef(person)).values("group_id")


def _granted_on_a_model(codename: str, *, person=None, object_pk=None) -> Q:
    """`codename` is granted on some registered model (or on model `object_pk`) to the person or to one of
    their groups, as guardian's get_objects_for_user reads it."""
    person = person if person is not None else OuterRef("pk")
    where = model_grants_of(codename)
    if object_pk is not None:
        where["object_pk"] = object_pk
    direct = get_user_obj_perms_model().objects.filter(user=person, **where)
    through_groups = get_group_obj_perms_model().objects.filter(group__in=_groups_of(person), **where)
    return Q(Exists(direct)) | Q(Exists(through_groups))


def _manages_a_visible_model() -> Q:
    """Some model carries both a grant of the policy permission and one of view for the person.

    Four plain EXISTS, one per pairing of where each grant comes from (the person, or one of their groups),
    each starting from the policy grants, which are few: PostgreSQL then answers from the grants' index in a
    fraction of a millisecond. Written as one EXISTS with an OR inside, it hashed every view grant of the
    registry first (tens of milliseconds at 10,000 models, on every page)."""
    where = model_grants_of(MANAGE_WEBHOOKS_PERMISSION)
    viewing = {**model_grants_of("view_registeredmodel"), "object_pk": OuterRef("object_pk")}
    person = OuterRef(OuterRef("pk"))
    managing = {
        "directly": get_user_obj_perms_model().objects.filter(user=OuterRef("pk"), **where),
        "through a group": get_group_obj_perms_model().objects.filter(
            group__in=_groups_of(OuterRef("pk")), **where
        ),
    }
    seeing = (
        get_user_obj_perms_model().objects.filter(user=person, **viewing),
        get_group_obj_perms_model().objects.filter(group__in=_groups_of(person), **viewing),
    )
    combined = Q()
    for grants in managing.values():
        for visible in seeing:
            combined |= Q(Exists(grants.filter(Exists(visible))))
    return combined


def reach_annotations() -> dict[str, ExpressionWrapper]:
    """Annotations for a queryset of people: what each may reach, computed by the database."""
    register = (
        Q(is_superuser=True) | _held_org_wide(REGISTER_PERMISSIONS) | _granted_on_a_model("register_version")
    )
    webhooks = (
        Q(is_superuser=True)
        | (_held_org_wide((MANAGE_WEBHOOKS_PERMISSION,)) & _granted_on_a_model("view_registeredmodel"))
        | _manages_a_visible_model()
    )
    return {
        "reach_register": ExpressionWrapper(register, output_field=BooleanField()),
        "reach_webhooks": ExpressionWrapper(webhooks, output_field=BooleanField()),
    }


def reach_of(user) -> Reach:
    """What `user` may reach. No query for the person of a request (loaded by PersonBackend); one query
    for a person loaded any other way."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return NOWHERE
    # getattr, not __dict__: the request's user is a lazy proxy.
    read = {name: getattr(user, name, None) for name in ("reach_register", "reach_webhooks")}
    if read["reach_register"] is None:
        read = (
            get_user_model()
            ._default_manager.filter(pk=user.pk)
            .annotate(**reach_annotations())
            .values("reach_register", "reach_webhooks")
            .first()
        )
        if read is None:
            return NOWHERE
    return Reach(
        register=bool(read["reach_register"]),
        webhooks=bool(read["reach_webhooks"]),
        api_tokens=True,
        admin=user.is_staff,
    )


class PersonBackend(ModelBackend):
    """Django's ModelBackend, loading the signed-in person together with what they may reach (`reach_of`):
    one query, as before, instead of one more on every page."""

    def get_user(self, user_id):
        model = get_user_model()
        try:
            user = model._default_manager.annotate(**reach_annotations()).get(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
