import pytest

from tests.api.support import Contract


@pytest.fixture(scope="session")
def contract() -> Contract:
    return Contract()
