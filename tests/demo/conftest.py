"""The demo seeded once for a module's tests that only read it.

`seeded_demo` runs `manage.py seed_demo` (DEBUG on, as it requires) inside a transaction that stays open for
the module and is rolled back after its last test. Each test asks for `db` as well, and pytest-django runs
it in a savepoint of that transaction: what a test writes is gone before the next one, and the seeded demo
is there for each. About 2.5 s of seeding saved per test.
"""

import io

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from tests.conftest import FAST_HASHERS


@pytest.fixture(scope="module")
def seeded_demo(django_db_setup, django_db_blocker) -> str:
    """What `seed_demo` printed; the demo is in the database for every test of the module."""
    with django_db_blocker.unblock():
        module_transaction = transaction.atomic()
        module_transaction.__enter__()
        try:
            out = io.StringIO()
            # The tests' fast hasher (tests/conftest.py), so that the demo's people sign in during them.
            with override_settings(DEBUG=True, PASSWORD_HASHERS=FAST_HASHERS):
                call_command("seed_demo", stdout=out)
        except BaseException:
            transaction.set_rollback(True)
            module_transaction.__exit__(None, None, None)
            raise
    try:
        yield out.getvalue()
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            module_transaction.__exit__(None, None, None)
