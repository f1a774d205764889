"""Model search: part of the name, the description, the team's name or the owner's username, any case.

On PostgreSQL every part is answered by an index, so a search costs what it finds, not what the registry
holds. The name and the description by trigram GIN indexes on UPPER(column) (migration 0006: Django's
`icontains` there is `UPPER(column::text) LIKE UPPER('%term%')`, which a trigram index answers). The team
and the owner by finding the few teams and people first, in their own small tables (one query), then the
models by `team_id` and `owner_id` through their indexes. The ids go into the models' query as values,
not as a subquery: under an OR, `IN (subquery)` is tested against every model, and an array computed
inside the query hides from the planner how few it holds, which makes it walk every model by name for a
rare term. SQLite (no trigram) scans.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import CharField, Q, Value


def model_search(term: str) -> Q:
    """The models whose name, description, team's name or owner's username holds `term`, any case. Runs
    one query, for the teams and people whose names hold it."""
    teams = Group.objects.filter(name__icontains=term).annotate(part=Value("team", CharField()))
    owners = (
        get_user_model().objects.filter(username__icontains=term).annotate(part=Value("owner", CharField()))
    )
    found: dict[str, list[int]] = {"team": [], "owner": []}
    for part, pk in teams.values_list("part", "pk").union(owners.values_list("part", "pk")):
        found[part].append(pk)
    matches = Q(name__icontains=term) | Q(description__icontains=term)
    if found["team"]:
        matches |= Q(team_id__in=found["team"])
    if found["owner"]:
        matches |= Q(owner_id__in=found["owner"])
    return matches
