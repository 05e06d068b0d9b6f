"""Fixtures for the kernel tests: the CPU build of kernels/*.cu, and a table of kernel-vs-reference differences."""
from __future__ import annotations

import pytest

from . import harness

#: (kernel, dtype) -> largest absolute difference from the torch reference seen in this session.
MAX_DIFFERENCES: dict[tuple[str, str], float] = {}


def record(kernel: str, dtype: str, difference: float) -> None:
    """Keep the largest difference seen for ``kernel`` at ``dtype`` (printed in the terminal summary)."""
    key = (kernel, dtype)
    MAX_DIFFERENCES[key] = max(MAX_DIFFERENCES.get(key, 0.0), difference)


@pytest.fixture(scope="session")
def cpu_kernels() -> harness.CpuKernels:
    """All kernels compiled for the CPU (built once per source hash); skips without g++."""
    if harness.compiler() is None:
        pytest.skip("no C++ compiler (g++) to build the CPU kernel harness")
    return harness.CpuKernels(harness.build())


def pytest_terminal_summary(terminalreporter) -> None:
    if not MAX_DIFFERENCES:
        return
    terminalreporter.section("CPU kernel harness: max |kernel - reference|")
    for (kernel, dtype), difference in sorted(MAX_DIFFERENCES.items()):
        terminalreporter.write_line(f"{kernel:<22} {dtype:<6} {difference:.3e}")
