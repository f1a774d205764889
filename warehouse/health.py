"""Health endpoints for the proxy, the container runtime and load balancers.

`live` answers as long as the process can run a Django view: no database, no cache, no sign-in. It is also
the framework's floor in `make bench`: a bare JSON view through the whole middleware stack, against which
the production lookup is measured. `ready` also asks PostgreSQL (or SQLite) for `SELECT 1`.
"""

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe


@csrf_exempt
@require_safe
def live(request):
    return JsonResponse({"status": "ok"})


@csrf_exempt
@require_safe
def ready(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        response = JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
        response["Retry-After"] = "5"
        return response
    return JsonResponse({"status": "ok", "database": "ok"})
