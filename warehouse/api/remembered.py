"""The API's model lists, remembered between requests while nothing they show has changed.

Dashboards and pipelines ask for the same pages all day. A page is read from the database once and then
kept in this process under the change feed's stamp (warehouse/changes.py) together with its "registry"
news: any committed change to a model, a version or a team's name, and any change to who may see what
(a grant, a membership, a person, a token), is heard on commit and nothing remembered before it counts.
So a remembered page is the one the database would give now, and a caller who just wrote is answered
from the database by its own process: every unsafe request waits until that process has heard its commit
(`warehouse.middleware.HeardBeforeAnsweringMiddleware`), and the other processes, told by PostgreSQL at the
same moment, hear it within a moment.

Kept per person and per query as asked (the `next` link repeats the request's own parameters), and bounded
by the size of what it holds, so that no caller can fill a process's memory by asking for new URLs: when
full, it starts again empty.
"""

from collections.abc import Callable

from django.http import HttpRequest

from warehouse.changes import Memo, current_stamp

# Pages of 100 models are about 30 KB each as answered; descriptions of 5,000 characters make them 500 KB.
PAGES_REMEMBERED = 512
CHARACTERS_REMEMBERED = 16_000_000
# What a row holds besides its description, in characters, at most: a name of 64, a username and a team
# name of 150 each, a URL, a date, numbers, and the dict that holds them.
ROW_BESIDES_DESCRIPTION = 1_000

_pages = Memo(max_entries=PAGES_REMEMBERED, max_weight=CHARACTERS_REMEMBERED)


def _size(answer: dict) -> int:
    """About how much memory `answer` holds, in characters: the description is the one unbounded field."""
    return sum(ROW_BESIDES_DESCRIPTION + len(row["description"]) for row in answer["results"])


def list_answer(request: HttpRequest, read: Callable[[], dict]) -> dict:
    """What `read()` answers for this request, remembered under the change feed's stamp: `read` must depend
    only on the caller and the request's URL. Read afresh when the feed cannot vouch (SQLite, PostgreSQL
    unreachable, inside a transaction)."""
    stamp = current_stamp()  # before reading: a change committed meanwhile makes the entry stale
    if stamp is None:
        return read()
    # The query as Django read it, in the order given: two raw query strings that read alike are one page.
    query = tuple((name, tuple(values)) for name, values in request.GET.lists())
    key = (request.user.pk, request.user.is_superuser, request.path, query)
    remembered = _pages.get(key, stamp.registry_stamp)
    if remembered is not None:
        return remembered
    answer = read()
    _pages.put(key, stamp.registry_stamp, answer, weight=_size(answer))
    return answer
