"""The watch server (`gunicorn -k asgi warehouse.asgi:application`, behind the proxy).

Production lookups that wait for a change (`?wait=`) are answered by api/watch.py, where a waiting request
holds a coroutine, not a thread; every other request goes to Django's ASGI application. The web server
(`warehouse.wsgi`, gthread workers) serves the pages and the rest of the API.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warehouse.settings")
django_application = get_asgi_application()

# After Django is set up: the handler imports models.
from warehouse.api.watch import production_watchers_first  # noqa: E402

application = production_watchers_first(django_application)
