from warehouse.registry.models import Stage
from tests.factories import version_move


def test_it_registers_and_promotes(model, version, contributor):
    version_move(version, Stage.STAGING, Stage.PRODUCTION, actor=contributor)
    assert version.stage == Stage.PRODUCTION
