import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One model cache for the tests that use real datasets: MNIST-1D is generated once."""
    configured = os.environ.get("FRAGILITY_TEST_CACHE")
    return Path(configured) if configured else tmp_path_factory.mktemp("fragility-cache")
