"""Training tests run tiny networks: one torch thread is faster there than two fighting over busy cores."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    """Every training test runs on one torch thread (the shared ``one_torch_thread`` fixture)."""
