"""Loaded by pytest before Django (`-p tests.environment`): the environment a test run needs.

Tests run with DEBUG off, like production. Anything already set wins, so CI can point DATABASE_URL,
CELERY_BROKER_URL and REDIS_URL at real servers.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-any-deployment")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# The Django test client and the live server speak plain HTTP.
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
# No collectstatic before tests: serve static/ as it is, not the hashed manifest production uses.
os.environ.setdefault("STATIC_MANIFEST", "0")
