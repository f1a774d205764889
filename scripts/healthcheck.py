"""Health check of the web container: does gunicorn answer, with Django behind it?

Healthy when the sign-in page answers with a status below 500. A redirect to HTTPS counts: Django
answered it. The Host header is one the server accepts (the first of ALLOWED_HOSTS), so the check does
not fill the log with refused hosts.
"""

import http.client
import os
import sys


def allowed_host() -> str:
    for entry in os.environ.get("ALLOWED_HOSTS", "").split(","):
        entry = entry.strip().lstrip(".")
        if entry and entry != "*":
            return entry
    return "localhost"


def main() -> int:
    connection = http.client.HTTPConnection("127.0.0.1", int(os.environ.get("PORT", "8000")), timeout=5)
    try:
        connection.request("GET", "/accounts/sign-in/", headers={"Host": allowed_host()})
        status = connection.getresponse().status
    except OSError as error:
        print(f"unhealthy: {error}")
        return 1
    print(f"HTTP {status}")
    return 0 if status < 500 else 1


if __name__ == "__main__":
    sys.exit(main())
