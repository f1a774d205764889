"""What the benches share: the environment they run in, and a database of their own.

Import this before Django loads and call `environment()` first: it sets the environment Django's settings
read. The database functions import Django lazily for that reason.
"""

import os
import re
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent


def environment() -> None:
    """Before Django loads: a var folder of the bench's own, and production's settings (DEBUG off)."""
    var = Path(os.environ.get("WAREHOUSE_VAR_DIR") or ROOT / "var")
    os.environ["WAREHOUSE_VAR_DIR"] = str(var / "bench")
    os.environ["DJANGO_SETTINGS_MODULE"] = "warehouse.settings"
    # DEBUG on would record every query, which no production process does.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-never-for-a-deployment")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ["STATIC_MANIFEST"] = "0"
    # The bench's own process stays quiet; the worker logs at INFO (its "succeeded" lines are read).
    os.environ["LOG_LEVEL"] = "ERROR"


def database_describe() -> str:
    from django.db import connection

    if connection.vendor == "sqlite":
        return "SQLite (file)"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0].split()[0]}"


def broker_describe() -> str:
    from warehouse.celery import app

    url = re.sub(r"//[^@/]*@", "//", app.conf.broker_url)
    if url.startswith("filesystem://"):
        return "filesystem transport"
    return url.split("://")[0].capitalize() + f" ({url})"


def database_create(suffix: str = "bench") -> str:
    """A fresh database for the bench, migrated: `<name>_<suffix>` on the PostgreSQL server of DATABASE_URL,
    or `<var>/bench/<suffix>.sqlite3`. Returns the configured name, to drop it after."""
    from django.conf import settings
    from django.db import connection

    configured = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        name = str(Path(settings.VAR_DIR) / f"{suffix}.sqlite3")
    else:
        name = f"{configured}_{suffix}"
    connection.settings_dict.setdefault("TEST", {})["NAME"] = name
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return configured


def database_destroy(configured: str) -> None:
    from django.db import connection

    connection.creation.destroy_test_db(configured, verbosity=0)


def database_url() -> str:
    """DATABASE_URL naming the bench's database, for the processes the bench starts."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}@{db.get('HOST') or 'localhost'}{port}/{quote(db['NAME'], safe='')}"
