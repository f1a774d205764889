import pytest
from django.core.cache import cache

from tests.api.support import Contract


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Every test makes several people; PBKDF2 would spend most of the run hashing their passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_cache():
    # The production lookup is cached by model name, and every test's model is called fraud-scorer.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def contract() -> Contract:
    return Contract()
