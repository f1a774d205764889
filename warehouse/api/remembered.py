"""The API's model lists, remembered between requests while nothing they show has changed.

Dashboards and pipelines ask for the same pages all day. A page is read from the database once and then
kept in this process under the change feed's stamp (warehouse/changes.py) together with its "registry"
news: any committed change to a model, a version or a team's name, and any change to who may see what
(a grant, a membership, a person, a token), is heard on commit and nothing remembered before it counts.
So a remembered page is the one the database would give now, and a caller who just wrote is answered
from the database: every unsafe request waits until its own process has heard its commit
(`warehouse.middleware.HeardBeforeAnsweringMiddleware`).

Kept per person and per URL as asked (the `next` link repeats the request's own parameters), and bounded
by the size of what it holds, so that no caller can fill a process's memory by asking for new URLs: when
full, it starts again empty.
"""

from collections.abc import Callable

from django.http import HttpRequest

from warehouse.changes import Memo, current_stamp

# Pages of 100 models are about 30 KB each as answered; descriptions of 5,000 characters make them 500 KB.
PAGES_REMEMBERED = 512
CHARACTERS_REMEMBERED = 16_000_000
# What a row costs beyond its text (the dict, its keys, the numbers), in characters, roughly.
ROW_OVERHEAD = 400

_pages = Memo(max_entries=PAGES_REMEMBERED, max_weight=CHARACTERS_REMEMBERED)


def _size(answer: dict) -> int:
    """About how much memory `answer` holds, in characters: its rows' text and their overhead."""
    return sum(
        ROW_OVERHEAD + sum(len(value) for value in row.values() if isinstance(value, str))
        for row in answer["results"]
    )


def list_answer(request: HttpRequest, read: Callable[[], dict]) -> dict:
    """What `read()` answers for this request, remembered under the change feed's stamp: `read` must depend
    only on the caller and the request's URL. Read afresh when the feed cannot vouch (SQLite, PostgreSQL
    unreachable, inside a transaction)."""
    stamp = current_stamp()  # before reading: a change committed meanwhile makes the entry stale
    if stamp is None:
        return read()
    key = (request.user.pk, request.user.is_superuser, request.get_full_path())
    remembered = _pages.get(key, stamp.registry_stamp)
    if remembered is not None:
        return remembered
    answer = read()
    _pages.put(key, stamp.registry_stamp, answer, weight=_size(answer))
    return answer
