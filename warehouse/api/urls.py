import functools

from django.http import HttpResponseNotAllowed
from django.urls import URLPattern, re_path

from warehouse.api import views
from warehouse.api.app import api
from warehouse.api.http import body_read, method_not_allowed
from warehouse.api.idempotency import idempotent

app_name = "api"


def _at_the_edge(view):
    """What ninja leaves to us on every path: the body read past Django's own 2.5 MB limit (up to the API's),
    and a method the path does not have answered as JSON, with Allow."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        body_read(request)
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            methods = tuple(sorted(method.strip() for method in response["Allow"].split(",")))
            return method_not_allowed(request, methods)
        return response

    wrapper.csrf_exempt = True
    return wrapper


def _patterns() -> list[URLPattern]:
    patterns, _, _ = api.urls
    for pattern in patterns:
        pattern.callback = idempotent(pattern.callback)  # within the edge, which reads the body first
        # The API's root has no resource: the JSON 404, as for any unknown path.
        pattern.callback = views.not_found if pattern.name == "api-root" else _at_the_edge(pattern.callback)
    return patterns


# `str`, not `slug`, for model names: a name the registry refuses reaches the view and gets a JSON answer
# (400 on registration, 404 on reads) instead of the site's HTML 404. The production lookup is routed before
# these, as a plain view (warehouse/urls.py); its pattern here is the document's.
urlpatterns = [
    *_patterns(),
    # Last: every other path under /api/v1/ (`[\s\S]`, as `.` would stop at an encoded newline).
    re_path(r"^(?P<path>[\s\S]*)$", views.not_found, name="not-found"),
]
