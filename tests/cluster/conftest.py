"""The deployment test runs only under `make test-cluster` (CLUSTER_TEST=1), as root on a machine
that allows network namespaces; anywhere else it skips and says why."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .cluster import Cluster, build, teardown
from .hosts import namespaces_available


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    if os.environ.get("CLUSTER_TEST") != "1":
        pytest.skip("the deployment test runs with `make test-cluster`")
    why_not = namespaces_available()
    if why_not:
        pytest.skip(f"no deployment test on this machine: {why_not}")
    made: Cluster | None = None
    try:
        made = build()
        yield made
    finally:
        if made is not None and os.environ.get("CLUSTER_SHOW_LOGS"):
            print(made.logs())
        teardown(made)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed step prints the end of every host's log, which is where the reason is."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when == "call":
        made = item.funcargs.get("cluster") if hasattr(item, "funcargs") else None
        if isinstance(made, Cluster):
            report.sections.append(("host logs", made.logs()))
