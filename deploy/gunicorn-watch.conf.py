"""gunicorn for the watch server (ASGI):

    gunicorn -c deploy/gunicorn-watch.conf.py warehouse.asgi:application

Serving systems watch what is in production with `GET /api/v1/models/<name>/production?wait=<seconds>`:
the answer comes when it changes, or after the wait (at most 60 s). nginx sends those requests here and
everything else to the web server (deploy/gunicorn.conf.py), so a thousand waiting watchers hold a
thousand idle coroutines on one event loop, not the web server's threads. Same image, same settings.

The command line wins over this file (`--bind`, `--workers`: scripts/webtier.py uses them).
"""

import os

worker_class = "asgi"
# One event loop holds many waits; a second process only adds CPU for answering them.
workers = int(os.environ.get("WATCH_CONCURRENCY", "1"))
# Connections one process holds at once: waiting watchers plus nginx's idle keep-alive connections.
worker_connections = 1000

bind = [f"0.0.0.0:{os.environ.get('PORT', '8001')}"]

# The asgi worker's heartbeat, and the longest wait for a request body. A wait does not block the event
# loop, so a long poll never trips it; it stays above the longest wait (60 s) all the same, so nothing on
# this side gives up on a watcher before nginx does (proxy_read_timeout 75 s).
timeout = 75
# On SIGTERM, waits in flight may run their full 60 s and answer, instead of being cut (which nginx would
# turn into a 502 for the watcher). The compose file waits longer than this before it kills the container.
graceful_timeout = 65
# Longer than nginx's upstream keepalive_timeout (4 s): nginx closes idle connections first (see
# deploy/gunicorn.conf.py).
keepalive = 5

# As the web server: at least what nginx lets through.
limit_request_line = 8190
limit_request_field_size = 8190
limit_request_fields = 100

# As the web server: X-Forwarded-Proto from the proxy only, and only that header.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
worker_tmp_dir = "/dev/shm"
