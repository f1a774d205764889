"""Health check of the web and watch containers: does gunicorn answer, with Django behind it?

Healthy when GET /health/live answers 200: the process can run a Django view. It needs neither the
database nor a sign-in, and is exempt from the redirect to HTTPS. The port is the one the server binds,
PORT (default 8000). The Host header is one the server accepts (the first of ALLOWED_HOSTS), so the check
does not fill the log with refused hosts.
"""

import http.client
import os
import sys
from collections.abc import Mapping


def allowed_host(environ: Mapping[str, str] = os.environ) -> str:
    """A Host header Django accepts with these ALLOWED_HOSTS (scripts/webtier.py asks the same)."""
    for entry in environ.get("ALLOWED_HOSTS", "").split(","):
        entry = entry.strip().lstrip(".")
        if entry and entry != "*":
            return entry
    return "localhost"


def main() -> int:
    connection = http.client.HTTPConnection("127.0.0.1", int(os.environ.get("PORT", "8000")), timeout=5)
    try:
        connection.request("GET", "/health/live", headers={"Host": allowed_host()})
        status = connection.getresponse().status
    except OSError as error:
        print(f"unhealthy: {error}")
        return 1
    print(f"HTTP {status}")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
