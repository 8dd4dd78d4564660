"""What a test does when a reference tool it compares against is not installed."""
import os

import pytest


def missing_reference(reason: str):
    """A failure under `make test` (CLIPDEX_STRICT=1, where scripts/deps.sh installed everything),
    a skip when a developer runs pytest by hand without it."""
    if os.environ.get("CLIPDEX_STRICT") == "1":
        pytest.fail(f"{reason} (make test installs it: scripts/deps.sh)")
    pytest.skip(reason)
