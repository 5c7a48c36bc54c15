import os
from pathlib import Path

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores: one torch thread each (two each oversubscribe the cores, and small
    # networks then train many times slower). Set before any test imports torch.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One model cache for the tests that use real datasets: MNIST-1D is generated once."""
    configured = os.environ.get("FRAGILITY_TEST_CACHE")
    return Path(configured) if configured else tmp_path_factory.mktemp("fragility-cache")
