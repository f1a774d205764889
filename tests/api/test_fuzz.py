"""A bounded fuzz run of the generated document against the app itself (WSGI, as a superuser's token): no
answer is a server error, and every answer is one the document describes (status, content type, headers and
body schema). A few derandomized examples per operation, so it runs in the normal suite in seconds."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.support import issue_token

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
# The documented examples and a few generated bodies per operation; the coverage phase's hundreds of boundary
# cases per operation are for a run outside the suite (`schemathesis run`).
schema.config.phases.coverage.enabled = False

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def token(db, version, superuser):
    # A registry with a model and a version (fraud-scorer v1), asked by someone who may do anything. The
    # WSGI handler closes the database connection after each request, as a server does; the test's
    # transaction must outlive them (Django's test client does the same).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield issue_token(superuser).secret
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=4,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_its_document_says(case, token):
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
