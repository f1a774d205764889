"""gunicorn for the web server (WSGI): `gunicorn -c deploy/gunicorn.conf.py warehouse.wsgi`.

It runs behind nginx (deploy/nginx/warehouse.conf.template), the only published port. nginx holds slow
clients and hands a request on only once it has all of it, so a thread here only ever works on a complete
request. Never publish this port on its own: without the proxy, a few clients that send slowly keep every
thread waiting.

The command line wins over this file (`--bind`, `--workers`, `--threads`: scripts/webtier.py uses them),
and GUNICORN_CMD_ARGS adds options without editing it (`--access-logfile=-`).
"""

import os

# Threads in a few processes. A request spends most of its time waiting on PostgreSQL or Redis, which
# releases the GIL, and idle keep-alive connections from nginx wait in the worker's poller, not in a thread.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "8"))
# Each thread keeps its own database connection between requests (warehouse/settings.py: CONN_MAX_AGE,
# with a health check before reuse), so PostgreSQL must accept WEB_CONCURRENCY x WEB_THREADS connections
# from this server alone.

bind = [f"0.0.0.0:{os.environ.get('PORT', '8000')}"]

# The arbiter replaces a worker whose main loop has not checked in for 30 s (stuck holding the GIL, or
# deadlocked). With gthread it is not a limit on one request: a request is cut off by nginx's
# proxy_read_timeout (60 s), which answers the client 504.
timeout = 30
# On SIGTERM (a deploy, `docker compose stop`) requests in flight get 30 s to finish. The compose file
# waits a little longer (stop_grace_period) before it kills the container.
graceful_timeout = 30
# nginx keeps idle connections to this server open for the next request (upstream keepalive_timeout 4 s).
# gunicorn keeps them longer, so it is always nginx that closes an idle one: nginx never sends a request on
# a connection gunicorn is closing at that moment, which would answer that request 502.
keepalive = 5

# At least as much as nginx lets through (large_client_header_buffers 4 8k: a request line or a header
# line up to 8 KB), so a request the proxy accepted is never refused here. 8190 is gunicorn's maximum.
limit_request_line = 8190
limit_request_field_size = 8190
limit_request_fields = 100

# The proxy's address: only from there is X-Forwarded-Proto believed (it sets wsgi.url_scheme, which
# Django's request.is_secure() reads). The compose file sets "*": the proxy's address on the compose network
# is not fixed, and nothing but the proxy can reach this port there.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Only the header nginx sets, and overwrites whatever a client sent in it. gunicorn's default also reads
# X-Forwarded-Protocol and X-Forwarded-Ssl, which nginx passes from the client untouched.
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# nginx logs every request; errors and worker restarts go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

# The heartbeat file lives on tmpfs: touching it never waits on a disk (a container's /tmp is on the
# image's overlay filesystem, where that can stall a worker long enough to be killed).
worker_tmp_dir = "/dev/shm"
