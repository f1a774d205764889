"""Warehouse settings, read from the environment (twelve-factor).

Without any environment the project runs embedded: SQLite and Celery's filesystem transport under
`var/`, and a local-memory cache. Production sets DATABASE_URL, CELERY_BROKER_URL, REDIS_URL,
SECRET_KEY and ALLOWED_HOSTS.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("WAREHOUSE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: str = "", separator: str = ",") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(separator) if item.strip()]


def env_tracking_servers(name: str) -> list[tuple[str, str, str]]:
    """`name=url|CREDENTIAL_ENV` entries separated by `;`, as (name, url, credential_env). Only the shape is
    read here; `manage.py tracking_servers_sync` checks each value and says what is wrong with it."""
    servers = []
    for entry in env_list(name, separator=";"):
        server_name, equals, rest = entry.partition("=")
        url, bar, credential_env = rest.rpartition("|")
        if not (equals and bar):
            raise ImproperlyConfigured(
                f"{name}: {entry.split('=', 1)[0]!r} is not name=url|CREDENTIAL_ENV (entries separated by ;)."
            )
        servers.append((server_name.strip(), url.strip(), credential_env.strip()))
    return servers


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Only ever used with DEBUG on: sessions signed with it are worthless outside a laptop.
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-7c1f0b2e9a"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# The public address of this warehouse, used in API responses and alert links.
WAREHOUSE_BASE_URL = os.environ.get("WAREHOUSE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "guardian",
    # Serves Swagger UI's files from its package, for /api/v1/docs (no CDN).
    "ninja",
    # Before accounts: axes counts a failed sign-in before accounts puts it on the audit trail.
    "axes",
    "warehouse.accounts",
    "warehouse.audit",
    "warehouse.registry",
    "warehouse.cards",
    "warehouse.promotions",
    "warehouse.incidents",
    "warehouse.api",
    "warehouse.webhooks",
    "warehouse.tracking",
    "warehouse.pages",
    "warehouse.demo",
]

MIDDLEWARE = [
    # First: on the paths machines call, it turns whatever Django answered in HTML into the JSON envelope.
    "warehouse.middleware.MachineEdgeMiddleware",
    # A write is answered once this process has heard it commit, so its caller's next read includes it.
    "warehouse.middleware.HeardBeforeAnsweringMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "warehouse.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "warehouse.middleware.AuditChannelMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a sign-in refused for a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "warehouse.urls"
# A form may carry the API's largest body (5 MB) pasted as text: the registration page takes the API's JSON.
# Django's default (2.5 MB) would answer a larger paste with its bare 400 page before the view could say
# anything; nginx admits 6 MB (client_max_body_size), and so does this.
DATA_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024
WSGI_APPLICATION = "warehouse.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "warehouse.accounts.context_processors.reach",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'warehouse.sqlite3'}",
        conn_health_checks=True,
    )
}
ON_POSTGRESQL = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
# Opening a PostgreSQL connection costs the server about 12 ms of CPU: on PostgreSQL each thread keeps its
# connection between requests (a web process holds at most as many as it has threads, WEB_THREADS). Before
# a kept connection serves a request, Django checks it (CONN_HEALTH_CHECKS), so one PostgreSQL dropped (a
# restart) is replaced at once rather than failing the request. A request that needs no database (a warm
# production lookup) opens and checks nothing.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60 if ON_POSTGRESQL else 0)
if ON_POSTGRESQL:
    # An unreachable server is an error in seconds (the production lookup answers 503), not a hang.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DATABASE_CONNECT_TIMEOUT", 3)
    # No JIT compilation: a page's queries run in milliseconds, but at 10,000 models the planner's cost
    # estimate for the signed-in person's permissions crossed jit_above_cost and PostgreSQL spent 4.7 s
    # compiling a query that then ran in 7 ms. JIT pays off for long analytical queries, which this is not.
    DATABASES["default"]["OPTIONS"]["options"] = "-c jit=off"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # A busy timeout lets the web process and the worker share the file without "database is locked".
    # IMMEDIATE transactions take the write lock up front, so select_for_update-style code serialises.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First: a locked-out account or address is refused before its password is checked.
    "warehouse.accounts.signin.SignInThrottle",
    # Django's ModelBackend, loading the signed-in person with what the navigation offers them.
    "warehouse.accounts.reach.PersonBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Sign-in throttling (django-axes): after SIGNIN_FAILURE_LIMIT wrong passwords for one account, or from one
# address, that account or address is refused for SIGNIN_LOCKOUT_MINUTES, right password or not. Further
# tries while locked do not extend the lockout. A success resets the count. An admin lifts a lockout early
# with `manage.py axes_reset_username <name>` or `axes_reset_ip <address>` (or in the admin).
# Wrong bearer tokens are counted by the same means, per address and apart from sign-in: after
# TOKEN_FAILURE_LIMIT of them at the API, or at one alert receiver, from one address, that address's tokens
# are refused there for the same SIGNIN_LOCKOUT_MINUTES (warehouse/accounts/token_throttle.py).
SIGNIN_FAILURE_LIMIT = env_int("SIGNIN_FAILURE_LIMIT", 10)
TOKEN_FAILURE_LIMIT = env_int("TOKEN_FAILURE_LIMIT", 20)
AXES_FAILURE_LIMIT = "warehouse.accounts.token_throttle.failure_limit"
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIGNIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = "warehouse.accounts.token_throttle.lockout_parameters"
AXES_HANDLER = "warehouse.accounts.token_throttle.DoorsApartHandler"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "warehouse.accounts.views.signin_locked_out"
AXES_CLIENT_IP_CALLABLE = "warehouse.accounts.signin.client_address"
AXES_VERBOSE = False
# How many proxies in front of the app append the address they were connected from to X-Forwarded-For
# (the compose proxy is one). 0 believes only the connection's own address.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# Anonymous visitors never hold object permissions: everything needs a sign-in.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

LOGIN_URL = "accounts:sign-in"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:sign-in"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Production serves hashed, compressed files made by collectstatic. Without collectstatic (DEBUG, or
    # a test run, which sets STATIC_MANIFEST=0) the files are served as they are in static/.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_MANIFEST", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Django's cache. Nothing on the serving path uses it: the production lookup keeps its answers in each
# process's memory, vouched for by PostgreSQL's notifications (warehouse/changes.py), so a cache that is
# down or hangs cannot touch it. A Redis that hangs costs any other user at most these timeouts.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery. The embedded default is the filesystem transport, so `make run` needs no server.
BROKER_DIR = VAR_DIR / "broker"
# An empty value counts as unset: Celery would otherwise fall back to its own default broker.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://localhost/"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The transport reads and writes messages in one folder: data_folder_in and data_folder_out must match.
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Broadcast bookkeeping (the exchange table); without this it lands in the current directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest task, or Redis redelivers work that is still running.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
        "socket_connect_timeout": 3,
        "socket_timeout": 5,
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
# A named queue per kind of work: a burst of gates never waits behind other work, nor holds it up. A
# worker started without -Q consumes every queue listed here. The sweeps have a queue of their own and a
# worker of their own (`-Q sweeps`, started by make run and docker compose), so a backlog of gates or
# deliveries that keeps every other worker busy never delays the sweep that rescues lost work.
CELERY_TASK_QUEUES = (
    Queue("celery"),
    Queue("gates"),
    Queue("webhooks"),
    Queue("imports"),
    Queue("sweeps"),
)
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "promotions.gate_run_execute": {"queue": "gates"},
    # A slow receiver holds up other receivers' deliveries at most, never gates or sweeps.
    "webhooks.deliver": {"queue": "webhooks"},
    "webhooks.fan_out": {"queue": "webhooks"},
    # A large model's download holds up other imports at most, never gates.
    "tracking.run_import_execute": {"queue": "imports"},
    "tracking.run_imports_sweep": {"queue": "sweeps"},
    "promotions.gate_runs_sweep": {"queue": "sweeps"},
    "webhooks.sweep": {"queue": "sweeps"},
    "api.idempotency_keys_purge": {"queue": "sweeps"},
}
CELERY_BEAT_SCHEDULE = {
    # On the sweeps queue, so a backlog of gates never delays the sweep; a sweep older than its interval
    # is dropped rather than piled up.
    "sweep-gates": {
        "task": "promotions.gate_runs_sweep",
        "schedule": 60.0,
        "options": {"queue": "sweeps", "expires": 55},
    },
    # Fans out what the audit listener missed, and queues retries that are due and deliveries the broker
    # lost. Retries are only as punctual as this interval.
    "sweep-webhooks": {
        "task": "webhooks.sweep",
        "schedule": 15.0,
        "options": {"queue": "sweeps", "expires": 14},
    },
    # Queues imports whose retry is due, never queued (the broker was down) or whose worker died.
    "sweep-imports": {
        "task": "tracking.run_imports_sweep",
        "schedule": 15.0,
        "options": {"queue": "sweeps", "expires": 14},
    },
    # Forgets idempotency keys past their retention (a key past it acts anew even before this runs).
    "purge-idempotency-keys": {
        "task": "api.idempotency_keys_purge",
        "schedule": 3600.0,
        "options": {"queue": "sweeps", "expires": 3500},
    },
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"

# Security. Production (DEBUG off) is secure by default; each can be relaxed from the environment
# (for instance behind a proxy that already redirects to HTTPS).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO") else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Probes (the proxy, the container runtime) ask over plain HTTP inside the network: answer, do not redirect.
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Sent with every response (warehouse/middleware.py, and the watch server's own answers). No inline script
# anywhere: pages are server-rendered and the few scripts are files under /static/.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Submitting a domain to the browsers' HSTS preload list is the operator's decision, not a default.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# The schemes an artifact URI may use. warehouse:// names files in the warehouse's own storage, under
# ARTIFACT_STORAGE_ROOT: the only files the warehouse ever opens (the gate recomputes their digests).

# The card sections a version must have come from the promotion policy in force (the cards app cannot
# import promotions: dependencies run one way, so it asks for this function by name).
CARD_REQUIRED_SECTIONS = "warehouse.promotions.policies.selectors.card_required_sections"
ARTIFACT_URI_SCHEMES = ("s3", "gs", "abfss", "https", "hdfs", "warehouse")
ARTIFACT_STORAGE_ROOT = Path(os.environ.get("ARTIFACT_STORAGE_ROOT", VAR_DIR / "artifacts"))

# Gates. A worker holds a run for GATE_LEASE_SECONDS; past that, the sweeper hands it to another worker.
# A run queued GATE_REQUEUE_AFTER_SECONDS ago and still pending is queued again (the broker lost it).
GATE_LEASE_SECONDS = env_int("GATE_LEASE_SECONDS", 300)
GATE_MAX_ATTEMPTS = env_int("GATE_MAX_ATTEMPTS", 3)
GATE_REQUEUE_AFTER_SECONDS = env_int("GATE_REQUEUE_AFTER_SECONDS", 600)
# For tests only: a worker waits this long after each check, so a browser test can watch the checks
# appear one by one. 0 (no wait) everywhere else.
GATE_CHECK_PAUSE_SECONDS = float(os.environ.get("GATE_CHECK_PAUSE_SECONDS") or 0)
if not CELERY_BROKER_URL.startswith("filesystem://") and (
    CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] <= GATE_LEASE_SECONDS * GATE_MAX_ATTEMPTS
):
    # Redis hands an unacknowledged message to another worker after the visibility timeout: shorter than
    # a gate's whole life, and a gate still running would be delivered twice.
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT must be longer than GATE_LEASE_SECONDS × GATE_MAX_ATTEMPTS."
    )
# Publishing happens after the request's commit: give up fast, the sweeper retries.
GATE_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}

# API writes sent with an Idempotency-Key answer their first result to a retry with the same key for this
# many hours (never fewer than the 24 the API documents), then the key is forgotten and acts anew.
IDEMPOTENCY_KEY_HOURS = max(24, env_int("IDEMPOTENCY_KEY_HOURS", 24))

# Outgoing webhooks. Targets on loopback, link-local or private addresses are refused unless this is on
# (a receiver on the same network, or tests with a local receiver). Each attempt waits at most
# WEBHOOK_TIMEOUT_SECONDS to connect and for each read; a failed attempt is retried after
# WEBHOOK_RETRY_BASE_SECONDS × 2^(attempt-1), at most WEBHOOK_RETRY_MAX_SECONDS, up to WEBHOOK_MAX_ATTEMPTS.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS")
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 30)
WEBHOOK_RETRY_MAX_SECONDS = env_int("WEBHOOK_RETRY_MAX_SECONDS", 3600)
# A worker holds a delivery this long; past that, the sweeper hands it to another (it may then arrive twice:
# receivers deduplicate on X-Warehouse-Delivery). Longer than a connect and a read.
WEBHOOK_LEASE_SECONDS = env_int("WEBHOOK_LEASE_SECONDS", max(60, 4 * WEBHOOK_TIMEOUT_SECONDS))
# A delivery queued this long ago and still pending is queued again (the broker lost it).
WEBHOOK_REQUEUE_AFTER_SECONDS = env_int("WEBHOOK_REQUEUE_AFTER_SECONDS", 300)
WEBHOOK_PUBLISH_RETRY_POLICY = GATE_PUBLISH_RETRY_POLICY

# Tracking servers the warehouse trusts, configured from the environment by `manage.py tracking_servers_sync`
# (more can be added in the admin): `name=url|CREDENTIAL_ENV` entries separated by `;`, e.g.
# `mlflow-prod=https://mlflow.internal.example:5000|WAREHOUSE_TRACKING_TOKEN_MLFLOW_PROD`. CREDENTIAL_ENV
# names the variable holding the server's token: the token is read from the environment when used, never
# stored.
TRACKING_SERVERS = env_tracking_servers("WAREHOUSE_TRACKING_SERVERS")
# Importing a version's evidence from its tracked run. The worker streams every file of the model through
# the tracking server's artifact proxy and hashes it: at most IMPORT_MAX_BYTES in all (a bigger model is
# refused, named with its size). Each request waits IMPORT_TIMEOUT_SECONDS to connect and for each read. An
# unreachable or failing server is tried again after IMPORT_RETRY_BASE_SECONDS × 2^(attempt-1) (at most
# IMPORT_RETRY_MAX_SECONDS), up to IMPORT_MAX_ATTEMPTS, then the import fails and can be retried by hand.
IMPORT_MAX_BYTES = env_int("WAREHOUSE_IMPORT_MAX_BYTES", 2 * 1024**3)
IMPORT_TIMEOUT_SECONDS = env_int("WAREHOUSE_IMPORT_TIMEOUT_SECONDS", 30)
IMPORT_MAX_ATTEMPTS = env_int("WAREHOUSE_IMPORT_MAX_ATTEMPTS", 6)
IMPORT_RETRY_BASE_SECONDS = env_int("WAREHOUSE_IMPORT_RETRY_BASE_SECONDS", 10)
IMPORT_RETRY_MAX_SECONDS = env_int("WAREHOUSE_IMPORT_RETRY_MAX_SECONDS", 600)
# A worker holds an import this long without reporting progress; past that the sweeper hands it to another.
IMPORT_LEASE_SECONDS = env_int("WAREHOUSE_IMPORT_LEASE_SECONDS", max(120, 4 * IMPORT_TIMEOUT_SECONDS))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
