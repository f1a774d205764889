"""The API's plain Django views: the serving systems' production lookup, which no framework may slow (it is
declared in the ninja API for the document only: see endpoints/models.py), and the JSON 404 for every other
path under /api/v1/."""

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from warehouse.accounts.token_throttle import API_TOKEN_DOOR, Knock
from warehouse.api.http import NO_CREDENTIALS, error_response, method_not_allowed
from warehouse.api.production import (
    DATABASE_UNAVAILABLE,
    UNREACHABLE,
    Asker,
    Reply,
    SignedIn,
    bearer_caller,
    production_reply,
    production_reply_waiting,
    unauthenticated,
    wait_seconds,
)
from warehouse.changes import current_stamp
from warehouse.errors import InvalidInput


@csrf_exempt
def production(request, name: str):
    """The serving systems' lookup; see api/production.py. Not through `api_endpoint`: a warm lookup runs
    no query, and authenticating the token goes through what this process remembers of it."""
    if request.method != "GET":
        return method_not_allowed(request, ("GET",))
    try:
        # Most lookups carry no query string: not worth parsing one.
        wait = wait_seconds(request.GET.getlist("wait")) if request.META.get("QUERY_STRING") else 0
    except InvalidInput as error:
        return error_response(400, error.code, error.message, error.errors)
    stamp = current_stamp()
    authorization = request.META.get("HTTP_AUTHORIZATION")
    if authorization:
        asker = Asker(authorization=authorization, knock=Knock.of(request, API_TOKEN_DOOR))
        caller = bearer_caller(authorization, stamp, asker.knock)
    else:
        try:
            user = request.user if request.user.is_authenticated else None
        except UNREACHABLE:
            return _as_response(DATABASE_UNAVAILABLE)
        if user is None:
            return _as_response(unauthenticated(NO_CREDENTIALS))
        asker, caller = Asker(user_id=user.pk), SignedIn(user.pk, user.is_superuser)
    if isinstance(caller, Reply):
        return _as_response(caller)
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH", "")
    if not wait:
        reply = production_reply(
            asker=asker, caller=caller, name=name, if_none_match=if_none_match, stamp=stamp
        )
    else:
        reply = production_reply_waiting(
            asker=asker, caller=caller, name=name, if_none_match=if_none_match, wait=wait
        )
    return _as_response(reply)


def _as_response(reply: Reply) -> HttpResponse:
    response = HttpResponse(reply.body, status=reply.status, headers=dict(reply.header_items()))
    if not reply.body:
        del response["Content-Type"]
    return response


@csrf_exempt
def not_found(request, path: str = ""):
    """Anything else under /api/v1/: a JSON 404, not the HTML page a program cannot read."""
    return error_response(
        404, "not_found", "No such API endpoint; the routes are listed in /api/v1/openapi.json."
    )
