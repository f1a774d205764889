"""Tracking servers: configured by a superuser or from the environment, checked field by field, audited,
and their credential read from the environment only, never stored."""

import json

import pytest
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.core.management import call_command
from django.db import connection

from warehouse.audit.models import AuditEvent
from warehouse.errors import InvalidInput
from warehouse.settings import env_tracking_servers
from warehouse.tracking.models import TrackingServer
from warehouse.tracking.selectors import tracking_credential, tracking_server_for
from warehouse.tracking.services import tracking_server_configure

URL = "https://mlflow.internal.example:5000"
ENV = "WAREHOUSE_TRACKING_TOKEN_MLFLOW_PROD"
SECRET = "mlflow-token-3c9d1f0e7b2a4d6e"


def configure(actor, **overrides):
    values = {"name": "mlflow-prod", "url": URL, "credential_env": ENV, **overrides}
    return tracking_server_configure(actor=actor, **values)


def test_a_superuser_configures_a_server_on_the_record(superuser):
    server = configure(superuser, url=URL + "/")

    assert (server.name, server.url, server.credential_env, server.kind, server.active) == (
        "mlflow-prod",
        URL,
        ENV,
        "mlflow",
        True,
    )
    assert server.created_by == superuser
    event = AuditEvent.objects.get(action="tracking_server.configured")
    assert event.actor == superuser
    assert event.target_id == str(server.pk)
    assert event.data == {
        "name": "mlflow-prod",
        "url": URL,
        "credential_env": ENV,
        "kind": "mlflow",
        "active": True,
    }
    assert tracking_server_for(name="mlflow-prod") == server


def test_a_change_is_audited_and_a_change_of_nothing_writes_nothing(superuser):
    server = configure(superuser)

    configure(superuser, server=server)
    assert not AuditEvent.objects.filter(action="tracking_server.changed").exists()

    changed = configure(superuser, server=server, url="http://mlflow.internal.example", active=False)

    event = AuditEvent.objects.get(action="tracking_server.changed")
    assert event.data["changes"] == {
        "url": {"before": URL, "after": "http://mlflow.internal.example"},
        "active": {"before": True, "after": False},
    }
    assert changed.active is False
    assert tracking_server_for(name="mlflow-prod") is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", "ftp://mlflow.internal.example"),
        ("url", "file:///etc/passwd"),
        ("url", "https://"),
        ("url", "https://user:token@mlflow.internal.example"),
        ("url", "https://token@mlflow.internal.example"),
        ("url", "https://mlflow.internal.example/?token=x"),
        ("url", "https://mlflow.internal.example/#x"),
        ("url", ""),
        ("credential_env", "warehouse_token"),
        ("credential_env", "1TOKEN"),
        ("credential_env", "TOKEN-PROD"),
        ("credential_env", SECRET),
        ("credential_env", ""),
        ("name", "MLflow Prod"),
        ("name", "-prod"),
        ("name", ""),
    ],
)
def test_each_field_is_checked_and_nothing_is_written(superuser, field, value):
    with pytest.raises(InvalidInput) as refused:
        configure(superuser, **{field: value})

    assert list(refused.value.errors) == [field]
    assert not TrackingServer.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="tracking_server.").exists()


def test_a_name_is_taken_once(superuser):
    configure(superuser)

    with pytest.raises(InvalidInput) as refused:
        configure(superuser, url="https://other.example")

    assert refused.value.errors == {"name": ["A tracking server named mlflow-prod exists already."]}
    assert TrackingServer.objects.get().url == URL


def test_a_name_does_not_change(superuser):
    server = configure(superuser)

    with pytest.raises(InvalidInput) as refused:
        configure(superuser, server=server, name="mlflow-other")

    assert list(refused.value.errors) == ["name"]


def test_anyone_else_is_refused_on_the_record(policy_admin):
    with pytest.raises(PermissionDenied):
        configure(policy_admin)

    assert not TrackingServer.objects.exists()
    refusal = AuditEvent.objects.get(action="permission.denied")
    assert refusal.actor == policy_admin
    assert refusal.data == {"permission": "superuser", "attempted": "configure tracking server mlflow-prod"}


def test_the_credential_is_read_from_the_environment_and_never_stored(superuser, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    server = configure(superuser)
    assert tracking_credential(server) is None

    monkeypatch.setenv(ENV, SECRET)
    configure(superuser, server=server, active=False)
    configure(superuser, server=server, active=True)

    assert tracking_credential(server) == SECRET
    assert not _database_holds(SECRET)
    assert _database_holds(ENV)  # the search itself finds what is there


def _database_holds(text: str) -> bool:
    """Whether any row of any table of the warehouse's apps holds `text`, audit events' data included."""
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - table names
            for row in cursor.fetchall():
                if text in json.dumps(row, default=str):
                    return True
    return False


def test_the_environment_format_is_read(monkeypatch):
    monkeypatch.setenv(
        "WAREHOUSE_TRACKING_SERVERS",
        f" mlflow-prod = {URL} | {ENV} ;; mlflow-dev=http://mlflow-dev.example/base|DEV_TOKEN;",
    )

    assert env_tracking_servers("WAREHOUSE_TRACKING_SERVERS") == [
        ("mlflow-prod", URL, ENV),
        ("mlflow-dev", "http://mlflow-dev.example/base", "DEV_TOKEN"),
    ]

    monkeypatch.setenv("WAREHOUSE_TRACKING_SERVERS", f"mlflow-prod={URL}")
    with pytest.raises(ImproperlyConfigured, match="mlflow-prod"):
        env_tracking_servers("WAREHOUSE_TRACKING_SERVERS")


def test_the_sync_configures_the_environment_s_servers_once(db, settings, superuser):
    other = configure(superuser, name="mlflow-admin-made")
    settings.TRACKING_SERVERS = [
        ("mlflow-prod", URL, ENV),
        ("mlflow-dev", "http://mlflow-dev.example", "DEV"),
    ]

    call_command("tracking_servers_sync", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("tracking_servers_sync", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert sorted(TrackingServer.objects.values_list("name", "url", "credential_env", "created_by")) == [
        ("mlflow-admin-made", URL, ENV, superuser.pk),
        ("mlflow-dev", "http://mlflow-dev.example", "DEV", None),
        ("mlflow-prod", URL, ENV, None),
    ]
    events = AuditEvent.objects.filter(action="tracking_server.configured", actor=None)
    assert sorted(events.values_list("data__name", flat=True)) == ["mlflow-dev", "mlflow-prod"]
    assert set(events.values_list("via", flat=True)) == {"command"}

    settings.TRACKING_SERVERS = [("mlflow-prod", "https://mlflow-new.example", ENV)]
    call_command("tracking_servers_sync", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert TrackingServer.objects.get(name="mlflow-prod").url == "https://mlflow-new.example"
    assert AuditEvent.objects.filter(action="tracking_server.changed", actor=None).count() == 1
    assert other in TrackingServer.objects.filter(active=True)


def test_the_sync_refuses_a_wrong_entry_and_writes_nothing(db, settings):
    from django.core.management.base import CommandError

    settings.TRACKING_SERVERS = [("mlflow-prod", URL, ENV), ("mlflow-dev", "https://u:p@x.example", "DEV")]

    with pytest.raises(CommandError, match="mlflow-dev.url"):
        call_command("tracking_servers_sync")

    assert not TrackingServer.objects.exists()
